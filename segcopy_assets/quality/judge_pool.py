"""Judging variants while they are generated, in a worker process.

The deterministic checks cost ~4-5 ms of CPU per variant; generation is waiting on the network.
A run that calls the model for many pairs hands each batch of finished variants to a spawned
worker process (never forked: deltalake's threads are running) and judges on the second core
while the calls go on, instead of after them. The verdicts are the same as
:func:`quality.judge.judge_variant` gives in process (same function, same settings).
"""

import multiprocessing
import os
from concurrent.futures import Future, ProcessPoolExecutor

import polars as pl

from segcopy_assets.core.hashing import variant_hash
from segcopy_assets.quality.judge import NEEDED_COLUMNS, CheckSettings, judge_variant
from segcopy_assets.storage.tables import VERDICT_SCHEMA

#: Fewer calls than this and a worker's start (~2 s of imports) is not worth it.
MIN_CALLS = 500
#: Variants per task sent to the worker.
BATCH = 200

_context: dict = {}


def _init(originals: dict[str, str], segments: dict[str, dict], settings, rules: str) -> None:
    _context.update(originals=originals, segments=segments, settings=settings, rules=rules)


def _judge_batch(rows: list[dict]) -> list[dict]:
    """Content verdicts of ``ok`` rows, as VERDICT_SCHEMA dicts (runs in the worker)."""
    out = []
    originals, segments = _context["originals"], _context["segments"]
    for row in rows:
        seg, prod = row["segment_id"], row["product_id"]
        vhash = variant_hash(row["variant_text"], row["rationale"], row["status"])
        original = originals.get(prod)
        if original is None:  # judged in process, where the missing original is reported
            continue
        for v in judge_variant(
            row["variant_text"],
            row["rationale"],
            original,
            segments.get(seg) or {},
            _context["settings"],
        ):
            out.append(
                {
                    "segment_id": seg,
                    "product_id": prod,
                    "input_hash": row["input_hash"],
                    "check": v.check,
                    "passed": v.passed,
                    "severity": v.severity,
                    "reason": v.reason,
                    "variant_hash": vhash,
                    "rules_hash": _context["rules"],
                }
            )
    return out


class JudgePool:
    """``add(row)`` as variants complete; ``verdicts()`` at the end (every submitted row judged)."""

    def __init__(
        self,
        originals: dict[str, str],
        segments: dict[str, dict],
        settings: CheckSettings,
        rules: str,
        workers: int | None = None,
    ):
        workers = workers or max(1, (os.cpu_count() or 2) - 1)
        self._executor = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init,
            initargs=(originals, segments, settings, rules),
        )
        self._buffer: list[dict] = []
        self._futures: list[Future] = []
        self.submitted = 0

    def add(self, row: dict) -> None:
        if row.get("status") != "ok":
            return
        self._buffer.append({k: row.get(k) for k in NEEDED_COLUMNS})
        if len(self._buffer) >= BATCH:
            self._flush()

    def _flush(self) -> None:
        if self._buffer:
            self._futures.append(self._executor.submit(_judge_batch, self._buffer))
            self.submitted += len(self._buffer)
            self._buffer = []

    def verdicts(self) -> pl.DataFrame:
        self._flush()
        rows = [v for f in self._futures for v in f.result()]
        return pl.DataFrame(rows, schema=VERDICT_SCHEMA) if rows else VERDICT_SCHEMA.to_frame()

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> "JudgePool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
