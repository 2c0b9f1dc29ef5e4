"""Acceptance-sampling batches over the warehouse: draw them, read their state.

The rules are ``core.sampling``; this module finds the batches among the current variants,
registers them in the ``review_batches`` table and reports where each stands.
"""

from dataclasses import dataclass

import polars as pl

from segcopy_assets.core.sampling import (
    ALL_SEGMENTS,
    BatchOutcome,
    SamplingPlan,
    batch_id,
    decisions_since_draw,
    draw_sample,
    outcome,
)
from segcopy_assets.review.service import ReviewTables, review_queue
from segcopy_assets.storage import review_log
from segcopy_assets.storage.review_batches import add_batches, read_batches


@dataclass(frozen=True)
class Batch:
    batch_id: str
    segment_id: str
    prompt_hash: str
    members: list[str]
    sample: list[str]
    plan: SamplingPlan
    outcome: BatchOutcome
    current: bool  # every member is still a current, publishable variant

    @property
    def bound(self) -> str:
        return self.plan.bound(len(self.sample), len(self.members))


def publishable(tables: ReviewTables) -> pl.DataFrame:
    """Current variants that pass every ERROR check: the population a batch is drawn from."""
    queue = review_queue(tables)
    return queue.filter((pl.col("status") == "ok") & pl.col("failed_checks").is_null())


def batch_specs(
    tables: ReviewTables,
    plan: SamplingPlan,
    *,
    all_segments: bool = False,
    segment: str | None = None,
) -> list[dict]:
    """The batches of the current variants: per segment and prompt hash (or per prompt hash
    across every segment), each with its members and its sample."""
    rows = publishable(tables)
    if segment is not None:
        rows = rows.filter(pl.col("segment_id") == segment)
    keys = ["prompt_hash"] if all_segments else ["segment_id", "prompt_hash"]
    specs = []
    for group_key, group in rows.group_by(keys, maintain_order=True):
        prompt_hash = group_key[-1]
        segment_id = ALL_SEGMENTS if all_segments else group_key[0]
        members = sorted(group["input_hash"].to_list())
        bid = batch_id(str(segment_id), str(prompt_hash), members)
        sample = draw_sample(bid, members, plan.sample_size(len(members)))
        specs.append({
            "batch_id": bid, "segment_id": segment_id, "prompt_hash": prompt_hash,
            "members": members, "sample": sample, "plan_p": plan.p, "plan_c": plan.c,
        })  # fmt: skip
    return sorted(specs, key=lambda s: (s["segment_id"], s["prompt_hash"]))


def draw_batches(
    tables: ReviewTables,
    plan: SamplingPlan,
    *,
    reviewer: str,
    all_segments: bool = False,
    segment: str | None = None,
) -> list[Batch]:
    """Register the current batches (a batch drawn before is found again, same sample) and
    return them with their state."""
    specs = batch_specs(tables, plan, all_segments=all_segments, segment=segment)
    add_batches(tables.batches, specs, created_by=reviewer)
    wanted = {s["batch_id"] for s in specs}
    return [b for b in batches(tables) if b.batch_id in wanted]


def batches(tables: ReviewTables) -> list[Batch]:
    """Every registered batch with its state (newest first): each counts the decisions made
    on its sample since it was drawn."""
    current = set(publishable(tables)["input_hash"].to_list())
    frame = read_batches(tables.batches).sort("created_at", descending=True)
    decisions = decisions_since_draw(frame.to_dicts(), review_log.read_reviews(tables.reviews))
    out = []
    for row in frame.iter_rows(named=True):
        sample, members = list(row["sample"]), list(row["members"])
        out.append(
            Batch(
                batch_id=row["batch_id"],
                segment_id=row["segment_id"],
                prompt_hash=row["prompt_hash"],
                members=members,
                sample=sample,
                plan=SamplingPlan.recorded(row["plan_p"], row["plan_c"]),
                outcome=outcome(sample, decisions[row["batch_id"]]),
                current=set(members) <= current,
            )  # fmt: skip
        )
    return out


def find_batch(tables: ReviewTables, batch: str) -> Batch:
    from segcopy_assets.errors import InputValidationError

    for b in batches(tables):
        if b.batch_id == batch:
            return b
    raise InputValidationError(
        "review_batches", "batch_id", f"no batch {batch!r}: draw it with `segcopy review sample`"
    )
