"""A channel's publication (review/channel_review.py over core/publication.py): one slot per
pair x arm, edits judged by the channel's checks, superseded copy kept per arm."""

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from segcopy_assets.core.continuity import CHANNEL_SLOT, Continuity, carried_approvals
from segcopy_assets.core.publication import select_published
from segcopy_assets.errors import InputValidationError
from segcopy_assets.generation.channels import load_channel
from segcopy_assets.quality.judge import CheckSettings
from segcopy_assets.review.channel_review import channel_rules, pick_arm
from segcopy_assets.storage import review_log as reviews
from segcopy_assets.storage.tables import CHANNEL_PUBLISHED_SCHEMA, VERDICT_SCHEMA

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
ORIGINAL = "The Basecamp 2 is a freestanding tent for two. The packed weight is 1.6 kg."
PRODUCTS = pl.DataFrame({"product_id": ["TN"], "name": ["Basecamp 2"], "description": [ORIGINAL]})
SEGMENT = {"segment_id": "s1", "summary_hash": "sum1", "top_regions": [], "top_states": []}
BRAND = "Ridgeline Cycle & Camp"
A0 = f"{BRAND}: Basecamp 2, built to perform - a freestanding tent for two. Reply STOP to opt out"
A1 = f"{BRAND}: Basecamp 2, dependable - the packed weight is 1.6 kg. Reply STOP to opt out"


@pytest.fixture(scope="module")
def sms(prompts_dir):
    return load_channel(prompts_dir, "sms", backend="offline")


def row(arm: int, ihash: str, text: str, angle: str | None = None) -> dict:
    return {
        "segment_id": "s1",
        "product_id": "TN",
        "variant_index": arm,
        "angle": angle or ("performance", "dependability")[arm],
        "variant_text": text,
        "rationale": "Led with the weight for riders who carry their gear.",
        "input_hash": ihash,
        "status": "ok",
        "error": None,
        "model": "m",
        "prompt_hash": "p",
        "summary_hash": "sum1",
        "content_hash": "c1",
        "attempted_hash": None,
        "last_error": None,
    }


def previous(arm: int, ihash: str, text: str) -> dict:
    return {
        "segment_id": "s1",
        "product_id": "TN",
        "variant_index": arm,
        "angle": ("performance", "dependability")[arm],
        "published_text": text,
        "input_hash": ihash,
        "approval": "approve",
        "reviewer": "ana",
        "summary_hash": "sum1",
        "content_hash": "c1",
        "state": "current",
    }


def publish(sms, variants, decisions=(), before=(), wanted=None):
    wanted = wanted or {("s1", "TN", v["variant_index"]): v["input_hash"] for v in variants}
    continuity = Continuity.build(
        pl.DataFrame(list(before), schema=CHANNEL_PUBLISHED_SCHEMA),
        wanted,
        NOW,
        timedelta(days=7),
        key=CHANNEL_SLOT,
        schema=CHANNEL_PUBLISHED_SCHEMA,
    )
    return select_published(
        pl.DataFrame(variants),
        VERDICT_SCHEMA.to_frame(),
        pl.DataFrame(list(decisions), schema=reviews.REVIEW_SCHEMA),
        segments={"s1": SEGMENT},
        originals={},
        settings=CheckSettings(),
        continuity=continuity,
        content_hashes={"TN": "c1"},
        rules=channel_rules(sms, PRODUCTS),
        schema=CHANNEL_PUBLISHED_SCHEMA,
    )


def decision(ihash, kind="approve", edited=None):
    return reviews.make_decision("s1", "TN", ihash, kind, reviewer="ana", edited_text=edited)


def test_each_arm_is_decided_and_published_on_its_own(sms):
    variants = [row(0, "h0", A0), row(1, "h1", A1)]
    out, withheld = publish(sms, variants, [decision("h1")])
    assert out.select("variant_index", "angle", "approval").rows() == [
        (1, "dependability", "approve")
    ]
    assert withheld.select("input_hash", "reason").rows() == [("h0", "not reviewed")]


def test_an_edit_is_judged_by_the_channel_checks(sms):
    no_opt_out = A1.replace(" Reply STOP to opt out", "")
    new_number = A1.replace("1.6 kg", "2.4 kg")
    good = A1.replace("dependable", "ready for the weekend")
    for text, why in ((no_opt_out, "opt"), (new_number, "2.4 kg")):
        out, withheld = publish(sms, [row(1, "h1", A1)], [decision("h1", "edit", text)])
        assert out.is_empty()
        assert "edited text fails" in withheld["reason"][0] and why in withheld["reason"][0]
    out, _ = publish(sms, [row(1, "h1", A1)], [decision("h1", "edit", good)])
    assert out["published_text"].to_list() == [good] and out["approval"][0] == "edit"


def test_superseded_copy_stays_live_per_arm(sms):
    """Arm 0 was approved and replaced (a prompt change): its copy stays superseded; arm 1's
    replacement is approved and replaces its copy; the arms never stand in for each other."""
    variants = [row(0, "n0", A0.replace("built", "made")), row(1, "n1", A1)]
    before = [previous(0, "o0", A0), previous(1, "o1", A1)]
    out, withheld = publish(sms, variants, [decision("n1")], before)
    got = {r["variant_index"]: r for r in out.iter_rows(named=True)}
    assert got[0]["state"] == "superseded" and got[0]["input_hash"] == "o0"
    assert got[0]["superseded_by"] == "n0" and got[0]["published_text"] == A0
    assert got[1]["state"] == "current" and got[1]["input_hash"] == "n1"
    assert withheld.select("input_hash", "superseded_live").rows() == [("n0", True)]
    # a rejection of the replacement takes arm 0's copy off at once
    out, _ = publish(sms, variants, [decision("n1"), decision("n0", "reject")], before)
    assert out["variant_index"].to_list() == [1]


def test_approvals_carry_per_arm_to_identical_text():
    before = pl.DataFrame([row(0, "o0", A0), row(1, "o1", A1)])
    after = pl.DataFrame([row(0, "n0", A0), row(1, "n1", A1 + " ")])
    log = pl.DataFrame([decision("o0"), decision("o1", "reject")], schema=reviews.REVIEW_SCHEMA)
    carried = carried_approvals(before, after, reviews.latest_decisions(log), NOW, CHANNEL_SLOT)
    assert [(c["input_hash"], c["carried_from"]) for c in carried] == [("n0", "o0")]


def test_an_arm_must_be_named_when_a_pair_has_several():
    rows = pl.DataFrame([row(0, "h0", A0), row(1, "h1", A1)])
    with pytest.raises(InputValidationError, match=r"--arm \(0 \(performance\), 1"):
        pick_arm(rows, "sms_variants", "s1/TN", None)
    assert pick_arm(rows, "sms_variants", "s1/TN", 1)["input_hash"].to_list() == ["h1"]
    with pytest.raises(InputValidationError, match="no arm 3"):
        pick_arm(rows, "sms_variants", "s1/TN", 3)
    one = rows.head(1)
    assert pick_arm(one, "sms_variants", "s1/TN", None).height == 1
