"""Staleness where the Dagster UI shows it at the asset level (issue 26).

Dagster 1.13 computes "Unsynced" per partition only: for a partitioned asset the partition
dots, the catalog and the lineage node stay green while segments wait for regeneration. A
check's status is shown in all three places, so the description's staleness is a check,
``inputs_current``: it fails with WARN while any segment's variants or verdicts are not what a
run now would produce (the comparison ``segcopy run`` makes before starting runs:
``generation.freshness.stale_variant_segments``), naming those segments.

- ``staleness_sensor`` records an evaluation whenever the set of stale segments changes (a
  prompt edit, a moved summary or product turns it WARN at once; the regeneration the other
  sensors request turns it green again);
- the check itself is executable (the UI's "Execute" button) and runs in every variants run
  after the materialization, so the status the run leaves is the one it measured.
"""

import dagster as dg

from segcopy_assets.core.hashing import digest
from segcopy_assets.defs.generation.assets import description_variants
from segcopy_assets.defs.sensor_support import RUNNING, interval
from segcopy_assets.errors import SegcopyError
from segcopy_assets.generation.freshness import stale_variant_segments
from segcopy_assets.resources import Copywriter, Judge, QualityRules, Warehouse
from segcopy_assets.storage import delta
from segcopy_assets.storage.tables import PRODUCTS, SEGMENT_SUMMARIES

CHECK = "inputs_current"
#: Stale segments named in the check's description and metadata (the count is always whole).
SHOWN = 20
DESCRIPTION = (
    "Every segment's variants and verdicts are current: generated from the current prompt set, "
    "segment summary and product content, and judged under the current rules (WARN while a "
    "segment waits for regeneration; the sensors request it). Dagster shows staleness of a "
    "partitioned asset only per partition; this check shows it on the asset."
)


def describe(stale: list[str]) -> tuple[bool, str, dict]:
    """(passed, description, metadata) of ``inputs_current`` for these stale segments (the
    description's, or a channel's: ``defs/channels/staleness.py``)."""
    shown = ", ".join(stale[:SHOWN]) + (
        f" and {len(stale) - SHOWN} more" if len(stale) > SHOWN else ""
    )
    metadata = {"stale": len(stale), "stale_segments": shown or "none"}
    if not stale:
        return True, "every segment's variants are current", metadata
    return False, f"{len(stale)} segment(s) wait for regeneration: {shown}", metadata


def not_ready(warehouse: Warehouse) -> tuple[bool, str, dict] | None:
    """The check's result while there is nothing to compare with (no summaries or products)."""
    for table in (SEGMENT_SUMMARIES, PRODUCTS):
        if not delta.table_exists(warehouse.table_path(table)):
            return True, f"nothing to compare yet: {table} is not materialized", {"stale": 0}
    return None


def evaluate(
    warehouse: Warehouse, copywriter: Copywriter, quality_rules: QualityRules, judge: Judge
) -> tuple[bool, str, dict]:
    """(passed, description, metadata) of ``inputs_current`` from the tables now."""
    return not_ready(warehouse) or describe(
        stale_variant_segments(warehouse, copywriter, quality_rules, judge)
    )


def evaluation(asset_key: dg.AssetKey, result: tuple[bool, str, dict]) -> dg.AssetCheckEvaluation:
    """``inputs_current`` of ``asset_key`` as a sensor records it."""
    passed, description, metadata = result
    return dg.AssetCheckEvaluation(
        asset_key=asset_key,
        check_name=CHECK,
        passed=passed,
        severity=dg.AssetCheckSeverity.WARN,
        description=description,
        metadata=metadata,
    )


@dg.asset_check(asset=description_variants, name=CHECK, blocking=False, description=DESCRIPTION)
def inputs_current(
    warehouse: Warehouse, copywriter: Copywriter, quality_rules: QualityRules, judge: Judge
) -> dg.AssetCheckResult:
    passed, description, metadata = evaluate(warehouse, copywriter, quality_rules, judge)
    return dg.AssetCheckResult(
        passed=passed,
        severity=dg.AssetCheckSeverity.WARN,
        description=description,
        metadata=metadata,
    )


@dg.sensor(
    name="staleness_sensor",
    minimum_interval_seconds=interval(30),
    default_status=RUNNING,
    description="Records the inputs_current check on description_variants whenever the set of "
    "stale segments changes, so staleness shows on the asset, not only inside its partitions.",
)
def staleness_sensor(
    context: dg.SensorEvaluationContext,
    warehouse: Warehouse,
    copywriter: Copywriter,
    quality_rules: QualityRules,
    judge: Judge,
):
    try:
        passed, description, metadata = evaluate(warehouse, copywriter, quality_rules, judge)
    except SegcopyError as exc:
        return dg.SkipReason(f"staleness not measured: {exc}")
    state = digest([passed, metadata])
    if context.cursor == state:
        return dg.SkipReason(f"unchanged: {description}")
    context.update_cursor(state)
    return dg.SensorResult(
        asset_events=[evaluation(description_variants.key, (passed, description, metadata))]
    )
