"""Table maintenance (issue 23, point 5): compaction merges small files and never changes rows,
time travel inside the retention keeps working, the append-only review log keeps every decision,
a concurrent writer costs one table's maintenance at most, and ``segcopy maintain``."""

import argparse
import os
import time
from pathlib import Path

import polars as pl
import pytest
from deltalake import DeltaTable, write_deltalake
from deltalake.exceptions import CommitFailedError, DeltaError
from tenacity import wait_none

from segcopy_assets import settings
from segcopy_assets.cli import maintain_commands
from segcopy_assets.resources import Warehouse
from segcopy_assets.storage import maintenance
from segcopy_assets.storage import review_log as reviews
from segcopy_assets.storage import tables as table_names
from segcopy_assets.storage.maintenance import maintain_table, maintain_warehouse
from segcopy_assets.storage.tables import VARIANT_REVIEWS


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch):
    """Refused commits are retried at once (the backoff is for real writers)."""
    monkeypatch.setattr(maintenance, "RETRY_WAIT", wait_none())


def small_appends(path: str, n: int, partitioned: bool = False) -> pl.DataFrame:
    """``n`` one-row commits (one small file each); the rows written."""
    rows = []
    for i in range(n):
        row = pl.DataFrame({"i": [i], "segment_id": [f"s{i % 3}"], "text": [f"row {i}" * 5]})
        write_deltalake(
            path,
            row.to_arrow(),
            mode="append",
            partition_by=["segment_id"] if partitioned else None,
        )
        rows.append(row)
    return pl.concat(rows)


def same_rows(a: pl.DataFrame, b: pl.DataFrame) -> bool:
    """The same rows, whatever their order."""
    return a.sort(a.columns).equals(b.sort(b.columns))


def decisions(n: int, start: int = 0) -> list[dict]:
    return [
        reviews.make_decision(
            f"seg-{i % 7}", f"P-{i % 11}", f"hash-{i}", ("approve", "reject")[i % 2], reviewer="ann"
        )
        for i in range(start, start + n)
    ]


def test_compaction_merges_small_files_and_keeps_every_row(tmp_path):
    path = str(tmp_path / "t")
    written = small_appends(path, 40)
    before = pl.read_delta(path)

    result = maintain_table("t", path)

    assert result.status == "compacted"
    assert (result.files_before, result.files_after) == (40, 1)
    assert result.rows_before == result.rows_after == 40
    after = pl.read_delta(path)
    assert after.equals(before)  # same rows, same read order (no concurrent writer)
    assert same_rows(after, written)
    assert DeltaTable(path).history(1)[0]["operation"] in ("OPTIMIZE", "VACUUM END")
    # idempotent: nothing left to merge the second time
    again = maintain_table("t", path)
    assert (again.status, again.files_before, again.files_after) == ("unchanged", 1, 1)


def test_a_partitioned_table_keeps_one_file_per_partition(tmp_path):
    path = str(tmp_path / "variants")
    written = small_appends(path, 30, partitioned=True)

    result = maintain_table("description_variants", path)

    assert (result.files_before, result.files_after) == (30, 3)
    assert same_rows(pl.read_delta(path), written)


def test_time_travel_within_the_retention_still_reads_every_version(tmp_path):
    path = str(tmp_path / "t")
    small_appends(path, 12)
    versions = {v: pl.read_delta(path, version=v) for v in (0, 5, 11)}

    maintain_table("t", path, retention_days=7)
    maintain_table("t", path, retention_days=1)  # the shortest allowed: still a day

    for version, frame in versions.items():
        assert pl.read_delta(path, version=version).equals(frame), version


