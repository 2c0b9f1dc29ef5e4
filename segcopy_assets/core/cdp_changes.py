"""Change sets of the CDP customer table, read from a Delta change data feed: what changed, the
state it leaves, and which segments and activation rows it touches. Plain polars, no I/O.

A change data feed (Delta's ``load_cdf``, Delta Sharing's ``/changes``) lists every row a commit
touched, with ``_change_type`` (``insert``, ``update_preimage``, ``update_postimage``,
``delete``) and ``_commit_version``. Replayed in commit order, the last event of each customer
says where it ended: a row (``insert`` / ``update_postimage``: an upsert) or gone (``delete``).
That net change set applied to the table of the first version gives the table of the last one;
``apply_changes`` is that rule, the reference the Delta MERGE of ``cdp_customers`` must match
(the reconciliation tests compare both with a full recompute).

The segment summaries are sums over the cube (``segments.customer_cube``: customers per
combination of the columns a summary reads). A feed's rows, pre-images -1 and post-images +1,
change the cube exactly (``cube_changes``, ``apply_to_cube``): the summaries of a changed table
then come from the cube without reading its customers again, and equal a full recompute.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

import polars as pl

from segcopy_assets.core.segments import (
    CORE,
    CUBE_COUNT,
    HIGH_VALUE,
    VALUE_GROUP,
    SegmentationSpec,
    cube_columns,
)
from segcopy_assets.errors import InputValidationError

CHANGE_TYPE = "_change_type"
COMMIT_VERSION = "_commit_version"
COMMIT_TIMESTAMP = "_commit_timestamp"
#: The columns a change data feed adds to the table's own.
FEED_COLUMNS = (CHANGE_TYPE, COMMIT_VERSION, COMMIT_TIMESTAMP)

# Order of the events of one key inside one commit: a delete before an insert (a commit that
# rewrote a file removes and adds the same row); pre-images say nothing about the end state.
_RANK = {"delete": 0, "insert": 1, "update_postimage": 1}
_PREIMAGE = "update_preimage"

Frame = TypeVar("Frame", pl.DataFrame, pl.LazyFrame)


@dataclass(frozen=True)
class ChangeSet:
    """The net effect of some versions of a keyed table: rows to upsert, keys to delete."""

    upserts: pl.DataFrame  # the table's columns, one row per key that ends present
    deleted: pl.Series  # keys that end absent
    key: str = "customer_id"

    @property
    def changed_keys(self) -> pl.Series:
        return pl.concat([self.upserts[self.key], self.deleted]).alias(self.key)

    @property
    def size(self) -> int:
        return self.upserts.height + self.deleted.len()

    def is_empty(self) -> bool:
        return self.size == 0


def data_columns(feed_schema: Iterable[str]) -> list[str]:
    """The table's own columns of a change feed (without ``_change_type`` and the like)."""
    return [c for c in feed_schema if c not in FEED_COLUMNS]


def net_changes(
    feed: pl.DataFrame,
    *,
    key: str = "customer_id",
    existing: pl.Series | None = None,
    table: str = "cdp_customers",
) -> ChangeSet:
    """The net change set of a change data feed (any number of versions).

    ``existing``: the keys among the feed's that the table held before the first version. With
    it, an ``insert`` of a key that is already there (a second row for one customer: the full
    path's uniqueness check would refuse the table) raises ``InputValidationError``, as does
    a commit that inserts one key twice."""
    unknown = set(feed[CHANGE_TYPE].unique().to_list()) - set(_RANK) - {_PREIMAGE}
    if unknown:
        raise InputValidationError(table, CHANGE_TYPE, f"unknown change type(s) {sorted(unknown)}")
    columns = data_columns(feed.columns)
    events = (
        feed.filter(pl.col(CHANGE_TYPE) != _PREIMAGE)
        .with_columns(
            pl.col(CHANGE_TYPE).replace_strict(_RANK, return_dtype=pl.Int8).alias("_rank")
        )
        .with_row_index("_order")
        .sort(key, COMMIT_VERSION, "_rank", "_order")
    )
    _refuse_duplicates(events, key, existing, table)
    last = events.group_by(key, maintain_order=True).last()
    upserts = last.filter(pl.col("_rank") == 1).select(columns).sort(key)
    deleted = last.filter(pl.col("_rank") == 0).get_column(key).sort()
    return ChangeSet(upserts=upserts, deleted=deleted, key=key)


