"""The activation table through the real graph (sample data, offline writer, auto-approval):
one row per customer of a published segment, written in one commit; the shipped polars join
equals a direct in-memory join; a bad input leaves the table as it was."""

import shutil

import dagster as dg
import polars as pl
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

from segcopy_assets.core.activation import customer_copy
from segcopy_assets.definitions import ALL_ASSETS, ALL_CHECKS
from segcopy_assets.pipeline import run_pipeline
from segcopy_assets.resources import Warehouse
from segcopy_assets.storage.io_manager import STREAM_ROW_GROUP_ROWS, warehouse_io_manager

HIGH_VALUE = ["Platinum", "Gold", "Silver"]


@pytest.fixture(scope="module")
def published(tmp_path_factory, sample_tables, make_resources, memory_instance):
    """A warehouse after ``run_pipeline(..., auto_approve_passing_checks=True)``."""
    root = tmp_path_factory.mktemp("activation")
    with pytest.MonkeyPatch.context() as mp, memory_instance() as instance:
        mp.setenv("SEGCOPY_HOME", str(root / "home"))
        resources = make_resources(root, sample_tables)
        report = run_pipeline(instance, resources, auto_approve_passing_checks=True)
        yield {"root": root, "resources": resources, "instance": instance, "report": report}


@pytest.fixture
def copied_resources(published, tmp_path):
    """The resources on a copy of the published warehouse, for a test that changes it."""
    warehouse = tmp_path / "warehouse"
    shutil.copytree(published["root"] / "warehouse", warehouse)
    return {
        **published["resources"],
        "warehouse": Warehouse(root=str(warehouse)),
        "warehouse_io_manager": warehouse_io_manager(str(warehouse)),
    }


def table(resources, name: str) -> pl.DataFrame:
    return pl.read_delta(resources["warehouse"].table_path(name))


def test_one_row_per_customer_of_a_published_segment_in_one_commit(published):
    resources, report = published["resources"], published["report"]
    assert report.published == 196 and report.withheld == 0  # auto-approval reached the run
    segments = table(resources, "customer_segments")
    summaries = table(resources, "segment_summaries")
    copy = table(resources, "published_variants")
    assert (copy["approval"] == "auto").all()
    in_published = summaries.filter(pl.col("segment_id").is_in(copy["segment_id"].implode()))
    assert segments.height == int(in_published["customer_count"].sum()) == 20_000
    assert segments["customer_id"].n_unique() == segments.height
    assert set(segments["segment_id"]) == set(copy["segment_id"])
    hashes = dict(summaries.select("segment_id", "summary_hash").iter_rows())
    assert all(hashes[s] == h for s, h in segments.select("segment_id", "summary_hash").iter_rows())
    assert segments["definitions_hash"].n_unique() == 1
    assert segments["assigned_at"].n_unique() == 1
    delta_table = DeltaTable(resources["warehouse"].table_path("customer_segments"))
    history = delta_table.history()
    assert len(history) == 1 and history[0]["operationMetrics"]["num_added_rows"] == 20_000
    for uri in delta_table.file_uris():  # streamed in small, compressed row groups
        parquet = pq.ParquetFile(uri.removeprefix("file://")).metadata
        for i in range(parquet.num_row_groups):
            group = parquet.row_group(i)
            assert group.num_rows <= STREAM_ROW_GROUP_ROWS
            assert group.column(0).compression == "SNAPPY"
    records = (
        published["instance"]
        .fetch_materializations(dg.AssetKey("customer_segments"), limit=1)
        .records
    )
    metadata = records[0].asset_materialization.metadata
    assert metadata["dagster/row_count"].value == 20_000
    assert metadata["num_rows"].value == 20_000  # the IO manager's stats of the streamed write


def test_shipped_polars_join_equals_a_direct_in_memory_join(published, sample_tables):
    resources = published["resources"]
    wh = resources["warehouse"]
    shipped = customer_copy(
        pl.scan_delta(wh.table_path("customer_segments")),
        pl.scan_delta(wh.table_path("published_variants")),
    ).collect()
    # The same, computed directly: every customer's segment from its keys, then its copy.
    customers = pl.read_delta(sample_tables["customers"]).with_columns(
        pl.when(pl.col("predicted_clv_tier").is_in(HIGH_VALUE))
        .then(pl.lit("high value"))
        .otherwise(pl.lit("core"))
        .alias("value_group")
    )
    keys = ["preferred_subcategory", "value_group"]
    summaries = table(resources, "segment_summaries").select("segment_id", *keys)
    copy = table(resources, "published_variants")
    direct = customers.join(summaries, on=keys).join(copy, on="segment_id").select(shipped.columns)
    order = ["customer_id", "product_id"]
    assert shipped.height == 20_000 * 14
    assert shipped.sort(order).equals(direct.sort(order))


def test_unpublishing_changes_the_copy_not_the_activation_table(published, copied_resources):
    path = copied_resources["warehouse"].table_path("customer_segments")
    result = dg.materialize(
        [*ALL_ASSETS, *ALL_CHECKS],
        selection=["published_variants"],
        resources=copied_resources,
        instance=published["instance"],
    )
    assert result.success  # auto-approval off (the default): nothing unreviewed is published
    assert table(copied_resources, "published_variants").is_empty()
    # publication does not touch the activation table: readers join it to the copy there is
    assert DeltaTable(path).version() == 0
    segments = table(copied_resources, "customer_segments")
    assert segments.height == 20_000
    copy = customer_copy(
        segments.lazy(), table(copied_resources, "published_variants").lazy()
    ).collect()
    assert copy.is_empty()


def _with_count_off_by_one(df: pl.DataFrame) -> pl.DataFrame:
    return df.with_columns(
        pl.when(pl.col("segment_id") == "tents--core")
        .then(pl.col("customer_count") + 1)
        .otherwise(pl.col("customer_count"))
        .alias("customer_count")
    )


BAD_SUMMARIES = {
    # name: (how to break segment_summaries, what the message must contain)
    "stale_counts": (
        _with_count_off_by_one,
        ["table 'segment_summaries'", "column 'customer_count'", "tents--core", "do not match"],
    ),
    "duplicate_segment": (
        lambda df: pl.concat([df, df.filter(pl.col("segment_id") == "tents--core")]),
        ["column 'segment_id'", "two segments would claim", "tents--core"],
    ),
    "no_segments": (lambda df: df.head(0), ["no segments"]),
}


@pytest.mark.parametrize("name", list(BAD_SUMMARIES))
def test_bad_input_leaves_the_table_as_it_was(name, published, copied_resources):
    path = copied_resources["warehouse"].table_path("customer_segments")
    before = (DeltaTable(path).version(), pl.read_delta(path).sort("customer_id"))
    breaker, expected = BAD_SUMMARIES[name]
    summaries_path = copied_resources["warehouse"].table_path("segment_summaries")
    breaker(pl.read_delta(summaries_path)).write_delta(summaries_path, mode="overwrite")

    result = dg.materialize(
        [*ALL_ASSETS, *ALL_CHECKS],
        selection=["customer_segments"],
        resources=copied_resources,
        instance=published["instance"],
        raise_on_error=False,
    )
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    message = failure.step_failure_data.error.message
    for fragment in expected:
        assert fragment in message, (fragment, message)
    assert DeltaTable(path).version() == before[0]
    assert pl.read_delta(path).sort("customer_id").equals(before[1])
