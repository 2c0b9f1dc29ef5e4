"""The activation table: one row per customer → segment, and the copy looked up per customer.

``customer_segments`` is the only per-customer table segcopy writes: ``customer_id``,
``segment_id`` and the version of the segment definitions the customer was assigned under. It
changes when the CDP or the segmentation changes, never when a review decision publishes copy,
and it grows with customers only (not customers × products × text). A reader gets each
customer's copy by joining it to ``published_variants`` on ``segment_id``: ``customer_copy``
below is that join in polars; ``sql/`` holds the same join for Databricks and DuckDB
(docs/activation.md).

Everything here is lazy: the assignment is one streaming pass over the customer table joined to
the small summaries frame, so it can be sunk into Delta in bounded memory.
"""

from datetime import datetime

import polars as pl

from segcopy_assets.core.hashing import digest
from segcopy_assets.core.segments import SegmentationSpec, assign_segments
from segcopy_assets.errors import InputValidationError
from segcopy_assets.storage.tables import CUSTOMER_SEGMENTS_SCHEMA

#: Columns of published_variants a reader usually wants with each customer's copy.
COPY_COLUMNS = ("product_id", "published_text", "input_hash", "approval")


def definitions_hash(summaries: pl.DataFrame, spec: SegmentationSpec) -> str:
    """The version of the whole segmentation: how segments are cut, and every segment's
    ``summary_hash``. Equal hashes mean every customer would be assigned the same way to
    segments described the same way."""
    return digest(
        {
            "keys": list(spec.keys),
            "high_value_tiers": sorted(spec.high_value_tiers),
            "segments": sorted(summaries.select("segment_id", "summary_hash").iter_rows()),
        }
    )


def check_summaries(summaries: pl.DataFrame, spec: SegmentationSpec, table: str) -> None:
    """The summaries can define an assignment: segments present, ids unique, keys and hashes set."""
    needed = ["segment_id", "summary_hash", "customer_count", *spec.keys]
    missing = [c for c in needed if c not in summaries.columns]
    if missing:
        raise InputValidationError(
            table, missing[0], f"required column missing (missing: {', '.join(missing)})"
        )
    if summaries.is_empty():
        raise InputValidationError(table, None, "no segments: no customer can be assigned")
    for column in ("segment_id", "summary_hash", *spec.keys):
        nulls = summaries.filter(pl.col(column).is_null())
        if nulls.height:
            raise InputValidationError(
                table, column, f"{nulls.height} null value(s)", nulls.row(0, named=True)
            )
    for columns in (["segment_id"], list(spec.keys)):
        dupes = summaries.filter(pl.struct(columns).is_duplicated())
        if dupes.height:
            raise InputValidationError(
                table,
                ", ".join(columns),
                f"{dupes.height} rows share a value: two segments would claim the same customers",
                dupes.select("segment_id", *spec.keys).row(0, named=True),
            )


def assign_customer_segments(
    customers: pl.LazyFrame,
    summaries: pl.DataFrame,
    spec: SegmentationSpec,
    *,
    assigned_at: datetime,
    definitions: str,
) -> pl.LazyFrame:
    """One row per customer of a summarised segment, in ``CUSTOMER_SEGMENTS_SCHEMA``:
    ``customer_id, segment_id, summary_hash, definitions_hash, assigned_at``. Customers of a
    segment left out (below the minimum size) have no row. Lazy: nothing is read until the
    frame is collected or sunk."""
    hashes = summaries.lazy().select("segment_id", "summary_hash")
    return (
        assign_segments(customers, summaries, spec)
        .join(hashes, on="segment_id", how="inner")
        .with_columns(
            pl.lit(definitions, dtype=pl.String).alias("definitions_hash"),
            pl.lit(assigned_at).cast(CUSTOMER_SEGMENTS_SCHEMA["assigned_at"]).alias("assigned_at"),
        )
        .select(pl.col(name).cast(dtype) for name, dtype in CUSTOMER_SEGMENTS_SCHEMA.items())
    )


