"""Segment-keyed Delta tables (``description_variants``, ``variant_checks``): read earlier
generations, replace whole segments.

A segment's rows are replaced in one Delta commit (a predicate overwrite on ``segment_id``), so
a reader sees either the old rows of a segment or the new ones, never a mix, whatever the run
shape (one partition per run, or one run over a range of segments).
"""

import polars as pl
from deltalake import DeltaTable, write_deltalake

from segcopy_assets.errors import SegcopyError
from segcopy_assets.storage.delta import sql_list, table_exists
from segcopy_assets.storage.tables import CHANNEL_VARIANT_SCHEMA, VARIANT_SCHEMA

#: How often ``replace_segments`` writes before giving up on a segment other writers keep replacing.
REPLACE_ATTEMPTS = 6


class ConcurrentWriteError(SegcopyError):
    """Concurrent runs kept replacing the same segments first; nothing of this run was written."""


def read_reusable(path: str, input_hashes: list[str]) -> pl.DataFrame:
    """Earlier ``ok`` rows for any of these input hashes (from any segment)."""
    if not table_exists(path) or not input_hashes:
        return VARIANT_SCHEMA.to_frame()
    lf = pl.scan_delta(path).filter(
        (pl.col("status") == "ok") & pl.col("input_hash").is_in(input_hashes)
    )
    return _select_schema(lf, VARIANT_SCHEMA).collect()


def select_columns(lf: pl.LazyFrame, schema: pl.Schema, columns: list[str]) -> pl.LazyFrame:
    """``columns`` of ``schema`` from a scan (one the table predates reads as null)."""
    return _select_schema(lf, pl.Schema({c: schema[c] for c in columns}))


def _select_schema(lf: pl.LazyFrame, schema: pl.Schema) -> pl.LazyFrame:
    """``schema``'s columns; one the table predates reads as null (the next write merges it in)."""
    present = set(lf.collect_schema().names())
    return lf.select(
        pl.col(name) if name in present else pl.lit(None, dtype).alias(name)
        for name, dtype in schema.items()
    )


def read_segments(
    path: str, segment_ids: list[str] | None = None, schema: pl.Schema = VARIANT_SCHEMA
) -> pl.DataFrame:
    if not table_exists(path):
        return schema.to_frame()
    lf = pl.scan_delta(path)
    if segment_ids is not None:
        lf = lf.filter(pl.col("segment_id").is_in(segment_ids))
    return _select_schema(lf, schema).collect()


def read_channel_rows(path: str, segment_ids: list[str] | None) -> pl.DataFrame:
    """A channel table's rows of ``segment_ids`` (``CHANNEL_VARIANT_SCHEMA``); rows written
    before arms existed are the one arm (``variant_index`` 0)."""
    rows = read_segments(path, segment_ids, schema=CHANNEL_VARIANT_SCHEMA)
    return rows.with_columns(pl.col("variant_index").fill_null(0))


def read_pairs(path: str, segment_ids: list[str], pairs: pl.DataFrame) -> pl.DataFrame:
    """Whole rows (``VARIANT_SCHEMA``) of the ``pairs`` (``segment_id, product_id``) among the
    segments (an empty frame when there are none)."""
    if pairs.is_empty() or not table_exists(path):
        return VARIANT_SCHEMA.to_frame()
    lf = pl.scan_delta(path).filter(pl.col("segment_id").is_in(segment_ids))
    keys = pairs.select("segment_id", "product_id").unique().lazy()
    return (
        _select_schema(lf, VARIANT_SCHEMA)
        .join(keys, on=["segment_id", "product_id"], how="semi")
        .collect()
    )


def unchanged(
    path: str, rows: pl.DataFrame, segment_ids: list[str], key: list[str] | None = None
) -> bool:
    """True when the table already holds exactly these rows for the segments (compared on
    ``key``; default: segment, product, input_hash, status and the failure recorded beside it)."""
    key = key or ["segment_id", "product_id", "input_hash", "status", "attempts", "attempted_hash"]
    schema = pl.Schema({k: rows.schema[k] for k in key})
    current = read_segments(path, segment_ids, schema)
    return current.height == rows.height and current.sort(key, nulls_last=True).equals(
        rows.select(key).sort(key, nulls_last=True)
    )


def replace_segments(
    path: str, rows: pl.DataFrame, segment_ids: list[str], schema: pl.Schema = VARIANT_SCHEMA
) -> int:
    """Replace every row of ``segment_ids`` with ``rows`` in one commit; returns the new version.

    Safe with concurrent writers (checked against deltalake 1.6.6). Two runs of different
    segments both land: delta-rs merges commits to disjoint partitions itself. Two runs of the
    SAME segment conflict: the later commit raises ``CommitFailedError`` ("a concurrent
    transaction added new data") and is rerun here against the new table state, so the
    segment ends with exactly one run's rows; after ``REPLACE_ATTEMPTS`` lost races it fails
    with ``ConcurrentWriteError``. The table is created with delta-rs's own commit retries off:
    with them, a second creator's commit is silently retried as an append and a segment written
    twice at once ends up duplicated (and a plain overwrite would drop another segment).
    """
    from deltalake import CommitProperties
    from deltalake.exceptions import CommitFailedError, DeltaError, TableNotFoundError
    from tenacity import (
        Retrying,
        retry_if_exception_type,
        stop_after_attempt,
        wait_random_exponential,
    )

    if not segment_ids:
        raise ValueError("replace_segments needs at least one segment id")
    stray = set(rows["segment_id"].unique().to_list()) - set(segment_ids)
    if stray:
        raise ValueError(f"rows for segments outside the replaced set: {sorted(stray)}")
    data = rows.select(list(schema)).to_arrow()

    def write_once() -> None:
        if not table_exists(path):
            try:
                write_deltalake(
                    path,
                    data,
                    mode="error",
                    partition_by=["segment_id"],
                    commit_properties=CommitProperties(max_commit_retries=0),
                )
                return
            except DeltaError:
                if not table_exists(path):
                    raise
                # another writer created the table first: replace our segments in it
        write_deltalake(
            path,
            data,
            mode="overwrite",
            predicate=f"segment_id IN ({sql_list(segment_ids)})",
            partition_by=["segment_id"],
            schema_mode="merge",  # columns added since the table was created
        )

    retrying = Retrying(
        retry=retry_if_exception_type((CommitFailedError, TableNotFoundError)),
        stop=stop_after_attempt(REPLACE_ATTEMPTS),
        wait=wait_random_exponential(multiplier=0.05, max=2.0),
        reraise=True,
    )
    try:
        retrying(write_once)
    except (CommitFailedError, TableNotFoundError) as exc:
        shown = ", ".join(segment_ids[:5]) + (
            f" and {len(segment_ids) - 5} more" if len(segment_ids) > 5 else ""
        )
        raise ConcurrentWriteError(
            f"could not replace segment(s) {shown} in {path}: concurrent writers committed first "
            f"{REPLACE_ATTEMPTS} times in a row ({type(exc).__name__}: {str(exc).splitlines()[0][:200]}); "
            "nothing of this run was written, run it again"
        ) from exc
    return DeltaTable(path).version()
