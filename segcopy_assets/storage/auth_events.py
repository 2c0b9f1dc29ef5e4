"""``review_auth_events``: the review page's shared, durable session state, an append-only Delta
table in the warehouse.

Sign-in attempts, their successes (the login throttle, ``review.web.throttle``) and sign-outs
(``review.web.auth``) of every review process: a sign-out in one process is honoured by every
other and after a restart, and failures spread over several processes lock a name together.
It lives in the warehouse, not the Dagster instance's database, because the review page needs
only the warehouse (it runs where no Dagster instance is configured, and the warehouse is what
every review process already shares); a process reads the table again only when its version
moved (``DeltaTable.update_incremental``: well under a millisecond when nothing changed).
"""

import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import polars as pl
from deltalake import DeltaTable, write_deltalake

from segcopy_assets.storage.delta import table_exists
from segcopy_assets.storage.delta_commits import retry_refused_commits
from segcopy_assets.storage.tables import AUTH_EVENT_SCHEMA

#: Events older than this are never read (the longest session; a throttle window is shorter).
HORIZON_S = 24 * 3600.0
#: Every this many commits, the appending process compacts the table (``DeltaEventLog``).
COMPACT_EVERY = 100
MAX_EVENTS = 100_000


@dataclass(frozen=True)
class AuthEvent:
    kind: str  # attempt | success | signout
    event_id: str
    user: str = ""  # normalised name
    address: str = ""
    ref: str = ""  # success: the attempt it was; signout: the session id's hash
    at: float = 0.0  # seconds since the epoch (or the throttle's clock)
    until: float = 0.0  # signout: when the session would have ended anyway


class EventLog(Protocol):
    def append(self, event: AuthEvent) -> None: ...

    def recent(self, since: float) -> list[AuthEvent]: ...


class MemoryEventLog:
    """The log in this process only (at most ``max_events``, the oldest go first)."""

    def __init__(self, max_events: int = MAX_EVENTS) -> None:
        self.max_events = max_events
        self._events: deque[AuthEvent] = deque()
        self._lock = threading.Lock()

    def append(self, event: AuthEvent) -> None:
        with self._lock:
            self._events.append(event)
            while len(self._events) > self.max_events:
                self._events.popleft()

    def recent(self, since: float) -> list[AuthEvent]:
        with self._lock:
            return [e for e in self._events if e.at >= since]

    def __len__(self) -> int:
        return len(self._events)


def _rows(events: list[AuthEvent]) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "kind": e.kind,
                "event_id": e.event_id,
                "user_name": e.user,
                "address": e.address,
                "ref": e.ref,
                "at": datetime.fromtimestamp(e.at, UTC),
                "until": datetime.fromtimestamp(e.until, UTC) if e.until else None,
            }
            for e in events
        ],
        schema=AUTH_EVENT_SCHEMA,
    )


def _event(row: dict) -> AuthEvent:
    until = row["until"]
    return AuthEvent(
        row["kind"],
        row["event_id"],
        row["user_name"] or "",
        row["address"] or "",
        row["ref"] or "",
        row["at"].timestamp(),
        until.timestamp() if until is not None else 0.0,
    )


class DeltaEventLog:
    """The events of the last ``HORIZON_S`` seconds, re-read when the table's version moves."""

    def __init__(self, path: str, clock=time.time) -> None:
        self.path = path
        self.clock = clock
        self._lock = threading.Lock()
        self._table: DeltaTable | None = None
        self._version: int | None = None
        self._events: list[AuthEvent] = []

    def append(self, event: AuthEvent) -> None:
        self._write(event)
        try:
            version = DeltaTable(self.path).version()
            if version and version % COMPACT_EVERY == 0:
                self._compact()
        except Exception as exc:  # housekeeping: another process may be doing the same
            print(f"segcopy review: compacting {self.path} failed ({exc}); later", file=sys.stderr)

    @retry_refused_commits(attempts=8, max_wait_s=2)
    def _write(self, event: AuthEvent) -> None:
        write_deltalake(self.path, _rows([event]).to_arrow(), mode="append")

    def _compact(self) -> None:
        """Events no reader looks at any more deleted, the rest in few files, a checkpoint: the
        table stays small and quick to read however many sign-ins it has seen."""
        table = DeltaTable(self.path)
        cutoff = datetime.fromtimestamp(self.clock() - HORIZON_S, UTC)
        table.delete(f"at < '{cutoff.isoformat()}'")
        table.optimize.compact()
        table.create_checkpoint()
        table.vacuum(retention_hours=1, enforce_retention_duration=False, dry_run=False)

    def _refresh(self) -> None:
        if self._table is None:
            if not table_exists(self.path):
                return
            self._table = DeltaTable(self.path)
        else:
            self._table.update_incremental()
        version = self._table.version()
        if version == self._version:
            return
        since = datetime.fromtimestamp(self.clock() - HORIZON_S, UTC)
        frame = pl.scan_delta(self.path).filter(pl.col("at") >= since).collect()
        self._events = [_event(r) for r in frame.iter_rows(named=True)]
        self._version = version

    def recent(self, since: float) -> list[AuthEvent]:
        with self._lock:
            self._refresh()
            return [e for e in self._events if e.at >= since]
