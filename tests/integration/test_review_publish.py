"""Review decisions through the pipeline: nothing unreviewed is published, an approval publishes
exactly that copy (and its customer assignments), the CSV round trip, and the checks on crafted
bad copy. The publication rules on frames are in tests/unit/test_publication.py."""

import dagster as dg
import polars as pl
import pytest
from deltalake import DeltaTable

from segcopy_assets.core.activation import customer_copy
from segcopy_assets.errors import InputValidationError
from segcopy_assets.pipeline import run_pipeline
from segcopy_assets.resources import Copywriter
from segcopy_assets.review.review_csv import export_csv, import_csv
from segcopy_assets.review.service import ReviewTables, decide, review_queue
from segcopy_assets.storage import review_log as reviews
from segcopy_assets.storage import variant_store


@pytest.fixture
def generated(tmp_path, sample_tables, make_resources, memory_instance):
    resources = make_resources(tmp_path, sample_tables)
    with memory_instance() as instance:
        report = run_pipeline(instance, resources)
        yield resources, instance, report


def tables(resources):
    return ReviewTables.under(str(resources["warehouse"].table_path("x")).rsplit("/", 1)[0])


def test_offline_output_passes_every_check_and_nothing_unreviewed_is_published(generated):
    resources, _, report = generated
    assert report.check_results and all(report.check_results.values()), report.check_results
    assert report.published == 0 and report.withheld == 196
    verdicts = pl.read_delta(resources["warehouse"].table_path("variant_checks"))
    assert verdicts.filter(pl.col("check") == "coverage").height == 196
    assert verdicts["passed"].all()


def test_approve_then_run_publishes_exactly_that_copy(generated):
    resources, instance, _ = generated
    t = tables(resources)
    approved = decide(t, "tents--high-value", "TN-100", "approve", reviewer="ana")
    decide(t, "tents--high-value", "TN-200", "reject", reviewer="bo", note="too long")
    report = run_pipeline(instance, resources)
    assert report.published == 1
    wh = resources["warehouse"]
    published = pl.read_delta(wh.table_path("published_variants"))
    assert published.select("segment_id", "product_id", "published_text").rows() == [
        ("tents--high-value", "TN-100", approved["variant_text"])
    ]
    assignments = customer_copy(
        pl.scan_delta(wh.table_path("customer_segments")),
        pl.scan_delta(wh.table_path("published_variants")),
    ).collect()
    summaries = pl.read_delta(wh.table_path("segment_summaries"))
    expected = summaries.filter(pl.col("segment_id") == "tents--high-value")["customer_count"][0]
    assert assignments.height == expected
    assert set(assignments["product_id"]) == {"TN-100"}
    assert assignments["customer_id"].n_unique() == expected
    statuses = dict(
        review_queue(t)
        .filter(pl.col("segment_id") == "tents--high-value")
        .select("product_id", "review_status")
        .iter_rows()
    )
    assert (
        statuses["TN-100"] == "approved"
        and statuses["TN-200"] == "rejected"
        and statuses["CA-100"] == "pending"
    )


def test_csv_round_trip_and_bad_row_writes_nothing(generated, tmp_path):
    resources, _, _ = generated
    t = tables(resources)
    exported = tmp_path / "review.csv"
    assert export_csv(t, str(exported)) == 196
    sheet = pl.read_csv(exported, infer_schema_length=0)
    assert {"original", "variant_text", "rationale", "failed_checks", "decision"} <= set(
        sheet.columns
    )
    sheet = sheet.with_columns(
        pl.when(pl.int_range(pl.len()) == 0)
        .then(pl.lit("approve"))
        .when(pl.int_range(pl.len()) == 1)
        .then(pl.lit("edit"))
        .otherwise(pl.lit(""))
        .alias("decision"),
        pl.when(pl.int_range(pl.len()) == 1)
        .then(pl.col("variant_text") + " Ready when you are.")
        .otherwise(pl.lit(""))
        .alias("edited_text"),
    )
    bad = sheet.with_columns(
        pl.when(pl.int_range(pl.len()) == 1)
        .then(pl.lit("NOPE-1"))
        .otherwise(pl.col("product_id"))
        .alias("product_id")
    )
    bad_path = tmp_path / "bad.csv"
    bad.write_csv(bad_path)
    with pytest.raises(InputValidationError, match=r"line 3 .*NOPE-1.*no such segment/product"):
        import_csv(t, str(bad_path), reviewer="ana")
    assert not variant_store.table_exists(t.reviews)
    good_path = tmp_path / "good.csv"
    sheet.write_csv(good_path)
    assert import_csv(t, str(good_path), reviewer="ana") == 2
    log = reviews.read_reviews(t.reviews)
    assert sorted(log["decision"].to_list()) == ["approve", "edit"]
    assert DeltaTable(t.reviews).version() == 0  # one commit for the whole sheet


def test_crafted_bad_outputs_fail_the_checks(
    tmp_path, sample_tables, instance, make_resources, prompts_dir
):
    from segcopy_assets.devtools.fake_openai import FakeOpenAIServer

    def responder(body):
        return (
            "As a cyclist and a New Yorker, you deserve this. Now 62% off!\n\n"
            "**Rationale:** I made it personal for this group."
        )

    with FakeOpenAIServer(responder=responder) as srv:
        copywriter = Copywriter(
            backend="openai", base_url=srv.base_url, api_key="k", prompts_dir=str(prompts_dir)
        )
        resources = make_resources(tmp_path, sample_tables, copywriter=copywriter)
        report = run_pipeline(instance, resources)
    checks = report.check_results
    for name in ("facts_preserved", "no_invented_offers", "whole_segment_voice"):
        assert checks[name] is False, name
    assert checks["coverage"] and checks["well_formed"] and checks["rationale_present"]
    records = instance.fetch_materializations(dg.AssetKey("description_variants"), limit=1).records
    evaluation = instance.event_log_storage.get_latest_asset_check_execution_by_key(
        [dg.AssetCheckKey(dg.AssetKey("description_variants"), "copy_quality")]
    )
    assert records and evaluation
    published = pl.read_delta(resources["warehouse"].table_path("published_variants"))
    assert published.is_empty()
