"""Publication per variant, on frames: the review log's latest decision on the current variant,
its checks (edited text judged again) and auto-approval decide what is published."""

import polars as pl
import pytest

from segcopy_assets.core.publication import select_published
from segcopy_assets.errors import InputValidationError
from segcopy_assets.quality.judge import CheckSettings
from segcopy_assets.storage import review_log as reviews
from segcopy_assets.storage.tables import VERDICT_SCHEMA

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
        "rationale": "Led with speed and kept every fact.",
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
