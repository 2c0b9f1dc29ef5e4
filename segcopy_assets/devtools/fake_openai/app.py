"""Request handling of the fake endpoint: the Starlette routes and the chat-completions pipeline.

``ChatCompletionsApp`` is the part of ``FakeOpenAIServer`` that answers requests, in the order
described in the package docstring: parse and record, auth, scripted faults, rate limit,
concurrency gate (reject or FIFO queue), hang, simulated latency, then the chat.completion JSON.
All waiting goes through ``asyncio`` and is cut short when the server stops (answered 503).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import random
import time
from collections.abc import Callable
from typing import Any, Literal

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .batches import BatchAPI
from .faults import FaultScript, _format_seconds, error_body
from .models import ModelsAPI
from .replies import ReplyFormat, count_tokens, default_reply, message_text
from .stats import RequestStats

ConcurrencyMode = Literal["reject", "queue"]


class _ServerStopping(Exception):
    pass


class _ResponderFailed(Exception):
    pass


class ChatCompletionsApp(ModelsAPI, BatchAPI, FaultScript, RequestStats):
    """Handlers for ``POST /v1/chat/completions``; ``ModelsAPI`` adds ``/v1/models``,
    ``BatchAPI`` the Files and Batch APIs.

    The attributes below are set by ``FakeOpenAIServer.__init__`` (configuration) and while the
    server runs (event loop, stop event, waiters)."""

    api_key: str | None
    latency_ms: float
    jitter_ms: float
    output_tokens_per_s: float
    max_concurrency: int | None
    concurrency_mode: ConcurrencyMode
    concurrency_retry_after: float | None
    rate_limit_rps: float | None
    send_retry_after_ms: bool
    responder: Callable[[dict[str, Any]], str] | None
    reply_format: ReplyFormat
    honor_max_tokens: bool
    models: list[str]
    _rng: random.Random
    _rate_window: collections.deque[float]
    _waiters: collections.deque[asyncio.Future[None]]
    _id_counter: int
    _loop: asyncio.AbstractEventLoop | None
    _stop_event: asyncio.Event | None

    def _starlette_app(self) -> Starlette:
        """The ASGI app serving these handlers (``FakeOpenAIServer.app``)."""
        return Starlette(
            routes=[
                Route("/v1/chat/completions", self._chat_completions, methods=["POST"]),
                Route("/v1/models", self._list_models, methods=["GET"]),
                Route("/v1/models/{model:path}", self._retrieve_model, methods=["GET"]),
                Route("/v1/files", self._files_create, methods=["POST"]),
                Route("/v1/files", self._files_list, methods=["GET"]),
                Route("/v1/files/{file_id}", self._files_retrieve, methods=["GET"]),
                Route("/v1/files/{file_id}", self._files_delete, methods=["DELETE"]),
                Route("/v1/files/{file_id}/content", self._files_content, methods=["GET"]),
                Route("/v1/batches", self._batches_create, methods=["POST"]),
                Route("/v1/batches", self._batches_list, methods=["GET"]),
                Route("/v1/batches/{batch_id}", self._batches_retrieve, methods=["GET"]),
                Route("/v1/batches/{batch_id}/cancel", self._batches_cancel, methods=["POST"]),
            ],
            exception_handlers={404: self._not_found, 405: self._not_allowed},
        )

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
        unknown_model = self._unknown_model(body)  # only with strict_models
        if unknown_model is not None:
            return unknown_model

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
        waitables: set[asyncio.Future[Any]] = {fut, stop_task}
        try:
            await asyncio.wait(waitables, return_when=asyncio.FIRST_COMPLETED)
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
        hang = self._take_hang(body)
        if hang:
            await self._sleep(hang)
        try:
            reply = self._reply(body)
        except _ResponderFailed as exc:
            return self._error(500, str(exc), "responder_error")

        delay_ms = self.latency_ms
        if self.jitter_ms:
            delay_ms += self._rng.uniform(-self.jitter_ms, self.jitter_ms)
        delay = max(0.0, delay_ms / 1000.0)
        if self.output_tokens_per_s and self.output_tokens_per_s > 0:
            delay += reply[2] / self.output_tokens_per_s
        await self._sleep(delay)

        payload, request_id = self._completion(body, reply, count_usage=True)
        return JSONResponse(
            payload,
            headers={"x-request-id": request_id, "openai-processing-ms": str(int(delay * 1000))},
        )

    def _complete(self, body: dict[str, Any]) -> tuple[int, dict[str, Any], str]:
        """Answer a validated chat body at once (no hang, no latency, not counted in the chat
        stats): (HTTP status, JSON body, request id). Used for the lines of a batch."""
        try:
            reply = self._reply(body)
        except _ResponderFailed as exc:
            with self._lock:
                self._id_counter += 1
                request_id = f"req_fake{self._id_counter:010d}"
            return 500, error_body(500, str(exc)), request_id
        payload, request_id = self._completion(body, reply, count_usage=False)
        return 200, payload, request_id

    def _reply(self, body: dict[str, Any]) -> tuple[str, int, int, str]:
        """(content, prompt_tokens, completion_tokens, finish_reason): the responder's (or the
        default) reply, truncated to max_tokens if ``honor_max_tokens``. A responder exception is
        recorded in ``errors`` and raised as _ResponderFailed."""
        try:
            if self.responder is not None:
                content = self.responder(body)
            else:
                content = default_reply(body, self.reply_format)
        except Exception as exc:  # noqa: BLE001 - reported as a 500 like a real server would
            with self._lock:
                self._errors.append(f"{type(exc).__name__}: {exc}")
            raise _ResponderFailed(f"The responder raised {type(exc).__name__}.") from exc
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
        return content, prompt_tokens, completion_tokens, finish_reason

    def _completion(
        self, body: dict[str, Any], reply: tuple[str, int, int, str], *, count_usage: bool
    ) -> tuple[dict[str, Any], str]:
        """(chat.completion JSON, request id) for a reply; ``count_usage`` adds its tokens to
        ``usage_totals``."""
        content, prompt_tokens, completion_tokens, finish_reason = reply
        requested_n = body.get("n")
        n = requested_n if isinstance(requested_n, int) and requested_n > 0 else 1
        with self._lock:
            self._id_counter += 1
            ident = self._id_counter
            if count_usage:
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
        return payload, f"req_fake{ident:010d}"
