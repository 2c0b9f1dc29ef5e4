"""The activation table's pure functions: assignment, versions, input checks, the copy join in
polars and in the shipped SQL, the streaming write's record batches, and the run's yes/no flag."""

import re
from dataclasses import replace
from datetime import UTC, datetime

import polars as pl
import pytest

from segcopy_assets.core.activation import (
    assign_customer_segments,
    check_summaries,
    customer_copy,
    definitions_hash,
    segment_sizes,
    size_mismatches,
)
from segcopy_assets.core.segments import SegmentationSpec, compute_segment_summaries
from segcopy_assets.errors import InputValidationError, SettingsError
from segcopy_assets.storage.tables import CUSTOMER_SEGMENTS_SCHEMA

COLUMNS = [
    "customer_id",
    "predicted_clv_tier",
    "preferred_subcategory",
    "preferred_category",
    "discount_sensitivity",
    "price_preference",
    "lifecycle_status",
    "region",
    "state",
    "city",
]
ROWS = [
    ("c1", "Gold", "Tents", "Camping", "Low", "Premium", "Active", "Pacific", "Oregon", "Bend"),
    ("c2", "Platinum", "Tents", "Camping", "Low", "Premium", "Active", "Pacific", "Oregon", "Bend"),
    ("c3", "Silver", "Tents", "Camping", "High", "Value", "Lost", "Midwest", "Ohio", "Dayton"),
    ("c4", "Low", "Tents", "Camping", "High", "Value", "Lost", "Pacific", "Oregon", "Salem"),
    ("c5", "Medium", "Tents", "Camping", "Medium", "Value", "Active", "Midwest", "Ohio", "Dayton"),
    ("c6", "Low", "Road Bikes", "Bikes", "High", "Value", "Lost", "Pacific", "Oregon", "Bend"),
]
SPEC = SegmentationSpec(min_segment_size=2)
AT = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def customers(rows=ROWS) -> pl.LazyFrame:
    return pl.DataFrame([dict(zip(COLUMNS, r)) for r in rows], orient="row").lazy()


@pytest.fixture(scope="module")
def summaries() -> pl.DataFrame:
    return compute_segment_summaries(customers(), SPEC)


def assigned(summaries, rows=ROWS, spec=SPEC) -> pl.DataFrame:
    lf = assign_customer_segments(
        customers(rows),
        summaries,
        spec,
        assigned_at=AT,
        definitions=definitions_hash(summaries, spec),
    )
    return lf.collect().sort("customer_id")


PUBLISHED = pl.DataFrame(
    {
        "segment_id": ["tents--high-value", "tents--high-value", "tents--core", "e-bikes--core"],
        "product_id": ["TN-100", "TN-200", "TN-100", "EB-100"],
        "published_text": ["hv tent", "hv tent 2", "core tent", "nobody's e-bike"],
        "input_hash": ["h1", "h2", "h3", "h4"],
        "approval": ["approve", "auto", "sample", "edit"],
        "reviewer": ["ana", None, None, "bo"],
    }
)


# ----------------------------------------------------------------------------------- assignment


def test_one_row_per_customer_of_a_summarised_segment_in_the_table_schema(summaries):
    df = assigned(summaries)
    assert df.schema == CUSTOMER_SEGMENTS_SCHEMA
    # road-bikes--core (c6 alone) is below min_segment_size: left out, so c6 has no row
    assert dict(df.select("customer_id", "segment_id").iter_rows()) == {
        "c1": "tents--high-value",
        "c2": "tents--high-value",
        "c3": "tents--high-value",
        "c4": "tents--core",
        "c5": "tents--core",
    }
    hashes = dict(summaries.select("segment_id", "summary_hash").iter_rows())
    assert all(hashes[s] == h for s, h in df.select("segment_id", "summary_hash").iter_rows())
    assert df["definitions_hash"].unique().to_list() == [definitions_hash(summaries, SPEC)]
    assert df["assigned_at"].unique().to_list() == [AT]