def segment_sizes(assigned: pl.LazyFrame) -> pl.DataFrame:
    """``segment_id, customers``: a streaming count per segment of an assignment."""
    return (
        assigned.group_by("segment_id")
        .agg(pl.len().cast(pl.Int64).alias("customers"))
        .collect(engine="streaming")
        .sort("segment_id")
    )


def size_mismatches(sizes: pl.DataFrame, summaries: pl.DataFrame) -> pl.DataFrame:
    """Segments whose assigned customers differ from the summary's ``customer_count``: the
    summaries were computed from another version of the customer table (or cut differently)."""
    return (
        summaries.select("segment_id", pl.col("customer_count").cast(pl.Int64))
        .join(sizes, on="segment_id", how="full", coalesce=True)
        .with_columns(pl.col("customer_count", "customers").fill_null(0))
        .filter(pl.col("customer_count") != pl.col("customers"))
        .sort("segment_id")
    )


def assignment_changes(
    upserts: pl.DataFrame,
    deleted: pl.Series,
    summaries: pl.DataFrame,
    spec: SegmentationSpec,
    *,
    assigned_at: datetime,
    definitions: str,
) -> tuple[pl.DataFrame, pl.Series]:
    """What a change set of customers does to the activation table when the segmentation did not
    change (same ``definitions``): the rows of the changed customers that are in a summarised
    segment (to upsert), and the ids whose row goes (deleted customers, and changed ones now in
    a left-out segment)."""
    rows = assign_customer_segments(
        upserts.lazy(), summaries, spec, assigned_at=assigned_at, definitions=definitions
    ).collect()
    unassigned = upserts.get_column("customer_id").filter(
        ~upserts.get_column("customer_id").is_in(rows.get_column("customer_id").implode())
    )
    gone = pl.concat([deleted.cast(pl.String), unassigned.cast(pl.String)]).unique().sort()
    return rows.sort("customer_id"), gone.alias("customer_id")


def adjusted_sizes(
    before: pl.DataFrame, replaced_segments: pl.Series, new_rows: pl.DataFrame
) -> pl.DataFrame:
    """``segment_sizes`` after replacing some rows: ``before`` (``segment_id, customers``) less
    one per entry of ``replaced_segments`` (the segment of each row removed or rewritten) plus
    the ``new_rows``'."""
    minus = replaced_segments.alias("segment_id").to_frame().group_by("segment_id").len("minus")
    plus = new_rows.group_by("segment_id").len("plus")
    return (
        before.join(minus, on="segment_id", how="full", coalesce=True)
        .join(plus, on="segment_id", how="full", coalesce=True)
        .select(
            "segment_id",
            (
                pl.col("customers").fill_null(0)
                - pl.col("minus").fill_null(0)
                + pl.col("plus").fill_null(0)
            )
            .cast(pl.Int64)
            .alias("customers"),
        )
        .filter(pl.col("customers") != 0)
        .sort("segment_id")
    )


def customer_copy(
    customer_segments: pl.LazyFrame,
    published_variants: pl.LazyFrame,
    columns: tuple[str, ...] = COPY_COLUMNS,
) -> pl.LazyFrame:
    """Each customer's published copy: ``customer_id, segment_id`` and ``columns`` of
    ``published_variants``, one row per customer × published product of their segment (an
    inner join: a customer whose segment has no published copy has no row). The same join as
    ``sql/customer_copy.*.sql``; lazy, so a filter on a customer or a product is pushed down::

        customer_copy(pl.scan_delta(segments_path), pl.scan_delta(published_path))
            .filter(pl.col("customer_id") == "AMP-0000000042").collect()
    """
    copy = published_variants.select("segment_id", *columns)
    return customer_segments.select("customer_id", "segment_id").join(
        copy, on="segment_id", how="inner"
    )
