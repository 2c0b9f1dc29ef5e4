"""How the table maintenance keeps the warehouse's tables (``storage.maintenance``)."""

import os

import dagster as dg
from pydantic import Field, field_validator

from segcopy_assets.errors import SettingsError
from segcopy_assets.storage.maintenance import (
    DEFAULT_RETENTION_DAYS,
    MIN_RETENTION_DAYS,
    RETENTION_ENV,
    TableMaintenance,
    check_retention,
    maintain_warehouse,
    warehouse_tables,
)


class Maintenance(dg.ConfigurableResource):
    """Compaction, vacuum and checkpoints of every segcopy table (the maintenance job)."""

    retention_days: float = Field(
        default=DEFAULT_RETENTION_DAYS,
        description="Days of time travel vacuum keeps (files removed earlier are deleted); at "
        f"least {MIN_RETENTION_DAYS:g}: never shorter than a run can last.",
    )

    @field_validator("retention_days")
    @classmethod
    def _at_least_a_run(cls, value: float) -> float:
        try:
            return check_retention(value, "retention_days")
        except SettingsError as exc:
            raise ValueError(str(exc)) from None

    def run(self, warehouse, *, dry_run: bool = False, on_table=None) -> list[TableMaintenance]:
        """Maintain every table of ``warehouse`` (a ``Warehouse``); see ``maintain_warehouse``."""
        from segcopy_assets.generation.channels import generated_channels

        return maintain_warehouse(
            warehouse,
            retention_days=self.retention_days,
            dry_run=dry_run,
            tables=warehouse_tables(generated_channels()),
            on_table=on_table,
        )


def retention_days_from_env() -> float:
    """SEGCOPY_MAINTENANCE_RETENTION_DAYS (default 7); a bad value: one message naming it."""
    value = os.environ.get(RETENTION_ENV, "").strip()
    if not value:
        return DEFAULT_RETENTION_DAYS
    try:
        days = float(value)
    except ValueError:
        raise SettingsError(f"{RETENTION_ENV} must be a number of days, not {value!r}") from None
    return check_retention(days, RETENTION_ENV, given=repr(value))


def maintenance_from_env() -> Maintenance:
    return Maintenance(retention_days=retention_days_from_env())