def test_assignment_is_lazy_and_streams(summaries):
    lf = assign_customer_segments(customers(), summaries, SPEC, assigned_at=AT, definitions="d")
    assert isinstance(lf, pl.LazyFrame)
    streamed = pl.concat(lf.collect_batches(chunk_size=2, engine="streaming"))
    assert streamed.sort("customer_id").equals(
        assigned(summaries).with_columns(pl.lit("d").alias("definitions_hash"))
    )


def test_definitions_hash_is_the_segmentation_version(summaries):
    base = definitions_hash(summaries, SPEC)
    assert definitions_hash(summaries.reverse(), SPEC) == base  # row order does not matter
    assert definitions_hash(summaries, replace(SPEC, min_segment_size=3)) == base  # same segments
    moved = summaries.with_columns(
        pl.when(pl.col("segment_id") == "tents--core")
        .then(pl.lit("0" * 16))
        .otherwise(pl.col("summary_hash"))
        .alias("summary_hash")
    )
    assert definitions_hash(moved, SPEC) != base  # one segment's definition moved
    tiers = replace(SPEC, high_value_tiers=("Platinum", "Gold"))
    assert definitions_hash(summaries, tiers) != base  # customers would be grouped differently


def test_sizes_match_the_summaries_until_the_customers_change(summaries):
    lf = assign_customer_segments(customers(), summaries, SPEC, assigned_at=AT, definitions="d")
    sizes = segment_sizes(lf)
    assert dict(sizes.iter_rows()) == {"tents--core": 2, "tents--high-value": 3}
    assert size_mismatches(sizes, summaries).is_empty()
    # c3 moved to Road Bikes since the summaries were computed; c7 is new
    newer = [r for r in ROWS if r[0] != "c3"] + [
        ("c3", "Silver", "Road Bikes", "Bikes", "High", "Value", "Lost", "Midwest", "Ohio", "X"),
        ("c7", "Low", "Tents", "Camping", "High", "Value", "Lost", "Pacific", "Oregon", "Salem"),
    ]
    stale = assign_customer_segments(
        customers(newer), summaries, SPEC, assigned_at=AT, definitions="d"
    )
    mismatches = size_mismatches(segment_sizes(stale), summaries)
    assert mismatches.rows() == [("tents--core", 2, 3), ("tents--high-value", 3, 2)]


@pytest.mark.parametrize(
    "breaker, column, fragment",
    [
        (lambda s: s.drop("summary_hash"), "summary_hash", "required column missing"),
        (lambda s: s.head(0), None, "no segments"),
        (
            lambda s: s.with_columns(pl.lit(None, dtype=pl.String).alias("summary_hash")),
            "summary_hash",
            "null value",
        ),
        (lambda s: pl.concat([s, s.head(1)]), "segment_id", "two segments would claim"),
        (
            lambda s: (
                s.with_columns(pl.lit("Tents").alias("preferred_subcategory"))
                .with_columns(pl.lit("core").alias("value_group"))
                .with_columns(pl.format("s{}", pl.int_range(pl.len())).alias("segment_id"))
            ),
            "preferred_subcategory, value_group",
            "two segments would claim",
        ),
    ],
)
def test_bad_summaries_are_refused_naming_the_column(summaries, breaker, column, fragment):
    with pytest.raises(InputValidationError) as caught:
        check_summaries(breaker(summaries), SPEC, "segment_summaries")
    assert caught.value.table == "segment_summaries" and caught.value.column == column
    assert fragment in str(caught.value)


def test_good_summaries_pass(summaries):
    check_summaries(summaries, SPEC, "segment_summaries")


# ------------------------------------------------------------------------------------- the join


