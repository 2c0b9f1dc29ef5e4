"""The incremental CDP refresh through the real assets (dg.materialize on temp dirs): what each
refresh did (its ``refresh`` metadata), the tables it left (equal to a full recompute), and the
reasons it falls back to a full refresh."""

import shutil

import dagster as dg
import polars as pl
import pytest
from deltalake import DeltaTable, write_deltalake

from segcopy_assets.definitions import ALL_ASSETS, ALL_CHECKS
from segcopy_assets.defs.cdp import own_tables
from segcopy_assets.defs.cdp.sensors import cdp_change_sensor
from segcopy_assets.devtools.sample_churn import write_churn
from segcopy_assets.resources import CdpSource, Segmentation, Warehouse
from segcopy_assets.storage import delta
from segcopy_assets.storage.io_manager import warehouse_io_manager
from tests.integration import cdp_oracle

CDP = ["cdp_customers", "segment_summaries", "customer_segments"]


@pytest.fixture
def world(tmp_path, sample_tables, make_resources, instance):
    """The CDP assets refreshed once (in full) from a private copy of the sample table."""
    source = tmp_path / "source"
    shutil.copytree(sample_tables["customers"], source)
    resources = make_resources(tmp_path, {**sample_tables, "customers": str(source)})
    first = refresh(resources, instance)
    assert all(mode.startswith("full: first") for mode in first.values()), first
    return {"resources": resources, "instance": instance, "source": str(source)}


def refresh(resources, instance, full_refresh: bool = False, selection=CDP) -> dict[str, str]:
    """Materialize the CDP assets; ``{asset: its refresh metadata}``."""
    result = dg.materialize(
        [*ALL_ASSETS, *ALL_CHECKS],
        selection=selection,
        resources=resources,
        instance=instance,
        run_config={"ops": {"cdp_customers": {"config": {"full_refresh": full_refresh}}}}
        if "cdp_customers" in selection
        else None,
    )
    assert result.success
    return {
        asset: result.asset_materializations_for_node(asset)[0].metadata["refresh"].value
        for asset in selection
    }


def metadata(instance, asset: str) -> dict:
    event = instance.get_latest_materialization_event(dg.AssetKey(asset))
    return {k: v.value for k, v in event.asset_materialization.metadata.items()}


def assert_equal_to_full_recompute(resources):
    wh, spec = resources["warehouse"], resources["segmentation"].spec()
    source = pl.read_delta(resources["cdp"].delta_path)
    expected = cdp_oracle.full_recompute(source, spec)
    summaries, assigned = expected["summaries"], expected["activation"]
    tables = {name: pl.read_delta(wh.table_path(name)) for name in CDP}
    assert tables["cdp_customers"].sort("customer_id").equals(source.sort("customer_id"))
    assert tables["segment_summaries"].equals(summaries)
    assert (
        tables["customer_segments"]
        .drop("assigned_at")
        .sort("customer_id")
        .equals(assigned.drop("assigned_at").sort("customer_id"))
    )


def test_churn_is_merged_and_summarised_incrementally(world):
    resources, instance = world["resources"], world["instance"]
    churn = write_churn(world["source"], 400, seed=3)
    assert (churn.inserted, churn.updated, churn.deleted) == (100, 260, 40)
    modes = refresh(resources, instance)
    assert modes["cdp_customers"] == "incremental"
    assert modes["segment_summaries"] == "incremental"
    # at 20,000 customers 2 % of churn moves some segment's make-up: every row's definitions
    # hash moves with it, so the activation table is rewritten
    assert modes["customer_segments"].startswith(("incremental", "full: the segment definitions"))
    cdp = metadata(instance, "cdp_customers")
    assert (cdp["customers_inserted"], cdp["customers_updated"], cdp["customers_deleted"]) == (
        100,
        260,
        40,
    )
    assert cdp["changes_from_version"] == 1 and cdp["source_table_version"] == 1
    assert cdp["row_count"] == 20_060
    assert (
        metadata(instance, "segment_summaries")["cdp_customers_version"]
        == DeltaTable(resources["warehouse"].table_path("cdp_customers")).version()
    )
    assert_equal_to_full_recompute(resources)
    # the sensor saw the new version, and sees nothing more once it is ingested
    result = cdp_change_sensor(dg.build_sensor_context(instance=instance, resources=resources))
    assert isinstance(result, dg.SkipReason) and "already ingested" in str(result.skip_message)


