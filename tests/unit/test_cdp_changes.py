"""Change sets of the CDP table (core.cdp_changes) and what they touch: pure polars, no I/O."""

import json
from dataclasses import replace
from datetime import UTC, datetime

import polars as pl
import pytest

from segcopy_assets.core import activation, cdp_changes
from segcopy_assets.core.cdp_source import feed_problem, schema_fingerprint
from segcopy_assets.core.segments import (
    SegmentationSpec,
    compute_segment_summaries,
    cube_columns,
    customer_cube,
    summaries_from_cube,
)
from segcopy_assets.devtools.sample_data import generate_customers
from segcopy_assets.errors import InputValidationError

SPEC = SegmentationSpec()


def feed(*events) -> pl.DataFrame:
    """Change-feed rows: (version, change type, customer_id, value)."""
    return pl.DataFrame(
        [
            {"_commit_version": v, "_change_type": t, "customer_id": c, "value": x}
            for v, t, c, x in events
        ],
        schema={
            "_commit_version": pl.Int64,
            "_change_type": pl.String,
            "customer_id": pl.String,
            "value": pl.Int64,
        },
    )


def as_rows(changes: cdp_changes.ChangeSet) -> tuple[dict, list]:
    return dict(changes.upserts.select("customer_id", "value").iter_rows()), sorted(
        changes.deleted.to_list()
    )


def test_the_last_event_of_each_customer_wins():
    changes = cdp_changes.net_changes(
        feed(
            (1, "insert", "a", 1),
            (1, "update_preimage", "b", 2),
            (1, "update_postimage", "b", 20),
            (1, "delete", "c", 3),
            (2, "update_preimage", "b", 20),
            (2, "update_postimage", "b", 200),
            (2, "delete", "a", 1),
            (3, "insert", "c", 30),
        )
    )
    assert as_rows(changes) == ({"b": 200, "c": 30}, ["a"])
    assert changes.upserts.columns == ["customer_id", "value"]  # the feed's own columns dropped
    assert changes.size == 3 and sorted(changes.changed_keys.to_list()) == ["a", "b", "c"]


def test_a_delete_and_an_insert_in_one_commit_is_an_upsert():
    # a commit that rewrote a file without change files: removed rows, then added ones
    changes = cdp_changes.net_changes(
        feed((4, "insert", "a", 9), (4, "delete", "a", 1), (4, "delete", "b", 2))
    )
    assert as_rows(changes) == ({"a": 9}, ["b"])


@pytest.mark.parametrize(
    "events, existing",
    [
        ([(1, "insert", "a", 1)], ["a"]),  # the table already holds a
        ([(1, "insert", "a", 1), (1, "insert", "a", 2)], []),  # one commit, a twice
        ([(1, "insert", "a", 1), (2, "insert", "a", 2)], []),  # a second a, later
    ],
)
def test_a_second_row_for_one_customer_is_refused(events, existing):
    with pytest.raises(InputValidationError, match="appears twice") as err:
        cdp_changes.net_changes(
            feed(*events), existing=pl.Series(existing, dtype=pl.String), table="cdp"
        )
    assert "table 'cdp'" in str(err.value) and "'a'" in str(err.value)


def test_reinsert_after_delete_is_fine_and_unknown_types_are_refused():
    changes = cdp_changes.net_changes(
        feed((1, "delete", "a", 1), (2, "insert", "a", 5)), existing=pl.Series(["a"])
    )
    assert as_rows(changes) == ({"a": 5}, [])
    with pytest.raises(InputValidationError, match="unknown change type"):
        cdp_changes.net_changes(feed((1, "upsert", "a", 1)))


def test_apply_changes_replaces_removes_and_adds():
    table = pl.LazyFrame({"customer_id": ["a", "b", "c"], "value": [1, 2, 3]})
    changes = cdp_changes.net_changes(
        feed((1, "update_postimage", "b", 20), (1, "delete", "c", 3), (1, "insert", "d", 4))
    )
    after = cdp_changes.apply_changes(table, changes).collect().sort("customer_id")
    assert after.rows() == [("a", 1), ("b", 20), ("d", 4)]


@pytest.fixture(scope="module")
def customers() -> pl.DataFrame:
    return next(generate_customers(3_000, seed=11))


def _moved(customers: pl.DataFrame) -> pl.DataFrame:
    """Every Low-tier Tents customer becomes Gold (core → high value), a few leave, one joins,
    some move region."""
    moved = customers.with_columns(
        pl.when(
            (pl.col("preferred_subcategory") == "Tents") & (pl.col("predicted_clv_tier") == "Low")
        )
        .then(pl.lit("Gold"))
        .otherwise(pl.col("predicted_clv_tier"))
        .alias("predicted_clv_tier"),
        pl.when(pl.col("customer_id").str.ends_with("7"))
        .then(pl.lit("Pacific"))
        .otherwise(pl.col("region"))
        .alias("region"),
    )
    return pl.concat([moved.slice(5), customers.head(1).with_columns(customer_id=pl.lit("new-1"))])


