"""A durable record of generations as they complete, so a crashed run never pays twice.

``description_variants`` replaces a segment's rows only when the whole run is done (one atomic
Delta commit). Until then, completed ``ok`` generations are appended here in small batches by a
background thread; the cache reads this journal as well as the variants table, so after a
``kill -9`` the next run only calls for the pairs that had not completed. Rows of segments that
were written for good are deleted from the journal.
"""

import threading
import time

import polars as pl
from deltalake import DeltaTable, write_deltalake

from segcopy_assets.storage.delta import sql_list, table_exists
from segcopy_assets.storage.delta_commits import retry_refused_commits
from segcopy_assets.storage.tables import VARIANT_SCHEMA
from segcopy_assets.storage.variant_store import read_reusable, select_columns


class GenerationJournal:
    """Buffered appends to a Delta table; ``add`` is cheap and safe from any thread."""

    def __init__(self, path: str, *, flush_every_rows: int = 25, flush_every_s: float = 1.0):
        self.path = path
        self.flush_every_rows = flush_every_rows
        self.flush_every_s = flush_every_s
        self.rows_written = 0
        self.errors: list[str] = []
        self._buffer: list[dict] = []
        self._lock = threading.Condition()
        self._closing = False
        self._thread: threading.Thread | None = None

    def __enter__(self) -> "GenerationJournal":
        self._thread = threading.Thread(target=self._loop, name="generation-journal", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        with self._lock:
            self._closing = True
            self._lock.notify()
        if self._thread is not None:
            self._thread.join()

    def add(self, row: dict) -> None:
        with self._lock:
            self._buffer.append(row)
            if len(self._buffer) >= self.flush_every_rows:
                self._lock.notify()

    def _loop(self) -> None:
        while True:
            with self._lock:
                if not self._closing and len(self._buffer) < self.flush_every_rows:
                    self._lock.wait(timeout=self.flush_every_s)
                batch, self._buffer = self._buffer, []
                closing = self._closing
            if batch:
                self._write(batch)
            if closing:
                with self._lock:
                    batch, self._buffer = self._buffer, []
                if batch:
                    self._write(batch)
                return

    def _write(self, batch: list[dict]) -> None:
        try:
            append_rows(self.path, batch)
            self.rows_written += len(batch)
        except Exception as exc:  # the journal is an optimisation: never fail the run for it
            self.errors.append(f"{type(exc).__name__}: {exc}")
            time.sleep(0.1)


def append_rows(path: str, rows: list[dict]) -> None:
    """Append variant rows now (the batch collector's answers: durable before it moves on)."""
    frame = pl.DataFrame(rows, schema=VARIANT_SCHEMA)
    # schema_mode="merge": a journal written before batch_id existed gains the column
    write_deltalake(path, frame.to_arrow(), mode="append", schema_mode="merge")


def read_latest(path: str, input_hashes: list[str]) -> pl.DataFrame:
    """The latest row (any status) of each of these input hashes (``VARIANT_SCHEMA``)."""
    if not table_exists(path) or not input_hashes:
        return VARIANT_SCHEMA.to_frame()
    lf = pl.scan_delta(path).filter(pl.col("input_hash").is_in(input_hashes))
    return (
        select_columns(lf, VARIANT_SCHEMA, list(VARIANT_SCHEMA))
        .sort("generated_at", nulls_last=False)
        .group_by("input_hash", maintain_order=True)
        .last()
        .select(list(VARIANT_SCHEMA))
        .collect()
    )


def read_journal(path: str, input_hashes: list[str]) -> pl.DataFrame:
    """Journaled ``ok`` rows for these input hashes (same shape as the variants table)."""
    return read_reusable(path, input_hashes)


@retry_refused_commits(attempts=6, max_wait_s=1)
def forget_segments(path: str, segment_ids: list[str]) -> None:
    """Drop journal rows of segments whose variants are now written for good.

    Two runs forgetting at once conflict when one journal file holds rows of both; each attempt
    reloads the table, so the loser simply deletes again from the new version."""
    if not table_exists(path) or not segment_ids:
        return
    DeltaTable(path).delete(predicate=f"segment_id IN ({sql_list(segment_ids)})")
