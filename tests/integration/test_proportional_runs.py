"""Work proportional to change (issue 15): ``run_pipeline`` decides from the tables' hashes
which segments are stale and materializes only those; unchanged variants are not re-judged."""

import shutil

import dagster as dg
import polars as pl
import pytest

from segcopy_assets.pipeline import run_pipeline
from segcopy_assets.resources import QualityRules

VARIANTS = dg.AssetKey("description_variants")
MOVED = (pl.col("preferred_subcategory") == "E-Bikes") & (pl.col("predicted_clv_tier") == "Low")


def variant_events(instance) -> tuple[int, int]:
    """(materializations of description_variants, check evaluations) recorded so far."""
    materializations = len(instance.fetch_materializations(VARIANTS, limit=10_000).records)
    evaluations = sum(
        1
        for run in instance.get_runs()
        for event in instance.all_logs(
            run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
        )
    )
    return materializations, evaluations


@pytest.fixture
def world(tmp_path, sample_tables, make_resources, instance):
    customers, products = tmp_path / "cdp_customers", tmp_path / "products"
    shutil.copytree(sample_tables["customers"], customers)
    shutil.copytree(sample_tables["products"], products)
    tables = {"customers": str(customers), "products": str(products)}
    resources = make_resources(tmp_path, tables)
    first = run_pipeline(instance, resources)
    return {"resources": resources, "tables": tables, "first": first}


def test_a_run_with_nothing_changed_starts_no_variant_run(world, instance):
    assert world["first"].variant_metadata["range_runs"] == 1
    before = variant_events(instance)
    cdp_runs = len(instance.fetch_materializations(dg.AssetKey("cdp_customers"), limit=99).records)
    report = run_pipeline(instance, world["resources"])
    # the CDP table's version and the segmentation are unchanged: it is not read again
    assert (
        len(instance.fetch_materializations(dg.AssetKey("cdp_customers"), limit=99).records)
        == cdp_runs
    )
    m = report.variant_metadata
    assert (m["range_runs"], m["segments_run"], m["calls_made"]) == (0, 0, 0)
    assert (m["pairs"], m["reused"]) == (196, 196)
    assert variant_events(instance) == before
    assert report.check_results == world["first"].check_results


def test_one_moved_segment_runs_that_partition_only(world, instance):
    df = pl.read_delta(world["tables"]["customers"])
    df.with_columns(
        pl.when(MOVED).then(pl.lit("Mountain West")).otherwise(pl.col("region")).alias("region")
    ).write_delta(world["tables"]["customers"], mode="overwrite")
    materialized_before, _ = variant_events(instance)
    report = run_pipeline(instance, world["resources"])
    m = report.variant_metadata
    assert (m["range_runs"], m["segments_run"], m["calls_made"]) == (1, 1, 14)
    records = instance.fetch_materializations(VARIANTS, limit=10_000).records
    assert len(records) == materialized_before + 1
    assert records[0].partition_key == "e-bikes--core"


def test_changed_rules_rejudge_every_variant_without_a_call(world, instance):
    resources = {**world["resources"], "quality_rules": QualityRules(max_length_ratio=1.4)}
    report = run_pipeline(instance, resources)
    m = report.variant_metadata
    assert (m["segments_run"], m["calls_made"], m["variants_judged"]) == (14, 0, 196)
    verdicts = pl.read_delta(resources["warehouse"].table_path("variant_checks"))
    assert verdicts["rules_hash"].n_unique() == 1
    again = run_pipeline(instance, resources).variant_metadata
    assert (again["segments_run"], again["variants_judged"]) == (0, 0)


def test_a_forced_run_reuses_verdicts_of_unchanged_text(world, instance):
    """force_regenerate with the deterministic offline writer: every pair is called again, the
    text comes back the same, so no verdict is computed anew."""
    report = run_pipeline(instance, world["resources"], force_regenerate=True)
    m = report.variant_metadata
    assert (m["segments_run"], m["calls_made"], m["variants_judged"]) == (14, 196, 0)
    verdicts = pl.read_delta(world["resources"]["warehouse"].table_path("variant_checks"))
    assert verdicts.height == verdicts.unique(["segment_id", "product_id", "check"]).height


def test_a_new_segmentation_rereads_an_unchanged_cdp(world, instance):
    from segcopy_assets.resources import Segmentation

    segmentation = Segmentation(key_columns=["preferred_subcategory"])
    report = run_pipeline(instance, {**world["resources"], "segmentation": segmentation})
    assert len(report.segments_removed) == 14 and len(report.segments_added) == 7
