"""Refreshing the activation table ``customer_segments``: a MERGE of the changed customers only,
when the segmentation did not move; a full rewrite otherwise.

Every row carries its segment's ``summary_hash`` and the segmentation's ``definitions_hash``:
when any segment's definition moved, every row changes and the table is rewritten in full (one
streamed commit). When none moved, only the customers that changed in ``cdp_customers`` since
the version the table was computed from (recorded in its commit info) get new rows: upserted
where they are in a summarised segment, removed where they left (deleted, or now in a segment
below the minimum size). Either way the sizes per segment are checked against the summaries
BEFORE anything is written: a failure leaves the table as it was. Each commit records the sizes
it left (checked, in the same commit as the rows), so an incremental refresh adjusts them by its
changes instead of counting 10M rows again.
"""

import json
from dataclasses import dataclass
from datetime import datetime

import polars as pl

from segcopy_assets.core import activation, cdp_changes
from segcopy_assets.core.segments import SegmentationSpec
from segcopy_assets.defs.cdp import own_tables
from segcopy_assets.errors import InputValidationError
from segcopy_assets.storage import delta
from segcopy_assets.storage.tables import CDP_CUSTOMERS, SEGMENT_SUMMARIES

CDP_VERSION = "segcopy.cdp_customers_version"
DEFINITIONS = "segcopy.definitions_hash"
#: The customers per segment the commit leaves (checked against the summaries before it was
#: made): an incremental refresh adjusts them instead of counting every row again.
SIZES = "segcopy.segment_sizes"
RECORD = (CDP_VERSION, DEFINITIONS, SIZES)


@dataclass
class Activation:
    refresh: str  # "incremental" or "full: <reason>"
    definitions: str
    cdp_version: int  # the cdp_customers version assigned
    sizes: pl.DataFrame  # segment_id, customers (after the refresh)
    rows_written: int  # physical rows (a MERGE also copies unchanged rows of rewritten files)
    changed_customers: int = 0  # rows upserted or removed by an incremental refresh
    table_version: int | None = None  # None: nothing was written


def refresh_activation(
    customers_path: str,
    path: str,
    summaries: pl.DataFrame,
    spec: SegmentationSpec,
    *,
    assigned_at: datetime,
) -> Activation:
    activation.check_summaries(summaries, spec, SEGMENT_SUMMARIES)
    definitions = activation.definitions_hash(summaries, spec)
    version = own_tables.version(customers_path)
    record = {CDP_VERSION: str(version), DEFINITIONS: definitions}
    reason, feed, before = _full_reason(customers_path, path, definitions, version, spec)
    if reason is not None:
        assigned = activation.assign_customer_segments(
            pl.scan_delta(customers_path, version=version),
            summaries,
            spec,
            assigned_at=assigned_at,
            definitions=definitions,
        )
        sizes = activation.segment_sizes(assigned)
        _check_sizes(sizes, summaries)
        # with a change data feed: a reader (the CDP's sync) can pull just the customers whose
        # row an incremental refresh changed
        record[SIZES] = _sizes_json(sizes)
        table_version = own_tables.write_table(path, assigned, record, change_feed=True)
        total = int(sizes["customers"].sum())
        return Activation(
            f"full: {reason}", definitions, version, sizes, total, total, table_version
        )

    assert before is not None  # recorded by the commit an incremental refresh starts from
    if feed is None or feed.is_empty():
        _check_sizes(before, summaries)
        return Activation("incremental", definitions, version, before, 0)
    changes = cdp_changes.net_changes(feed, table=CDP_CUSTOMERS)
    rows, gone = activation.assignment_changes(
        changes.upserts,
        changes.deleted,
        summaries,
        spec,
        assigned_at=assigned_at,
        definitions=definitions,
    )
    replaced = own_tables.rows_with_keys(
        path, changes.changed_keys, ["customer_id", "segment_id"]
    ).get_column("segment_id")
    sizes = activation.adjusted_sizes(before, replaced, rows)
    _check_sizes(sizes, summaries)
    record[SIZES] = _sizes_json(sizes)
    if gone.is_empty() and replaced.is_empty():  # new customers only: an append
        metrics = own_tables.append_rows(path, rows, record)
    else:
        metrics = own_tables.merge_rows(path, rows, gone, record)
    return Activation(
        "incremental",
        definitions,
        version,
        sizes,
        int(metrics.get("num_output_rows", 0)),
        changed_customers=rows.height + gone.len(),
        table_version=own_tables.version(path),
    )


def _full_reason(
    customers_path: str, path: str, definitions: str, version: int, spec: SegmentationSpec
) -> tuple[str | None, pl.DataFrame | None, pl.DataFrame | None]:
    """Why the table must be rewritten (None: a MERGE will do); the change feed of
    ``cdp_customers`` since the version it was computed from (ids and segment key columns);
    and the table's customers per segment as its last commit recorded them."""
    if not delta.table_exists(path):
        return "first assignment", None, None
    record = own_tables.last_record(path, RECORD)
    if record is None:
        return "no earlier assignment recorded in customer_segments", None, None
    if record[DEFINITIONS] != definitions:
        return "the segment definitions changed (every row's definitions_hash moves)", None, None
    last = int(record[CDP_VERSION])
    if last > version:
        return f"cdp_customers went back to version {version} (assigned: {last})", None, None
    before = _sizes_frame(record[SIZES])
    if last == version:
        return None, None, before
    columns = ["customer_id", *dict.fromkeys(spec.source_key_columns())]
    feed, problem = own_tables.change_feed(
        customers_path, last + 1, version, [*columns, *cdp_changes.FEED_COLUMNS[:2]]
    )
    if problem is not None:
        return f"cdp_customers since version {last}: {problem}", None, None
    return None, feed, before


def _sizes_json(sizes: pl.DataFrame) -> str:
    return json.dumps(dict(sizes.select("segment_id", "customers").iter_rows()), sort_keys=True)


def _sizes_frame(recorded: str) -> pl.DataFrame:
    counts = json.loads(recorded)
    return pl.DataFrame(
        {"segment_id": list(counts), "customers": list(counts.values())},
        schema={"segment_id": pl.String, "customers": pl.Int64},
    ).sort("segment_id")


def _check_sizes(sizes: pl.DataFrame, summaries: pl.DataFrame) -> None:
    mismatched = activation.size_mismatches(sizes, summaries)
    if mismatched.height:
        raise InputValidationError(
            SEGMENT_SUMMARIES,
            "customer_count",
            f"{mismatched.height} segment(s) do not match the customers they would be "
            f"assigned ({CDP_CUSTOMERS} changed since the summaries were computed?): "
            "materialize segment_summaries again",
            mismatched.row(0, named=True),
        )
