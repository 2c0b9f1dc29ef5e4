"""CDP assets: raw customers from the share, segment summaries and the per-segment
definitions they observe."""

from collections.abc import Iterator

import dagster as dg
import polars as pl
from pydantic import Field

from segcopy_assets import settings
from segcopy_assets.core.hashing import combined_hash
from segcopy_assets.core.refresh_planning import summary_changes
from segcopy_assets.dagster_compat import user_data_version_tags
from segcopy_assets.defs.cdp.ingest import ingest
from segcopy_assets.defs.cdp.partitions import segments_partitions
from segcopy_assets.defs.cdp.summaries_refresh import (
    CDP_VERSION,
    SEGMENTATION_HASH,
    refresh_summaries,
    segmentation_hash,
)
from segcopy_assets.defs.failures import reported_as_failure
from segcopy_assets.defs.metadata import markdown_table
from segcopy_assets.resources import CdpSource, Segmentation, Warehouse
from segcopy_assets.storage import delta, tables
from segcopy_assets.storage.tables import CDP_CUSTOMERS, SEGMENT_CUBE

__all__ = ["cdp_customers", "segment_definitions", "segment_summaries", "segmentation_hash"]


class CdpRefreshConfig(dg.Config):
    full_refresh: bool = Field(
        default=False,
        description="Read the whole source table even where its change data feed could give "
        "just the changes.",
    )


@dg.asset(
    group_name="cdp",
    kinds={"deltalake", "polars"},
    description="Customers with their CDP segment attributes, read from the CDP share and "
    "validated. When the source has a change data feed, only the changes since the version last "
    "ingested are read and MERGEd (refresh: incremental); otherwise, or when that cannot be "
    "proven equal, the whole table (refresh: full, with the reason).",
)
def cdp_customers(
    context: dg.AssetExecutionContext,
    config: CdpRefreshConfig,
    cdp: CdpSource,
    segmentation: Segmentation,
    warehouse: Warehouse,
):
    # Writes its table itself, in ONE commit either way (a streamed overwrite, or a MERGE of the
    # change set): the IO manager can only overwrite. A failed check writes nothing. Downstream
    # assets read the table from the warehouse (deps), as published_variants reads the variants.
    path = warehouse.table_path(CDP_CUSTOMERS)
    with reported_as_failure():
        context.log.info(f"reading CDP customers from {cdp.describe()}")
        done = ingest(
            cdp,
            path,
            segmentation.spec(),
            full_refresh=config.full_refresh,
            log=context.log.info,
        )
        preview = pl.scan_delta(path).head(5).collect()
    context.log.info(
        f"{done.rows:,} customers in {CDP_CUSTOMERS} (source version {done.source_version}, "
        f"refresh {done.refresh})"
    )
    changes = (
        {
            "changes_from_version": dg.MetadataValue.int(done.from_version),
            "customers_inserted": dg.MetadataValue.int(done.inserted),
            "customers_updated": dg.MetadataValue.int(done.updated),
            "customers_deleted": dg.MetadataValue.int(done.deleted),
        }
        if done.from_version is not None
        else {}
    )
    return dg.MaterializeResult(
        metadata={
            "row_count": dg.MetadataValue.int(done.rows),
            "dagster/row_count": dg.MetadataValue.int(done.rows),
            "num_rows": dg.MetadataValue.int(done.rows),
            "source": done.source,
            "source_table_version": dg.MetadataValue.int(done.source_version),
            "refresh": done.refresh,
            **changes,
            # physical rows: a MERGE rewrites whole files, copying their unchanged rows
            "rows_written": dg.MetadataValue.int(done.rows_written),
            "table_version": dg.MetadataValue.int(done.table_version),
            "dagster/table_name": f"{settings.WAREHOUSE_SCHEMA}.{CDP_CUSTOMERS}",
            "preview": dg.MetadataValue.md(markdown_table(preview, max_rows=5)),
        },
        data_version=dg.DataVersion(f"{done.source}@{done.source_version}"),
    )


segment_definitions = dg.AssetSpec(
    "segment_definitions",
    partitions_def=segments_partitions,
    deps=[tables.SEGMENT_SUMMARIES],
    group_name="cdp",
    kinds={"polars"},
    description="Each segment's definition as one partition, observed by every segment_summaries "
    "run with the segment's summary_hash as its data version: the description_variants partition "
    "of a segment shows stale exactly when that segment's summary moved.",
)


def segment_definition_observations(summaries: pl.DataFrame) -> list[dg.AssetObservation]:
    """One observation per segment whose data version is its summary_hash (as tags: an
    AssetObservation has no data_version argument)."""
    return [
        dg.AssetObservation(
            asset_key=segment_definitions.key,
            partition=segment_id,
            tags=user_data_version_tags(summary_hash),
            metadata={"customer_count": dg.MetadataValue.int(customer_count)},
        )
        for segment_id, summary_hash, customer_count in summaries.select(
            "segment_id", "summary_hash", "customer_count"
        ).iter_rows()
    ]


