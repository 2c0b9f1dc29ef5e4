"""Table maintenance: compact small files, vacuum, checkpoint every segcopy table (issue 23).

Every review decision, journal append and batch state change is a Delta commit with one small
file; read cost grows with the files (and on object storage each file is a request). Per table:

1. **compact** (``DeltaTable.optimize.compact()``): small files rewritten into few. It rewrites
   files, never rows (its commit removes and adds files with ``dataChange=false``, which the
   append-only review log accepts): the rows of the version before its commit and of its commit
   are counted and must be equal, else ``RowsChangedError`` stops everything (no vacuum runs
   after it: the version before is still there to read);
2. **vacuum** (``full``: also files no commit references, e.g. those of a refused commit) of what
   was removed more than ``retention_days`` ago: time travel to any version current within that
   window keeps working, and a run reading an older snapshot is never left without its files,
   hence never shorter than a run can last (``MIN_RETENTION_DAYS``);
3. **checkpoint** (``create_checkpoint()``): a reader replays one parquet file, not the commits;
4. **expired logs** (``cleanup_metadata()``, the table's ``delta.logRetentionDuration``, 30 days
   by default), only where that is not shorter than the retention (time travel needs the logs).

A concurrent writer that commits first makes a step's commit fail (``CommitFailedError``): the
step is retried; if it keeps losing, that table is reported as ``conflict`` and the others go on.
Paths are the warehouse's (``Warehouse.table_path``): local folders or object-store URIs alike
(never ``os.path`` on them; the store's credentials come from the environment, ``storage.delta``).
"""

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

import polars as pl
from deltalake import DeltaTable
from deltalake.exceptions import CommitFailedError, DeltaError
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from segcopy_assets.errors import SegcopyError, SettingsError
from segcopy_assets.storage import tables as t
from segcopy_assets.storage.delta import check_reachable, table_exists

#: Every table segcopy writes under the warehouse (``storage.tables``), in pipeline order.
TABLES = (
    t.CDP_CUSTOMERS,
    t.SEGMENT_SUMMARIES,
    t.SEGMENT_CUBE,
    t.PRODUCTS,
    t.DESCRIPTION_VARIANTS,
    t.VARIANT_CHECKS,
    t.JUDGE_ANSWERS,
    t.GENERATION_JOURNAL,
    t.GENERATION_BATCHES,
    t.GENERATION_RETRIES,
    t.VARIANT_REVIEWS,
    t.REVIEW_BATCHES,
    t.REVIEW_AUTH_EVENTS,
    t.PUBLISHED_VARIANTS,
    t.CUSTOMER_SEGMENTS,
)


def warehouse_tables(channels: Iterable[str] = ()) -> tuple[str, ...]:
    """Every table of a warehouse: ``TABLES`` and the tables of ``channels``."""
    return TABLES + tuple(name for c in channels for name in t.channel_all_tables(c))


RETENTION_ENV = "SEGCOPY_MAINTENANCE_RETENTION_DAYS"
DEFAULT_RETENTION_DAYS = 7.0
#: A run reads the snapshot it started from; vacuum must not delete its files under it.
MIN_RETENTION_DAYS = 1.0
#: Tries of a step whose commit a concurrent writer refused (each on the table as it is then).
COMMIT_ATTEMPTS = 5
# Delta's defaults where a table does not set the property.
_DEFAULT_FILE_RETENTION_H = 7 * 24.0  # delta.deletedFileRetentionDuration
_DEFAULT_LOG_RETENTION_H = 30 * 24.0  # delta.logRetentionDuration
_DEFAULT_TARGET_SIZE = 100 * 1024 * 1024  # delta.targetFileSize (optimize's default)


class RowsChangedError(SegcopyError):
    """Compaction changed a table's row count: never expected, the maintenance stops."""


def check_retention(days: float, source: str = RETENTION_ENV, given: str | None = None) -> float:
    """``days`` if it is a usable retention, else a ``SettingsError`` naming ``source`` (and
    ``given``: the value as the user wrote it)."""
    if not (isinstance(days, int | float) and math.isfinite(days)) or days < MIN_RETENTION_DAYS:
        raise SettingsError(
            f"{source} must be at least {MIN_RETENTION_DAYS:g} day (never shorter than a run can "
            "last: vacuum deletes the files of older versions a run may still read), not "
            + (given if given is not None else f"{days!r}")
        )
    return float(days)


def retention_hours(days: float) -> int:
    """Vacuum's retention in whole hours, rounded up (never shorter than asked)."""
    return math.ceil(check_retention(days) * 24)


