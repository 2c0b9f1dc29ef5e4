"""What ``segcopy run`` can leave out: decided from the tables' versions and hashes and the
instance's last materializations, before any run starts (work proportional to change)."""

import dagster as dg

from segcopy_assets.defs.cdp.assets import cdp_customers, segment_summaries, segmentation_hash
from segcopy_assets.defs.content.assets import products
from segcopy_assets.defs.generation.assets import description_variants
from segcopy_assets.defs.publishing.assets import (
    PublishingConfig,
    customer_segments,
    published_variants,
    publishing_inputs,
)
from segcopy_assets.errors import SegcopyError
from segcopy_assets.generation.freshness import stale_variant_segments
from segcopy_assets.storage import delta
from segcopy_assets.storage.tables import (
    CDP_CUSTOMERS,
    CUSTOMER_SEGMENTS,
    PRODUCTS,
    PUBLISHED_VARIANTS,
    SEGMENT_SUMMARIES,
)


def _latest(instance: dg.DagsterInstance, key: dg.AssetKey) -> dg.EventLogRecord | None:
    records = instance.fetch_materializations(key, limit=1).records
    return records[0] if records else None


def _metadata(record: dg.EventLogRecord | None) -> dict:
    materialization = record.asset_materialization if record is not None else None
    return {k: v.value for k, v in (materialization.metadata if materialization else {}).items()}


def _tables_exist(resources: dict, *names: str) -> bool:
    warehouse = resources["warehouse"]
    return all(delta.table_exists(warehouse.table_path(n)) for n in names)


def last_attempt_failed(instance: dg.DagsterInstance, *keys: dg.AssetKey) -> bool:
    """Whether the last run that set out to materialize one of ``keys`` failed before it did
    (the Dagster UI shows the asset red until a run materializes it again): then an unchanged
    asset is run anyway rather than skipped."""
    for key in keys:
        planned = instance.get_latest_planned_materialization_info(key)
        if planned is None:
            continue
        latest = _latest(instance, key)
        if latest is not None and latest.storage_id > planned.storage_id:
            continue  # materialized since that plan
        run = instance.get_run_by_id(planned.run_id)
        if run is not None and run.status == dg.DagsterRunStatus.FAILURE:
            return True
    return False


def cdp_unchanged(instance: dg.DagsterInstance, resources: dict) -> bool:
    """Whether the last segment_summaries was computed from the CDP table's current version
    with the current segmentation (then the CDP assets have nothing to do)."""
    if not _tables_exist(resources, CDP_CUSTOMERS, SEGMENT_SUMMARIES, CUSTOMER_SEGMENTS):
        return False
    cdp = _latest(instance, cdp_customers.key)
    summaries = _latest(instance, segment_summaries.key)
    activation = _latest(instance, customer_segments.key)
    if cdp is None or summaries is None or activation is None:
        return False
    if not cdp.storage_id < summaries.storage_id < activation.storage_id:
        return False
    source = resources["cdp"]
    try:
        current = f"{source.describe()}@{source.current_version()}"
    except SegcopyError:
        return False  # the CDP run says what is wrong
    materialized = cdp.asset_materialization
    recorded = (materialized.tags or {}).get("dagster/data_version") if materialized else None
    summary_meta = (
        summaries.asset_materialization.metadata if summaries.asset_materialization else {}
    )
    spec_hash = summary_meta.get("segmentation_hash")
    return recorded == current and (
        spec_hash is not None
        and spec_hash.value == segmentation_hash(resources["segmentation"].spec())
    )


def stale_partitions(instance: dg.DagsterInstance, resources: dict, keys: list[str]) -> list[str]:
    """The partitions a variants run would change (from the tables' hashes), and those this
    instance has never seen materialized (a new Dagster home over an existing warehouse)."""
    stale = set(
        stale_variant_segments(
            resources["warehouse"],
            resources["copywriter"],
            resources["quality_rules"],
            resources["judge"],
        )
    )
    seen = instance.get_materialized_partitions(description_variants.key)
    return [k for k in keys if k in stale or k not in seen]


def products_unchanged(instance: dg.DagsterInstance, resources: dict) -> bool:
    """Whether the product source still has the version the last products run read."""
    if not _tables_exist(resources, PRODUCTS):
        return False
    try:
        current = resources["product_repository"].current_version()
    except SegcopyError:
        return False
    recorded = _metadata(_latest(instance, products.key))
    return recorded.get("source_version") == current and recorded.get("source") == (
        resources["product_repository"].path
    )


def published_unchanged(
    instance: dg.DagsterInstance, resources: dict, config: PublishingConfig
) -> dict | None:
    """The last published_variants metadata when a run now would publish the same rows (every
    table it reads at the same version, same config and rules); None when it must run."""
    if not _tables_exist(resources, PUBLISHED_VARIANTS):
        return None
    metadata = _metadata(_latest(instance, published_variants.key))
    current = publishing_inputs(
        resources["warehouse"],
        config,
        resources["quality_rules"],
        resources["copywriter"],
        resources["publication"],
    )
    return metadata if metadata.get("inputs_fingerprint") == current else None
