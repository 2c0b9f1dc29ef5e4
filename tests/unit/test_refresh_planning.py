import polars as pl

from segcopy_assets.core.refresh_planning import (
    contiguous_blocks,
    merge_blocks,
    plan_segment_refresh,
    stale_by_hash,
    stale_segments,
)


def test_plan_added_removed_changed_unchanged():
    plan = plan_segment_refresh(
        current={"a": "h1", "b": "h2", "c": "h3-new", "d": "h4"},
        partitions=["a", "b", "c", "x"],
        generated_from={"a": {"h1"}, "b": {"h2", "h2-old"}, "c": {"h3"}, "x": {"h9"}},
    )
    assert plan.added == ["d"] and plan.removed == ["x"]
    assert plan.changed == ["b", "c"]  # b: some rows from an older summary; c: moved
    assert plan.unchanged == ["a"]
    assert plan.to_run == ["b", "c", "d"]


def test_never_generated_partition_is_changed():
    plan = plan_segment_refresh({"a": "h1"}, ["a"], {})
    assert plan.changed == ["a"]


def test_contiguous_blocks():
    keys = ["a", "b", "c", "d", "e"]
    assert contiguous_blocks(keys, {"b", "c", "e"}) == [["b", "c"], ["e"]]
    assert contiguous_blocks(keys, set(keys)) == [keys]
    assert contiguous_blocks(keys, set()) == []


def test_stale_by_hash():
    generated = {"a": {"p1"}, "b": {"p0"}, "c": {"p1", "p0"}}
    assert stale_by_hash("p1", generated, ["a", "b", "c", "d"]) == ["b", "c", "d"]
    assert stale_by_hash({"c1", "c2"}, {"a": {"c1", "c2"}, "b": {"c1"}}, ["a", "b"]) == ["b"]


def test_summary_changes_between_two_tables():
    from segcopy_assets.core.refresh_planning import summary_changes

    before = {"a": "1", "b": "1", "c": "1"}
    after = {"a": "1", "b": "2", "d": "1"}
    assert summary_changes(before, after) == {"new": ["d"], "changed": ["b"], "removed": ["c"]}
    assert summary_changes({}, after) == {"new": ["a", "b", "d"], "changed": [], "removed": []}
    assert summary_changes(after, after) == {"new": [], "changed": [], "removed": []}


def test_merge_blocks_joins_the_closest_neighbours_first():
    keys = list("abcdefghij")
    blocks = [["a"], ["c"], ["d"], ["j"]]
    assert merge_blocks(keys, blocks, 4) == blocks
    assert merge_blocks(keys, blocks, 3) == [["a"], ["c", "d"], ["j"]]
    assert merge_blocks(keys, blocks, 2) == [["a", "b", "c", "d"], ["j"]]
    assert merge_blocks(keys, blocks, 1) == [keys]
    assert merge_blocks(keys, [], 3) == []


def _frames(rows, stored_rows, verdict_rows):
    expected = pl.DataFrame(rows, schema=["segment_id", "product_id", "input_hash"], orient="row")
    stored = pl.DataFrame(
        stored_rows, schema=["segment_id", "product_id", "input_hash", "status"], orient="row"
    )
    verdicts = pl.DataFrame(
        verdict_rows,
        schema=["segment_id", "product_id", "input_hash", "check", "rules_hash"],
        orient="row",
    )
    return expected, stored, verdicts


EXPECTED = [("s1", "p1", "h11"), ("s1", "p2", "h12"), ("s2", "p1", "h21")]
STORED = [(s, p, h, "ok") for s, p, h in EXPECTED]
JUDGED = [(s, p, h, c, "R") for s, p, h in EXPECTED for c in ("coverage", "facts_preserved")]


def test_nothing_is_stale_when_rows_and_verdicts_match():
    assert stale_segments(*_frames(EXPECTED, STORED, JUDGED), "R") == []


def test_a_moved_input_hash_a_failed_call_or_missing_pair_makes_only_that_segment_stale():
    moved = [("s1", "p1", "old", "ok"), *STORED[1:]]
    assert stale_segments(*_frames(EXPECTED, moved, JUDGED), "R") == ["s1"]
    failed = [*STORED[:2], ("s2", "p1", "h21", "failed")]
    assert stale_segments(*_frames(EXPECTED, failed, JUDGED), "R") == ["s2"]
    assert stale_segments(*_frames(EXPECTED, STORED[1:], JUDGED), "R") == ["s1"]
    extra = [*STORED, ("s2", "p9", "h29", "ok")]
    assert stale_segments(*_frames(EXPECTED, extra, JUDGED), "R") == ["s2"]
    duplicate = [*STORED, STORED[2]]
    assert stale_segments(*_frames(EXPECTED, duplicate, JUDGED), "R") == ["s2"]


def test_verdicts_of_other_rules_or_missing_verdicts_make_a_segment_stale():
    assert stale_segments(*_frames(EXPECTED, STORED, JUDGED), "R2") == ["s1", "s2"]
    unjudged = [v for v in JUDGED if v[0] != "s2" or v[3] == "coverage"]
    assert stale_segments(*_frames(EXPECTED, STORED, unjudged), "R") == ["s2"]
    mixed = [*JUDGED, ("s1", "p2", "h12", "brand_voice", "old")]
    assert stale_segments(*_frames(EXPECTED, STORED, mixed), "R") == ["s1"]


def test_segments_no_longer_expected_are_not_reported():
    gone = [*STORED, ("s9", "p1", "h91", "failed")]
    assert stale_segments(*_frames(EXPECTED, gone, JUDGED), "R") == []
