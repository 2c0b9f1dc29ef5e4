"""Parts of a variants run around the generation itself: the judge pool, the approvals carried
over to unchanged text, and the report of pairs whose generation failed."""

import os
from datetime import UTC, datetime

import dagster as dg
import polars as pl

from segcopy_assets.core.continuity import PAIR, carried_approvals
from segcopy_assets.defs.metadata import markdown_table
from segcopy_assets.generation.failures import AttemptPlan, pending_failure
from segcopy_assets.generation.freshness import current_rules_hash
from segcopy_assets.quality.judge_pool import MIN_CALLS as JUDGE_POOL_MIN_CALLS
from segcopy_assets.quality.judge_pool import JudgePool
from segcopy_assets.resources import Copywriter, Judge, QualityRules, Warehouse
from segcopy_assets.storage import review_log
from segcopy_assets.storage.tables import VARIANT_REVIEWS


def judge_pool(
    context: dg.AssetExecutionContext,
    new_variants: int,
    products: pl.DataFrame,
    segments: pl.DataFrame,
    copywriter: Copywriter,
    quality_rules: QualityRules,
    judge: Judge,
) -> JudgePool | None:
    """A worker that judges variants while they are generated, for runs with many new ones."""
    if new_variants < JUDGE_POOL_MIN_CALLS:
        return None
    context.log.info(f"{new_variants} new variant(s): judged in worker processes as they arrive")
    return JudgePool(
        dict(zip(products["product_id"], products["description"])),
        {s["segment_id"]: s for s in segments.to_dicts()},
        quality_rules.settings(copywriter.prompts_dir),
        current_rules_hash(copywriter, quality_rules, judge),
        # one worker per core: judging (~5 ms of CPU per variant) must keep up with ~200
        # answers/s, while this process mostly waits on the network (bench.scale, large config:
        # one worker judged 105,200 variants in 10 min, twice the time of the calls it follows)
        workers=os.cpu_count() or 1,
    )


def carry_approvals(
    context: dg.AssetExecutionContext,
    warehouse: Warehouse,
    previous: pl.DataFrame,
    rows: pl.DataFrame,
    reviews_table: str = VARIANT_REVIEWS,
    key: tuple[str, ...] = PAIR,
) -> int:
    """Record the approvals that carry over to new variants with unchanged text
    (``core.continuity.carried_approvals``) in ``reviews_table`` (a channel's: per ``key``,
    its pair and arm); returns how many."""
    path = warehouse.table_path(reviews_table)
    latest = review_log.latest_decisions(review_log.read_reviews(path))
    carried = carried_approvals(previous, rows, latest, datetime.now(UTC), key)
    if carried:
        review_log.append_reviews(path, carried)
        context.log.info(
            f"{len(carried)} approval(s) carried over to new variants with identical text"
        )
    return len(carried)


def failure_report(rows: pl.DataFrame, plan: AttemptPlan, max_attempts: int) -> pl.DataFrame:
    """The pairs whose latest generation failed: state (retrying or parked), whether their last
    good variant stays current, counted attempts and the last error."""
    failing = rows.filter(pending_failure())
    parked = pl.DataFrame(
        list(plan.parked), schema={"segment_id": pl.String, "product_id": pl.String}, orient="row"
    ).with_columns(pl.lit(True).alias("_parked"))
    return (
        failing.join(parked, on=["segment_id", "product_id"], how="left")
        .select(
            "segment_id",
            "product_id",
            pl.when(pl.col("_parked").fill_null(False))
            .then(pl.lit("parked"))
            .otherwise(pl.lit("retrying"))
            .alias("state"),
            (pl.col("status") == "ok").alias("last_good_kept"),
            pl.col("attempts").fill_null(0),
            pl.coalesce("last_error", "error").alias("last_error"),
        )
        .with_columns(
            pl.when(pl.col("attempts") >= max_attempts)
            .then(pl.lit("parked"))
            .otherwise(pl.col("state"))
            .alias("state")
        )
        .sort("segment_id", "product_id")
    )


def failure_metadata(failing: pl.DataFrame) -> dict:
    return {
        "pending_failures": dg.MetadataValue.int(failing.height),
        "kept_last_good": dg.MetadataValue.int(int(failing["last_good_kept"].sum())),
        "parked": dg.MetadataValue.int(int((failing["state"] == "parked").sum())),
        "failing_pairs": dg.MetadataValue.md(
            markdown_table(failing, max_rows=200, max_chars=300) if failing.height else "none"
        ),
    }
