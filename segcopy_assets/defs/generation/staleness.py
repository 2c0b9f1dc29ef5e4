"""Staleness where the Dagster UI shows it at the asset level (issue 26).

Dagster 1.13 computes "Unsynced" per partition only: for a partitioned asset the partition
dots, the catalog and the lineage node stay green while segments wait for regeneration. A
check's status is shown in all three places, so the description's staleness is a check,
``inputs_current``: it fails with WARN while any segment's variants or verdicts are not what a
run now would produce (the comparison ``segcopy run`` makes before starting runs:
``generation.freshness.stale_variant_segments``), naming those segments.

- ``staleness_sensor`` records an evaluation whenever the result differs from the latest one
  the instance holds (a prompt edit, a moved summary or product turns it WARN at once; the
  regeneration the other sensors request turns it green again; a result a slower run stored
  last is put right on the next tick);
- the check itself is executable (the UI's "Execute" button) and runs in every variants run
  after the materialization, so the status the run leaves is the one it measured.
"""

import dagster as dg

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


def unmeasured(reason: str) -> tuple[bool, str, dict]:
    """The check's result when staleness cannot be measured (prompts that do not load): a
    warning that says why, never a stale green."""
    return False, f"not measured: {reason}", {"stale_segments": "unknown"}


def evaluate(
    warehouse: Warehouse, copywriter: Copywriter, quality_rules: QualityRules, judge: Judge
) -> tuple[bool, str, dict]:
    """(passed, description, metadata) of ``inputs_current`` from the tables now."""
    try:
        return not_ready(warehouse) or describe(
            stale_variant_segments(warehouse, copywriter, quality_rules, judge)
        )
    except SegcopyError as exc:
        return unmeasured(str(exc))


def recorded(instance: dg.DagsterInstance, asset_key: dg.AssetKey) -> str | None:
    """The description of the latest ``inputs_current`` evaluation the instance holds for the
    asset (None: none, or a run's execution still in progress). A sensor records a new one
    only when this differs, so an older result stored last by a slower run is put right."""
    record = instance.get_latest_asset_check_evaluation_record(dg.AssetCheckKey(asset_key, CHECK))
    event = record.event if record is not None else None
    data = event.dagster_event.event_specific_data if event and event.dagster_event else None
    return data.description if isinstance(data, dg.AssetCheckEvaluation) else None


def check_result(outcome: tuple[bool, str, dict]) -> dg.AssetCheckResult:
    """``inputs_current`` as a run's check returns it (the description's and each channel's)."""
    passed, description, metadata = outcome
    return dg.AssetCheckResult(
        passed=passed,
        severity=dg.AssetCheckSeverity.WARN,
        description=description,
        metadata=metadata,
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
    return check_result(evaluate(warehouse, copywriter, quality_rules, judge))


@dg.sensor(
    name="staleness_sensor",
    minimum_interval_seconds=interval(30),
    default_status=RUNNING,
    description="Records the inputs_current check on description_variants whenever its result "
    "differs from the latest recorded one, so staleness shows on the asset, not only inside its "
    "partitions.",
)
def staleness_sensor(
    context: dg.SensorEvaluationContext,
    warehouse: Warehouse,
    copywriter: Copywriter,
    quality_rules: QualityRules,
    judge: Judge,
):
    passed, description, metadata = evaluate(warehouse, copywriter, quality_rules, judge)
    if recorded(context.instance, description_variants.key) == description:
        return dg.SkipReason(f"unchanged: {description}")
    return dg.SensorResult(
        asset_events=[evaluation(description_variants.key, (passed, description, metadata))]
    )