def test_changes_no_summary_reads_merge_only_the_changed_customers(world):
    resources, instance = world["resources"], world["instance"]
    source = pl.read_delta(world["source"])
    changed = source.head(50).with_columns(pl.col("predicted_order_frequency_365d") + 1)
    (
        DeltaTable(world["source"])
        .merge(changed.to_arrow(), "t.customer_id = s.customer_id", "s", "t")
        .when_matched_update_all()
        .execute()
    )
    path = resources["warehouse"].table_path("customer_segments")
    before = pl.read_delta(path)
    assert refresh(resources, instance) == dict.fromkeys(CDP, "incremental")
    meta = metadata(instance, "customer_segments")
    assert meta["customers_changed"] == 50 and meta["cdp_customers_version"] == 1
    history = DeltaTable(path).history(1)[0]
    assert history["operation"] == "MERGE"
    after = pl.read_delta(path)
    moved = after.join(before, on=after.columns, how="anti")  # new assigned_at only
    assert sorted(moved["customer_id"]) == sorted(changed["customer_id"])
    assert_equal_to_full_recompute(resources)
    # nothing new: incremental with no change, and nothing written (but the summaries, which
    # the IO manager writes at every materialization)
    written = ["cdp_customers", "customer_segments"]
    versions = [DeltaTable(resources["warehouse"].table_path(t)).version() for t in written]
    assert refresh(resources, instance) == dict.fromkeys(CDP, "incremental")
    assert versions == [DeltaTable(resources["warehouse"].table_path(t)).version() for t in written]


def _overwrite(world):
    write_deltalake(world["source"], pl.read_delta(world["source"]).to_arrow(), mode="overwrite")


def _without_feed(world):
    plain = world["source"] + "-plain"
    pl.read_delta(world["source"]).write_delta(plain)
    world["resources"]["cdp"] = CdpSource(delta_path=plain)
    write_churn(world["source"], 10, seed=1)  # the configured source moved on anyway


def _schema_change(world):
    df = pl.read_delta(world["source"]).with_columns(pl.lit("x").alias("loyalty_id"))
    write_deltalake(world["source"], df.to_arrow(), mode="overwrite", schema_mode="overwrite")


def _vacuumed_changes(world):
    write_churn(world["source"], 10, seed=1)
    shutil.rmtree(f"{world['source']}/_change_data")


FALLBACKS = {
    "overwrite": (_overwrite, "version 1 is a WRITE (Overwrite), not a change of rows"),
    "source_changed": (_without_feed, "the source changed (was delta "),
    "schema_change": (_schema_change, "the source's schema changed"),
    "vacuumed_changes": (_vacuumed_changes, "change data feed unavailable from version 1"),
}


@pytest.mark.parametrize("case", list(FALLBACKS))
def test_full_refresh_when_incremental_cannot_be_proven_equal(world, case):
    change, reason = FALLBACKS[case]
    change(world)
    modes = refresh(world["resources"], world["instance"])
    assert modes["cdp_customers"].startswith("full: ") and reason in modes["cdp_customers"], modes
    # the summaries and the activation table follow: cdp_customers was rewritten in full
    assert "WRITE (Overwrite)" in modes["segment_summaries"]
    assert_equal_to_full_recompute(world["resources"])


def test_a_source_without_change_feed_is_always_read_in_full(world, tmp_path):
    plain = tmp_path / "plain"
    write_deltalake(str(plain), pl.read_delta(world["source"]).to_arrow())
    resources = {**world["resources"], "cdp": CdpSource(delta_path=str(plain))}
    assert refresh(resources, world["instance"])["cdp_customers"].startswith(
        "full: the source changed"
    )
    new = pl.read_delta(str(plain)).head(3).with_columns(pl.col("customer_id") + "-new")
    write_deltalake(str(plain), new.to_arrow(), mode="append")
    modes = refresh(resources, world["instance"])
    assert modes["cdp_customers"] == (
        "full: the table has no change data feed (delta.enableChangeDataFeed is not set)"
    )
    assert_equal_to_full_recompute(resources)


