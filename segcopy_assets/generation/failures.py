"""A failed generation is a state of its pair, not a defect of the table (plain functions).

* **The last good row stays current.** When a pair's new generation fails and the pair has an
  ``ok`` row (of older inputs), that row stays in the table, still reusable by its input hash, and
  the failure is recorded beside it: ``attempts`` (failed generations of ``attempted_hash`` in a
  row), ``last_error``, ``last_attempt_at``, ``failing_since`` (the first of them: when the
  pair's copy became superseded, for publication's grace period). A pair that never had an ``ok`` row keeps a
  ``failed`` row with the same columns. An ``ok`` answer clears them.
* **What counts as an attempt.** A call that got no answer because the endpoint was unreachable,
  timed out, overloaded or rate limited after the client's retries says nothing about the pair:
  it is recorded and retried, never counted. An answer that is unusable (no Rationale, cut off,
  empty) or a request the endpoint refuses (HTTP 400/422) counts.
* **Parking.** A pair with ``max_attempts`` counted failures in a row for the inputs wanted now
  is parked: not sent again until its inputs change (a new input hash) or a person asks for it
  again (``segcopy retry``, the review page: a row of ``generation_retries``) after its last
  attempt. A retry that fails again parks it again: at most ``max_attempts + 1`` requests per
  ask.
"""

from dataclasses import dataclass
from datetime import datetime

import openai
import polars as pl

from segcopy_assets.storage.tables import VARIANT_SCHEMA

FAILURE_COLUMNS = ("attempts", "attempted_hash", "last_error", "last_attempt_at", "failing_since")
PAIR = ["segment_id", "product_id"]

#: Call errors that say nothing about the pair (after the client's own retries).
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    openai.APIConnectionError,  # includes APITimeoutError
    openai.RateLimitError,
    openai.InternalServerError,
)


def counts_as_attempt(exc: BaseException) -> bool:
    """Whether a call that raised ``exc`` counts toward parking its pair."""
    if isinstance(exc, TRANSIENT_ERRORS):
        return False
    status = getattr(exc, "status_code", None)
    return not (isinstance(status, int) and (status >= 500 or status in (408, 409, 429)))


def _cleared(rows: pl.DataFrame) -> pl.DataFrame:
    return rows.with_columns(
        pl.lit(None, dtype=VARIANT_SCHEMA[c]).alias(c) for c in FAILURE_COLUMNS
    )


def settle(new: pl.DataFrame, previous: pl.DataFrame) -> pl.DataFrame:
    """The rows to write for a run: ``new`` (``VARIANT_SCHEMA``; a failed row's ``attempts`` is
    this run's count, 1 or 0) settled against the table's ``previous`` rows of its segments.

    ``ok`` rows come out as they are, failure columns cleared. A failed pair whose previous row
    is ``ok`` keeps that row with the failure recorded on it (a forced regeneration of the same
    inputs that failed keeps the row untouched); otherwise the failed row comes out. Attempts add
    up while the attempted input hash stays the same and start again when it moves."""
    ok = _cleared(new.filter(pl.col("status") == "ok"))
    failed = new.filter(pl.col("status") != "ok")
    if failed.is_empty():
        return ok.select(list(VARIANT_SCHEMA)).sort(PAIR)
    before = {
        (r["segment_id"], r["product_id"]): r
        for r in previous.join(failed.select(PAIR), on=PAIR, how="semi").to_dicts()
    }
    out = []
    for row in failed.to_dicts():
        prev = before.get((row["segment_id"], row["product_id"]))
        carried, since = 0, row["generated_at"]
        if prev is not None and prev.get("attempted_hash") == row["input_hash"]:
            carried = int(prev.get("attempts") or 0)
            since = prev.get("failing_since") or since
        failure = {
            "attempts": carried + int(row.get("attempts") or 0),
            "attempted_hash": row["input_hash"],
            "last_error": row["error"],
            "last_attempt_at": row["generated_at"],
            "failing_since": since,
        }
        if prev is not None and prev["status"] == "ok":
            out.append(prev if prev["input_hash"] == row["input_hash"] else {**prev, **failure})
        else:
            out.append({**row, **failure})
    kept = pl.DataFrame(out, schema=VARIANT_SCHEMA)
    return pl.concat([ok.select(list(VARIANT_SCHEMA)), kept]).sort(PAIR)


