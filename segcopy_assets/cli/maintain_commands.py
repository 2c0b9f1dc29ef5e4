"""``segcopy maintain``: compact, vacuum and checkpoint every table of the warehouse."""

import argparse
import sys


def cmd_maintain(args) -> int:
    from segcopy_assets.cli import exit_codes
    from segcopy_assets.errors import SegcopyError
    from segcopy_assets.generation.channels import generated_channels
    from segcopy_assets.resources import warehouse_from_env
    from segcopy_assets.resources.maintenance import retention_days_from_env
    from segcopy_assets.storage.maintenance import (
        check_retention,
        maintain_warehouse,
        warehouse_tables,
    )

    try:
        if args.retention_days is not None:
            days = check_retention(
                _days(args.retention_days), "--retention-days", repr(args.retention_days)
            )
        else:
            days = retention_days_from_env()
        warehouse = warehouse_from_env()
    except SegcopyError as exc:
        print(f"segcopy maintain: {exc}", file=sys.stderr)
        return exit_codes.FAILED
    what = "dry run, nothing changed" if args.dry_run else "compact, vacuum, checkpoint"
    print(f"segcopy maintain ({what}); time travel kept for {days:g} days")
    try:
        results = maintain_warehouse(
            warehouse,
            retention_days=days,
            dry_run=args.dry_run,
            tables=warehouse_tables(generated_channels()),
            on_table=lambda result: print(f"  {result.line()}", flush=True),
        )
    except SegcopyError as exc:  # compaction changed a table's rows: stopped at once
        print(f"segcopy maintain failed: {exc}", file=sys.stderr)
        return exit_codes.FAILED
    failed = [r.table for r in results if r.status == "failed"]
    conflicts = [r.table for r in results if r.status == "conflict"]
    maintained = [r for r in results if r.status not in ("missing", "failed", "conflict")]
    print(
        f"{len(maintained)} table(s) "
        + ("looked at" if args.dry_run else "maintained")
        + f": {sum(r.files_before for r in maintained):,} files before, "
        + (
            "unchanged"
            if args.dry_run
            else f"{sum(r.files_after for r in maintained):,} after, "
            f"{sum(r.files_vacuumed for r in maintained):,} vacuumed"
        )
    )
    if failed:
        print(f"failed: {', '.join(failed)} (see above)", file=sys.stderr)
        return exit_codes.FAILED
    if conflicts:
        print(
            f"not maintained, a concurrent writer committed first: {', '.join(conflicts)}; "
            f"run `segcopy maintain` again (exit status {exit_codes.PARTIAL})",
            file=sys.stderr,
        )
        return exit_codes.PARTIAL
    return exit_codes.OK


def _days(value: str) -> float:
    from segcopy_assets.errors import SettingsError

    try:
        return float(value)
    except ValueError:
        raise SettingsError(f"--retention-days must be a number of days, not {value!r}") from None


def add_commands(sub: argparse._SubParsersAction) -> None:
    maintain = sub.add_parser(
        "maintain",
        help="compact small files, vacuum and checkpoint every warehouse table "
        "(also the table_maintenance schedule, nightly)",
    )
    maintain.add_argument(
        "--retention-days",
        help="days of time travel vacuum keeps, at least 1 "
        "(default: $SEGCOPY_MAINTENANCE_RETENTION_DAYS or 7)",
    )
    maintain.add_argument(
        "--dry-run",
        action="store_true",
        help="say what would be compacted and vacuumed, change nothing",
    )
    maintain.set_defaults(func=cmd_maintain)
