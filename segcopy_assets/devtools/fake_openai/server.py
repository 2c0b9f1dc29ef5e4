"""``FakeOpenAIServer``: the fake endpoint run by uvicorn on an event loop in a background thread.

It binds a free port on 127.0.0.1 (by default) and is started and stopped by ``start``/``stop`` or
as a context manager. The request handling is ``ChatCompletionsApp`` (app.py), the scripted faults
``FaultScript`` (faults.py), the counters ``RequestStats`` (stats.py), the Files and Batch APIs
``FileStore`` (files.py) and ``BatchAPI`` (batches.py).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import random
import threading
import time
from collections.abc import Callable
from typing import Any

import uvicorn

from .app import ChatCompletionsApp, ConcurrencyMode
from .replies import ReplyFormat


class FakeOpenAIServer(ChatCompletionsApp):
    """Fake OpenAI chat-completions (and Files/Batch) server on 127.0.0.1 (see the package docstring).

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
        strict_models: bool = False,
        batch_polls: int = 2,
        batch_line_error_rate: float = 0.0,
        batch_cancel_completed_fraction: float = 0.0,
        batch_single_model: bool = False,
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
        self.concurrency_mode = concurrency_mode
        self.concurrency_retry_after = concurrency_retry_after
        self.rate_limit_rps = rate_limit_rps
        self.send_retry_after_ms = send_retry_after_ms
        self.responder = responder
        self.reply_format = reply_format
        self.honor_max_tokens = honor_max_tokens
        self.models = list(models)
        self.strict_models = strict_models
        self.batch_polls = batch_polls
        self.batch_line_error_rate = batch_line_error_rate
        self.batch_cancel_completed_fraction = batch_cancel_completed_fraction
        self.batch_single_model = batch_single_model
        self.host = host
        self.backlog = backlog
        self.log_level = log_level
        self.startup_timeout = startup_timeout
        self._requested_port = port
        self._rng = random.Random(seed)

        self._lock = threading.Lock()
        self._faults = collections.deque()
        self._hangs = collections.deque()
        self._hang_rules = []
        self._rate_window = collections.deque()
        self._waiters = collections.deque()
        self._in_flight = 0
        self._id_counter = 0
        self._init_stats()
        self._init_file_store()
        self._init_batches(seed)

        self._thread: threading.Thread | None = None
        self._server: uvicorn.Server | None = None
        self._loop = None
        self._stop_event = None
        self._thread_error: BaseException | None = None
        self.port: int | None = None
        self.app = self._starlette_app()

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