def _feed(before: pl.DataFrame, after: pl.DataFrame) -> pl.DataFrame:
    """The change feed from ``before`` to ``after`` (one version)."""
    gone = before.join(after, on=before.columns, how="anti")  # old rows: deleted or updated
    new = after.join(before, on=before.columns, how="anti")  # new rows: inserted or updated
    updated = gone.join(new.select("customer_id"), on="customer_id", how="semi")
    return pl.concat(
        [
            gone.with_columns(
                pl.when(pl.col("customer_id").is_in(updated["customer_id"].implode()))
                .then(pl.lit("update_preimage"))
                .otherwise(pl.lit("delete"))
                .alias("_change_type")
            ),
            new.with_columns(
                pl.when(pl.col("customer_id").is_in(updated["customer_id"].implode()))
                .then(pl.lit("update_postimage"))
                .otherwise(pl.lit("insert"))
                .alias("_change_type")
            ),
        ]
    ).with_columns(pl.lit(1, pl.Int64).alias("_commit_version"))


@pytest.mark.parametrize("min_size", [1, 25, 120])
def test_the_cube_after_the_changes_gives_a_full_recompute(customers, min_size):
    spec = replace(SPEC, min_segment_size=min_size)
    after = _moved(customers)
    feed = _feed(customers, after)
    cube = cdp_changes.apply_to_cube(
        customer_cube(customers.lazy(), spec), cdp_changes.cube_changes(feed, spec)
    )
    fresh = customer_cube(after.lazy(), spec)
    order = cube_columns(spec)
    assert cube.sort(order, nulls_last=True).equals(
        fresh.select(cube.columns).sort(order, nulls_last=True)
    )
    assert summaries_from_cube(cube.sample(fraction=1.0, shuffle=True, seed=1), spec).equals(
        compute_segment_summaries(after.lazy(), spec)
    )
    touched = cdp_changes.touched_segments([feed], spec)
    assert {"Tents"} <= set(touched["preferred_subcategory"]) and touched.height >= 3


def test_a_cube_that_is_not_the_tables_is_refused(customers):
    feed = _feed(customers, customers.slice(3))  # three deletions
    wrong = customer_cube(customers.slice(3).lazy(), SPEC)  # already without them
    with pytest.raises(ValueError, match="fewer than 0 customers"):
        cdp_changes.apply_to_cube(wrong, cdp_changes.cube_changes(feed, SPEC))
    # an update of a column no summary reads leaves the cube as it was
    same = customers.with_columns(pl.col("predicted_order_frequency_365d") + 1)
    assert cdp_changes.cube_changes(_feed(customers, same), SPEC).is_empty()


def test_assignment_changes_and_adjusted_sizes(customers):
    spec = replace(SPEC, min_segment_size=1)
    summaries = compute_segment_summaries(customers.lazy(), spec)
    stamp = datetime(2026, 1, 1, tzinfo=UTC)
    definitions = activation.definitions_hash(summaries, spec)
    upserts = customers.head(3).with_columns(
        pl.Series("preferred_subcategory", ["Tents", "Tents", "Nowhere"])
    )
    rows, gone = activation.assignment_changes(
        upserts,
        pl.Series(["AMP-0000000010"]),
        summaries,
        spec,
        assigned_at=stamp,
        definitions=definitions,
    )
    assert rows["customer_id"].to_list() == upserts["customer_id"].to_list()[:2]
    assert gone.to_list() == ["AMP-0000000003", "AMP-0000000010"]  # "Nowhere" has no segment
    before = activation.segment_sizes(
        activation.assign_customer_segments(
            customers.lazy(), summaries, spec, assigned_at=stamp, definitions="x"
        )
    )
    old = (
        activation.assign_segments(customers.lazy(), summaries, spec)
        .filter(pl.col("customer_id").is_in([*upserts["customer_id"], "AMP-0000000010"]))
        .collect()["segment_id"]
    )
    after = activation.adjusted_sizes(before, old, rows)
    assert int(after["customers"].sum()) == customers.height - 2
    tents = after.filter(pl.col("segment_id").str.starts_with("tents"))["customers"].sum()
    assert tents >= before.filter(pl.col("segment_id").str.starts_with("tents"))["customers"].sum()


def test_feed_problem_names_the_first_commit_that_is_not_a_change_of_rows():
    def commit(version, operation, mode=None):
        return {"version": version, "operation": operation, "operationParameters": {"mode": mode}}

    fine = [commit(3, "MERGE"), commit(4, "OPTIMIZE"), commit(5, "WRITE", "Append")]
    assert feed_problem(fine, 3, 5) is None
    assert "version 4 is a WRITE (Overwrite)" in feed_problem(
        [commit(3, "MERGE"), commit(4, "WRITE", "Overwrite")], 3, 4
    )
    assert "version 3 is a SET TBLPROPERTIES" in feed_problem(
        [commit(3, "SET TBLPROPERTIES")], 3, 3
    )
    assert "no longer holds version 3" in feed_problem([commit(4, "MERGE")], 3, 4)


def test_schema_fingerprint_follows_names_types_and_nullability():
    a = json.dumps({"fields": [{"name": "x", "type": "string", "nullable": True, "metadata": {}}]})
    b = json.dumps(
        {"fields": [{"name": "x", "type": "string", "nullable": True, "metadata": {"c": 1}}]}
    )
    c = json.dumps({"fields": [{"name": "x", "type": "long", "nullable": True, "metadata": {}}]})
    assert schema_fingerprint(a) == schema_fingerprint(b) != schema_fingerprint(c)
