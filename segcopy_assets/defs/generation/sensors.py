"""Sensors that regenerate exactly the variant partitions that went stale.

- ``segment_sensor``: segments added / removed / whose summary moved → partitions and runs;
- ``prompt_sensor``: the prompt set's hash differs from the one variants were made with;
- ``product_variants_sensor``: product content moved → every segment (the cache makes only the
  changed products' pairs cost a call).

Each decides by comparing the hashes the variant rows record with the current ones
(``core.refresh_planning``). Variant runs cover contiguous partition ranges, each ONE run
(single-run backfill policy).
"""

import dagster as dg
import polars as pl

from segcopy_assets.core.hashing import digest
from segcopy_assets.core.refresh_planning import (
    contiguous_blocks,
    plan_segment_refresh,
    stale_by_hash,
)
from segcopy_assets.defs.cdp.partitions import SEGMENTS, segments_partitions
from segcopy_assets.defs.generation.assets import description_variants
from segcopy_assets.defs.jobs import VARIANTS_JOB
from segcopy_assets.defs.sensor_support import RUNNING, interval
from segcopy_assets.errors import SegcopyError
from segcopy_assets.resources import Copywriter, Warehouse
from segcopy_assets.storage import delta, variant_store
from segcopy_assets.storage.tables import DESCRIPTION_VARIANTS, PRODUCTS, SEGMENT_SUMMARIES

RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


def variant_run_requests(
    ordered_keys: list[str],
    segments: list[str],
    reason: str,
    key_parts: object,
    asset_key: dg.AssetKey = description_variants.key,
) -> list[dg.RunRequest]:
    """One RunRequest per contiguous block of ``segments`` (each a single run over a range) of
    ``asset_key`` (a variants asset: the description's or a channel's).

    A one-segment block is a plain partition run, which is what the UI's Materialize button
    sends for one partition.
    """
    requests = []
    for block in contiguous_blocks(ordered_keys, segments):
        run_key = f"{reason}:{digest([key_parts, block])}"
        tags = {"segcopy/reason": reason}
        selection = [asset_key]
        if len(block) == 1:
            requests.append(
                dg.RunRequest(
                    run_key=run_key, asset_selection=selection, partition_key=block[0], tags=tags
                )
            )
        else:
            range_tags = {**tags, RANGE_START: block[0], RANGE_END: block[-1]}
            requests.append(
                dg.RunRequest(run_key=run_key, asset_selection=selection, tags=range_tags)
            )
    return requests


def _generated_from(warehouse: Warehouse, column: str) -> dict[str, set[str]]:
    """segment_id → the set of ``column`` values its current variant rows were generated from."""
    rows = variant_store.read_segments(warehouse.table_path(DESCRIPTION_VARIANTS))
    grouped = rows.group_by("segment_id").agg(pl.col(column).unique())
    return {r["segment_id"]: set(r[column]) for r in grouped.iter_rows(named=True)}


def _needs_upstream(warehouse: Warehouse) -> str | None:
    for table in (SEGMENT_SUMMARIES, PRODUCTS):
        if not delta.table_exists(warehouse.table_path(table)):
            return f"{table} not materialized yet"
    return None


def _partitions(context: dg.SensorEvaluationContext) -> list[str]:
    return list(context.instance.get_dynamic_partitions(SEGMENTS))


@dg.sensor(
    name="segment_sensor",
    minimum_interval_seconds=interval(30),
    default_status=RUNNING,
    job_name=VARIANTS_JOB,
    description="Adds/removes segment partitions and regenerates exactly the segments whose summary moved.",
)
def segment_sensor(context: dg.SensorEvaluationContext, warehouse: Warehouse):
    missing = _needs_upstream(warehouse)
    if missing:
        return dg.SkipReason(missing)
    summaries = pl.read_delta(
        warehouse.table_path(SEGMENT_SUMMARIES), columns=["segment_id", "summary_hash"]
    )
    current = dict(summaries.iter_rows())
    partitions = _partitions(context)
    plan = plan_segment_refresh(current, partitions, _generated_from(warehouse, "summary_hash"))
    if not plan.to_run and not plan.removed:
        return dg.SkipReason(f"all {len(plan.unchanged)} segments up to date")
    state = digest([plan.added, plan.removed, {s: current[s] for s in plan.to_run}])
    if context.cursor == state:
        return dg.SkipReason("this refresh was already requested")
    context.update_cursor(state)
    ordered = [p for p in partitions if p not in plan.removed] + plan.added
    partition_requests: list[
        dg.AddDynamicPartitionsRequest | dg.DeleteDynamicPartitionsRequest
    ] = []
    if plan.added:
        partition_requests.append(segments_partitions.build_add_request(plan.added))
    if plan.removed:
        partition_requests.append(segments_partitions.build_delete_request(plan.removed))
    context.log.info(f"added {plan.added}, removed {plan.removed}, changed {plan.changed}")
    runs = variant_run_requests(
        ordered, plan.to_run, "segments", {s: current[s] for s in plan.to_run}
    )
    return dg.SensorResult(run_requests=runs, dynamic_partitions_requests=partition_requests)


@dg.sensor(
    name="prompt_sensor",
    minimum_interval_seconds=interval(30),
    default_status=RUNNING,
    job_name=VARIANTS_JOB,
    description="Regenerates every segment when the prompt set (templates, brand voice, model "
    "parameters) changes; no restart needed.",
)
def prompt_sensor(
    context: dg.SensorEvaluationContext, copywriter: Copywriter, warehouse: Warehouse
):
    try:
        prompt_hash = copywriter.prompt_set().hash
    except SegcopyError as exc:
        return dg.SkipReason(f"prompts unusable, nothing requested: {exc}")
    generated = _generated_from(warehouse, "prompt_hash")
    partitions = _partitions(context)
    stale = stale_by_hash(prompt_hash, generated, [p for p in partitions if p in generated])
    if not stale:
        return dg.SkipReason(f"variants are up to date with prompt hash {prompt_hash}")
    if context.cursor == prompt_hash:
        return dg.SkipReason(f"regeneration for prompt hash {prompt_hash} already requested")
    context.update_cursor(prompt_hash)
    return variant_run_requests(partitions, stale, f"prompt-{prompt_hash}", prompt_hash)


@dg.sensor(
    name="product_variants_sensor",
    minimum_interval_seconds=interval(30),
    default_status=RUNNING,
    job_name=VARIANTS_JOB,
    description="When product content changed, requests every segment; the cache makes only the "
    "changed products' pairs cost a call.",
)
def product_variants_sensor(context: dg.SensorEvaluationContext, warehouse: Warehouse):
    missing = _needs_upstream(warehouse)
    if missing:
        return dg.SkipReason(missing)
    hashes = set(
        pl.read_delta(warehouse.table_path(PRODUCTS), columns=["content_hash"])["content_hash"]
    )
    generated = _generated_from(warehouse, "content_hash")
    partitions = _partitions(context)
    stale = stale_by_hash(hashes, generated, [p for p in partitions if p in generated])
    if not stale:
        return dg.SkipReason("variants are up to date with the products")
    state = digest(sorted(hashes))
    if context.cursor == state:
        return dg.SkipReason("this product refresh was already requested")
    context.update_cursor(state)
    return variant_run_requests(partitions, partitions, "products", state)
