"""Sensors that refresh exactly what went stale, on by default under ``dagster dev``.

- ``cdp_change_sensor``: the CDP table's version moved → ingest it again and re-summarise.
- ``product_change_sensor``: the content repository changed → reload ``products``.
- ``segment_sensor``: segments added / removed / whose summary moved → partitions and runs.
- ``prompt_sensor``: the prompt set's hash differs from the one variants were made with.
- ``product_variants_sensor``: product content moved → every segment (the cache makes only
  the changed products' pairs cost a call).
- ``publishing_sensor``: variants or review decisions changed → publish again.

Decisions are made by comparing the hashes each variant row records with the current ones
(``refresh_planning``), so a restarted daemon or a missed tick never loses a refresh. Variant
runs cover contiguous partition ranges, each ONE run (single-run backfill policy).
"""

import hashlib
import json
import os

import dagster as dg
import polars as pl
from deltalake import DeltaTable

from segcopy_assets import variant_store
from segcopy_assets.assets.cdp import cdp_customers, products, segment_summaries
from segcopy_assets.assets.publishing import REVIEWS_TABLE, customer_variant_assignments, published_variants
from segcopy_assets.assets.variants import TABLE as VARIANTS_TABLE
from segcopy_assets.assets.variants import description_variants
from segcopy_assets.errors import SegcopyError
from segcopy_assets.partitions import segments_partitions
from segcopy_assets.refresh_planning import contiguous_blocks, plan_segment_refresh, stale_by_hash
from segcopy_assets.resources import CdpSource, Copywriter, ProductRepository, Warehouse

RUNNING = dg.DefaultSensorStatus.RUNNING


def _interval(default: int) -> int:
    """Minimum seconds between ticks; SEGCOPY_SENSOR_INTERVAL_S overrides every sensor's."""
    value = os.environ.get("SEGCOPY_SENSOR_INTERVAL_S")
    return int(value) if value else default

RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


def _digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _latest_metadata(instance: dg.DagsterInstance, asset: dg.AssetsDefinition, key: str) -> str | None:
    event = instance.get_latest_materialization_event(asset.key)
    if event is None or event.asset_materialization is None:
        return None
    value = event.asset_materialization.metadata.get(key)
    return None if value is None else str(value.value)


def variant_run_requests(ordered_keys: list[str], segments: list[str], reason: str, key_parts: object) -> list[dg.RunRequest]:
    """One RunRequest per contiguous block of ``segments`` (each a single run over a range).

    A one-segment block is a plain partition run, which is what the UI's Materialize button
    sends for one partition.
    """
    requests = []
    for block in contiguous_blocks(ordered_keys, segments):
        run_key = f"{reason}:{_digest([key_parts, block])}"
        tags = {"segcopy/reason": reason}
        if len(block) == 1:
            requests.append(dg.RunRequest(run_key=run_key, asset_selection=[description_variants.key],
                                          partition_key=block[0], tags=tags))
        else:
            requests.append(dg.RunRequest(run_key=run_key, asset_selection=[description_variants.key],
                                          tags={**tags, RANGE_START: block[0], RANGE_END: block[-1]}))
    return requests


@dg.sensor(
    name="cdp_change_sensor",
    minimum_interval_seconds=_interval(60),
    default_status=RUNNING,
    asset_selection=[cdp_customers, segment_summaries],
    description="Polls the CDP table's version (one short HTTP request for a share) and re-ingests when it moves.",
)
def cdp_change_sensor(context: dg.SensorEvaluationContext, cdp: CdpSource):
    try:
        source, version = cdp.describe(), cdp.current_version()
    except SegcopyError as exc:
        return dg.SkipReason(f"CDP source unavailable, will retry: {exc}")
    seen_source = _latest_metadata(context.instance, cdp_customers, "source")
    seen_version = _latest_metadata(context.instance, cdp_customers, "source_table_version")
    if (seen_source, seen_version) == (source, str(version)):
        return dg.SkipReason(f"{source} is still at version {version}, already ingested")
    return dg.RunRequest(
        run_key=f"cdp:{source}@{version}",
        asset_selection=[cdp_customers.key, segment_summaries.key],
        tags={"segcopy/reason": f"CDP version {version}"},
    )


@dg.sensor(
    name="product_change_sensor",
    minimum_interval_seconds=_interval(60),
    default_status=RUNNING,
    asset_selection=[products],
    description="Reloads products when the content repository's Delta version or file changes.",
)
def product_change_sensor(context: dg.SensorEvaluationContext, product_repository: ProductRepository):
    try:
        version = product_repository.current_version()
    except SegcopyError as exc:
        return dg.SkipReason(f"product repository unavailable, will retry: {exc}")
    if _latest_metadata(context.instance, products, "source_version") == version and _latest_metadata(
        context.instance, products, "source"
    ) == product_repository.path:
        return dg.SkipReason(f"{product_repository.path} unchanged ({version})")
    return dg.RunRequest(run_key=f"products:{product_repository.path}:{version}", asset_selection=[products.key])


def _generated_from(warehouse: Warehouse, column: str) -> dict[str, set[str]]:
    """segment_id → the set of ``column`` values its current variant rows were generated from."""
    rows = variant_store.read_segments(warehouse.table_path(VARIANTS_TABLE))
    grouped = rows.group_by("segment_id").agg(pl.col(column).unique())
    return {r["segment_id"]: set(r[column]) for r in grouped.iter_rows(named=True)}


