"""A failed generation as a state of its pair (generation/failures.py): the last good row stays
current with the failure beside it, attempts add up per input hash, and parking."""

from datetime import UTC, datetime, timedelta

import httpx2 as httpx
import openai
import polars as pl
import pytest

from segcopy_assets.core.refresh_planning import stale_segments
from segcopy_assets.generation.failures import (
    attempt_plan,
    counts_as_attempt,
    parked_pairs,
    pending_failure,
    settle,
)
from segcopy_assets.storage.tables import RETRY_SCHEMA, VARIANT_SCHEMA

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def row(product, ihash, status="ok", *, text="Copy.", attempts=None, attempted=None, at=T0):
    return {
        "segment_id": "s1",
        "product_id": product,
        "variant_text": text if status == "ok" else None,
        "rationale": "Because." if status == "ok" else None,
        "input_hash": ihash,
        "status": status,
        "error": None if status == "ok" else "the answer has no Rationale section",
        "generated_at": at,
        "attempts": attempts,
        "attempted_hash": attempted,
        "last_error": None if attempted is None else "boom",
        "last_attempt_at": None if attempted is None else at,
    }


def frame(*rows) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=VARIANT_SCHEMA)


def by_product(rows: pl.DataFrame) -> dict[str, dict]:
    return {r["product_id"]: r for r in rows.iter_rows(named=True)}


def test_a_failed_generation_keeps_the_last_good_row_with_the_failure_beside_it():
    previous = frame(row("A", "old-A", text="Good old copy."), row("B", "old-B"))
    new = frame(
        row("A", "new-A", "failed", attempts=1, at=T0 + timedelta(hours=1)),
        row("B", "new-B", text="New copy."),
    )
    out = by_product(settle(new, previous))
    assert out["A"]["status"] == "ok" and out["A"]["input_hash"] == "old-A"
    assert out["A"]["variant_text"] == "Good old copy."
    assert (out["A"]["attempts"], out["A"]["attempted_hash"]) == (1, "new-A")
    assert out["A"]["last_error"] == "the answer has no Rationale section"
    assert out["A"]["last_attempt_at"] == T0 + timedelta(hours=1)
    assert out["B"]["input_hash"] == "new-B" and out["B"]["attempts"] is None


def test_attempts_add_up_for_the_same_inputs_and_restart_when_they_move():
    previous = frame(row("A", "old-A", attempts=2, attempted="new-A"))
    again = settle(frame(row("A", "new-A", "failed", attempts=1)), previous)
    assert by_product(again)["A"]["attempts"] == 3
    moved = settle(frame(row("A", "newer-A", "failed", attempts=1)), previous)
    assert (by_product(moved)["A"]["attempts"], by_product(moved)["A"]["attempted_hash"]) == (
        1,
        "newer-A",
    )


def test_a_pair_that_never_generated_keeps_a_failed_row_and_an_ok_answer_clears_it():
    first = settle(frame(row("A", "h", "failed", attempts=1)), frame())
    assert by_product(first)["A"]["status"] == "failed"
    second = settle(frame(row("A", "h", "failed", attempts=1)), first)
    assert by_product(second)["A"]["attempts"] == 2
    fixed = by_product(settle(frame(row("A", "h", attempts=None)), second))["A"]
    assert fixed["status"] == "ok" and fixed["attempts"] is None and fixed["last_error"] is None


def test_a_failure_that_says_nothing_about_the_pair_is_recorded_but_not_counted():
    previous = frame(row("A", "old", attempts=2, attempted="new"))
    outage = settle(frame(row("A", "new", "failed", attempts=0)), previous)
    assert by_product(outage)["A"]["attempts"] == 2  # recorded (last error, when), not counted
    request = httpx.Request("POST", "http://127.0.0.1/v1/chat/completions")
    assert not counts_as_attempt(openai.APIConnectionError(request=request))
    assert not counts_as_attempt(openai.APITimeoutError(request=request))
    for status, counted in ((500, False), (503, False), (429, False), (400, True), (422, True)):
        response = httpx.Response(status, request=request)
        error = openai.APIStatusError("x", response=response, body=None)
        assert counts_as_attempt(error) is counted, status
    assert counts_as_attempt(ValueError("a bug in a writer"))


