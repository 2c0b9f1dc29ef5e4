"""Sensors evaluated against a test instance and real Delta tables (no daemon)."""

import json
import shutil

import dagster as dg
import polars as pl
import pytest

from segcopy_assets.defs.cdp.partitions import segments_partitions
from segcopy_assets.defs.cdp.sensors import cdp_change_sensor
from segcopy_assets.defs.content.sensors import product_change_sensor
from segcopy_assets.defs.generation.sensors import (
    RANGE_END,
    RANGE_START,
    product_variants_sensor,
    prompt_sensor,
    segment_sensor,
)
from segcopy_assets.defs.publishing.sensors import publishing_sensor
from segcopy_assets.pipeline import run_pipeline
from segcopy_assets.resources import CdpSource, Copywriter
from tests.integration.sensor_ticks import tick


def ranges(result):
    """(first, last) segment of each requested run; a one-segment run is a plain partition run."""
    return [
        (r.tags[RANGE_START], r.tags[RANGE_END])
        if RANGE_START in r.tags
        else (r.partition_key, r.partition_key)
        for r in result.run_requests
    ]


@pytest.fixture
def world(tmp_path, sample_tables, make_resources, dagster_instance, prompts_dir):
    """A pipeline that has run once, on copies of the sample tables it may change (on SQLite;
    tests marked ``postgres`` also on PostgreSQL)."""
    customers, products = tmp_path / "customers", tmp_path / "products"
    shutil.copytree(sample_tables["customers"], customers)
    shutil.copytree(sample_tables["products"], products)
    prompts = tmp_path / "prompts"
    shutil.copytree(prompts_dir, prompts)
    resources = make_resources(
        tmp_path,
        {"customers": str(customers), "products": str(products)},
        copywriter=Copywriter(backend="offline", prompts_dir=str(prompts)),
    )
    run_pipeline(dagster_instance, resources)
    yield {
        "instance": dagster_instance,
        "resources": resources,
        "customers": customers,
        "products": products,
        "prompts": prompts,
    }


def rerun_summaries(world, **cdp):
    """Materialize cdp_customers + segment_summaries like the CDP sensor's run would."""
    from segcopy_assets.definitions import ALL_ASSETS

    resources = {**world["resources"], **({"cdp": CdpSource(**cdp)} if cdp else {})}
    world["resources"] = resources
    assert dg.materialize(
        ALL_ASSETS,
        selection=["cdp_customers", "segment_summaries"],
        resources=resources,
        instance=world["instance"],
    ).success


def edit_customers(world, expr, path=None):
    target = path or world["customers"]
    df = pl.read_delta(str(world["customers"])).with_columns(expr)
    df.write_delta(str(target), mode="overwrite")


def test_cdp_sensor_no_change_then_version_bump(world):
    instance, resources = world["instance"], world["resources"]
    result, _ = tick(cdp_change_sensor, instance, resources)
    assert not result.run_requests and "already ingested" in result.skip_message
    edit_customers(world, pl.col("city"))  # a new commit with identical data
    result, _ = tick(cdp_change_sensor, instance, resources)
    (request,) = result.run_requests
    assert request.run_key.endswith("@1")
    assert {k.to_user_string() for k in request.asset_selection} == {
        "cdp_customers",
        "segment_summaries",
        "customer_segments",
    }


def test_cdp_source_down_is_a_skip_naming_the_source(world, tmp_path):
    down = tmp_path / "down.share"
    down.write_text(
        json.dumps(
            {
                "shareCredentialsVersion": 1,
                "endpoint": "http://127.0.0.1:9/delta-sharing",
                "bearerToken": "t0ps3cret",
            }
        )
    )
    resources = {
        **world["resources"],
        "cdp": CdpSource(share_url=f"{down}#s.c.customers", version_timeout_s=1),
    }
    result, _ = tick(cdp_change_sensor, world["instance"], resources)
    assert not result.run_requests
    assert (
        "CDP source unavailable" in result.skip_message and "s.c.customers" in result.skip_message
    )
    assert "t0ps3cret" not in result.skip_message


def test_version_bump_with_identical_summaries_requests_no_variant_run(world):
    edit_customers(world, pl.col("city"))
    rerun_summaries(world)
    result, _ = tick(segment_sensor, world["instance"], world["resources"])
    assert not result.run_requests and "up to date" in result.skip_message


@pytest.mark.postgres
def test_one_segment_changed_requests_exactly_that_partition(world):
    edit_customers(
        world,
        pl.when(
            (pl.col("preferred_subcategory") == "E-Bikes") & (pl.col("predicted_clv_tier") == "Low")
        )
        .then(pl.lit("Mountain West"))
        .otherwise(pl.col("region"))
        .alias("region"),
    )
    rerun_summaries(world)
    result, cursor = tick(segment_sensor, world["instance"], world["resources"])
    assert ranges(result) == [("e-bikes--core", "e-bikes--core")]
    assert (
        result.run_requests[0].partition_key == "e-bikes--core"
    )  # not a range: checks keep the partition
    assert not result.dynamic_partitions_requests
    again, _ = tick(segment_sensor, world["instance"], world["resources"], cursor=cursor)
    assert not again.run_requests  # a second tick does not ask twice