def _needs_upstream(warehouse: Warehouse) -> str | None:
    for table in ("segment_summaries", "products"):
        if not variant_store.table_exists(warehouse.table_path(table)):
            return f"{table} not materialized yet"
    return None


@dg.sensor(
    name="segment_sensor",
    minimum_interval_seconds=_interval(30),
    default_status=RUNNING,
    asset_selection=[description_variants],
    description="Adds/removes segment partitions and regenerates exactly the segments whose summary moved.",
)
def segment_sensor(context: dg.SensorEvaluationContext, warehouse: Warehouse):
    missing = _needs_upstream(warehouse)
    if missing:
        return dg.SkipReason(missing)
    summaries = pl.read_delta(warehouse.table_path("segment_summaries"), columns=["segment_id", "summary_hash"])
    current = dict(summaries.iter_rows())
    partitions = list(context.instance.get_dynamic_partitions(segments_partitions.name))
    plan = plan_segment_refresh(current, partitions, _generated_from(warehouse, "summary_hash"))
    if not plan.to_run and not plan.removed:
        return dg.SkipReason(f"all {len(plan.unchanged)} segments up to date")
    state = _digest([plan.added, plan.removed, {s: current[s] for s in plan.to_run}])
    if context.cursor == state:
        return dg.SkipReason("this refresh was already requested")
    context.update_cursor(state)
    ordered = [p for p in partitions if p not in plan.removed] + plan.added
    partition_requests = []
    if plan.added:
        partition_requests.append(segments_partitions.build_add_request(plan.added))
    if plan.removed:
        partition_requests.append(segments_partitions.build_delete_request(plan.removed))
    context.log.info(f"added {plan.added}, removed {plan.removed}, changed {plan.changed}")
    runs = variant_run_requests(ordered, plan.to_run, "segments", {s: current[s] for s in plan.to_run})
    return dg.SensorResult(run_requests=runs, dynamic_partitions_requests=partition_requests)


@dg.sensor(
    name="prompt_sensor",
    minimum_interval_seconds=_interval(30),
    default_status=RUNNING,
    asset_selection=[description_variants],
    description="Regenerates every segment when the prompt set (templates, brand voice, model parameters) changes; "
    "no restart needed.",
)
def prompt_sensor(context: dg.SensorEvaluationContext, copywriter: Copywriter, warehouse: Warehouse):
    try:
        prompt_hash = copywriter.prompt_set().hash
    except SegcopyError as exc:
        return dg.SkipReason(f"prompts unusable, nothing requested: {exc}")
    generated = _generated_from(warehouse, "prompt_hash")
    partitions = list(context.instance.get_dynamic_partitions(segments_partitions.name))
    stale = stale_by_hash(prompt_hash, generated, [p for p in partitions if p in generated])
    if not stale:
        return dg.SkipReason(f"variants are up to date with prompt hash {prompt_hash}")
    if context.cursor == prompt_hash:
        return dg.SkipReason(f"regeneration for prompt hash {prompt_hash} already requested")
    context.update_cursor(prompt_hash)
    return variant_run_requests(partitions, stale, f"prompt-{prompt_hash}", prompt_hash)


@dg.sensor(
    name="product_variants_sensor",
    minimum_interval_seconds=_interval(30),
    default_status=RUNNING,
    asset_selection=[description_variants],
    description="When product content changed, requests every segment; the cache makes only the "
    "changed products' pairs cost a call.",
)
def product_variants_sensor(context: dg.SensorEvaluationContext, warehouse: Warehouse):
    missing = _needs_upstream(warehouse)
    if missing:
        return dg.SkipReason(missing)
    hashes = set(pl.read_delta(warehouse.table_path("products"), columns=["content_hash"])["content_hash"])
    generated = _generated_from(warehouse, "content_hash")
    partitions = list(context.instance.get_dynamic_partitions(segments_partitions.name))
    stale = stale_by_hash(hashes, generated, [p for p in partitions if p in generated])
    if not stale:
        return dg.SkipReason("variants are up to date with the products")
    state = _digest(sorted(hashes))
    if context.cursor == state:
        return dg.SkipReason("this product refresh was already requested")
    context.update_cursor(state)
    return variant_run_requests(partitions, partitions, "products", state)


def _table_version(warehouse: Warehouse, table: str) -> int | None:
    path = warehouse.table_path(table)
    return DeltaTable(path).version() if variant_store.table_exists(path) else None


@dg.sensor(
    name="publishing_sensor",
    minimum_interval_seconds=_interval(30),
    default_status=RUNNING,
    asset_selection=[published_variants, customer_variant_assignments],
    description="Publishes again when variants, their verdicts or review decisions change.",
)
def publishing_sensor(context: dg.SensorEvaluationContext, warehouse: Warehouse):
    if _table_version(warehouse, VARIANTS_TABLE) is None:
        return dg.SkipReason("no variants yet")
    versions = {t: _table_version(warehouse, t) for t in (VARIANTS_TABLE, "variant_checks", REVIEWS_TABLE)}
    state = _digest(versions)
    if context.cursor == state:
        return dg.SkipReason("no new variants or decisions")
    context.update_cursor(state)
    return dg.RunRequest(
        run_key=f"publish:{state}",
        asset_selection=[published_variants.key, customer_variant_assignments.key],
    )


ALL_SENSORS = [
    cdp_change_sensor,
    product_change_sensor,
    segment_sensor,
    prompt_sensor,
    product_variants_sensor,
    publishing_sensor,
]
