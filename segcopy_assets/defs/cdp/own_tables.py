"""The tables the CDP refresh writes itself (``cdp_customers``, ``customer_segments``): a full
rewrite streamed into one commit, or a MERGE of a change set; each commit records what it was
computed from in its commit info (``segcopy.*`` keys), where the next refresh reads it back.

Why the tables carry the record rather than (only) the Dagster instance: the next refresh must
know what the TABLE holds. A run that wrote and then died before its event was stored, a new
Dagster home over an existing warehouse, table maintenance (compaction commits) in between: the
table's own log says it; an event log may not.
"""

import polars as pl
from deltalake import CommitProperties, DeltaTable, WriterProperties, write_deltalake

from segcopy_assets.core import cdp_source
from segcopy_assets.storage import delta
from segcopy_assets.storage.io_manager import STREAM_ROW_GROUP_ROWS, lazy_stream

CHANGE_FEED = "delta.enableChangeDataFeed"
_OP = "_segcopy_op"
#: How far back ``last_record`` looks past maintenance commits for the last write of segcopy.
_HISTORY_FIRST, _HISTORY_LOOKBACK = 5, 100


def _writer_properties() -> WriterProperties:
    # as the IO manager's streamed writes: row groups a reader decodes in bounded memory
    return WriterProperties(max_row_group_size=STREAM_ROW_GROUP_ROWS, compression="SNAPPY")


def write_table(
    path: str,
    data: pl.LazyFrame | pl.DataFrame,
    record: dict[str, str],
    *,
    change_feed: bool = False,
) -> int:
    """Replace the table at ``path`` with ``data`` in ONE commit (streamed: bounded memory), its
    commit info carrying ``record``; with ``change_feed`` the table keeps a change data feed
    (``delta.enableChangeDataFeed``). Returns the table's new version."""
    lf = data.lazy() if isinstance(data, pl.DataFrame) else data
    commit = CommitProperties(custom_metadata=record)
    write_deltalake(
        path,
        lazy_stream(lf),
        mode="overwrite",
        schema_mode="overwrite",
        writer_properties=_writer_properties(),
        configuration={CHANGE_FEED: "true"} if change_feed else None,
        commit_properties=commit,
    )
    table = DeltaTable(path)
    if change_feed and table.metadata().configuration.get(CHANGE_FEED) != "true":
        # a table created before it had a change feed: the property is a commit of its own
        table.alter.set_table_properties({CHANGE_FEED: "true"}, commit_properties=commit)
        table = DeltaTable(path)
    return table.version()


def merge_rows(
    path: str,
    upserts: pl.DataFrame,
    deleted: pl.Series,
    record: dict[str, str],
    *,
    key: str = "customer_id",
) -> dict:
    """Apply a change set to the table at ``path`` in ONE commit (a Delta MERGE on ``key``):
    rows of ``upserts`` replace or join the table's, keys in ``deleted`` leave it. Returns the
    MERGE's metrics (``num_target_rows_inserted``/``updated``/``deleted``/``copied``,
    ``num_output_rows``); nothing is committed for an empty change set."""
    if upserts.is_empty() and deleted.is_empty():
        return {"num_source_rows": 0, "num_output_rows": 0, "num_target_rows_copied": 0}
    schema = pl.scan_delta(path).collect_schema()
    rows = upserts.select(pl.col(c).cast(schema[c]) for c in schema.names())
    gone = pl.DataFrame({key: deleted.cast(schema[key])}).select(
        pl.col(key) if c == key else pl.lit(None, schema[c]).alias(c) for c in schema.names()
    )
    source = pl.concat(
        [
            rows.with_columns(pl.lit("upsert").alias(_OP)),
            gone.with_columns(pl.lit("delete").alias(_OP)),
        ]
    )
    merger = DeltaTable(path).merge(
        source.to_arrow(),
        predicate=f"t.{key} = s.{key}",
        source_alias="s",
        target_alias="t",
        writer_properties=_writer_properties(),
        commit_properties=CommitProperties(custom_metadata=record),
    )
    return (
        merger.when_matched_delete(predicate=f"s.{_OP} = 'delete'")
        .when_matched_update_all(predicate=f"s.{_OP} = 'upsert'", except_cols=[_OP])
        .when_not_matched_insert_all(predicate=f"s.{_OP} = 'upsert'", except_cols=[_OP])
        .execute()
    )


def append_rows(path: str, rows: pl.DataFrame, record: dict[str, str]) -> dict:
    """Add ``rows`` (keys the table does not hold: the caller checked) in ONE commit: what a MERGE
    of only new keys would do, without reading the table. Returns MERGE-like metrics."""
    schema = pl.scan_delta(path).collect_schema()
    write_deltalake(
        path,
        rows.select(pl.col(c).cast(schema[c]) for c in schema.names()).to_arrow(),
        mode="append",
        writer_properties=_writer_properties(),
        commit_properties=CommitProperties(custom_metadata=record),
    )
    return {
        "num_source_rows": rows.height,
        "num_target_rows_inserted": rows.height,
        "num_output_rows": rows.height,
        "num_target_rows_copied": 0,
    }


def last_record(path: str, keys: tuple[str, ...]) -> dict[str, str] | None:
    """``keys`` of the commit info of the last commit that changed the table's rows (compaction
    and vacuum commits skipped); None if there is no table, or that commit is not segcopy's (or
    predates these records)."""
    if not delta.table_exists(path):
        return None
    table = DeltaTable(path)
    # a few commits first (one read each: requests on an object store), more only when the
    # newest are all maintenance commits
    for limit in (_HISTORY_FIRST, _HISTORY_LOOKBACK):
        commits = table.history(limit=limit)
        for commit in commits:
            if str(commit.get("operation")) in cdp_source.NO_DATA_OPERATIONS:
                continue
            if all(k in commit for k in keys):
                return {k: str(commit[k]) for k in keys}
            return None
        if len(commits) < limit:
            return None  # the whole history is maintenance
    return None


def rows_with_keys(
    path: str, keys: pl.Series, columns: list[str], *, key: str = "customer_id"
) -> pl.DataFrame:
    """``columns`` of the table's rows whose ``key`` is in ``keys``. The key range is part of
    the filter so that files and row groups outside it are skipped from their statistics (new
    customers' ids lie past every file: nothing is read for them)."""
    if keys.is_empty():
        return pl.scan_delta(path).select(columns).head(0).collect()
    low, high = keys.min(), keys.max()
    return (
        pl.scan_delta(path)
        .select(columns)
        .filter(pl.col(key).is_between(pl.lit(low), pl.lit(high)))
        .filter(pl.col(key).is_in(keys.implode()))
        .collect()
    )


def version(path: str) -> int:
    return DeltaTable(path).version()


def row_count(path: str, at: int | None = None) -> int:
    """Rows of the table (from the log's file statistics: no data read)."""
    table = DeltaTable(path, version=at) if at is not None else DeltaTable(path)
    return int(table.count())


def change_feed(
    path: str, start: int, end: int, columns: list[str] | None = None
) -> tuple[pl.DataFrame | None, str | None]:
    """The change data feed of the table's versions ``start..end`` (only ``columns`` of it), or
    ``(None, why not)`` (no feed, an overwrite or a schema change in between, vacuumed files)."""
    problem = cdp_source.delta_change_feed_problem(path, start, end)
    if problem:
        return None, problem
    try:
        return cdp_source.read_delta_changes(path, start, end, columns=columns), None
    except Exception as exc:  # SourceUnavailableError: the files are gone (vacuum)
        return None, str(exc)[:300]
