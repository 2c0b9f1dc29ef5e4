"""Publication continuity (core/continuity.py, core/publication.py): approvals carried to
identical text, superseded copy that stays live until its replacement is decided, a changed
product that withdraws at once, and the grace period."""

from datetime import UTC, datetime, timedelta

import polars as pl

from segcopy_assets.core.continuity import Continuity, carried_approvals
from segcopy_assets.core.publication import select_published
from segcopy_assets.quality.judge import CheckSettings
from segcopy_assets.storage import review_log as reviews
from segcopy_assets.storage.tables import PUBLISHED_SCHEMA, VARIANT_SCHEMA, VERDICT_SCHEMA

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
ORIGINAL = "The Aero weighs 8.1 kg. It has a Shimano 105 groupset with 12 speeds."
OLD = "Built to go fast. " + ORIGINAL
NEW = "Ride further. " + ORIGINAL
SEGMENT = {
    "segment_id": "s1",
    "summary_hash": "sum1",
    "top_regions": [{"value": "Pacific", "count": 3, "share": 0.3}],
    "top_states": [],
    "top_cities": [],
}


def variant(product, ihash, text=NEW, status="ok", **extra):
    return {
        "segment_id": "s1",
        "product_id": product,
        "variant_text": text,
        "rationale": "Led with speed and kept every fact.",
        "input_hash": ihash,
        "status": status,
        "error": None if status == "ok" else "boom",
        "model": "m",
        "prompt_hash": "p",
        "summary_hash": "sum1",
        "content_hash": "c1",
        **extra,
    }


def published(product, ihash, text=OLD, *, content="c1", summary="sum1", state="current", at=None):
    return {
        "segment_id": "s1",
        "product_id": product,
        "published_text": text,
        "input_hash": ihash,
        "approval": "approve",
        "reviewer": "ana",
        "decided_at": NOW - timedelta(days=30),
        "model": "m",
        "prompt_hash": "old-p",
        "summary_hash": summary,
        "content_hash": content,
        "state": state,
        "superseded_at": at,
    }


def decision(product, ihash, kind="approve", edited=None):
    return reviews.make_decision("s1", product, ihash, kind, reviewer="ana", edited_text=edited)


def publish(variants, previous, decisions=(), *, content="c1", grace_days=7.0, now=NOW):
    continuity = Continuity.build(
        pl.DataFrame(previous, schema=PUBLISHED_SCHEMA),
        {("s1", v["product_id"]): v.get("wanted", v["input_hash"]) for v in variants},
        now,
        timedelta(days=grace_days),
    )
    frame = pl.DataFrame([{k: v for k, v in r.items() if k != "wanted"} for r in variants])
    return select_published(
        frame.with_columns(
            pl.lit(None, pl.String).alias(c)
            for c in ("attempted_hash", "last_error")
            if c not in frame.columns
        ),
        VERDICT_SCHEMA.to_frame(),
        pl.DataFrame(list(decisions), schema=reviews.REVIEW_SCHEMA),
        segments={"s1": SEGMENT},
        originals={p: ORIGINAL for p in "ABCDEF"},
        settings=CheckSettings(min_words=1),
        continuity=continuity,
        content_hashes={p: content for p in "ABCDEF"},
    )


def rows(frame: pl.DataFrame) -> dict[str, dict]:
    return {r["product_id"]: r for r in frame.iter_rows(named=True)}


def test_approved_copy_stays_published_as_superseded_while_the_new_variant_waits():
    out, withheld = publish([variant("A", "new")], [published("A", "old")])
    live = rows(out)["A"]
    assert (live["published_text"], live["input_hash"], live["state"]) == (OLD, "old", "superseded")
    assert live["superseded_at"] == NOW and live["superseded_by"] == "new"
    assert (
        rows(withheld)["A"]["superseded_live"] and rows(withheld)["A"]["reason"] == "not reviewed"
    )


def test_the_new_variant_approved_replaces_it_and_rejected_ends_it():
    approved, _ = publish([variant("A", "new")], [published("A", "old")], [decision("A", "new")])
    assert (
        rows(approved)["A"]["state"] == "current" and rows(approved)["A"]["published_text"] == NEW
    )
    rejected, withheld = publish(
        [variant("A", "new")], [published("A", "old")], [decision("A", "new", "reject")]
    )
    assert rejected.is_empty() and not rows(withheld)["A"]["superseded_live"]


def test_a_changed_product_withdraws_its_copy_at_once():
    out, withheld = publish([variant("A", "new")], [published("A", "old")], content="c2")
    assert out.is_empty()
    assert "its product changed" in rows(withheld)["A"]["reason"]


def test_the_grace_period_counts_from_when_the_copy_was_first_superseded():
    since = NOW - timedelta(days=6)
    kept, _ = publish([variant("A", "new")], [published("A", "old", state="superseded", at=since)])
    assert rows(kept)["A"]["superseded_at"] == since  # carried, not restarted
    over, withheld = publish(
        [variant("A", "new")],
        [published("A", "old", state="superseded", at=since)],
        now=NOW + timedelta(days=2),
    )
    assert over.is_empty() and "grace period is over" in rows(withheld)["A"]["reason"]
    at_once, _ = publish([variant("A", "new")], [published("A", "old")], grace_days=0)
    assert at_once.is_empty()  # a grace period of 0 withdraws replaced copy at once


