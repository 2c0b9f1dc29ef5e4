"""Which segments a variants run would change, read from the tables before any run starts.

``segcopy run`` asks this first and materializes only the stale partitions: a run that would
reuse every variant and every verdict is not started at all (no Dagster events, no judging).
The comparison is the one the sensors make: the input hash of every pair (prompt, segment
summary, product content) and the rules hash of the verdicts.
"""

import polars as pl

from segcopy_assets.core.refresh_planning import stale_segments
from segcopy_assets.generation.variants import input_hash, plan_pairs
from segcopy_assets.quality.fingerprint import rules_hash
from segcopy_assets.resources import Copywriter, Judge, QualityRules, Warehouse
from segcopy_assets.storage import delta
from segcopy_assets.storage.tables import (
    DESCRIPTION_VARIANTS,
    PRODUCTS,
    SEGMENT_SUMMARIES,
    VARIANT_CHECKS,
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
    stored = _read(
        warehouse.table_path(DESCRIPTION_VARIANTS),
        ["segment_id", "product_id", "input_hash", "status"],
    )
    verdicts = _read(
        warehouse.table_path(VARIANT_CHECKS),
        ["segment_id", "product_id", "input_hash", "check", "rules_hash"],
    )
    return stale_segments(
        expected, stored, verdicts, current_rules_hash(copywriter, quality_rules, judge)
    )


def expected_pair_count(resources: dict, pairing: str = "all") -> int:
    """How many pairs the current segments and products make (what ``segcopy run`` reports)."""
    warehouse = resources["warehouse"]
    summaries = pl.read_delta(warehouse.table_path(SEGMENT_SUMMARIES))
    products = pl.read_delta(warehouse.table_path(PRODUCTS))
    return len(plan_pairs(summaries, products, pairing))