def test_customer_copy_is_the_inner_join_on_segment(summaries):
    table = assigned(summaries).lazy()
    copy = customer_copy(table, PUBLISHED.lazy()).collect().sort("customer_id", "product_id")
    assert copy.columns == [
        "customer_id",
        "segment_id",
        "product_id",
        "published_text",
        "input_hash",
        "approval",
    ]
    assert copy.select("customer_id", "product_id", "published_text").rows() == [
        ("c1", "TN-100", "hv tent"),
        ("c1", "TN-200", "hv tent 2"),
        ("c2", "TN-100", "hv tent"),
        ("c2", "TN-200", "hv tent 2"),
        ("c3", "TN-100", "hv tent"),
        ("c3", "TN-200", "hv tent 2"),
        ("c4", "TN-100", "core tent"),
        ("c5", "TN-100", "core tent"),
    ]  # e-bikes--core has copy but no customers; nobody has copy that was not published
    one = customer_copy(table, PUBLISHED.lazy()).filter(
        (pl.col("customer_id") == "c4") & (pl.col("product_id") == "TN-100")
    )
    assert one.select("published_text").collect().item() == "core tent"


def _select_of(sql_file) -> str:
    """The SELECT of a shipped SQL file, its Delta table functions swapped for table names."""
    text = sql_file.read_text()
    select = re.search(r"(SELECT\b.*?);", text, re.S | re.I).group(1)
    select = re.sub(r"delta\.`<warehouse>/(\w+)`", r"\1", select)
    return re.sub(r"delta_scan\('<warehouse>/(\w+)'\)", r"\1", select)


@pytest.mark.parametrize("dialect", ["databricks", "duckdb"])
def test_shipped_sql_gives_the_same_rows_as_the_polars_join(summaries, repo_root, dialect):
    sql_file = repo_root / "sql" / f"customer_copy.{dialect}.sql"
    assert "<warehouse>/customer_segments" in sql_file.read_text()
    table = assigned(summaries)
    ctx = pl.SQLContext(customer_segments=table, published_variants=PUBLISHED)
    from_sql = ctx.execute(_select_of(sql_file), eager=True)
    expected = customer_copy(table.lazy(), PUBLISHED.lazy()).collect()
    order = ["customer_id", "product_id"]
    assert from_sql.sort(order).equals(expected.sort(order))


# ---------------------------------------------------------------------------- streaming, flags


def test_lazy_stream_yields_every_row_in_batches():
    from segcopy_assets.storage.io_manager import lazy_stream

    lf = pl.LazyFrame({"n": range(10_000)}).with_columns((pl.col("n") * 2).alias("twice"))
    reader = lazy_stream(lf)
    table = reader.read_all()
    assert table.num_rows == 10_000 and table.column_names == ["n", "twice"]
    assert pl.from_arrow(table).sort("n").equals(lf.collect())


@pytest.mark.parametrize(
    "value, expected",
    [(None, False), ("", False), ("0", False), ("no", False), ("1", True), ("TRUE", True)],
)
def test_env_flag(monkeypatch, value, expected):
    from segcopy_assets.resources.env import env_flag

    if value is not None:
        monkeypatch.setenv("SEGCOPY_AUTO_APPROVE_PASSING_CHECKS", value)
    assert env_flag("SEGCOPY_AUTO_APPROVE_PASSING_CHECKS") is expected


def test_env_flag_refuses_anything_else(monkeypatch):
    from segcopy_assets.resources.env import env_flag

    monkeypatch.setenv("SEGCOPY_AUTO_APPROVE_PASSING_CHECKS", "always")
    with pytest.raises(SettingsError, match="SEGCOPY_AUTO_APPROVE_PASSING_CHECKS must be 1 or 0"):
        env_flag("SEGCOPY_AUTO_APPROVE_PASSING_CHECKS")


def test_run_takes_the_auto_approve_flag():
    from segcopy_assets import cli

    parser = cli.build_parser()
    assert parser.parse_args(["run", "--auto-approve-passing-checks"]).auto_approve_passing_checks
    assert not parser.parse_args(["run"]).auto_approve_passing_checks