def test_a_forced_regeneration_of_the_same_inputs_that_fails_keeps_the_row_untouched():
    previous = frame(row("A", "h", text="Fine."))
    out = by_product(settle(frame(row("A", "h", "failed", attempts=1)), previous))["A"]
    assert out["status"] == "ok" and out["attempts"] is None and out["variant_text"] == "Fine."


def wanted(*pairs):
    return pl.DataFrame(
        [("s1", p, h) for p, h in pairs],
        schema=["segment_id", "product_id", "input_hash"],
        orient="row",
    )


def retries(*rows):
    return pl.DataFrame(
        [
            {
                "segment_id": "s1",
                "product_id": p,
                "input_hash": "x",
                "requested_by": "ana",
                "requested_at": at,
            }
            for p, at in rows
        ],
        schema=RETRY_SCHEMA,
    )


def test_a_pair_is_parked_at_the_ceiling_until_its_inputs_move_or_someone_asks():
    stored = frame(
        row("A", "old-A", attempts=3, attempted="new-A"),  # at the ceiling: parked
        row("B", "new-B", "failed", attempts=2, attempted="new-B"),  # below it: retried
        row("C", "old-C", attempts=3, attempted="stale-C"),  # its inputs moved since
        row("D", "new-D", "failed", attempts=5, attempted="new-D"),  # asked again, after it
        row("E", "new-E", "failed", attempts=4, attempted="new-E"),  # asked, failed once more
    )
    now = wanted(("A", "new-A"), ("B", "new-B"), ("C", "new-C"), ("D", "new-D"), ("E", "new-E"))
    asked = retries(("D", T0 + timedelta(minutes=5)), ("E", T0 - timedelta(minutes=5)))
    parked = parked_pairs(stored, now, asked, max_attempts=3)
    assert parked["product_id"].to_list() == ["A", "E"]
    assert parked_pairs(stored, now, asked, max_attempts=5)["product_id"].to_list() == []
    with pytest.raises(ValueError):
        parked_pairs(stored, now, asked, max_attempts=0)


def test_the_attempt_plan_leaves_parked_pairs_out_and_holds_their_rows():
    previous = frame(row("A", "old-A", attempts=3, attempted="new-A"), row("B", "old-B"))
    pairs = [({"segment_id": "s1"}, {"product_id": p}) for p in ("A", "B")]
    plan = attempt_plan(pairs, ["new-A", "new-B"], previous, RETRY_SCHEMA.to_frame(), 3)
    assert plan.parked == {("s1", "A")} and plan.hashes == ["new-B"]
    assert plan.held(previous)["input_hash"].to_list() == ["old-A"]


def test_pending_failure_means_a_failed_row_or_a_kept_one():
    rows = frame(
        row("A", "old", attempts=1, attempted="new"),
        row("B", "h", "failed", attempts=1, attempted="h"),
        row("C", "h"),
    )
    assert rows.filter(pending_failure())["product_id"].to_list() == ["A", "B"]


def test_parked_pairs_make_no_segment_stale_and_retried_ones_do():
    expected = pl.DataFrame(
        [("s1", "A", "new-A"), ("s1", "B", "h-B"), ("s2", "A", "h-2A")],
        schema=["segment_id", "product_id", "input_hash"],
        orient="row",
    )
    stored = pl.DataFrame(
        [("s1", "A", "old-A", "ok"), ("s1", "B", "h-B", "ok"), ("s2", "A", "h-2A", "failed")],
        schema=["segment_id", "product_id", "input_hash", "status"],
        orient="row",
    )
    verdicts = pl.DataFrame(
        [(s, p, h, "facts_preserved", "R") for s, p, h, _ in stored.iter_rows()],
        schema=["segment_id", "product_id", "input_hash", "check", "rules_hash"],
        orient="row",
    )
    assert stale_segments(expected, stored, verdicts, "R") == ["s1", "s2"]
    parked = pl.DataFrame({"segment_id": ["s1", "s2"], "product_id": ["A", "A"]})
    assert stale_segments(expected, stored, verdicts, "R", parked) == []
    assert stale_segments(expected, stored, verdicts, "R", parked.head(1)) == ["s2"]
