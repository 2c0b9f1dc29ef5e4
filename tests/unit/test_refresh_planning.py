from segcopy_assets.core.refresh_planning import (
    contiguous_blocks,
    plan_segment_refresh,
    stale_by_hash,
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
