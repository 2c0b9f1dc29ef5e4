"""Asset checks on ``description_variants``: per-segment summaries of the persisted verdicts,
grouped in two checks (``CHECK_RULES``).

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
#: The Dagster checks and the rules (``quality.judge.CHECKS``) each one reports. Two checks, not
#: one per rule: a range run records one evaluation per check AND partition, and Dagster writes
#: check evaluations one event at a time (~40 ms each on SQLite): at 1,000 segments, 12 checks
#: cost 12,000 writes, two cost 2,000 (bench/RESULTS.md, "Scale"). Each rule's pass rate, the
#: failing pairs and their reasons are in the check's metadata; the verdicts are the
#: variant_checks table.
#: Only a bug blocks: a pair whose generation failed is a state of that pair (retried, then
#: parked; its last good variant stays current), reported by ``coverage`` in the non-blocking
#: check, and never holds back another pair's publication.
CHECK_RULES: dict[str, tuple[str, ...]] = {
    BLOCKING: ("well_formed",),
    "copy_quality": tuple(c for c in CHECKS if c != "well_formed"),
}
RULE_DESCRIPTIONS = {
    "coverage": "Every product × segment pair of the partition is generated ok for its current "
    "inputs (a failed generation is reported here, retried by the next run, parked after "
    "SEGCOPY_MAX_ATTEMPTS; it never blocks the other pairs).",
    "well_formed": "One row per pair, status ok or failed, with the required columns (a failure "
    "is a bug; blocks downstream).",
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
DESCRIPTIONS = {
    BLOCKING: "The partition's rows: one row per pair, status ok or failed, with the required "
    "columns (a failure is a bug; blocks downstream).",
    "copy_quality": "Every pair generated and every content rule on every variant of the "
    "partition (ERROR rules fail the check; WARN rules alone make it a warning; it never blocks "
    "publication of the pairs that pass). "
    + " ".join(f"{rule}: {RULE_DESCRIPTIONS[rule]}" for rule in CHECK_RULES["copy_quality"]),
}


def _severity(failing: pl.DataFrame) -> dg.AssetCheckSeverity:
    """ERROR when an ERROR rule fails (the LLM judge's verdicts carry their own severity:
    quoted failures are ERROR, unquoted ones WARN); WARN when only WARN rules fail."""
    if failing.height and (failing["severity"] == WARN).all():
        return dg.AssetCheckSeverity.WARN
    return dg.AssetCheckSeverity.ERROR


def summarize_check(
    verdicts: pl.DataFrame, check: str, segment_ids: list[str]
) -> dg.AssetCheckResult:
    """Pass/fail of one check over the segments; per rule counts, failing pairs and reasons
    in the metadata."""
    rules = CHECK_RULES[check]
    rows = verdicts.filter(pl.col("check").is_in(rules))
    failing = rows.filter(~pl.col("passed")).sort("segment_id", "product_id", "check")
    counted = rows.group_by("check").agg(
        pl.len().alias("evaluated"), (~pl.col("passed")).sum().alias("failing")
    )
    per_rule = (
        pl.DataFrame(
            {"rule": list(rules), "severity": [CHECKS[r] for r in rules]},
            schema={"rule": pl.String, "severity": pl.String},
        )
        .join(counted, left_on="rule", right_on="check", how="left")
        .with_columns(pl.col("evaluated", "failing").fill_null(0))
    )
    per_segment = (
        rows.group_by("segment_id")
        .agg(
            pl.col("product_id").n_unique().alias("variants"),
            (~pl.col("passed")).sum().alias("failing"),
        )
        .sort("segment_id")
    )
    return dg.AssetCheckResult(
        check_name=check,
        passed=failing.is_empty(),
        severity=_severity(failing),
        description=None
        if not rows.is_empty()
        else "nothing to judge: no generated variants in these segments",
        metadata={
            "segments": ", ".join(segment_ids[:50])
            + (f" and {len(segment_ids) - 50} more" if len(segment_ids) > 50 else ""),
            "evaluated": dg.MetadataValue.int(rows.height),
            "failing": dg.MetadataValue.int(failing.height),
            **{
                f"failing_{r}": dg.MetadataValue.int(n)
                for r, n in per_rule.select("rule", "failing").iter_rows()
            },
            "rules": dg.MetadataValue.md(markdown_table(per_rule, max_rows=len(rules))),
            "failing_pairs": dg.MetadataValue.md(
                markdown_table(
                    failing.select("segment_id", "product_id", "check", "reason"),
                    max_rows=50,
                    max_chars=300,
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
    by_segment = verdicts.partition_by("segment_id", as_dict=True)
    empty = verdicts.clear()
    for segment_id in segment_ids:
        result = summarize_check(by_segment.get((segment_id,), empty), check, [segment_id])
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


#: The asset checks of ``CHECK_RULES`` (the verdicts are the variant_checks table).
description_variants_checks = [_build_check(check) for check in CHECK_RULES]
