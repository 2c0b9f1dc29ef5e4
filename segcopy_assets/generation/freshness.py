"""Which segments a variants run would change, read from the tables before any run starts.

``segcopy run`` asks this first and materializes only the stale partitions: a run that would
reuse every variant and every verdict is not started at all (no Dagster events, no judging).
The comparison is the one the sensors make: the input hash of every pair (prompt, segment
summary, product content) and the rules hash of the verdicts.
"""

from typing import Any

import polars as pl

from segcopy_assets.core.refresh_planning import stale_segments
from segcopy_assets.generation.failures import parked_pairs, pending_failure
from segcopy_assets.generation.variants import input_hash, plan_pairs
from segcopy_assets.quality.fingerprint import rules_hash
from segcopy_assets.resources import Copywriter, Judge, QualityRules, Warehouse
from segcopy_assets.storage import delta, retry_requests, variant_store
from segcopy_assets.storage.tables import (
    DESCRIPTION_VARIANTS,
    GENERATION_RETRIES,
    PRODUCTS,
    SEGMENT_SUMMARIES,
    VARIANT_CHECKS,
    VARIANT_SCHEMA,
)

#: The variant columns staleness and parking are decided from.
FRESHNESS_SCHEMA = pl.Schema(
    {
        c: VARIANT_SCHEMA[c]
        for c in (
            "segment_id",
            "product_id",
            "input_hash",
            "status",
            "attempts",
            "attempted_hash",
            "last_attempt_at",
        )
    }
)


def current_rules_hash(copywriter: Copywriter, quality_rules: QualityRules, judge: Judge) -> str:
    """The rules hash a verdict written now would carry."""
    settings = quality_rules.settings(copywriter.prompts_dir)
    if not judge.enabled:
        return rules_hash(settings)
    prompt = judge.prompt(quality_rules.place_share_threshold)
    return rules_hash(settings, f"{judge.model}:{prompt.hash}")


def expected_pairs(
    summaries: pl.DataFrame, products: pl.DataFrame, prompt_hash: str, pairing: str = "all"
) -> pl.DataFrame:
    """(segment_id, product_id, input_hash) of every pair a run would generate."""
    rows = [
        (
            s["segment_id"],
            p["product_id"],
            input_hash(prompt_hash, s["summary_hash"], p["content_hash"]),
        )
        for s, p in plan_pairs(summaries, products, pairing)
    ]
    return pl.DataFrame(rows, schema=["segment_id", "product_id", "input_hash"], orient="row")


def _read(path: str, columns: list[str]) -> pl.DataFrame:
    if not delta.table_exists(path):
        return pl.DataFrame(schema={c: pl.String for c in columns})
    lf = pl.scan_delta(path)
    present = set(lf.collect_schema().names())
    return lf.select(
        pl.col(c) if c in present else pl.lit(None, pl.String).alias(c) for c in columns
    ).collect()


def stale_variant_segments(
    warehouse: Warehouse,
    copywriter: Copywriter,
    quality_rules: QualityRules,
    judge: Judge,
    pairing: str = "all",
) -> list[str]:
    """The segments of segment_summaries whose variants or verdicts a run would change."""
    summaries = pl.read_delta(warehouse.table_path(SEGMENT_SUMMARIES))
    products = pl.read_delta(warehouse.table_path(PRODUCTS))
    expected = expected_pairs(summaries, products, copywriter.prompt_set().hash, pairing)
    stored = variant_store.read_segments(
        warehouse.table_path(DESCRIPTION_VARIANTS), schema=FRESHNESS_SCHEMA
    )
    verdicts = _read(
        warehouse.table_path(VARIANT_CHECKS),
        ["segment_id", "product_id", "input_hash", "check", "rules_hash"],
    )
    parked = parked_pairs(
        stored,
        expected,
        retry_requests.read_requests(warehouse.table_path(GENERATION_RETRIES)),
        copywriter.max_attempts,
    )
    return stale_segments(
        expected, stored, verdicts, current_rules_hash(copywriter, quality_rules, judge), parked
    )


def expected_pair_count(resources: dict, pairing: str = "all") -> int:
    """How many pairs the current segments and products make (what ``segcopy run`` reports)."""
    warehouse = resources["warehouse"]
    summaries = pl.read_delta(warehouse.table_path(SEGMENT_SUMMARIES))
    products = pl.read_delta(warehouse.table_path(PRODUCTS))
    return len(plan_pairs(summaries, products, pairing))


#: ``pending_failures``: one row per pair whose latest generation failed.
_FAILING: dict[str, Any] = {
    "segment_id": pl.String,
    "product_id": pl.String,
    "state": pl.String,  # retrying (the next run sends it) | parked
    "last_good_kept": pl.Boolean,  # an ok variant of older inputs stays current
    "attempts": pl.Int64,
    "last_error": pl.String,
    "last_attempt_at": pl.Datetime("us", "UTC"),
    "input_hash": pl.String,  # of the row in the table
    "attempted_hash": pl.String,  # of the generation that fails
}
FAILING_SCHEMA = pl.Schema(_FAILING)


def pending_failures(
    warehouse: Warehouse, copywriter: Copywriter, pairing: str = "all"
) -> pl.DataFrame:
    """The current pairs whose latest generation failed (``FAILING_SCHEMA``), parked or not."""
    path = warehouse.table_path(DESCRIPTION_VARIANTS)
    if not delta.table_exists(path):
        return FAILING_SCHEMA.to_frame()
    # only the failing rows' few columns: a no-op run at 100,000 pairs reads next to nothing
    columns = [*FRESHNESS_SCHEMA, "error", "last_error", "generated_at"]
    scan = variant_store.select_columns(pl.scan_delta(path), VARIANT_SCHEMA, columns)
    failing = scan.filter(pending_failure()).collect()
    if failing.is_empty():
        return FAILING_SCHEMA.to_frame()
    summaries = pl.read_delta(warehouse.table_path(SEGMENT_SUMMARIES))
    products = pl.read_delta(warehouse.table_path(PRODUCTS))
    expected = expected_pairs(summaries, products, copywriter.prompt_set().hash, pairing)
    retries = retry_requests.read_requests(warehouse.table_path(GENERATION_RETRIES))
    return failure_states(failing, expected, retries, copywriter.max_attempts)


def failure_states(
    failing: pl.DataFrame, expected: pl.DataFrame, retries: pl.DataFrame, max_attempts: int
) -> pl.DataFrame:
    """``FAILING_SCHEMA`` of the ``failing`` rows (``pending_failure``) of pairs still
    ``expected`` (``segment_id, product_id, input_hash``), each retrying or parked."""
    if failing.is_empty():
        return FAILING_SCHEMA.to_frame()
    parked = parked_pairs(failing, expected, retries, max_attempts).with_columns(
        pl.lit("parked").alias("state")
    )
    return (
        failing.join(expected.select("segment_id", "product_id"), on=["segment_id", "product_id"])
        .join(parked, on=["segment_id", "product_id"], how="left")
        .select(
            "segment_id",
            "product_id",
            pl.col("state").fill_null("retrying"),
            (pl.col("status") == "ok").alias("last_good_kept"),
            pl.col("attempts").fill_null(0),
            pl.coalesce("last_error", "error").alias("last_error"),
            pl.coalesce("last_attempt_at", "generated_at").alias("last_attempt_at"),
            "input_hash",
            pl.coalesce("attempted_hash", "input_hash").alias("attempted_hash"),
        )
        .sort("segment_id", "product_id")
    )
