"""Ingesting the CDP customers into ``cdp_customers``: incrementally over the source's change
data feed when it can, in full when it must (and it says why).

Incremental: the changes since the source version the table last ingested (recorded in the
table's commit info), replayed into one net change set (``core.cdp_changes``), validated, and
applied with ONE Delta MERGE. Full: the whole source version validated and streamed into one
commit. Both record the source, its version and its schema for the next refresh.

Full whenever incremental cannot be proven equal: no table yet, no record, another source,
another schema, a version that went back, no change data feed (or history not shared), a gap
(versions no longer kept), a source commit that is not a change of rows (an overwrite, a
property change), or a changes read that fails.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

import polars as pl

from segcopy_assets.core.cdp_changes import ChangeSet, data_columns, net_changes
from segcopy_assets.core.segments import SegmentationSpec
from segcopy_assets.core.validation import check_allowed_values, check_no_nulls, validate_customers
from segcopy_assets.core.vocabulary import CLV_TIERS
from segcopy_assets.defs.cdp import own_tables
from segcopy_assets.errors import InputValidationError, SourceUnavailableError
from segcopy_assets.resources import CdpSource
from segcopy_assets.storage import delta

SOURCE = "segcopy.source"
SOURCE_VERSION = "segcopy.source_version"
SOURCE_SCHEMA = "segcopy.source_schema"
RECORD = (SOURCE, SOURCE_VERSION, SOURCE_SCHEMA)
KEY = "customer_id"
INCREMENTAL = "incremental"


@dataclass
class Ingested:
    """What a refresh of ``cdp_customers`` did."""

    refresh: str  # "incremental" or "full: <reason>"
    source: str
    source_version: int
    table_version: int  # of cdp_customers after the refresh
    rows: int  # in cdp_customers after the refresh
    rows_written: int  # physical rows written (a MERGE also copies the unchanged rows of the files it rewrites)
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    from_version: int | None = None  # first source version replayed (incremental)
    merge_metrics: dict = field(default_factory=dict)

    @property
    def incremental(self) -> bool:
        return self.refresh == INCREMENTAL


def ingest(
    cdp: CdpSource,
    path: str,
    spec: SegmentationSpec,
    *,
    full_refresh: bool = False,
    log: Callable[[str], None] = print,
) -> Ingested:
    """Bring the table at ``path`` to the source's current version (see the module docstring)."""
    source, version = cdp.describe(), cdp.current_version()
    fingerprint = cdp.schema_fingerprint()
    record = {SOURCE: source, SOURCE_VERSION: str(version), SOURCE_SCHEMA: fingerprint}
    reason, last = _full_reason(cdp, path, source, version, fingerprint, full_refresh)
    feed = None
    if reason is None and last is not None and version > last:
        try:
            feed = cdp.changes(last + 1, version)
        except SourceUnavailableError as exc:
            reason = f"change data feed unavailable from version {last + 1}: {exc}"
        else:
            reason = _schema_difference(feed, path)
    if reason is not None:
        log(f"full refresh of {cdp.table_name} version {version}: {reason}")
        return _full(cdp, path, spec, record, version, source, f"full: {reason}")
    log(f"incremental refresh of {cdp.table_name}: versions {last} → {version}")
    return _incremental(cdp, path, spec, record, feed, version, source, last)


def _full_reason(
    cdp: CdpSource, path: str, source: str, version: int, fingerprint: str, full_refresh: bool
) -> tuple[str | None, int | None]:
    """Why this refresh must be a full one (None: it may be incremental), and the source version
    the table holds."""
    if full_refresh:
        return "requested", None
    if not delta.table_exists(path):
        return "first ingestion", None
    record = own_tables.last_record(path, RECORD)
    if record is None:
        return "cdp_customers records no ingested source version", None
    if record[SOURCE] != source:
        return f"the source changed (was {record[SOURCE]})", None
    if record[SOURCE_SCHEMA] != fingerprint:
        return "the source's schema changed", None
    last = int(record[SOURCE_VERSION])
    if version < last:
        return f"the source's version went back ({version} < {last})", None
    if version == last:
        return None, last
    problem = cdp.change_feed_problem(last + 1, version)
    return (problem, None) if problem else (None, last)