def _refuse_duplicates(
    events: pl.DataFrame, key: str, existing: pl.Series | None, table: str
) -> None:
    """An insert must follow a delete of its key, or find the key absent: else the source holds
    the key twice (``events`` sorted by key, version, rank)."""
    previous = pl.col("_rank").shift(1).over(key)
    present_before = (
        pl.col(key).is_in(existing.implode()) if existing is not None else pl.lit(False)
    )
    bad = events.filter(
        (pl.col(CHANGE_TYPE) == "insert")
        & ((previous == 1) | (previous.is_null() & present_before))
    )
    if bad.height:
        row = bad.row(0, named=True)
        raise InputValidationError(
            table,
            key,
            f"{bad.height} inserted row(s) for a {key} the table already holds; "
            f"{row[key]!r} appears twice from version {row[COMMIT_VERSION]}",
            {key: row[key]},
        )


def apply_changes(table: pl.LazyFrame, changes: ChangeSet) -> pl.LazyFrame:
    """The table after the change set: rows of changed keys replaced or removed (what the MERGE
    of ``cdp_customers`` does; the reference for its tests)."""
    schema = table.collect_schema()
    keys = changes.changed_keys.to_frame().lazy()
    upserts = changes.upserts.lazy().select(pl.col(c).cast(schema[c]) for c in schema.names())
    return pl.concat([table.join(keys, on=changes.key, how="anti"), upserts], how="vertical")


def segment_keys(frame: Frame, spec: SegmentationSpec) -> Frame:
    """The segment key values of each row of customers (``value_group`` from the tier), as text."""
    keys = list(spec.keys)
    out = frame.select(list(dict.fromkeys(spec.source_key_columns())))
    if VALUE_GROUP in keys:
        high = pl.col("predicted_clv_tier").is_in(list(spec.high_value_tiers))
        out = out.with_columns(
            pl.when(high).then(pl.lit(HIGH_VALUE)).otherwise(pl.lit(CORE)).alias(VALUE_GROUP)
        )
    return out.select(pl.col(k).cast(pl.String) for k in keys)


def touched_segments(frames: Iterable[pl.DataFrame], spec: SegmentationSpec) -> pl.DataFrame:
    """Distinct segment keys of the rows before and after a change (pre-images, deletions and
    upserts alike): the segments whose make-up may have moved."""
    parts = [segment_keys(f, spec) for f in frames if f.height]
    if not parts:
        return pl.DataFrame(schema=dict.fromkeys(spec.keys, pl.String))
    return pl.concat(parts).unique().sort(list(spec.keys))


_SIGN = {"insert": 1, "update_postimage": 1, "delete": -1, _PREIMAGE: -1}


def cube_changes(feed: pl.DataFrame, spec: SegmentationSpec) -> pl.DataFrame:
    """What a change feed does to the cube (``segments.customer_cube``): per combination of
    ``cube_columns``, customers added (inserts, post-images) less customers removed (deletes,
    pre-images). Only its rows matter: a customer whose summarised columns did not change
    counts -1 and +1 and leaves nothing."""
    needed = cube_columns(spec)
    return (
        feed.select(
            *needed,
            pl.col(CHANGE_TYPE).replace_strict(_SIGN, return_dtype=pl.Int64).alias(CUBE_COUNT),
        )
        .group_by(needed)
        .agg(pl.col(CUBE_COUNT).sum())
        .filter(pl.col(CUBE_COUNT) != 0)
    )


def apply_to_cube(cube: pl.DataFrame, changes: pl.DataFrame) -> pl.DataFrame:
    """The cube after ``cube_changes`` (combinations left with no customer dropped). A count
    below zero means the cube was not the one of the table the changes apply to:
    ``ValueError`` (the caller rebuilds the cube from the table)."""
    needed = [c for c in cube.columns if c != CUBE_COUNT]
    merged = (
        pl.concat([cube, changes.select(cube.columns).cast(cube.schema)], how="vertical")
        .group_by(needed)
        .agg(pl.col(CUBE_COUNT).sum())
    )
    negative = merged.filter(pl.col(CUBE_COUNT) < 0)
    if negative.height:
        raise ValueError(
            f"{negative.height} cube cell(s) would count fewer than 0 customers, e.g. "
            f"{negative.row(0, named=True)}: the cube is not the one of this table"
        )
    return merged.filter(pl.col(CUBE_COUNT) > 0)