@dataclass
class TableMaintenance:
    """What maintenance did to one table (``status``: missing | unchanged | compacted | dry run
    | conflict | failed); files and bytes are the live data files of the table's version."""

    table: str
    path: str
    status: str
    files_before: int = 0
    files_after: int = 0
    bytes_before: int = 0
    bytes_after: int = 0
    rows_before: int = 0
    rows_after: int = 0
    version_before: int | None = None
    version_after: int | None = None
    files_compacted: int = 0  # removed by compaction (dry run: the small files it would merge)
    files_vacuumed: int = 0  # deleted by vacuum (dry run: that it would delete)
    logs_cleaned: bool = False
    message: str = ""

    def line(self) -> str:
        """One line for the command and the run's log."""
        if self.status == "missing":
            return f"{self.table:<22} not written yet"
        figures = (
            f"{self.files_before:,} → {self.files_after:,} files, "
            f"{_size(self.bytes_before)} → {_size(self.bytes_after)}, "
            f"{self.rows_after:,} rows"
            + (" (unchanged)" if self.rows_after == self.rows_before else "")
            + f", {self.files_vacuumed:,} file(s) vacuumed, v{self.version_after}"
        )
        if self.status == "dry run":
            figures = (
                f"{self.files_before:,} files, {_size(self.bytes_before)}, "
                f"{self.rows_before:,} rows, v{self.version_before}; would merge "
                f"{self.files_compacted:,} small file(s), vacuum {self.files_vacuumed:,}"
            )
        note = f" ({self.message})" if self.message else ""
        return f"{self.table:<22} {self.status}: {figures}{note}"

    def metadata(self) -> dict[str, Any]:
        return asdict(self)


def maintain_warehouse(
    warehouse: Any,
    *,
    retention_days: float = DEFAULT_RETENTION_DAYS,
    dry_run: bool = False,
    tables: Iterable[str] = TABLES,
    on_table: Callable[[TableMaintenance], None] | None = None,
) -> list[TableMaintenance]:
    """``maintain_table`` for every table of ``warehouse`` (a ``Warehouse``: ``root`` and
    ``table_path``); ``on_table`` is called with each result as it ends. A store that cannot be
    reached raises ``SettingsError`` (one line) before any table is touched."""
    check_retention(retention_days)
    check_reachable(warehouse.root)
    results = []
    for name in tables:
        result = maintain_table(
            name, warehouse.table_path(name), retention_days=retention_days, dry_run=dry_run
        )
        results.append(result)
        if on_table is not None:
            on_table(result)
    return results


def maintain_table(
    name: str,
    path: str,
    *,
    retention_days: float = DEFAULT_RETENTION_DAYS,
    dry_run: bool = False,
    storage_options: dict[str, str] | None = None,
) -> TableMaintenance:
    """Compact, vacuum and checkpoint one table (see the module's docstring); a table that does
    not exist is ``missing``. Raises ``RowsChangedError`` (and nothing else a table can cause).
    ``storage_options``: none for segcopy's tables (delta-rs reads the store's credentials from
    the environment, ``storage.delta``)."""
    hours = retention_hours(retention_days)
    result = TableMaintenance(name, path, "unchanged")
    step = "reading"
    try:
        if not table_exists(path, storage_options):
            return TableMaintenance(name, path, "missing")
        table = DeltaTable(path, storage_options=storage_options)
        result.version_before = table.version()
        result.files_before, result.bytes_before = _files(table)
        if dry_run:
            result.status = "dry run"
            result.rows_before = result.rows_after = _rows(path, table.version(), storage_options)
            result.files_compacted = _small_files(table)
            result.files_vacuumed = len(_vacuum(table, hours, dry_run=True))
            return result
        step = "compaction"
        compacted, version = _retrying(_compact)(path, storage_options)
        if compacted:
            result.status, result.files_compacted = "compacted", compacted
            result.rows_before = _rows(path, version - 1, storage_options)
            result.rows_after = _rows(path, version, storage_options)
            if result.rows_after != result.rows_before:
                raise RowsChangedError(
                    f"compacting {name} ({path}) changed its rows: {result.rows_before:,} at "
                    f"version {version - 1}, {result.rows_after:,} at version {version}; "
                    "maintenance stopped, nothing vacuumed (version "
                    f"{version - 1} still reads the rows before)"
                )
        else:
            result.rows_before = result.rows_after = _rows(path, version, storage_options)
        step = "vacuum"
        result.files_vacuumed = len(_retrying(_vacuum_path)(path, storage_options, hours))
        step = "checkpoint"
        table = _retrying(_checkpoint)(path, storage_options)
        result.logs_cleaned = _cleanup_logs(table, hours)
        result.version_after = table.version()
        result.files_after, result.bytes_after = _files(table)
    except CommitFailedError as exc:
        result.status = "conflict"
        result.message = (
            f"{step}: a concurrent writer committed first {COMMIT_ATTEMPTS} times; the next "
            f"maintenance tries again ({_first_line(exc)})"
        )
    except (DeltaError, OSError) as exc:
        result.status, result.message = "failed", f"{step}: {_first_line(exc)}"
    return result