def test_requested_and_segmentation_changes_are_full(world):
    resources, instance = world["resources"], world["instance"]
    write_churn(world["source"], 50, seed=2)
    modes = refresh(resources, instance, full_refresh=True)
    assert modes["cdp_customers"] == "full: requested"
    # a new minimum size: the same cube (no customer read), other summaries, every row moves
    resources["segmentation"] = Segmentation(min_segment_size=1_500)
    modes = refresh(resources, instance)
    assert modes["cdp_customers"] == "incremental"  # nothing new in the source
    assert modes["segment_summaries"] == "incremental"
    assert modes["customer_segments"].startswith("full: the segment definitions changed")
    assert_equal_to_full_recompute(resources)
    # other segment keys: the cube counts other columns
    resources["segmentation"] = Segmentation(key_columns=["preferred_category", "value_group"])
    modes = refresh(resources, instance)
    assert modes["segment_summaries"] == (
        "full: the segmentation reads other columns (segment keys or dimensions)"
    )
    assert_equal_to_full_recompute(resources)


def test_a_duplicate_inserted_by_the_source_fails_like_the_full_path(world):
    resources, instance = world["resources"], world["instance"]
    path = resources["warehouse"].table_path("cdp_customers")
    version = DeltaTable(path).version()
    twice = pl.read_delta(world["source"]).head(1)
    write_deltalake(world["source"], twice.to_arrow(), mode="append")
    result = dg.materialize(
        [*ALL_ASSETS, *ALL_CHECKS],
        selection=CDP,
        resources=resources,
        instance=instance,
        raise_on_error=False,
    )
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    message = failure.step_failure_data.error.message
    assert "column 'customer_id'" in message and "appears twice" in message, message
    assert DeltaTable(path).version() == version  # nothing written


@pytest.mark.slow
def test_incremental_refresh_on_an_object_store(
    object_store, tmp_path, sample_tables, make_resources, instance
):
    """Source and warehouse on moto's S3 / Azurite: the change feed, the MERGE and the records
    work there as on a folder."""
    root = object_store["warehouse"]
    source = delta.join(root, "source")
    write_deltalake(
        source,
        pl.read_delta(sample_tables["customers"]).to_arrow(),
        configuration={"delta.enableChangeDataFeed": "true"},
    )
    warehouse = Warehouse(root=delta.join(root, "warehouse"))
    resources = {
        **make_resources(tmp_path, sample_tables, delta_path=source),
        "warehouse": warehouse,
        "warehouse_io_manager": warehouse_io_manager(warehouse.root),
    }
    assert refresh(resources, instance)["cdp_customers"] == "full: first ingestion"
    write_churn(source, 200, seed=5)
    modes = refresh(resources, instance)
    assert modes["cdp_customers"] == modes["segment_summaries"] == "incremental", modes
    assert_equal_to_full_recompute(resources)


def test_own_tables_find_their_record_past_maintenance_and_look_up_keys(tmp_path):
    """The record of the last write is found behind many maintenance commits (more than the
    first window of history read), and key lookups (key range + list) find exactly the keys."""
    path = str(tmp_path / "table")
    rows = pl.DataFrame({"customer_id": [f"AMP-{i:010d}" for i in range(1, 2_001)], "v": 1})
    own_tables.write_table(path, rows, {"segcopy.x": "1"})
    for _ in range(3):  # 9 commits that change no row
        DeltaTable(path).optimize.z_order(["customer_id"])
        DeltaTable(path).vacuum(retention_hours=0, enforce_retention_duration=False, dry_run=False)
    assert len(DeltaTable(path).history()) == 10
    assert own_tables.last_record(path, ("segcopy.x",)) == {"segcopy.x": "1"}
    assert own_tables.last_record(path, ("segcopy.x", "segcopy.y")) is None
    keys = pl.Series(["AMP-0000000005", "AMP-0000001999", "AMP-0000009999", "AMP-0000000006x"])
    found = own_tables.rows_with_keys(path, keys, ["customer_id"])
    assert sorted(found["customer_id"]) == ["AMP-0000000005", "AMP-0000001999"]
    assert own_tables.rows_with_keys(path, keys.head(0), ["customer_id", "v"]).columns == [
        "customer_id",
        "v",
    ]
