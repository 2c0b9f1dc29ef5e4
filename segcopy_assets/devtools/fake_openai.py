"""A fake OpenAI-compatible chat-completions server: a real HTTP server on 127.0.0.1.

Used by the test suite and by benchmarks. It runs Starlette under uvicorn on an event loop in a
background thread, binds a free port and exposes ``base_url`` for ``openai.OpenAI(base_url=...)``::

    with FakeOpenAIServer(latency_ms=50, api_key="sk-test") as srv:
        client = openai.OpenAI(base_url=srv.base_url, api_key="sk-test", max_retries=0)
        client.chat.completions.create(model="gpt-4o-mini", messages=[...])
        assert srv.call_count == 1

Endpoints: ``POST /v1/chat/completions`` (non-streaming) and ``GET /v1/models``.

Order in which a chat completion request is handled:

1. body parsed and recorded in ``requests`` (invalid JSON / missing fields -> 400);
2. ``Authorization: Bearer <api_key>`` checked if ``api_key`` is set (-> 401);
3. scripted faults from ``fail_next`` (-> that status, immediately);
4. rate limit ``rate_limit_rps``: sliding one-second window of admitted requests (-> 429 with
   ``Retry-After`` (seconds, may be fractional) and ``retry-after-ms``);
5. concurrency limit ``max_concurrency``: ``"reject"`` -> 429, ``"queue"`` -> wait FIFO for a slot;
6. the request is now *in flight* (counted in ``in_flight`` / ``max_in_flight``, its admission time
   appended to ``accepted_times``); a ``hang_next`` hang, then the simulated latency
   (``latency_ms`` +- ``jitter_ms`` plus ``completion_tokens / output_tokens_per_s``), all via
   ``asyncio.sleep`` so thousands of concurrent requests need no threads;
7. 200 with the standard chat.completion JSON.

Every sleep is cut short when the server stops (those requests answer 503), so ``stop()`` is quick
even with hung requests. No Dagster import here on purpose.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import json
import math
import random
import re
import threading
import time
from collections.abc import Callable
from typing import Any, Literal

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

ReplyFormat = Literal["bold", "plain", "heading", "none"]
ConcurrencyMode = Literal["reject", "queue"]

_PRODUCT_RE = re.compile(
    r"<product_description>(.*?)</product_description>", re.DOTALL | re.IGNORECASE
)
_SEGMENT_TAG_RE = re.compile(r"<(segment_name|segment)>(.*?)</\1>", re.DOTALL | re.IGNORECASE)
_SEGMENT_LINE_RE = re.compile(
    r"^\s*(?:customer\s+)?segment(?:\s+name)?\s*[:=]\s*(.+?)\s*$", re.IGNORECASE | re.MULTILINE
)

_ERROR_TYPES: dict[int, tuple[str, str | None]] = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "not_found"),
    408: ("timeout", None),
    409: ("invalid_request_error", "conflict"),
    422: ("invalid_request_error", None),
    429: ("requests", "rate_limit_exceeded"),
    500: ("server_error", None),
    502: ("server_error", None),
    503: ("server_error", "overloaded"),
    504: ("server_error", None),
}

_PRODUCT_NAME_RE = re.compile(
    r"^\s*Product(?:\s+name)?\s*:\s*(.+?)\s*(?:\(.*\))?\s*$", re.IGNORECASE | re.MULTILINE
)

# Openers and rationales use no numbers, prices or superlatives, so the copy adds no facts.
_SEGMENT_OPENERS = (
    "Made for {segment}: this is the one you have been waiting for.",
    "If you are among {segment}, this was built with you in mind.",
    "For {segment} who expect more, here is exactly what you get.",
    "{Segment}, meet your new favourite.",
)
_OPENERS = (
    "{Name} is ready for whatever you have planned next.",
    "Here is what makes {name} worth a closer look.",
    "{Name} is made to keep up with you.",
    "Everything you need to know about {name} is right here.",
)
_RATIONALES = (
    "Opens with a line aimed at {segment} and then keeps every fact from the product description "
    "unchanged, so the tailoring adds relevance without inventing claims.",
    "The first sentence speaks to what {segment} care about, while the product details are repeated "
    "verbatim to stay accurate; no prices, offers or new features were added.",
)


def count_tokens(text: str) -> int:
    """Approximate token count: words * 1.3, rounded."""
    return int(round(len(text.split()) * 1.3))


def message_text(message: dict[str, Any]) -> str:
    """The text of a chat message whose content is a string or a list of content parts."""
    content = message.get("content")
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
        return "\n".join(parts)
    return str(content)


def extract_product_description(body: dict[str, Any]) -> str:
    """Text between the last ``<product_description>`` tag pair in the user messages, else the
    last user message (else the last message of any role)."""
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    user_texts = [message_text(m) for m in messages if m.get("role") == "user"]
    matches = _PRODUCT_RE.findall("\n".join(user_texts))
    if matches:
        return matches[-1].strip()
    if user_texts:
        return user_texts[-1].strip()
    return message_text(messages[-1]).strip() if messages else ""


def extract_segment(body: dict[str, Any]) -> str | None:
    """A segment name from ``<segment>`` / ``<segment_name>`` tags or a ``Segment: X`` line."""
    text = "\n".join(message_text(m) for m in body.get("messages") or [] if isinstance(m, dict))
    tags = _SEGMENT_TAG_RE.findall(text)
    if tags:
        value = tags[-1][1].strip()
        if value:
            return value.splitlines()[0].strip()
    lines = _SEGMENT_LINE_RE.findall(text)
    if lines:
        return lines[-1]
    return None


def format_reply(copy: str, rationale: str, reply_format: ReplyFormat = "bold") -> str:
    if reply_format == "bold":
        return f"{copy}\n\n**Rationale:** {rationale}"
    if reply_format == "plain":
        return f"{copy}\n\nRationale: {rationale}"
    if reply_format == "heading":
        return f"{copy}\n\n## Rationale\n{rationale}"
    if reply_format == "none":
        return copy
    raise ValueError(f"unknown reply_format {reply_format!r}")


def extract_product_name(body: dict[str, Any]) -> str | None:
    """The product name from a ``Product: <name> (<category>)`` line in the user messages."""
    text = "\n".join(
        message_text(m)
        for m in body.get("messages") or []
        if isinstance(m, dict) and m.get("role") == "user"
    )
    names = _PRODUCT_NAME_RE.findall(text)
    return names[-1] if names else None


def default_reply(body: dict[str, Any], reply_format: ReplyFormat = "bold") -> str:
    """The deterministic default reply: one tailored sentence + the product description verbatim,
    then the rationale. The sentence names the segment when the request tags one
    (``<segment>``/``<segment_name>`` or a ``Segment: X`` line), else the product from a
    ``Product: X`` line."""
    digest = hashlib.sha256(
        json.dumps([body.get("model"), body.get("messages")], sort_keys=True, default=str).encode()
    ).digest()
    segment = extract_segment(body)
    if segment:
        template = _SEGMENT_OPENERS[digest[0] % len(_SEGMENT_OPENERS)]
        opener = template.format(segment=segment, Segment=segment[:1].upper() + segment[1:])
    else:
        product_name = extract_product_name(body)
        if not product_name:
            name = "this product"
        elif product_name.lower().startswith("the "):
            name = product_name
        else:
            name = f"the {product_name}"
        template = _OPENERS[digest[0] % len(_OPENERS)]
        opener = template.format(name=name, Name=name[:1].upper() + name[1:])
    rationale = _RATIONALES[digest[1] % len(_RATIONALES)].format(
        segment=segment or "the readers in this segment"
    )
    product = extract_product_description(body)
    copy = f"{opener} {product}".strip()
    return format_reply(copy, rationale, reply_format)


def _format_seconds(seconds: float) -> tuple[str, str]:
    """(Retry-After seconds, retry-after-ms) rounded up to whole milliseconds, e.g. ("0.2", "200")."""
    ms = max(1, math.ceil(seconds * 1000 - 1e-6))
    secs = f"{ms / 1000:.3f}".rstrip("0").rstrip(".")
    return secs, str(ms)


def error_body(
    status: int, message: str, type_: str | None = None, code: str | None = None
) -> dict[str, Any]:
    default_type, default_code = _ERROR_TYPES.get(
        status, ("server_error" if status >= 500 else "invalid_request_error", None)
    )
    return {
        "error": {
            "message": message,
            "type": type_ or default_type,
            "param": None,
            "code": code or default_code,
        }
    }


class _Fault:
    __slots__ = ("status", "retry_after", "message", "headers")

    def __init__(
        self,
        status: int,
        retry_after: float | None,
        message: str | None,
        headers: dict[str, str] | None,
    ):
        self.status = status
        self.retry_after = retry_after
        self.message = message
        self.headers = dict(headers or {})


class _ServerStopping(Exception):
    pass


class FakeOpenAIServer:
    """Fake OpenAI chat-completions server on 127.0.0.1 (see module docstring).

    All configuration attributes may be changed while the server runs (e.g. ``srv.latency_ms = 0``);
    changes apply to requests that arrive afterwards.
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        latency_ms: float = 0.0,
        jitter_ms: float = 0.0,
        output_tokens_per_s: float = 0.0,
        max_concurrency: int | None = None,
        concurrency_mode: ConcurrencyMode = "reject",
        concurrency_retry_after: float | None = None,
        rate_limit_rps: float | None = None,
        send_retry_after_ms: bool = True,
        responder: Callable[[dict[str, Any]], str] | None = None,
        reply_format: ReplyFormat = "bold",
        honor_max_tokens: bool = True,
        models: tuple[str, ...] | list[str] = ("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini"),
        seed: int | None = 0,
        host: str = "127.0.0.1",
        port: int = 0,
        backlog: int = 4096,
        log_level: str = "warning",
        startup_timeout: float = 10.0,
    ) -> None:
        if concurrency_mode not in ("reject", "queue"):
            raise ValueError("concurrency_mode must be 'reject' or 'queue'")
        if reply_format not in ("bold", "plain", "heading", "none"):
            raise ValueError(f"unknown reply_format {reply_format!r}")
        self.api_key = api_key
        self.latency_ms = latency_ms
        self.jitter_ms = jitter_ms
        self.output_tokens_per_s = output_tokens_per_s
        self.max_concurrency = max_concurrency
        self.concurrency_mode: ConcurrencyMode = concurrency_mode
        self.concurrency_retry_after = concurrency_retry_after
        self.rate_limit_rps = rate_limit_rps
        self.send_retry_after_ms = send_retry_after_ms
        self.responder = responder
        self.reply_format: ReplyFormat = reply_format
        self.honor_max_tokens = honor_max_tokens
        self.models = list(models)
        self.host = host
        self.backlog = backlog
        self.log_level = log_level
        self.startup_timeout = startup_timeout
        self._requested_port = port
        self._rng = random.Random(seed)

        self._lock = threading.Lock()
        self._faults: collections.deque[_Fault] = collections.deque()
        self._hangs: collections.deque[float] = collections.deque()
        self._rate_window: collections.deque[float] = collections.deque()
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._in_flight = 0
        self._id_counter = 0
        self._init_stats()

        self._thread: threading.Thread | None = None
        self._server: uvicorn.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._thread_error: BaseException | None = None
        self.port: int | None = None
        self.app = Starlette(
            routes=[
                Route("/v1/chat/completions", self._chat_completions, methods=["POST"]),
                Route("/v1/models", self._list_models, methods=["GET"]),
            ],
            exception_handlers={404: self._not_found, 405: self._not_allowed},
        )

    # ------------------------------------------------------------------ lifecycle

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("FakeOpenAIServer is not running")
        return f"http://{self.host}:{self.port}/v1"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> FakeOpenAIServer:
        if self.running:
            return self
        config = uvicorn.Config(
            self.app,
            host=self.host,
            port=self._requested_port,
            log_level=self.log_level,
            access_log=False,
            lifespan="off",
            backlog=self.backlog,
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._thread_error = None
        self.port = None
        self._thread = threading.Thread(target=self._run, name="fake-openai-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + self.startup_timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"FakeOpenAIServer failed to start: {self._thread_error!r}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("FakeOpenAIServer did not start in time")
            time.sleep(0.005)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    def _run(self) -> None:
        assert self._server is not None
        try:
            with asyncio.Runner(loop_factory=self._server.config.get_loop_factory()) as runner:
                runner.run(self._serve())
        except BaseException as exc:  # noqa: BLE001 - surfaced by start()
            self._thread_error = exc

    async def _serve(self) -> None:
        assert self._server is not None
        self._loop = asyncio.get_running_loop()
        self._stop_event = asyncio.Event()
        self._waiters = collections.deque()
        self._in_flight = 0
        await self._server.serve()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server: cut short all pending sleeps/queues (they answer 503) and join the thread."""
        thread, server, loop = self._thread, self._server, self._loop
        if thread is None or server is None:
            return
        if loop is not None and self._stop_event is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop already closed
                loop.call_soon_threadsafe(self._stop_event.set)
        server.should_exit = True
        thread.join(timeout / 2)
        if thread.is_alive():
            server.force_exit = True
            thread.join(timeout / 2)
        self._thread = None
        self._loop = None

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ scripting

    def fail_next(
        self,
        status: int,
        count: int = 1,
        retry_after: float | None = None,
        *,
        message: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """The next ``count`` chat requests (after the auth check) answer ``status`` immediately with
        the OpenAI error JSON. ``retry_after`` (seconds) adds ``Retry-After`` and ``retry-after-ms``;
        ``headers`` adds more (e.g. ``{"x-should-retry": "false"}``). Calls queue up in order."""
        with self._lock:
            for _ in range(count):
                self._faults.append(_Fault(status, retry_after, message, headers))

    def hang_next(self, count: int = 1, seconds: float = 30.0) -> None:
        """The next ``count`` admitted chat requests sleep ``seconds`` (on top of the normal latency)
        before answering normally."""
        with self._lock:
            for _ in range(count):
                self._hangs.append(seconds)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            self._hangs.clear()

    @property
    def pending_faults(self) -> int:
        with self._lock:
            return len(self._faults)

    @property
    def pending_hangs(self) -> int:
        with self._lock:
            return len(self._hangs)

    # ------------------------------------------------------------------ stats

    def _init_stats(self) -> None:
        self._requests: list[dict[str, Any]] = []
        self._request_headers: list[dict[str, str]] = []
        self._statuses: collections.Counter[int] = collections.Counter()
        self._rejections: collections.Counter[str] = collections.Counter()
        self._accepted_times: list[float] = []
        self._completed_times: list[float] = []
        self._errors: list[str] = []
        self._call_count = 0
        self._max_in_flight = self._in_flight if hasattr(self, "_in_flight") else 0
        self._max_queued = 0
        self._prompt_tokens = 0
        self._completion_tokens = 0

    def reset_stats(self) -> None:
        """Clear recorded requests and counters (not the scripted faults nor the rate-limit window).
        ``max_in_flight`` restarts from the current in-flight count."""
        with self._lock:
            self._init_stats()

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Copy of the list of the JSON bodies received on /v1/chat/completions (all, incl. rejected)."""
        with self._lock:
            return list(self._requests)

    @property
    def request_headers(self) -> list[dict[str, str]]:
        """Headers (lower-case names) of every chat request received, in arrival order; e.g. the
        openai client's ``x-stainless-retry-count`` shows which attempts were retries."""
        with self._lock:
            return list(self._request_headers)

    @property
    def last_request(self) -> dict[str, Any] | None:
        with self._lock:
            return self._requests[-1] if self._requests else None

    @property
    def call_count(self) -> int:
        """Chat-completion requests received (every status)."""
        with self._lock:
            return self._call_count

    @property
    def success_count(self) -> int:
        with self._lock:
            return self._statuses.get(200, 0)

    @property
    def statuses(self) -> dict[int, int]:
        """Returned HTTP status -> count, for /v1/chat/completions."""
        with self._lock:
            return dict(self._statuses)

    @property
    def rejections(self) -> dict[str, int]:
        """Why non-200 answers were given: 'auth', 'bad_request', 'scripted', 'rate_limit',
        'concurrency', 'shutdown', 'responder_error'."""
        with self._lock:
            return dict(self._rejections)

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def max_in_flight(self) -> int:
        """Peak number of admitted requests being processed at once."""
        with self._lock:
            return self._max_in_flight

    @property
    def max_queued(self) -> int:
        """Peak number of requests waiting for a slot (concurrency_mode='queue')."""
        with self._lock:
            return self._max_queued

    @property
    def accepted_times(self) -> list[float]:
        """``time.monotonic()`` at which each request was admitted (passed faults, rate limit and
        concurrency gate)."""
        with self._lock:
            return list(self._accepted_times)

    @property
    def completed_times(self) -> list[float]:
        """``time.monotonic()`` at which each 200 answer was produced."""
        with self._lock:
            return list(self._completed_times)

    @property
    def errors(self) -> list[str]:
        """Exceptions raised by a custom responder (answered 500)."""
        with self._lock:
            return list(self._errors)

    @property
    def usage_totals(self) -> dict[str, int]:
        with self._lock:
            return {
                "prompt_tokens": self._prompt_tokens,
                "completion_tokens": self._completion_tokens,
                "total_tokens": self._prompt_tokens + self._completion_tokens,
            }

    def achieved_rps(self, which: Literal["accepted", "completed"] = "accepted") -> float:
        """Admitted (or completed) requests per second between the first and last timestamp."""
        times = self.accepted_times if which == "accepted" else self.completed_times
        if len(times) < 2:
            return 0.0
        span = max(times) - min(times)
        return (len(times) - 1) / span if span > 0 else float("inf")

    # ------------------------------------------------------------------ handlers

    def _error(
        self,
        status: int,
        message: str,
        reason: str,
        headers: dict[str, str] | None = None,
        code: str | None = None,
    ) -> JSONResponse:
        with self._lock:
            self._rejections[reason] += 1
        return JSONResponse(
            error_body(status, message, code=code), status_code=status, headers=headers
        )

    def _retry_headers(self, seconds: float | None) -> dict[str, str]:
        if seconds is None:
            return {}
        secs, ms = _format_seconds(seconds)
        headers = {"retry-after": secs}
        if self.send_retry_after_ms:
            headers["retry-after-ms"] = ms
        return headers

    def _authorized(self, request: Request) -> bool:
        if self.api_key is None:
            return True
        return request.headers.get("authorization", "") == f"Bearer {self.api_key}"

    async def _not_found(self, request: Request, exc: Exception) -> Response:
        return JSONResponse(
            error_body(404, f"Unknown request URL: {request.method} {request.url.path}."),
            status_code=404,
        )

    async def _not_allowed(self, request: Request, exc: Exception) -> Response:
        return JSONResponse(
            error_body(405, f"Method {request.method} not allowed for {request.url.path}."),
            status_code=405,
        )

    async def _list_models(self, request: Request) -> Response:
        if not self._authorized(request):
            return JSONResponse(error_body(401, "Incorrect API key provided."), status_code=401)
        return JSONResponse(
            {
                "object": "list",
                "data": [
                    {"id": m, "object": "model", "created": 1700000000, "owned_by": "fake-openai"}
                    for m in self.models
                ],
            }
        )

    async def _sleep(self, seconds: float) -> None:
        """asyncio.sleep that is cut short (raising _ServerStopping) when the server stops."""
        if seconds <= 0:
            return
        assert self._stop_event is not None
        if self._stop_event.is_set():
            raise _ServerStopping
        try:
            await asyncio.wait_for(self._stop_event.wait(), timeout=seconds)
        except TimeoutError:
            return
        raise _ServerStopping

    async def _chat_completions(self, request: Request) -> Response:
        response = await self._handle_chat(request)
        with self._lock:
            self._statuses[response.status_code] += 1
            if response.status_code == 200:
                self._completed_times.append(time.monotonic())
        return response

    async def _handle_chat(self, request: Request) -> Response:
        raw = await request.body()
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        with self._lock:
            self._call_count += 1
            if isinstance(body, dict):
                self._requests.append(body)
            self._request_headers.append(dict(request.headers))

        if not self._authorized(request):
            return self._error(
                401,
                "Incorrect API key provided. You can find your API key at "
                "https://platform.openai.com/account/api-keys.",
                "auth",
            )
        if not isinstance(body, dict):
            return self._error(
                400, "We could not parse the JSON body of your request.", "bad_request"
            )
        if not body.get("model"):
            return self._error(400, "you must provide a model parameter", "bad_request")
        if not isinstance(body.get("messages"), list) or not body["messages"]:
            return self._error(400, "'messages' must be a non-empty array", "bad_request")
        if body.get("stream"):
            return self._error(400, "The fake server does not support stream=true.", "bad_request")

        # scripted faults
        with self._lock:
            fault = self._faults.popleft() if self._faults else None
        if fault is not None:
            headers = self._retry_headers(fault.retry_after)
            headers.update(fault.headers)
            message = fault.message or f"Scripted failure with status {fault.status}."
            return self._error(fault.status, message, "scripted", headers)

        # rate limit: sliding one-second window over admitted requests
        rps = self.rate_limit_rps
        if rps is not None and rps > 0:
            # rps >= 1: at most int(rps) admissions in any 1 s; rps < 1: one per 1/rps seconds
            limit, span = (int(rps), 1.0) if rps >= 1 else (1, 1.0 / rps)
            now = time.monotonic()
            window = self._rate_window
            while window and window[0] <= now - span:
                window.popleft()
            if len(window) >= limit:
                wait = window[len(window) - limit] + span - now
                return self._error(
                    429,
                    f"Rate limit reached for requests: Limit {limit} / {span:g}s, Used {len(window)}. "
                    f"Please try again in {_format_seconds(wait)[1]}ms.",
                    "rate_limit",
                    self._retry_headers(wait),
                )
            window.append(now)

        # concurrency gate
        limit_c = self.max_concurrency
        if limit_c is not None and self._in_flight >= limit_c and self.concurrency_mode == "reject":
            return self._error(
                429,
                f"Too many concurrent requests: limit {limit_c}.",
                "concurrency",
                self._retry_headers(self.concurrency_retry_after),
                code="concurrency_limit_exceeded",
            )
        try:
            await self._acquire()
        except _ServerStopping:
            return self._error(503, "The server is shutting down.", "shutdown")
        try:
            return await self._process(body)
        except _ServerStopping:
            return self._error(503, "The server is shutting down.", "shutdown")
        finally:
            self._release()

    async def _acquire(self) -> None:
        limit = self.max_concurrency
        if limit is None or (self._in_flight < limit and not self._waiters):
            self._enter()
            return
        assert self._loop is not None and self._stop_event is not None
        fut: asyncio.Future[None] = self._loop.create_future()
        self._waiters.append(fut)
        with self._lock:
            self._max_queued = max(self._max_queued, len(self._waiters))
        stop_task = asyncio.ensure_future(self._stop_event.wait())
        try:
            await asyncio.wait({fut, stop_task}, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            self._abandon(fut)
            raise
        finally:
            stop_task.cancel()
        if not fut.done():
            self._abandon(fut)
            raise _ServerStopping
        # the slot was handed over by _release (in-flight already counted)

    def _abandon(self, fut: asyncio.Future[None]) -> None:
        if fut.done() and not fut.cancelled():
            self._release()  # a slot had been handed to us: pass it on
        else:
            fut.cancel()
            with contextlib.suppress(ValueError):
                self._waiters.remove(fut)

    def _enter(self) -> None:
        self._in_flight += 1
        now = time.monotonic()
        with self._lock:
            self._accepted_times.append(now)
            if self._in_flight > self._max_in_flight:
                self._max_in_flight = self._in_flight

    def _release(self) -> None:
        self._in_flight -= 1
        limit = self.max_concurrency
        while self._waiters and (limit is None or self._in_flight < limit):
            fut = self._waiters.popleft()
            if not fut.done():
                self._enter()
                fut.set_result(None)

    async def _process(self, body: dict[str, Any]) -> Response:
        with self._lock:
            hang = self._hangs.popleft() if self._hangs else None
        if hang:
            await self._sleep(hang)

        try:
            if self.responder is not None:
                content = self.responder(body)
            else:
                content = default_reply(body, self.reply_format)
        except Exception as exc:  # noqa: BLE001 - reported as a 500 like a real server would
            with self._lock:
                self._errors.append(f"{type(exc).__name__}: {exc}")
            return self._error(
                500, f"The responder raised {type(exc).__name__}.", "responder_error"
            )
        content = "" if content is None else str(content)

        prompt_tokens = count_tokens(
            "\n".join(message_text(m) for m in body["messages"] if isinstance(m, dict))
        )
        completion_tokens = count_tokens(content)
        finish_reason = "stop"
        max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
        if (
            self.honor_max_tokens
            and isinstance(max_tokens, int)
            and max_tokens > 0
            and completion_tokens > max_tokens
        ):
            # keep the whitespace-separated words that fit into max_tokens
            words = content.split()
            keep = max(0, int(max_tokens / 1.3))
            while keep > 0 and count_tokens(" ".join(words[:keep])) > max_tokens:
                keep -= 1
            content = " ".join(words[:keep])
            completion_tokens = count_tokens(content)
            finish_reason = "length"

        delay_ms = self.latency_ms
        if self.jitter_ms:
            delay_ms += self._rng.uniform(-self.jitter_ms, self.jitter_ms)
        delay = max(0.0, delay_ms / 1000.0)
        if self.output_tokens_per_s and self.output_tokens_per_s > 0:
            delay += completion_tokens / self.output_tokens_per_s
        await self._sleep(delay)

        n = body.get("n") if isinstance(body.get("n"), int) and body.get("n", 0) > 0 else 1
        with self._lock:
            self._id_counter += 1
            ident = self._id_counter
            self._prompt_tokens += prompt_tokens
            self._completion_tokens += completion_tokens * n
        payload = {
            "id": f"chatcmpl-fake{ident:010d}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "system_fingerprint": "fp_fake",
            "choices": [
                {
                    "index": i,
                    "message": {"role": "assistant", "content": content, "refusal": None},
                    "logprobs": None,
                    "finish_reason": finish_reason,
                }
                for i in range(n)
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens * n,
                "total_tokens": prompt_tokens + completion_tokens * n,
            },
        }
        return JSONResponse(
            payload,
            headers={
                "x-request-id": f"req_fake{ident:010d}",
                "openai-processing-ms": str(int(delay * 1000)),
            },
        )