def test_a_changed_segment_re_judges_the_old_copy():
    safe, _ = publish([variant("A", "new")], [published("A", "old", summary="sum0")])
    assert rows(safe)["A"]["state"] == "superseded"  # it still passes for the segment as it is
    invented = OLD + " Now 30% off with free shipping."
    out, withheld = publish(
        [variant("A", "new")], [published("A", "old", invented, summary="sum0")]
    )
    assert out.is_empty() and "no_invented_offers" in rows(withheld)["A"]["reason"]


def test_a_kept_row_whose_replacement_failed_is_published_as_superseded():
    kept = variant("A", "old", OLD, attempted_hash="new", last_error="no Rationale", wanted="new")
    out, withheld = publish([kept], [published("A", "old")], [decision("A", "old")])
    assert rows(out)["A"]["state"] == "superseded" and rows(out)["A"]["input_hash"] == "old"
    assert rows(withheld)["A"]["reason"] == "its new variant failed to generate: no Rationale"


def test_fresh_approved_copy_is_current_and_nothing_else_changes():
    out, withheld = publish([variant("A", "h")], [], [decision("A", "h")])
    assert rows(out)["A"]["state"] == "current" and withheld.is_empty()
    assert rows(out)["A"]["content_hash"] == "c1" and rows(out)["A"]["summary_hash"] == "sum1"


def test_identical_text_carries_the_approval_and_edit_over():
    def v(product, ihash, text):
        return {**variant(product, ihash, text)}

    previous = pl.DataFrame(
        [
            v("A", "a1", OLD),
            v("B", "b1", OLD),
            v("C", "c1", OLD),
            v("D", "d1", OLD),
            v("E", "e1", OLD),
        ],
        schema=VARIANT_SCHEMA,
    )
    current = pl.DataFrame(
        [
            v("A", "a2", OLD + "  "),  # same text (whitespace aside), approved: carried
            v("B", "b2", OLD),  # same text, edited and approved: the edit carried
            v("C", "c2", NEW),  # new text: needs a review
            v("D", "d2", OLD),  # same text, but the old one was rejected
            v("E", "e1", OLD),  # not replaced at all
        ],
        schema=VARIANT_SCHEMA,
    )
    log = pl.DataFrame(
        [
            decision("A", "a1"),
            decision("B", "b1", "edit", "Edited. " + ORIGINAL),
            decision("C", "c1"),
            decision("D", "d1", "reject"),
            decision("E", "e1"),
        ],
        schema=reviews.REVIEW_SCHEMA,
    )
    carried = carried_approvals(previous, current, reviews.latest_decisions(log), NOW)
    by = {r["product_id"]: r for r in carried}
    assert set(by) == {"A", "B"}
    assert (by["A"]["decision"], by["A"]["input_hash"], by["A"]["carried_from"]) == (
        "approve",
        "a2",
        "a1",
    )
    assert by["B"]["decision"] == "edit" and by["B"]["edited_text"] == "Edited. " + ORIGINAL
    assert "identical text" in by["A"]["note"] and by["A"]["reviewer"] == "ana"
    # a decision of its own already: nothing carried over it
    own = pl.concat(
        [log, pl.DataFrame([decision("A", "a2", "reject")], schema=reviews.REVIEW_SCHEMA)]
    )
    assert {
        r["product_id"]
        for r in carried_approvals(previous, current, reviews.latest_decisions(own), NOW)
    } == {"B"}


def test_a_withdrawn_copy_never_comes_back_with_a_new_grace_period():
    """The replacement keeps failing: the kept row's copy is superseded from its first failed
    attempt, withdrawn when the grace period is over, and stays withdrawn."""
    since = NOW - timedelta(days=8)
    kept = variant(
        "A", "old", OLD, attempted_hash="new", last_error="no Rationale", wanted="new",
        failing_since=since,
    )  # fmt: skip
    out, withheld = publish([kept], [published("A", "old", state="superseded", at=since)],
                            [decision("A", "old")])  # fmt: skip
    assert out.is_empty() and "grace period is over" in rows(withheld)["A"]["reason"]
    # the next publication finds no published row for the pair: still withdrawn
    again, _ = publish([kept], [], [decision("A", "old")], now=NOW + timedelta(minutes=1))
    assert again.is_empty()
    young = {**kept, "failing_since": NOW - timedelta(days=1)}
    live, _ = publish([young], [], [decision("A", "old")])
    assert rows(live)["A"]["superseded_at"] == NOW - timedelta(days=1)


def test_copy_published_before_its_hashes_were_recorded_is_judged_not_withdrawn():
    """A published_variants table from before this version has no content_hash: the first
    prompt change after an upgrade keeps the approved copy (it still passes), or withdraws it
    if it no longer does."""
    legacy = {**published("A", "old"), "content_hash": None, "summary_hash": None}
    out, _ = publish([variant("A", "new")], [legacy])
    assert rows(out)["A"]["state"] == "superseded"
    wrong = {**legacy, "published_text": OLD.replace("8.1 kg", "9.1 kg")}
    gone, withheld = publish([variant("A", "new")], [wrong])
    assert gone.is_empty() and "facts_preserved" in rows(withheld)["A"]["reason"]
