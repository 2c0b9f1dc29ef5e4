"""Bulk decisions: approve or reject everything a filter selects, one log row per variant.

The filter is the queue's (segment, product, review status) plus the checks' state (``passing``
every ERROR check or ``failing`` one) and an acceptance-sampling batch (its members). Decisions
stay append-only: an undo is a later decision on the same variants.
"""

from dataclasses import dataclass

import polars as pl

from segcopy_assets.errors import InputValidationError
from segcopy_assets.review.service import ReviewTables, review_queue
from segcopy_assets.storage import review_log

CHECK_STATES = ("passing", "failing")
BULK_DECISIONS = ("approve", "reject")


@dataclass(frozen=True)
class BulkFilter:
    segment: str | None = None
    product: str | None = None
    status: str | None = None  # pending | approved | rejected | failed
    checks: str | None = None  # passing | failing
    batch: str | None = None  # a batch id: its members

    def describe(self) -> str:
        parts = [f"{k}={v}" for k, v in vars(self).items() if v]
        return ", ".join(parts) or "every current variant"


def select(tables: ReviewTables, f: BulkFilter) -> pl.DataFrame:
    """The current, generated variants the filter selects (queue rows)."""
    if f.checks is not None and f.checks not in CHECK_STATES:
        raise InputValidationError("variant_checks", None, f"checks must be one of {CHECK_STATES}")
    queue = review_queue(tables).filter(pl.col("status") == "ok")
    if f.segment:
        queue = queue.filter(pl.col("segment_id") == f.segment)
    if f.product:
        queue = queue.filter(pl.col("product_id") == f.product)
    if f.status:
        queue = queue.filter(pl.col("review_status") == f.status)
    if f.checks == "passing":
        queue = queue.filter(pl.col("failed_checks").is_null())
    elif f.checks == "failing":
        queue = queue.filter(pl.col("failed_checks").is_not_null())
    if f.batch:
        from segcopy_assets.review.batches import find_batch

        queue = queue.filter(pl.col("input_hash").is_in(find_batch(tables, f.batch).members))
    return queue


def summary(rows: pl.DataFrame) -> pl.DataFrame:
    """What a confirmation shows: variants per segment and current status."""
    return rows.group_by("segment_id", "review_status").len().sort("segment_id", "review_status")


def decide_all(
    tables: ReviewTables,
    rows: pl.DataFrame,
    decision: str,
    *,
    reviewer: str,
    note: str | None = None,
    audit: dict | None = None,
) -> int:
    """One decision per selected variant, appended in one commit; returns how many.
    ``audit``: how and from where (``review_log.make_decision``'s via, client_address,
    session_hash; default: the command line)."""
    if decision not in BULK_DECISIONS:
        raise InputValidationError(
            "variant_reviews", "decision", f"bulk decisions are {BULK_DECISIONS}"
        )
    if rows.is_empty():
        return 0
    decisions = [
        review_log.make_decision(r["segment_id"], r["product_id"], r["input_hash"], decision,
                                 reviewer=reviewer, note=note, **(audit or {}))
        for r in rows.iter_rows(named=True)
    ]  # fmt: skip
    review_log.append_reviews(tables.reviews, decisions)
    return len(decisions)