#: Backoff between tries of a refused commit (short: the winner has committed already).
RETRY_WAIT = wait_random_exponential(multiplier=0.1, max=2)


def _retrying(step: Callable) -> Callable:
    return retry(
        retry=retry_if_exception_type(CommitFailedError),
        stop=stop_after_attempt(COMMIT_ATTEMPTS),
        wait=RETRY_WAIT,
        reraise=True,
    )(step)


def _compact(path: str, options: dict[str, str] | None) -> tuple[int, int]:
    """Files compaction removed (0: nothing to merge), and the table's version after it (the
    compaction's own commit when it removed files)."""
    table = DeltaTable(path, storage_options=options)
    metrics = table.optimize.compact()
    return int(metrics.get("numFilesRemoved", 0)), table.version()


def _vacuum_path(path: str, options: dict[str, str] | None, hours: int) -> list[str]:
    return _vacuum(DeltaTable(path, storage_options=options), hours, dry_run=False)


def _vacuum(table: DeltaTable, hours: int, *, dry_run: bool) -> list[str]:
    """Delete (or list) files unreferenced for longer than ``hours``: those removed by commits
    and, ``full``, those no commit references (written by a commit that was then refused)."""
    configured = _interval_hours(
        table.metadata().configuration.get("delta.deletedFileRetentionDuration"),
        _DEFAULT_FILE_RETENTION_H,
    )
    return table.vacuum(
        retention_hours=hours,
        dry_run=dry_run,
        # shorter than the table's own setting (7 days by default) needs Delta's check off
        enforce_retention_duration=configured is not None and hours >= configured,
        full=True,
    )


def _checkpoint(path: str, options: dict[str, str] | None) -> DeltaTable:
    table = DeltaTable(path, storage_options=options)
    table.create_checkpoint()
    return table


def _cleanup_logs(table: DeltaTable, hours: int) -> bool:
    """Expired commit files before the checkpoint, where the table keeps logs at least as long
    as the retention (else time travel inside the retention would lose its commits)."""
    kept = _interval_hours(
        table.metadata().configuration.get("delta.logRetentionDuration"),
        _DEFAULT_LOG_RETENTION_H,
    )
    if kept is None or kept < hours:
        return False
    table.cleanup_metadata()
    return True


_UNIT_HOURS = {
    "week": 168.0,
    "day": 24.0,
    "hour": 1.0,
    "minute": 1 / 60,
    "second": 1 / 3600,
    "millisecond": 1 / 3.6e6,
}


def _interval_hours(value: str | None, default: float) -> float | None:
    """A Delta interval property (``interval 7 days``) in hours; None when it cannot be read."""
    if value is None:
        return default
    match = re.fullmatch(r"\s*(?:interval\s+)?(\d+(?:\.\d+)?)\s*([a-z]+?)s?\s*", value.lower())
    if not match or match.group(2) not in _UNIT_HOURS:
        return None
    return float(match.group(1)) * _UNIT_HOURS[match.group(2)]


def _files(table: DeltaTable) -> tuple[int, int]:
    """Live data files of the table's version, and their bytes."""
    actions = _add_actions(table)
    return actions.height, int(actions["size_bytes"].sum() or 0)


def _add_actions(table: DeltaTable) -> pl.DataFrame:
    return pl.DataFrame(table.get_add_actions(flatten=True))  # an Arrow stream (arro3)


def _small_files(table: DeltaTable) -> int:
    """Files compaction would merge: under the target size, two or more in their partition."""
    target = int(table.metadata().configuration.get("delta.targetFileSize") or _DEFAULT_TARGET_SIZE)
    actions = _add_actions(table)
    small = actions.filter(pl.col("size_bytes") < target)
    partitions = [c for c in actions.columns if c.startswith("partition.")]
    if not partitions:
        return small.height if small.height > 1 else 0
    counts = small.group_by(partitions).len()
    return int(counts.filter(pl.col("len") > 1)["len"].sum() or 0)


def _rows(path: str, version: int, options: dict[str, str] | None) -> int:
    """Rows a reader of ``version`` gets (counted by polars, as the stores read)."""
    scan = pl.scan_delta(path, version=version, storage_options=options)
    return int(scan.select(pl.len()).collect().item())


def _size(n: int) -> str:
    if n < 1000:
        return f"{n} B"
    value = float(n)
    for unit in ("kB", "MB", "GB"):
        value /= 1000
        if value < 1000 or unit == "GB":
            break
    return f"{value:,.1f} {unit}"


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
