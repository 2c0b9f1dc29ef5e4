"""Review log, publication per variant, the activation table, and checks on crafted bad copy."""

import dagster as dg
import polars as pl
import pytest
from deltalake import DeltaTable

from segcopy_assets.core.publication import select_published
from segcopy_assets.errors import InputValidationError
from segcopy_assets.pipeline import run_pipeline
from segcopy_assets.quality.judge import CheckSettings
from segcopy_assets.resources import Copywriter
from segcopy_assets.review.service import ReviewTables, decide, export_csv, import_csv, review_queue
from segcopy_assets.storage import review_log as reviews
from segcopy_assets.storage import variant_store
from segcopy_assets.storage.tables import VERDICT_SCHEMA
from tests.conftest import PROMPTS, make_resources, memory_instance

ORIGINAL = "The Aero weighs 8.1 kg. It has a Shimano 105 groupset with 12 speeds."
SEGMENT = {
    "segment_id": "s1",
    "top_regions": [{"value": "Pacific", "count": 3, "share": 0.3}],
    "top_states": [],
    "top_cities": [],
}


def variant(product_id, text, input_hash, status="ok"):
    return {
        "segment_id": "s1",
        "product_id": product_id,
        "variant_text": text,
        "rationale": "Why.",
        "input_hash": input_hash,
        "status": status,
        "error": None if status == "ok" else "boom",
        "model": "m",
        "prompt_hash": "p",
    }


def verdict(product_id, input_hash, check, passed):
    return {
        "segment_id": "s1",
        "product_id": product_id,
        "input_hash": input_hash,
        "check": check,
        "passed": passed,
        "severity": "ERROR",
        "reason": "" if passed else "missing facts: 8.1 kg",
    }


def publish(variants, verdicts, decisions, auto=False):
    return select_published(
        pl.DataFrame(variants),
        pl.DataFrame(verdicts, schema=VERDICT_SCHEMA),
        pl.DataFrame(decisions, schema=reviews.REVIEW_SCHEMA)
        if decisions
        else reviews.REVIEW_SCHEMA.to_frame(),
        segments={"s1": SEGMENT},
        originals={p: ORIGINAL for p in "ABCDEFG"},
        settings=CheckSettings(min_words=1),
        auto_approve_passing_checks=auto,
    )


def d(product_id, input_hash, decision, edited=None):
    return reviews.make_decision(
        "s1", product_id, input_hash, decision, reviewer="ana", edited_text=edited
    )


GOOD = "Built to go fast. The Aero weighs 8.1 kg. It has a Shimano 105 groupset with 12 speeds."
DROPPED = "Built to go fast. It has a Shimano 105 groupset with 12 speeds."


def test_publication_is_per_variant():
    variants = [
        variant("A", GOOD, "hA"),
        variant("B", DROPPED, "hB"),
        variant("C", GOOD, "hC"),
        variant("D", GOOD, "hD"),
        variant("E", GOOD, "hE", status="failed"),
    ]
    verdicts = [
        verdict("A", "hA", "facts_preserved", True),
        verdict("B", "hB", "facts_preserved", False),
        verdict("C", "hC", "facts_preserved", True),
        verdict("D", "hD", "facts_preserved", True),
    ]
    decisions = [d("A", "hA", "approve"), d("B", "hB", "approve"), d("C", "hC", "reject")]
    published, withheld = publish(variants, verdicts, decisions)
    assert published["product_id"].to_list() == ["A"]
    assert published.row(0, named=True)["published_text"] == GOOD
    reasons = dict(withheld.select("product_id", "reason").iter_rows())
    assert reasons["B"] == "fails facts_preserved"
    assert reasons["C"] == "rejected by ana"
    assert reasons["D"] == "not reviewed"
    assert reasons["E"].startswith("generation failed")
    auto, _ = publish(variants, verdicts, decisions, auto=True)
    assert auto["product_id"].to_list() == ["A", "D"] and auto["approval"].to_list() == [
        "approve",
        "auto",
    ]


def test_edited_text_is_judged_again_and_latest_decision_wins():
    variants = [variant("A", DROPPED, "hA"), variant("B", GOOD, "hB")]
    verdicts = [
        verdict("A", "hA", "facts_preserved", False),
        verdict("B", "hB", "facts_preserved", True),
    ]
    good_edit = d("A", "hA", "edit", edited=GOOD + " Ride it daily.")
    bad_edit = d("B", "hB", "edit", edited="Now 62% off! " + GOOD)
    published, withheld = publish(variants, verdicts, [good_edit, bad_edit])
    assert published["product_id"].to_list() == ["A"]
    assert (
        published["published_text"][0].endswith("Ride it daily.")
        and published["approval"][0] == "edit"
    )
    assert "no_invented_offers" in withheld.filter(pl.col("product_id") == "B")["reason"][0]
    later_reject = d("A", "hA", "reject")
    published, _ = publish(variants, verdicts, [good_edit, later_reject])
    assert published.is_empty()


def test_a_regenerated_variant_needs_a_fresh_review():
    published, withheld = publish(
        [variant("A", GOOD, "h-new")],
        [verdict("A", "h-new", "facts_preserved", True)],
        [d("A", "h-old", "approve")],
    )
    assert published.is_empty() and withheld["reason"].to_list() == ["not reviewed"]


def test_decisions_validated():
    with pytest.raises(InputValidationError, match="decision"):
        reviews.make_decision("s", "p", "h", "maybe", reviewer="ana")
    with pytest.raises(InputValidationError, match="edited text"):
        reviews.make_decision("s", "p", "h", "edit", reviewer="ana", edited_text="  ")


@pytest.fixture
def generated(tmp_path, sample_tables):
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
    assignments = pl.read_delta(wh.table_path("customer_variant_assignments"))
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


def test_crafted_bad_outputs_fail_the_checks(tmp_path, sample_tables, instance):
    from segcopy_assets.devtools.fake_openai import FakeOpenAIServer

    def responder(body):
        return (
            "As a cyclist and a New Yorker, you deserve this. Now 62% off!\n\n"
            "**Rationale:** I made it personal."
        )

    with FakeOpenAIServer(responder=responder) as srv:
        copywriter = Copywriter(
            backend="openai", base_url=srv.base_url, api_key="k", prompts_dir=str(PROMPTS)
        )
        resources = make_resources(tmp_path, sample_tables, copywriter=copywriter)
        report = run_pipeline(instance, resources)
    checks = report.check_results
    for name in ("facts_preserved", "no_invented_offers", "whole_segment_voice"):
        assert checks[name] is False, name
    assert checks["coverage"] and checks["well_formed"] and checks["rationale_present"]
    records = instance.fetch_materializations(dg.AssetKey("description_variants"), limit=1).records
    evaluation = instance.event_log_storage.get_latest_asset_check_execution_by_key(
        [dg.AssetCheckKey(dg.AssetKey("description_variants"), "no_invented_offers")]
    )
    assert records and evaluation
    published = pl.read_delta(resources["warehouse"].table_path("published_variants"))
    assert published.is_empty()