def test_vacuum_deletes_unreferenced_files_only_past_the_retention(tmp_path):
    path = str(tmp_path / "t")
    small_appends(path, 3)
    # files no commit references (a refused commit leaves one): one 10 days old, one 2 hours old
    old, recent = Path(path) / "part-old-orphan.parquet", Path(path) / "part-new-orphan.parquet"
    for orphan, age_s in ((old, 10 * 86400), (recent, 2 * 3600)):
        pl.DataFrame({"i": [99]}).write_parquet(orphan)
        os.utime(orphan, (time.time() - age_s,) * 2)
    before = pl.read_delta(path)

    result = maintain_table("t", path, retention_days=1)

    assert result.files_vacuumed == 1
    assert not old.exists() and recent.exists()
    assert pl.read_delta(path).equals(before)
    assert pl.read_delta(path, version=0).height == 1  # the compacted files: removed just now


def test_the_append_only_review_log_keeps_every_decision(tmp_path):
    path = str(tmp_path / VARIANT_REVIEWS)
    for row in decisions(60):
        reviews.append_reviews(path, [row])  # one commit, one small file per decision
    before = reviews.read_reviews(path)
    assert DeltaTable(path).metadata().configuration[reviews.APPEND_ONLY] == "true"

    result = maintain_table(VARIANT_REVIEWS, path)

    assert result.status == "compacted" and result.files_after == 1
    after = reviews.read_reviews(path)
    assert after.height == 60 and same_rows(after, before)
    assert same_rows(reviews.latest_decisions(after), reviews.latest_decisions(before))
    # still append-only: a delete is refused by the table, a decision still appends
    assert DeltaTable(path).metadata().configuration[reviews.APPEND_ONLY] == "true"
    with pytest.raises(DeltaError):
        DeltaTable(path).delete("decision = 'reject'")
    reviews.append_reviews(path, decisions(1, start=60))
    assert reviews.read_reviews(path).height == 61
    # vacuum (again, nothing to merge) does not change what is read
    read = reviews.read_reviews(path)
    assert maintain_table(VARIANT_REVIEWS, path).rows_after == 61
    assert reviews.read_reviews(path).equals(read)


def test_dry_run_changes_nothing(tmp_path):
    path = str(tmp_path / "t")
    small_appends(path, 10)
    version = DeltaTable(path).version()

    result = maintain_table("t", path, dry_run=True)

    assert (result.status, result.files_before, result.files_compacted) == ("dry run", 10, 10)
    assert DeltaTable(path).version() == version
    assert len(DeltaTable(path).file_uris()) == 10


def test_changed_rows_stop_the_maintenance_before_any_vacuum(tmp_path, monkeypatch):
    warehouse = Warehouse(root=str(tmp_path / "warehouse"))
    small_appends(warehouse.table_path("t"), 5)
    small_appends(warehouse.table_path("u"), 5)
    vacuumed = []
    monkeypatch.setattr(maintenance, "_rows", lambda path, version, options: version)  # differs
    monkeypatch.setattr(maintenance, "_vacuum_path", lambda *args: vacuumed.append(args) or [])

    with pytest.raises(maintenance.RowsChangedError, match="changed its rows"):
        maintain_warehouse(warehouse, tables=["t", "u"])
    assert vacuumed == []
    assert len(DeltaTable(warehouse.table_path("u")).file_uris()) == 5  # stopped there


def test_a_concurrent_writer_that_commits_first_is_retried(tmp_path, monkeypatch):
    """A real race: another writer overwrites between compaction's read and its commit."""
    path = str(tmp_path / "t")
    last = small_appends(path, 6).tail(1)
    real_compact, raced = maintenance._compact, []

    def compact_losing_once(path, options):
        if not raced:
            table = DeltaTable(path)
            raced.append(1)
            write_deltalake(path, last.to_arrow(), mode="overwrite")
            try:
                table.optimize.compact()  # on the version it read
            except CommitFailedError:
                raced.append("refused")
                raise
        return real_compact(path, options)

    monkeypatch.setattr(maintenance, "_compact", compact_losing_once)

    result = maintain_table("t", path)

    assert raced == [1, "refused"]
    assert result.status == "unchanged"  # one file left by the overwrite
    assert pl.read_delta(path)["i"].to_list() == [5]