@pytest.mark.postgres
def test_new_and_removed_segments(world):
    from segcopy_assets.review.service import ReviewTables, decide

    instance, wh = world["instance"], world["resources"]["warehouse"]
    decide(
        ReviewTables.under(wh.table_path("x").rsplit("/", 1)[0]),
        "tents--core",
        "TN-100",
        "approve",
        reviewer="ana",
    )
    assert run_pipeline(instance, world["resources"]).published == 1
    # Kayaks appear (a new subcategory) and Tents disappear.
    edit_customers(world, pl.col("preferred_subcategory").replace({"Tents": "Kayaks"}))
    rerun_summaries(world)
    result, _ = tick(segment_sensor, instance, world["resources"])
    adds = [
        r
        for r in result.dynamic_partitions_requests
        if isinstance(r, dg.AddDynamicPartitionsRequest)
    ]
    deletes = [
        r
        for r in result.dynamic_partitions_requests
        if isinstance(r, dg.DeleteDynamicPartitionsRequest)
    ]
    assert sorted(adds[0].partition_keys) == ["kayaks--core", "kayaks--high-value"]
    assert sorted(deletes[0].partition_keys) == ["tents--core", "tents--high-value"]
    assert ranges(result) == [("kayaks--core", "kayaks--high-value")]
    # The test context does not apply partition requests: do it as the daemon would, then run.
    instance.add_dynamic_partitions(segments_partitions.name, adds[0].partition_keys)
    for key in deletes[0].partition_keys:
        instance.delete_dynamic_partition(segments_partitions.name, key)
    report = run_pipeline(instance, world["resources"])
    assert report.variant_metadata["calls_made"] == 2 * 14
    assert report.published == 0  # the approved tents copy is no longer published ...
    history = pl.read_delta(wh.table_path("description_variants"))
    assert (
        history.filter(pl.col("segment_id") == "tents--core").height == 14
    )  # ... but stays in history


def test_prompt_edit_requests_all_partitions_once(world):
    instance, resources = world["instance"], world["resources"]
    result, cursor = tick(prompt_sensor, instance, resources)
    assert not result.run_requests
    system = world["prompts"] / "system.md.j2"
    system.write_text(system.read_text() + "\nMention the warranty only if the original does.\n")
    result, cursor = tick(prompt_sensor, instance, resources, cursor=cursor)
    keys = instance.get_dynamic_partitions(segments_partitions.name)
    assert ranges(result) == [(keys[0], keys[-1])]  # ONE run over the whole range
    again, _ = tick(prompt_sensor, instance, resources, cursor=cursor)
    assert not again.run_requests and "already requested" in again.skip_message


def test_product_change_reloads_products_then_refreshes_variants(world):
    instance, resources = world["instance"], world["resources"]
    result, _ = tick(product_change_sensor, instance, resources)
    assert not result.run_requests
    df = pl.read_delta(str(world["products"])).with_columns(
        pl.when(pl.col("product_id") == "TN-100")
        .then(pl.col("description") + " It packs into a 40 cm bag.")
        .otherwise(pl.col("description"))
        .alias("description")
    )
    df.write_delta(str(world["products"]), mode="overwrite")
    result, _ = tick(product_change_sensor, instance, resources)
    assert [k.to_user_string() for k in result.run_requests[0].asset_selection] == ["products"]
    from segcopy_assets.definitions import ALL_ASSETS

    assert dg.materialize(
        ALL_ASSETS, selection=["products"], resources=resources, instance=instance
    ).success
    result, _ = tick(product_variants_sensor, instance, resources)
    keys = instance.get_dynamic_partitions(segments_partitions.name)
    assert ranges(result) == [(keys[0], keys[-1])]
    report = run_pipeline(instance, resources)
    assert report.variant_metadata["calls_made"] == 14  # only TN-100's pairs, one per segment


def test_publishing_sensor_follows_decisions(world):
    from segcopy_assets.review.service import ReviewTables, decide

    instance, resources = world["instance"], world["resources"]
    # `segcopy run` published what every table holds: the daemon's first tick launches no run
    # (issue 26: no needless publishing run each time `segcopy dev` starts)
    result, cursor = tick(publishing_sensor, instance, resources)
    assert not result.run_requests and "published copy is current" in result.skip_message
    result, cursor = tick(publishing_sensor, instance, resources, cursor=cursor)
    assert not result.run_requests
    tables = ReviewTables.under(resources["warehouse"].table_path("x").rsplit("/", 1)[0])
    decide(tables, "tents--core", "TN-100", "approve", reviewer="ana")
    result, _ = tick(publishing_sensor, instance, resources, cursor=cursor)
    assert len(result.run_requests) == 1
