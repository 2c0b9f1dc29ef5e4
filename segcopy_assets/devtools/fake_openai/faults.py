"""Error answers of the fake endpoint and the faults a test scripts for the next requests.

``error_body`` is the OpenAI error JSON for a status; ``FaultScript`` is the part of
``FakeOpenAIServer`` that queues faults (``fail_next``) and hangs (``hang_next``).
"""

from __future__ import annotations

import collections
import math
import threading
from collections.abc import Callable
from typing import Any

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


class FaultScript:
    """Scripted faults and hangs, consumed in order by the chat-completions handler."""

    _lock: threading.Lock
    _faults: collections.deque[_Fault]
    _hangs: collections.deque[float]
    _hang_rules: list[list[Any]]  # [predicate, count left, seconds]

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

    def hang_when(
        self, predicate: Callable[[dict[str, Any]], bool], count: int = 1, seconds: float = 30.0
    ) -> None:
        """The next ``count`` admitted chat requests whose JSON body ``predicate`` accepts sleep
        ``seconds`` before answering: which calls hang depends on what they ask, never on the
        order concurrent calls arrive in (tests stay deterministic)."""
        with self._lock:
            self._hang_rules.append([predicate, count, seconds])

    def _take_hang(self, body: dict[str, Any]) -> float | None:
        """The hang for this request: a matching ``hang_when`` rule first, else ``hang_next``."""
        with self._lock:
            for rule in self._hang_rules:
                predicate, left, seconds = rule
                if left > 0 and predicate(body):
                    rule[1] = left - 1
                    return seconds
            return self._hangs.popleft() if self._hangs else None

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            self._hangs.clear()
            self._hang_rules.clear()

    @property
    def pending_faults(self) -> int:
        with self._lock:
            return len(self._faults)

    @property
    def pending_hangs(self) -> int:
        with self._lock:
            return len(self._hangs) + sum(rule[1] for rule in self._hang_rules)
