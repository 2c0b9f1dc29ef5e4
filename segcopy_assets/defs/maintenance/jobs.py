"""``table_maintenance``: compact, vacuum and checkpoint every segcopy table (issue 23).

A job without assets (the tables are not rewritten, only their files): one op runs
``storage.maintenance`` with the ``warehouse`` and ``maintenance`` resources, logs a line per
table and records the per-table figures as its output's metadata. A table that a concurrent
writer kept from being maintained is a warning (the next night tries again); a table that failed
otherwise fails the run after every other table was maintained; compaction that changed a
table's rows stops it at once (``RowsChangedError``).

``table_maintenance_schedule`` runs it nightly (03:00 UTC; ``SEGCOPY_MAINTENANCE_CRON``), on
from the start like the sensors.
"""

import os

import dagster as dg
import polars as pl

from segcopy_assets.defs.metadata import markdown_table
from segcopy_assets.errors import SettingsError
from segcopy_assets.resources import Warehouse
from segcopy_assets.resources.maintenance import Maintenance
from segcopy_assets.storage.maintenance import TableMaintenance

CRON_ENV = "SEGCOPY_MAINTENANCE_CRON"
DEFAULT_CRON = "0 3 * * *"  # nightly, 03:00 (UTC)
COLUMNS = (
    "table",
    "status",
    "files_before",
    "files_after",
    "bytes_before",
    "bytes_after",
    "rows_before",
    "rows_after",
    "files_vacuumed",
    "version_after",
    "message",
)


@dg.op(
    out=dg.Out(dg.Nothing),
    description="Compacts small files, vacuums beyond the retention and checkpoints every "
    "segcopy table; rows are never changed (counted before and after).",
)
def maintain_tables(context: dg.OpExecutionContext, warehouse: Warehouse, maintenance: Maintenance):
    context.log.info(f"table maintenance, time travel kept for {maintenance.retention_days:g} days")

    def report(result: TableMaintenance) -> None:
        if result.status == "conflict":
            context.log.warning(result.line())
        elif result.status == "failed":
            context.log.error(result.line())
        else:
            context.log.info(result.line())

    results = maintenance.run(warehouse, on_table=report)
    metadata = run_metadata(results, maintenance.retention_days)
    failed = [r for r in results if r.status == "failed"]
    if failed:
        raise dg.Failure(
            description="maintenance failed for " + "; ".join(r.line() for r in failed),
            metadata=metadata,
        )
    yield dg.Output(None, metadata=metadata)


def run_metadata(results: list[TableMaintenance], retention_days: float) -> dict:
    """What the run's output records: totals, then a markdown table and a line per table."""
    existing = [r for r in results if r.status != "missing"]
    frame = pl.DataFrame([r.metadata() for r in results]).select(COLUMNS)
    metadata: dict = {
        "retention_days": dg.MetadataValue.float(float(retention_days)),
        "tables_maintained": len(existing),
        "tables_compacted": sum(r.status == "compacted" for r in results),
        "files_before": sum(r.files_before for r in existing),
        "files_after": sum(r.files_after for r in existing),
        "files_vacuumed": sum(r.files_vacuumed for r in existing),
        "conflicts": [r.table for r in results if r.status == "conflict"],
        "tables": dg.MetadataValue.md(markdown_table(frame, max_rows=len(results))),
    }
    for r in existing:
        metadata[f"table/{r.table}"] = r.line()
    return metadata


@dg.job(
    name="table_maintenance",
    description="Compacts, vacuums and checkpoints every segcopy Delta table (segcopy maintain).",
    tags={"segcopy/kind": "maintenance"},
)
def table_maintenance():
    maintain_tables()


def maintenance_cron() -> str:
    """SEGCOPY_MAINTENANCE_CRON (a cron expression; default nightly at 03:00)."""
    return os.environ.get(CRON_ENV, "").strip() or DEFAULT_CRON


def maintenance_schedule(cron: str) -> dg.ScheduleDefinition:
    """The nightly schedule at ``cron``; a bad expression: one message naming the variable."""
    try:
        return dg.ScheduleDefinition(
            name="table_maintenance_schedule",
            job=table_maintenance,
            cron_schedule=cron,
            default_status=dg.DefaultScheduleStatus.RUNNING,
            description="Table maintenance, nightly by default (SEGCOPY_MAINTENANCE_CRON).",
        )
    except dg.DagsterInvalidDefinitionError:
        raise SettingsError(
            f"{CRON_ENV} must be a cron expression (e.g. {DEFAULT_CRON!r}: 03:00 every day), "
            f"not {cron!r}"
        ) from None


table_maintenance_schedule = maintenance_schedule(maintenance_cron())