def test_a_table_whose_commits_keep_losing_is_reported_and_the_others_maintained(
    tmp_path, monkeypatch
):
    warehouse = Warehouse(root=str(tmp_path / "warehouse"))
    for name in ("busy", "quiet"):
        small_appends(warehouse.table_path(name), 5)
    real_compact, tries = maintenance._compact, []

    def compact(path, options):
        if path.endswith("busy"):
            tries.append(path)
            raise CommitFailedError("a concurrent transaction deleted data this operation read")
        return real_compact(path, options)

    monkeypatch.setattr(maintenance, "_compact", compact)
    seen = []

    results = maintain_warehouse(
        warehouse, tables=["busy", "quiet", "absent"], on_table=seen.append
    )

    busy, quiet, absent = results
    assert seen == results
    assert busy.status == "conflict" and "compaction" in busy.message
    assert len(tries) == maintenance.COMMIT_ATTEMPTS
    assert (quiet.status, quiet.files_after) == ("compacted", 1)
    assert absent.status == "missing"
    assert len(DeltaTable(warehouse.table_path("busy")).file_uris()) == 5  # untouched


def test_every_segcopy_table_is_maintained():
    names = {
        value
        for name, value in vars(table_names).items()
        if name.isupper() and isinstance(value, str)
    }
    assert set(maintenance.TABLES) == names


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="segcopy")
    maintain_commands.add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["maintain", *argv])
    return args.func(args)


def test_segcopy_maintain_on_a_home(capsys, monkeypatch):
    root = settings.warehouse_root() / settings.WAREHOUSE_SCHEMA
    for row in decisions(25):
        reviews.append_reviews(str(root / VARIANT_REVIEWS), [row])
    small_appends(str(root / "generation_batches"), 8)

    assert run_cli("--dry-run") == 0
    out = capsys.readouterr().out
    assert "would merge 25 small file(s)" in out
    assert len(DeltaTable(str(root / VARIANT_REVIEWS)).file_uris()) == 25

    monkeypatch.setenv("SEGCOPY_MAINTENANCE_RETENTION_DAYS", "3")
    assert run_cli() == 0
    lines = capsys.readouterr().out.splitlines()
    assert "kept for 3 days" in lines[0]
    by_table = {line.split()[0]: line for line in lines[1:-1]}
    assert set(by_table) == set(maintenance.TABLES)  # one line per table
    assert "compacted: 25 → 1 files" in by_table[VARIANT_REVIEWS]
    assert "25 rows (unchanged)" in by_table[VARIANT_REVIEWS]
    assert "compacted: 8 → 1 files" in by_table["generation_batches"]
    assert "not written yet" in by_table["cdp_customers"]
    assert lines[-1].startswith("2 table(s) maintained: 33 files before, 2 after")
    assert reviews.read_reviews(str(root / VARIANT_REVIEWS)).height == 25


@pytest.mark.parametrize(
    ("argv", "env", "named"),
    [
        (["--retention-days", "0.5"], None, "--retention-days must be at least 1 day"),
        (["--retention-days", "soon"], None, "--retention-days must be a number of days"),
        ([], "0", "SEGCOPY_MAINTENANCE_RETENTION_DAYS must be at least 1 day"),
        ([], "a week", "SEGCOPY_MAINTENANCE_RETENTION_DAYS must be a number of days"),
    ],
)
def test_segcopy_maintain_refuses_a_bad_retention(argv, env, named, capsys, monkeypatch):
    if env is not None:
        monkeypatch.setenv("SEGCOPY_MAINTENANCE_RETENTION_DAYS", env)

    assert run_cli(*argv) == 1

    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and named in captured.err
    if "at least" in named:
        assert "never shorter than a run can last" in captured.err
