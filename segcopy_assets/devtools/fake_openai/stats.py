"""What the fake endpoint records about the requests it receives, and the counters it keeps."""

from __future__ import annotations

import collections
import threading
from typing import Any, Literal


class RequestStats:
    """Recorded requests and counters of ``FakeOpenAIServer``; every read returns a copy."""

    _lock: threading.Lock
    _in_flight: int

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
