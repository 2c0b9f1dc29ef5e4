"""Asset checks on ``description_variants``: per-segment summaries of the persisted verdicts.

The judging happens once, per variant, when variants are written (``variant_checks`` table);
these checks read those verdicts for the run's segments so the UI, publishing and the CLI agree.
"""

import dagster as dg
import polars as pl

from segcopy_assets.dagster_compat import AssetCheckEvaluationTargetMaterializationData
from segcopy_assets.defs.cdp.partitions import segments_partitions
from segcopy_assets.defs.generation.assets import description_variants
from segcopy_assets.defs.metadata import markdown_table
from segcopy_assets.quality.judge import CHECKS, WARN
from segcopy_assets.resources import Warehouse
from segcopy_assets.storage import variant_store
from segcopy_assets.storage.tables import VARIANT_CHECKS, VERDICT_SCHEMA

BLOCKING = "well_formed"
DESCRIPTIONS = {
    "coverage": "Every product × segment pair of the partition is present and generated ok.",
    "well_formed": "One row per pair with the required columns (a failure is a bug; blocks downstream).",
    "rationale_present": "Non-empty copy and a rationale with content (not 'N/A') on every row.",
    "plain_prose": "Plain prose: no headings, bullet or numbered lists, bold labels or tables.",
    "facts_preserved": "Every fact of the original is kept, tied to what it measures: numbers with their "
    "units (exact conversions allowed), names, counts, features; no new or wrongly converted numbers.",
    "no_invented_features": "No component, material or capability the original does not state.",
    "no_invented_offers": "No price, discount, financing, value claim, guarantee, warranty, award or "
    "certification the original does not make.",
    "whole_segment_voice": "Copy for the whole segment: no persona, flattery or segment talk; places "
    "(also nicknames and sub-regions) only at the configured share.",
    "no_refusal": "No refusal or apology, personal or impersonal.",
    "llm_judge": "The optional LLM judge (SEGCOPY_JUDGE_MODEL): a failure it quotes is an ERROR, "
    "one it cannot quote a WARN; passes with nothing judged while it is off.",
    "length_in_bounds": "Word count within bounds and relative to the original.",
    "brand_voice": "None of the words that prompts/brand_voice.md excludes.",
}


def _severity(check: str, failing: pl.DataFrame) -> dg.AssetCheckSeverity:
    """The check's severity; a check whose verdicts carry their own (the LLM judge: quoted
    failures are ERROR, unquoted ones WARN) is as severe as its worst failing verdict."""
    if CHECKS[check] == WARN or (failing.height and (failing["severity"] == WARN).all()):
        return dg.AssetCheckSeverity.WARN
    return dg.AssetCheckSeverity.ERROR


def summarize_check(
    verdicts: pl.DataFrame, check: str, segment_ids: list[str]
) -> dg.AssetCheckResult:
    """Pass/fail of one check over the segments, failing pairs and reasons in the metadata."""
    rows = verdicts.filter(pl.col("check") == check)
    failing = rows.filter(~pl.col("passed")).sort("segment_id", "product_id")
    per_segment = (
        rows.group_by("segment_id")
        .agg(pl.len().alias("evaluated"), (~pl.col("passed")).sum().alias("failing"))
        .sort("segment_id")
    )
    return dg.AssetCheckResult(
        check_name=check,
        passed=failing.is_empty(),
        severity=_severity(check, failing),
        description=None
        if not rows.is_empty()
        else "nothing to judge: no generated variants in these segments",
        metadata={
            "segments": ", ".join(segment_ids),
            "evaluated": dg.MetadataValue.int(rows.height),
            "failing": dg.MetadataValue.int(failing.height),
            "failing_pairs": dg.MetadataValue.md(
                markdown_table(
                    failing.select("segment_id", "product_id", "reason"), max_rows=50, max_chars=300
                )
                if failing.height
                else "none"
            ),
            "per_segment": dg.MetadataValue.md(markdown_table(per_segment, max_rows=200)),
        },
    )


def _latest_materializations(instance: dg.DagsterInstance, partitions: list[str]) -> dict:
    """Each partition's latest materialization (what its evaluation is about), in one query
    for a range run's partitions, which were all just materialized."""

    def fetch(keys: list[str], limit: int):
        return instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=description_variants.key, asset_partitions=keys),
            limit=limit,
        ).records

    latest: dict[str, dg.EventLogRecord] = {}
    for record in fetch(partitions, len(partitions)):
        latest.setdefault(record.partition_key, record)
    for partition in partitions:
        if partition not in latest:  # materialized in an earlier run, or never
            records = fetch([partition], 1)
            if records:
                latest[partition] = records[0]
    return {
        p: AssetCheckEvaluationTargetMaterializationData(
            storage_id=r.storage_id, run_id=r.run_id, timestamp=r.timestamp
        )
        for p, r in latest.items()
    }


def per_segment_evaluations(
    verdicts: pl.DataFrame, check: str, segment_ids: list[str], instance: dg.DagsterInstance
) -> list[dg.AssetCheckEvaluation]:
    """One evaluation per segment partition of a range run.

    Dagster 1.13 records a check of a range run once, without a partition, and leaves every
    partition's planned execution unresolved (shown as skipped); these fill them in.
    """
    evaluations = []
    targets = _latest_materializations(instance, segment_ids)
    for segment_id in segment_ids:
        result = summarize_check(
            verdicts.filter(pl.col("segment_id") == segment_id), check, [segment_id]
        )
        evaluations.append(
            dg.AssetCheckEvaluation(
                asset_key=description_variants.key,
                check_name=check,
                passed=result.passed,
                metadata=result.metadata,
                severity=result.severity,
                description=result.description,
                blocking=check == BLOCKING,
                partition=segment_id,
                target_materialization_data=targets.get(segment_id),
            )
        )
    return evaluations


def _build_check(check: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=description_variants,
        name=check,
        partitions_def=segments_partitions,
        blocking=check == BLOCKING,
        description=DESCRIPTIONS[check],
    )
    def _check(context: dg.AssetCheckExecutionContext, warehouse: Warehouse) -> dg.AssetCheckResult:
        segment_ids = list(context.partition_keys)
        verdicts = variant_store.read_segments(
            warehouse.table_path(VARIANT_CHECKS), segment_ids, schema=VERDICT_SCHEMA
        )
        if not context.has_partition_key:  # a range run, even of one partition
            for evaluation in per_segment_evaluations(
                verdicts, check, segment_ids, context.instance
            ):
                # log_event records check evaluations too (its signature predates them)
                context.op_execution_context.log_event(evaluation)  # type: ignore[arg-type]
        return summarize_check(verdicts, check, segment_ids)

    return _check


#: One asset check per rule of ``quality.judge.CHECKS`` (the verdicts are the variant_checks table).
description_variants_checks = [_build_check(check) for check in CHECKS]
