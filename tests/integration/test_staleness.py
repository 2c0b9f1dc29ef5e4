"""Per-segment staleness, as Dagster (and so the UI) computes it.

``segment_summaries`` observes ``segment_definitions`` once per segment with the segment's
summary_hash as its data version; ``description_variants`` depends on that partitioned asset, so
Dagster's stale-status resolver (the one behind the UI's "Stale" badges and causes) marks
exactly the variant partitions whose segment moved.
"""

import shutil

import dagster as dg
import polars as pl
import pytest

from segcopy_assets.dagster_compat import StaleStatus, get_stale_status_resolver
from segcopy_assets.definitions import ALL_ASSETS, ALL_CHECKS
from segcopy_assets.defs.cdp.assets import segment_definitions
from segcopy_assets.pipeline import run_pipeline
from segcopy_assets.resources import CdpSource

VARIANTS = dg.AssetKey("description_variants")
CHANGED = "e-bikes--core"  # E-Bikes × Low tier: its customers move region below
MOVED = (pl.col("preferred_subcategory") == "E-Bikes") & (pl.col("predicted_clv_tier") == "Low")
ASSETS = [
    a if not isinstance(a, dg.AssetSpec) else dg.AssetsDefinition(specs=[a]) for a in ALL_ASSETS
]


def stale_partitions(instance) -> dict[str, list[str]]:
    """partition → its root stale causes ("<asset>[<partition>]: <reason>"), stale ones only."""
    resolver = get_stale_status_resolver(instance, ASSETS)
    stale = {}
    for partition in instance.get_dynamic_partitions("segments"):
        status = resolver.get_status(VARIANTS, partition)
        if status != StaleStatus.FRESH:
            causes = resolver.get_stale_root_causes(VARIANTS, partition)
            stale[partition] = sorted(
                f"{c.key.asset_key.to_user_string()}[{c.key.partition_key}]: {c.reason}"
                for c in causes
            )
    return stale


def materialize(resources, instance, selection, **kwargs):
    return dg.materialize(
        [*ALL_ASSETS, *ALL_CHECKS],
        selection=selection,
        resources=resources,
        instance=instance,
        raise_on_error=False,
        **kwargs,
    )


@pytest.fixture
def world(tmp_path, sample_tables, make_resources, dagster_instance):
    """A full pipeline run on a private copy of the CDP and product tables (on SQLite; tests
    marked ``postgres`` also on PostgreSQL)."""
    customers, products = tmp_path / "cdp_customers", tmp_path / "products"
    shutil.copytree(sample_tables["customers"], customers)
    shutil.copytree(sample_tables["products"], products)
    tables = {"customers": str(customers), "products": str(products)}
    resources = make_resources(tmp_path, tables)
    run_pipeline(dagster_instance, resources)
    yield {"resources": resources, "instance": dagster_instance, "tables": tables}


def move_one_segment(tables):
    df = pl.read_delta(tables["customers"])
    assert df.filter(MOVED & (pl.col("region") != "Mountain West")).height > 100
    df.with_columns(
        pl.when(MOVED).then(pl.lit("Mountain West")).otherwise(pl.col("region")).alias("region")
    ).write_delta(tables["customers"], mode="overwrite")


def test_segment_summaries_observe_one_data_version_per_segment(world):
    instance, resources = world["instance"], world["resources"]
    summaries = pl.read_delta(resources["warehouse"].table_path("segment_summaries"))
    records = instance.fetch_observations(segment_definitions.key, limit=100).records
    versions = {
        r.partition_key: r.asset_observation.tags["dagster/data_version"] for r in reversed(records)
    }
    assert versions == dict(summaries.select("segment_id", "summary_hash").iter_rows())
    assert len(versions) == 14
    # recorded after the table was written, never before it
    [table_written] = instance.fetch_materializations(
        dg.AssetKey("segment_summaries"), limit=1
    ).records
    assert min(r.storage_id for r in records) > table_written.storage_id


def test_after_a_full_run_no_partition_is_stale(world):
    assert stale_partitions(world["instance"]) == {}


