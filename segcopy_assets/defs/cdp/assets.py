"""CDP assets: raw customers from the share, segment summaries and the per-segment
definitions they observe."""

from collections.abc import Iterator
from dataclasses import asdict, replace

import dagster as dg
import polars as pl

from segcopy_assets.core.hashing import combined_hash, digest
from segcopy_assets.core.refresh_planning import summary_changes
from segcopy_assets.core.segments import compute_segment_summaries
from segcopy_assets.core.validation import check_no_nulls, validate_customers
from segcopy_assets.core.vocabulary import CLV_TIERS
from segcopy_assets.dagster_compat import user_data_version_tags
from segcopy_assets.defs.cdp.partitions import segments_partitions
from segcopy_assets.defs.failures import reported_as_failure
from segcopy_assets.defs.metadata import markdown_table
from segcopy_assets.resources import CdpSource, Segmentation, Warehouse
from segcopy_assets.storage import delta, tables


@dg.asset(
    group_name="cdp",
    kinds={"deltalake", "polars"},
    io_manager_key="warehouse_io_manager",
    description="Customers with their CDP segment attributes, read from the CDP share and validated.",
)
def cdp_customers(
    context: dg.AssetExecutionContext, cdp: CdpSource, segmentation: Segmentation
) -> dg.Output[pl.LazyFrame]:
    # Validated lazily (a few streaming passes over the columns each check needs), then
    # returned lazy: the IO manager streams it into one Delta commit, so 10M customers never sit
    # in memory at once (storage/io_manager.py). A failed check writes nothing.
    with reported_as_failure():
        source = cdp.describe()
        version = cdp.current_version()
        context.log.info(f"reading CDP customers from {source}, table version {version}")
        lf = cdp.read(version)
        validate_customers(
            lf,
            table=cdp.table_name,
            segment_key_columns=segmentation.spec().source_key_columns(),
            tiers=CLV_TIERS,
        )
        rows = lf.select(pl.len()).collect().item()
        preview = lf.head(5).collect()
    context.log.info(f"{rows:,} customers validated")
    return dg.Output(
        lf,
        metadata={
            "row_count": dg.MetadataValue.int(rows),
            "dagster/row_count": dg.MetadataValue.int(rows),
            "source": source,
            "source_table_version": dg.MetadataValue.int(version),
            "preview": dg.MetadataValue.md(markdown_table(preview, max_rows=5)),
        },
        data_version=dg.DataVersion(f"{source}@{version}"),
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


def segmentation_hash(spec) -> str:
    """The segmentation settings a summaries table was computed with."""
    return digest(asdict(spec))


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
    description="One row per segment: size, tier/discount/price/lifecycle mix, top places, "
    "a prompt-ready description and a summary_hash.",
)
def segment_summaries(
    context: dg.AssetExecutionContext,
    segmentation: Segmentation,
    warehouse: Warehouse,
    cdp_customers: pl.LazyFrame,
) -> Iterator:
    spec = segmentation.spec()
    with reported_as_failure():
        check_no_nulls(cdp_customers, spec.source_key_columns(), "cdp_customers", "customer_id")
        everything = compute_segment_summaries(cdp_customers, replace(spec, min_segment_size=1))
    summaries = everything.filter(pl.col("customer_count") >= spec.min_segment_size)
    dropped = everything.filter(pl.col("customer_count") < spec.min_segment_size)
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
        f"{summaries.height} segments summarised; "
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
            "segmentation_hash": segmentation_hash(spec),
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