def _schema_difference(feed: pl.DataFrame, path: str) -> str | None:
    """Why the changes cannot be merged into the table as they are (None: they can)."""
    schema = pl.scan_delta(path).collect_schema()
    columns = data_columns(feed.columns)
    if columns != schema.names():
        return f"schema change (changes have columns {columns}, the table {schema.names()})"
    try:
        feed.select(pl.col(c).cast(schema[c], strict=True) for c in columns)
    except pl.exceptions.PolarsError as exc:
        return f"schema change (the changes do not cast to the table's types: {exc})"
    return None


def _full(
    cdp: CdpSource,
    path: str,
    spec: SegmentationSpec,
    record: dict[str, str],
    version: int,
    source: str,
    refresh: str,
) -> Ingested:
    lf = cdp.read(version)
    validate_customers(
        lf, table=cdp.table_name, segment_key_columns=spec.source_key_columns(), tiers=CLV_TIERS
    )
    table_version = own_tables.write_table(path, lf, record, change_feed=True)
    rows = own_tables.row_count(path)
    return Ingested(refresh, source, version, table_version, rows, rows_written=rows)


def _incremental(
    cdp: CdpSource,
    path: str,
    spec: SegmentationSpec,
    record: dict[str, str],
    feed: pl.DataFrame | None,
    version: int,
    source: str,
    last: int | None,
) -> Ingested:
    before = own_tables.row_count(path)
    # the first source version replayed (None: the table already holds the current version)
    first = last + 1 if last is not None and version > last else None
    if feed is None or feed.is_empty():
        return Ingested(
            INCREMENTAL, source, version, own_tables.version(path), before, 0, from_version=first
        )
    schema = pl.scan_delta(path).collect_schema()
    feed = feed.with_columns(pl.col(c).cast(schema[c]) for c in schema.names())
    keys = feed.get_column(KEY).unique()
    existing = own_tables.rows_with_keys(path, keys, [KEY], key=KEY)[KEY]
    changes = net_changes(feed, key=KEY, existing=existing, table=cdp.table_name)
    _validate(changes, existing, before, cdp.table_name, spec)
    if changes.deleted.is_empty() and existing.is_empty():  # new customers only: an append
        metrics = own_tables.append_rows(path, changes.upserts, record)
    else:
        metrics = own_tables.merge_rows(path, changes.upserts, changes.deleted, record, key=KEY)
    return Ingested(
        INCREMENTAL,
        source,
        version,
        own_tables.version(path),
        own_tables.row_count(path),
        rows_written=int(metrics.get("num_output_rows", 0)),
        inserted=int(metrics.get("num_target_rows_inserted", 0)),
        updated=int(metrics.get("num_target_rows_updated", 0)),
        deleted=int(metrics.get("num_target_rows_deleted", 0)),
        from_version=first,
        merge_metrics=metrics,
    )


def _validate(
    changes: ChangeSet, existing: pl.Series, rows_before: int, table: str, spec: SegmentationSpec
) -> None:
    """The changed rows pass the checks the full path runs on the whole table (ids unique are
    checked by ``net_changes``), and the table keeps at least one customer."""
    upserts = changes.upserts.lazy()
    keys = [KEY, *[c for c in spec.source_key_columns() if c != KEY]]
    check_no_nulls(upserts, keys, table, KEY)
    check_allowed_values(upserts, "predicted_clv_tier", CLV_TIERS, table, KEY)
    known = existing.implode()
    added = int((~changes.upserts.get_column(KEY).is_in(known)).sum())
    removed = int(changes.deleted.is_in(known).sum())
    if rows_before + added - removed <= 0:
        raise InputValidationError(table, None, "the table has no rows: no customers to segment")
