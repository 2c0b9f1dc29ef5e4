"""Acceptance sampling's rules: the plan, the draw, the outcome, what an accepted batch covers."""

import math

import pytest

from segcopy_assets.core.sampling import (
    ACCEPTED,
    PENDING,
    REJECTED,
    SamplingPlan,
    accepted_members,
    batch_id,
    draw_sample,
    outcome,
)


@pytest.mark.parametrize(
    "p, c, n", [(0.05, 0.95, 59), (0.10, 0.90, 22), (0.01, 0.95, 299), (0.05, 0.99, 90)]
)
def test_the_plan_bounds_the_defect_rate(p, c, n):
    plan = SamplingPlan(p, c)
    assert plan.n == n
    # zero defects in n draws: a batch with a defect rate of p passes with probability <= 1 - c
    assert (1 - p) ** n <= 1 - c + 1e-12 and (1 - p) ** (n - 1) > 1 - c
    assert n == math.ceil(math.log(1 - c) / math.log(1 - p))


def test_a_small_batch_is_reviewed_whole():
    plan = SamplingPlan()
    assert plan.sample_size(14) == 14 and plan.sample_size(1000) == 59
    assert plan.bound(14, 14) == "every variant reviewed"
    assert plan.bound(59, 1000) == "≤ 5 % defective at 95 % confidence"


@pytest.mark.parametrize("p, c", [(0, 0.95), (1, 0.95), (0.05, 1.0), (0.05, 0)])
def test_an_impossible_plan_is_refused(p, c):
    with pytest.raises(ValueError, match="sampling plan"):
        SamplingPlan(p, c)


def test_the_draw_is_the_same_for_everyone_and_depends_on_the_batch():
    members = [f"h{i:03d}" for i in range(500)]
    bid = batch_id("tents--core", "prompt1", members)
    first = draw_sample(bid, members, 59)
    assert first == draw_sample(bid, list(reversed(members)), 59)  # order of members is no matter
    assert len(set(first)) == 59 and set(first) <= set(members)
    other = batch_id("tents--core", "prompt2", members)
    assert other != bid and draw_sample(other, members, 59) != first
    assert batch_id("tents--core", "prompt1", members[:-1]) != bid  # a member less: a new batch


def test_outcome_accepts_only_a_clean_sample():
    sample = ["a", "b", "c"]
    assert outcome(sample, {"a": "approve", "b": "approve", "c": "approve"}).state == ACCEPTED
    pending = outcome(sample, {"a": "approve"})
    assert (pending.state, pending.approved, pending.pending) == (PENDING, 1, 2)
    assert outcome(sample, {"a": "approve", "b": "reject"}).state == REJECTED
    edited = outcome(sample, {"a": "approve", "b": "approve", "c": "edit"})  # an edit is a defect
    assert (edited.state, edited.rejections) == (REJECTED, 1)


def test_accepted_members_cover_the_batch_not_its_later_regenerations():
    batch = {"batch_id": "b1", "members": ["a", "b", "c", "d"], "sample": ["a", "c"],
             "plan_p": 0.05, "plan_c": 0.95}  # fmt: skip
    covered = accepted_members([batch], {"b1": {"a": "approve", "c": "approve"}})
    assert set(covered) == {"a", "b", "c", "d"}
    assert covered["b"].batch_id == "b1" and covered["b"].sample_size == 2
    assert covered["b"].rejections == 0 and covered["b"].bound.startswith("≤ 5 %")
    assert "e" not in covered  # a regenerated variant (a new input hash) left the batch
    assert accepted_members([batch], {"b1": {"a": "approve", "c": "reject"}}) == {}
    assert accepted_members([batch], {"b1": {"a": "approve"}}) == {}
    assert accepted_members([batch], {}) == {}


def test_only_decisions_made_since_the_draw_count_for_a_batch():
    from datetime import UTC, datetime, timedelta

    import polars as pl

    from segcopy_assets.core.sampling import decisions_since_draw

    drawn_at = datetime(2026, 12, 7, 12, tzinfo=UTC)
    batch = {"batch_id": "b1", "members": ["a", "b", "c"], "sample": ["a", "c"],
             "plan_p": 0.05, "plan_c": 0.95, "created_at": drawn_at}  # fmt: skip
    reviews = pl.DataFrame(
        {
            "input_hash": ["a", "c", "a", "b"],
            "decision": ["reject", "approve", "approve", "reject"],
            "decided_at": [
                drawn_at - timedelta(days=7),  # before the draw: says nothing about the batch
                drawn_at + timedelta(minutes=1),
                drawn_at + timedelta(minutes=2),
                drawn_at + timedelta(minutes=3),  # not sampled
            ],
        }
    )
    since = decisions_since_draw([batch], reviews)
    assert since == {"b1": {"c": "approve", "a": "approve"}}
    assert set(accepted_members([batch], since)) == {"a", "b", "c"}
    # only the old rejection: the batch waits for its review instead of being rejected at once
    early = decisions_since_draw([batch], reviews.head(1))
    assert early == {"b1": {}} and outcome(["a", "c"], early["b1"]).state == PENDING
