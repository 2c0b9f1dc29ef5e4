"""Login throttling for the review page, over an event log every review process shares.

Every sign-in attempt is recorded (an ``attempt`` event) before the password is checked, so
attempts sent in parallel cannot slip past the limit; a successful one is followed by a
``success`` event that takes its mark back and resets the user's counter. Whether an attempt
was let through is decided by replaying the log in order (:func:`replay`): once a name or an
address has ``limit`` counted failures within ``window`` seconds, further attempts are refused,
and refused attempts are not counted, so a locked-out user gets back in at most ``window``
seconds after the attack stops. Names are matched in their normalised form
(``users.normalise_name``).

The log (``storage.auth_events``) is the warehouse's ``review_auth_events`` table, shared by every
review process and kept across restarts (or ``MemoryEventLog``, one process: tests); sign-outs
live in the same log (``auth.py``).
"""

import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable

from segcopy_assets.core.user_names import normalise_name
from segcopy_assets.storage.auth_events import AuthEvent, EventLog, MemoryEventLog

LIMIT = 5
WINDOW_S = 15 * 60.0


def _ordered(events: Iterable[AuthEvent]) -> list[AuthEvent]:
    return sorted(events, key=lambda e: (e.at, e.event_id))


def replay(
    events: Iterable[AuthEvent], limit: int, window: float
) -> tuple[set[str], dict[str, deque[float]]]:
    """(ids of the attempts let through, counted failure times per ``user:``/``addr:`` key)."""
    counted: dict[str, deque[float]] = {}
    owner: dict[str, tuple[str, str, float]] = {}  # attempt id -> its keys and time
    accepted: set[str] = set()

    def recent(key: str, now: float) -> deque[float]:
        marks = counted.setdefault(key, deque())
        while marks and marks[0] <= now - window:
            marks.popleft()
        return marks

    for event in _ordered(events):
        user_key, addr_key = "user:" + event.user, "addr:" + event.address
        if event.kind == "attempt":
            both = [recent(user_key, event.at), recent(addr_key, event.at)]
            if all(len(m) < limit for m in both):
                accepted.add(event.event_id)
                owner[event.event_id] = (user_key, addr_key, event.at)
                for m in both:
                    m.append(event.at)
        elif event.kind == "success" and event.ref in owner:
            user_key, addr_key, at = owner.pop(event.ref)
            counted[user_key] = deque()  # the user's counter starts again
            marks = counted.get(addr_key)
            if marks and at in marks:
                marks.remove(at)  # the address keeps earlier failures, not this attempt
    return accepted, counted


class LoginThrottle:
    def __init__(
        self,
        limit: int = LIMIT,
        window: float = WINDOW_S,
        clock: Callable[[], float] = time.time,
        store: EventLog | None = None,
    ) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self.store: EventLog = store if store is not None else MemoryEventLog()
        self._lock = threading.Lock()
        self._last_at = 0.0
        self._pending: dict[tuple[str, str], list[str]] = {}

    def _now(self) -> float:
        """Strictly increasing in this process: attempts are ordered as they were made."""
        self._last_at = max(self.clock(), self._last_at + 1e-6)
        return self._last_at

    def _wait(self, counted: dict[str, deque[float]], keys: tuple[str, str], now: float) -> float:
        waits = [0.0]
        for key in keys:
            marks = [t for t in counted.get(key, ()) if t > now - self.window]
            if len(marks) >= self.limit:
                waits.append(marks[-self.limit] + self.window - now)
        return max(waits)

    def begin(self, name: str, address: str) -> float:
        """Seconds to wait if this attempt is refused (0.0: go ahead, counted as a failure
        until :meth:`succeeded` says otherwise)."""
        user = normalise_name(name)
        keys = ("user:" + user, "addr:" + address)
        with self._lock:
            now = self._now()
            attempt = AuthEvent("attempt", secrets.token_hex(8), user, address, at=now)
            # refused on what is known already: not written (a flood of refused attempts costs
            # no write and cannot grow the shared log)
            accepted, counted = replay(
                [*self.store.recent(now - 2 * self.window), attempt], self.limit, self.window
            )
            if attempt.event_id not in accepted:
                return max(self._wait(counted, keys, now), 0.001)
            self.store.append(attempt)
            events = self.store.recent(now - 2 * self.window)
        # again with what other processes wrote meanwhile: the log's order decides
        accepted, counted = replay(events, self.limit, self.window)
        if attempt.event_id in accepted:
            with self._lock:
                self._pending.setdefault((user, address), []).append(attempt.event_id)
            return 0.0
        return max(self._wait(counted, keys, now), 0.001)

    def succeeded(self, name: str, address: str) -> None:
        """The attempt was right: the user's counter starts again; the address keeps its
        earlier failures but not this attempt."""
        user = normalise_name(name)
        with self._lock:
            pending = self._pending.get((user, address))
            if not pending:
                return
            ref = pending.pop()
            if not pending:
                del self._pending[(user, address)]
            self.store.append(
                AuthEvent("success", secrets.token_hex(8), user, address, ref, self._now())
            )
