"""Login throttling for the review page, in memory (one server process).

Every sign-in attempt counts as a failure for its user name and for its client address the
moment it starts (so attempts sent in parallel cannot slip past the limit); a successful one
takes its mark back and resets the user's counter. Once a name or an address has ``limit``
failures within ``window`` seconds, further attempts are refused until the oldest of them is
older than the window. Refused attempts are not counted, so a locked-out user gets back in at
most ``window`` seconds after the attack stops.
"""

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

LIMIT = 5
WINDOW_S = 15 * 60.0
MAX_KEYS = 10_000


class LoginThrottle:
    def __init__(
        self,
        limit: int = LIMIT,
        window: float = WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = MAX_KEYS,
    ) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self.max_keys = max_keys
        self._lock = threading.Lock()
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    @staticmethod
    def _keys(name: str, address: str) -> tuple[str, str]:
        return "user:" + name.strip().casefold(), "addr:" + address

    def _recent(self, key: str, now: float) -> deque[float]:
        marks = self._failures.get(key)
        if marks is None:
            return deque()
        while marks and marks[0] <= now - self.window:
            marks.popleft()
        if not marks:
            del self._failures[key]
        return marks

    def _wait(self, key: str, now: float) -> float:
        marks = self._recent(key, now)
        if len(marks) < self.limit:
            return 0.0
        return marks[-self.limit] + self.window - now

    def begin(self, name: str, address: str) -> float:
        """Seconds to wait if this attempt is refused (0.0: go ahead, counted as a failure
        until :meth:`succeeded` says otherwise)."""
        now = self.clock()
        with self._lock:
            wait = max(self._wait(key, now) for key in self._keys(name, address))
            if wait > 0:
                return wait
            for key in self._keys(name, address):
                self._failures.setdefault(key, deque()).append(now)
                self._failures.move_to_end(key)
            self._bound(now)
            return 0.0

    def succeeded(self, name: str, address: str) -> None:
        """The attempt was right: the user's counter starts again; the address keeps its
        earlier failures but not this attempt."""
        user_key, addr_key = self._keys(name, address)
        with self._lock:
            self._failures.pop(user_key, None)
            marks = self._failures.get(addr_key)
            if marks:
                marks.pop()
                if not marks:
                    del self._failures[addr_key]

    def _bound(self, now: float) -> None:
        """At most ``max_keys`` names and addresses are remembered (the least recent go)."""
        if len(self._failures) <= self.max_keys:
            return
        for key in list(self._failures):
            self._recent(key, now)
        while len(self._failures) > self.max_keys:
            self._failures.popitem(last=False)