def _previous_hashes(warehouse: Warehouse) -> dict[str, str]:
    """segment_id → summary_hash of the table this run replaces (empty on the first run)."""
    path = warehouse.table_path(tables.SEGMENT_SUMMARIES)
    if not delta.table_exists(path):
        return {}
    return dict(pl.read_delta(path, columns=["segment_id", "summary_hash"]).iter_rows())


def _listed(ids: list[str], at_most: int = 20) -> str:
    if not ids:
        return "none"
    more = f" and {len(ids) - at_most} more" if len(ids) > at_most else ""
    return ", ".join(ids[:at_most]) + more


@dg.asset(
    group_name="cdp",
    kinds={"deltalake", "polars"},
    io_manager_key="warehouse_io_manager",
    # its columns follow the segmentation keys (SEGCOPY_SEGMENT_KEYS may change)
    metadata={"overwrite_schema": True},
    deps=[cdp_customers],
    description="One row per segment: size, tier/discount/price/lifecycle mix, top places, "
    "a prompt-ready description and a summary_hash. Derived from the segment cube (customers "
    "per combination of the columns summarised), which only the changes of cdp_customers since "
    "the last run update (refresh: incremental); rebuilt from every customer when the "
    "customer table was replaced or the segment keys changed (refresh: full, with the reason).",
)
def segment_summaries(
    context: dg.AssetExecutionContext,
    segmentation: Segmentation,
    warehouse: Warehouse,
) -> Iterator:
    spec = segmentation.spec()
    customers_path = warehouse.table_path(CDP_CUSTOMERS)
    if not delta.table_exists(customers_path):
        raise dg.Failure(f"{CDP_CUSTOMERS} is not materialized yet ({customers_path})")
    with reported_as_failure():
        result = refresh_summaries(customers_path, warehouse.table_path(SEGMENT_CUBE), spec)
    summaries, dropped = result.summaries, result.left_out
    if dropped.height:
        context.log.warning(
            f"{dropped.height} segment(s) below min_segment_size={spec.min_segment_size} left out: "
            + ", ".join(
                f"{r['segment_id']} ({r['customer_count']})" for r in dropped.iter_rows(named=True)
            )
        )
    changes = summary_changes(
        _previous_hashes(warehouse),
        dict(summaries.select("segment_id", "summary_hash").iter_rows()),
    )
    context.log.info(
        f"{summaries.height} segments summarised (refresh {result.refresh}: "
        f"{result.changes:,} changed rows, {result.segments_touched} segment(s) touched); "
        + "; ".join(f"{kind}: {_listed(ids)}" for kind, ids in changes.items())
    )
    preview = summaries.select(
        "segment_id", "customer_count", "summary_hash", "segment_description"
    )
    yield dg.Output(
        summaries,
        metadata={
            "row_count": dg.MetadataValue.int(summaries.height),
            "dagster/row_count": dg.MetadataValue.int(summaries.height),
            "customers_covered": dg.MetadataValue.int(int(summaries["customer_count"].sum())),
            "segments_left_out": dg.MetadataValue.int(dropped.height),
            **{f"segments_{kind}": dg.MetadataValue.int(len(ids)) for kind, ids in changes.items()},
            "changes": dg.MetadataValue.md(
                "\n".join(
                    f"- **{kind}**: {_listed(ids, 100)}" for kind, ids in changes.items() if ids
                )
                or "none"
            ),
            "segment_keys": ", ".join(spec.keys),
            SEGMENTATION_HASH: segmentation_hash(spec),
            "refresh": result.refresh,
            "segments_touched": dg.MetadataValue.int(result.segments_touched),
            "customer_changes_applied": dg.MetadataValue.int(result.changes),
            "cube_rows_written": dg.MetadataValue.int(result.cube_rows_written),
            CDP_VERSION: dg.MetadataValue.int(result.cdp_version),
            "preview": dg.MetadataValue.md(markdown_table(preview, max_rows=30, max_chars=400)),
        },
        data_version=dg.DataVersion(combined_hash(summaries["summary_hash"].to_list())),
    )
    # Only once the table is written (the IO manager stores the Output before this resumes): a
    # failed write records no new versions, and a variants run never sees a version newer than
    # the table it reads.
    # Only segments whose version moved: an unchanged segment keeps its last observation (at
    # 1,000 segments a no-op run would otherwise write 1,000 events). All of them when this
    # instance has none yet (a new Dagster home over an existing warehouse).
    observed_before = context.instance.fetch_observations(
        dg.AssetRecordsFilter(asset_key=segment_definitions.key), limit=1
    ).records
    moved = set(changes["new"]) | set(changes["changed"])
    yield from segment_definition_observations(
        summaries
        if not observed_before
        else summaries.filter(pl.col("segment_id").is_in(sorted(moved)))
    )