@pytest.mark.postgres
def test_one_moved_segment_makes_exactly_its_partition_stale_until_regenerated(world):
    instance, resources = world["instance"], world["resources"]
    move_one_segment(world["tables"])
    result = materialize(resources, instance, ["cdp_customers", "segment_summaries"])
    assert result.success
    meta = result.asset_materializations_for_node("segment_summaries")[0].metadata
    assert [meta[f"segments_{k}"].value for k in ("new", "changed", "removed")] == [0, 1, 0]
    assert meta["changes"].value == f"- **changed**: {CHANGED}"

    assert stale_partitions(instance) == {
        CHANGED: [f"segment_definitions[{CHANGED}]: has a new data version"]
    }

    # Re-summarising the same CDP version again changes nothing.
    assert materialize(resources, instance, ["cdp_customers", "segment_summaries"]).success
    assert list(stale_partitions(instance)) == [CHANGED]

    assert materialize(resources, instance, ["description_variants"], partition_key=CHANGED).success
    assert stale_partitions(instance) == {}


def test_a_product_change_makes_every_partition_stale(world):
    instance, resources = world["instance"], world["resources"]
    df = pl.read_delta(world["tables"]["products"])
    df.with_columns(
        pl.when(pl.col("product_id") == "TN-100")
        .then(pl.col("description") + " Seam-taped fly.")
        .otherwise(pl.col("description"))
        .alias("description")
    ).write_delta(world["tables"]["products"], mode="overwrite")
    assert materialize(resources, instance, ["products"]).success
    stale = stale_partitions(instance)
    assert len(stale) == 14
    assert set(map(tuple, stale.values())) == {("products[None]: has a new data version",)}


def test_one_run_with_the_cdp_and_the_variants_orders_them(world):
    """The UI's "materialize downstream" from cdp_customers: one run, variants after summaries."""
    instance, resources = world["instance"], world["resources"]
    move_one_segment(world["tables"])
    partitions = instance.get_dynamic_partitions("segments")
    result = materialize(
        resources,
        instance,
        ["cdp_customers", "segment_summaries", "description_variants"],
        tags={
            "dagster/asset_partition_range_start": partitions[0],
            "dagster/asset_partition_range_end": partitions[-1],
        },
    )
    assert result.success
    starts = [e.step_key for e in result.all_events if e.event_type_value == "STEP_START"]
    assert starts.index("segment_summaries") < starts.index("description_variants"), starts
    meta = result.asset_materializations_for_node("description_variants")[0].metadata
    # the moved segment's pairs, from its new summary: the run's total (each partition of the
    # range run carries its own figures, issue 26)
    assert meta["run_calls_made"].value == 14
    per_partition = {
        e.partition: e.metadata["calls_made"].value
        for e in result.asset_materializations_for_node("description_variants")
    }
    assert sorted(per_partition.values()) == [0] * 13 + [14]
    assert stale_partitions(instance) == {}


def test_variants_in_a_run_whose_summaries_failed_refuse_to_run(world, tmp_path):
    instance, resources = world["instance"], world["resources"]
    wh = resources["warehouse"]
    before = pl.read_delta(wh.table_path("description_variants"))
    bad = tmp_path / "bad_customers"
    pl.read_delta(world["tables"]["customers"]).drop("region").write_delta(str(bad))
    partitions = instance.get_dynamic_partitions("segments")
    result = materialize(
        {**resources, "cdp": CdpSource(delta_path=str(bad))},
        instance,
        ["cdp_customers", "segment_summaries", "description_variants"],
        tags={
            "dagster/asset_partition_range_start": partitions[0],
            "dagster/asset_partition_range_end": partitions[-1],
        },
    )
    assert not result.success
    failures = {
        e.step_key: e.step_failure_data.error.message
        for e in result.all_events
        if e.is_step_failure
    }
    assert set(failures) == {"cdp_customers", "description_variants"}, failures
    assert "column 'region'" in failures["cdp_customers"]
    assert (
        "segment_summaries is part of this run but this run has not written it"
        in failures["description_variants"]
    )
    assert pl.read_delta(wh.table_path("description_variants")).equals(before)
    assert not result.asset_materializations_for_node("description_variants")


def test_variants_need_the_summaries_table(
    tmp_path, sample_tables, make_resources, memory_instance
):
    resources = make_resources(tmp_path, sample_tables)
    with memory_instance() as instance:
        instance.add_dynamic_partitions("segments", [CHANGED])
        assert materialize(resources, instance, ["products"]).success
        result = materialize(resources, instance, ["description_variants"], partition_key=CHANGED)
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    assert "segment_summaries is not materialized yet" in failure.step_failure_data.error.message
