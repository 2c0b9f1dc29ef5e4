"""Recomputing ``segment_summaries`` from the segment cube, kept up to date from the change data
feed of ``cdp_customers`` instead of reading every customer again.

A segment's summary needs ALL its customers, but only as counts: the cube
(``segments.customer_cube``, ~10^5 rows at 10M customers) holds how many customers have each
combination of the columns a summary reads, and every summary is a sum over it
(``summaries_from_cube``). segcopy keeps the cube as a table of its own (``segment_cube``,
whose commits record the ``cdp_customers`` version and the segmentation it counts). A refresh
reads the feed of ``cdp_customers`` since that version (pre-images and deletions -1, post-images
and inserts +1: ``cdp_changes.cube_changes``), applies it, and derives every summary from the
cube: no customer is read, and the result equals a full recompute (same cube, same code).

The cube is rebuilt from the whole table (refresh: full, with the reason) when there is none,
when the segmentation reads other columns (other keys or dimensions: a new minimum size or
high-value tiers need no rebuild, the summaries are derived from the cube every time), or when
the feed cannot say what changed (an overwrite of ``cdp_customers``, vacuumed change files).
"""

from dataclasses import asdict, dataclass, replace

import polars as pl

from segcopy_assets.core import cdp_changes
from segcopy_assets.core.hashing import digest
from segcopy_assets.core.segments import (
    SegmentationSpec,
    cube_columns,
    customer_cube,
    summaries_from_cube,
)
from segcopy_assets.core.validation import check_no_nulls
from segcopy_assets.defs.cdp import own_tables
from segcopy_assets.storage import delta
from segcopy_assets.storage.tables import CDP_CUSTOMERS

CDP_VERSION = "cdp_customers_version"  # materialization metadata of segment_summaries
SEGMENTATION_HASH = "segmentation_hash"
_CUBE_VERSION = "segcopy.cdp_customers_version"  # commit info of segment_cube
_CUBE_COLUMNS = "segcopy.cube_columns"  # what it counts (other segmentation settings: not)


def segmentation_hash(spec: SegmentationSpec) -> str:
    """The segmentation settings a summaries table was computed with."""
    return digest(asdict(spec))


@dataclass
class Summaries:
    summaries: pl.DataFrame  # segments of at least min_segment_size
    left_out: pl.DataFrame  # segment_id, customer_count of the smaller ones
    refresh: str  # "incremental" or "full: <reason>"
    cdp_version: int  # the cdp_customers version summarised
    changes: int  # change feed rows applied to the cube (incremental)
    segments_touched: int  # segments whose customers changed (incremental; all when full)
    cube_rows_written: int = 0  # rows of segment_cube rewritten (0: the cube did not move)


def refresh_summaries(customers_path: str, cube_path: str, spec: SegmentationSpec) -> Summaries:
    version = own_tables.version(customers_path)
    customers = pl.scan_delta(customers_path, version=version)
    reason, feed = _full_reason(customers_path, cube_path, spec, version)
    if reason is not None:
        check_no_nulls(customers, spec.source_key_columns(), CDP_CUSTOMERS, "customer_id")
        cube = customer_cube(customers, spec)
        changes, touched = 0, -1
    else:
        cube = pl.read_delta(cube_path)
        changes, touched = 0, 0
        if feed is not None and feed.height:
            after = feed.filter(
                pl.col(cdp_changes.CHANGE_TYPE).is_in(["insert", "update_postimage"])
            )
            check_no_nulls(after.lazy(), spec.source_key_columns(), CDP_CUSTOMERS, "customer_id")
            try:
                cube = cdp_changes.apply_to_cube(cube, cdp_changes.cube_changes(feed, spec))
            except ValueError as exc:
                reason = f"the segment cube does not match cdp_customers ({exc})"
                cube = customer_cube(customers, spec)
            changes = feed.height
            touched = cdp_changes.touched_segments([feed], spec).height
    written = 0
    if reason is not None or changes:
        own_tables.write_table(
            cube_path,
            cube,
            {_CUBE_VERSION: str(version), _CUBE_COLUMNS: ",".join(cube_columns(spec))},
        )
        written = cube.height
    # every segment, then the small ones left out: each row (and its share of all customers)
    # is computed as summaries_from_cube(cube, spec) would
    everything = summaries_from_cube(cube, replace(spec, min_segment_size=1))
    small = pl.col("customer_count") < spec.min_segment_size
    return Summaries(
        summaries=everything.filter(~small),
        left_out=everything.filter(small).select("segment_id", "customer_count"),
        refresh="incremental" if reason is None else f"full: {reason}",
        cdp_version=version,
        changes=changes,
        segments_touched=everything.height if touched < 0 else touched,
        cube_rows_written=written,
    )


def _full_reason(
    customers_path: str, cube_path: str, spec: SegmentationSpec, version: int
) -> tuple[str | None, pl.DataFrame | None]:
    """Why the cube must be rebuilt from the whole table (None: it can be brought up to date),
    and the change feed of ``cdp_customers`` since the version it counts."""
    if not delta.table_exists(cube_path):
        return "first summaries (no segment cube yet)", None
    record = own_tables.last_record(cube_path, (_CUBE_VERSION, _CUBE_COLUMNS))
    if record is None:
        return "the segment cube records no cdp_customers version", None
    if record[_CUBE_COLUMNS] != ",".join(cube_columns(spec)):
        return "the segmentation reads other columns (segment keys or dimensions)", None
    last = int(record[_CUBE_VERSION])
    if last > version:
        return f"cdp_customers went back to version {version} (counted: {last})", None
    if last == version:
        return None, None
    columns = [*cube_columns(spec), cdp_changes.CHANGE_TYPE, cdp_changes.COMMIT_VERSION]
    feed, problem = own_tables.change_feed(customers_path, last + 1, version, columns)
    if problem is not None:
        return f"cdp_customers since version {last}: {problem}", None
    return None, feed