def pending_failure() -> pl.Expr:
    """Rows whose latest generation failed: a ``failed`` row, or an ``ok`` row kept while its
    replacement fails."""
    kept = pl.col("attempted_hash").is_not_null() & (
        pl.col("attempted_hash") != pl.col("input_hash")
    )
    return (pl.col("status") != "ok") | kept


def parked_pairs(
    stored: pl.DataFrame, wanted: pl.DataFrame, retries: pl.DataFrame, max_attempts: int
) -> pl.DataFrame:
    """``segment_id, product_id`` of the parked pairs.

    ``stored``: variant rows (at least the pair, ``attempts``, ``attempted_hash``,
    ``last_attempt_at``); ``wanted``: ``segment_id, product_id, input_hash`` a run would generate
    now; ``retries``: ``segment_id, product_id, requested_at`` of the retry requests."""
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    candidates = stored.filter(pl.col("attempts").fill_null(0) >= max_attempts).join(
        wanted.select(*PAIR, pl.col("input_hash").alias("attempted_hash")),
        on=[*PAIR, "attempted_hash"],
        how="semi",
    )
    if candidates.is_empty():
        return pl.DataFrame(schema={c: pl.String for c in PAIR})
    asked = (
        retries.select(*PAIR, "requested_at")
        .group_by(PAIR)
        .agg(pl.col("requested_at").max().alias("asked"))
    )
    return (
        candidates.join(asked, on=PAIR, how="left")
        .filter(pl.col("asked").is_null() | (pl.col("asked") <= pl.col("last_attempt_at")))
        .select(PAIR)
        .unique()
        .sort(PAIR)
    )


def describe(row: dict, max_attempts: int, parked: bool) -> str:
    """One line for a pair with a pending failure: attempts, state, what is kept, the reason."""
    n = int(row.get("attempts") or 0)
    when = row.get("last_attempt_at")
    at = f" at {when:%Y-%m-%d %H:%M} UTC" if isinstance(when, datetime) else ""
    state = (
        f"parked after {n} failed attempt(s) (`segcopy retry` sends it again)"
        if parked
        else f"{n} of {max_attempts} counted attempt(s) failed, retried by the next run"
    )
    kept = (
        f"; the last good variant {row['input_hash'][:12]} stays current"
        if row.get("status") == "ok"
        else ""
    )
    return f"{state}{kept}; last error{at}: {row.get('last_error') or row.get('error')}"


@dataclass(frozen=True)
class AttemptPlan:
    """Which of a run's pairs are sent: all but the parked ones (whose rows stay as they are)."""

    pairs: list[tuple[dict, dict]]  # to generate (or reuse)
    hashes: list[str]  # their input hashes
    parked: set[tuple[str, str]]  # (segment, product) not sent

    def held(self, previous: pl.DataFrame) -> pl.DataFrame:
        """The table's rows of the parked pairs, unchanged."""
        if not self.parked:
            return VARIANT_SCHEMA.to_frame()
        keys = pl.DataFrame(list(self.parked), schema=dict.fromkeys(PAIR, pl.String), orient="row")
        return previous.join(keys, on=PAIR, how="semi").select(list(VARIANT_SCHEMA))


def attempt_plan(
    pairs: list[tuple[dict, dict]],
    hashes: list[str],
    previous: pl.DataFrame,
    retries: pl.DataFrame,
    max_attempts: int,
) -> AttemptPlan:
    """Leave out the parked pairs (:func:`parked_pairs`) of a run's ``pairs``."""
    wanted = pl.DataFrame(
        [(s["segment_id"], p["product_id"], h) for (s, p), h in zip(pairs, hashes)],
        schema=dict.fromkeys([*PAIR, "input_hash"], pl.String),
        orient="row",
    )
    parked = set(parked_pairs(previous, wanted, retries, max_attempts).iter_rows())
    kept = [
        (pair, h)
        for pair, h in zip(pairs, hashes)
        if (pair[0]["segment_id"], pair[1]["product_id"]) not in parked
    ]
    return AttemptPlan([p for p, _ in kept], [h for _, h in kept], parked)
