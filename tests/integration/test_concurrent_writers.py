"""Concurrent writers of the segment-keyed Delta tables (threads: never fork after deltalake loads).

What deltalake 1.6.6 does with two predicate overwrites (``mode="overwrite", predicate=
"segment_id IN (...)"``) that race: on DIFFERENT partitions both commit (delta-rs resolves the
race itself); on the SAME partition the later commit raises ``CommitFailedError`` ("a concurrent
transaction added new data"), which ``variant_store.replace_segments`` retries against the new
table state. Creating the table races too: with delta-rs's own commit retries a second creator's
commit is silently retried as an append (a segment written twice at once ended up duplicated),
and a plain overwrite drops the other writer's segment; replace_segments creates the table with
those retries off and falls back to the predicate overwrite. Races are forced deterministically
here: one writer reads its snapshot, the other commits, then the first commits from its stale
snapshot. Two whole Dagster runs racing (spawned processes): tests/e2e/test_concurrent_runs.py.
"""

import contextlib
import threading

import polars as pl
import pytest
from deltalake import DeltaTable
from deltalake import write_deltalake as real_write_deltalake
from deltalake.exceptions import CommitFailedError

from segcopy_assets.storage import variant_store
from segcopy_assets.storage.delta import join
from segcopy_assets.storage.variant_store import ConcurrentWriteError, replace_segments

SCHEMA = pl.Schema({"segment_id": pl.String, "product_id": pl.String, "writer": pl.String})
PRODUCTS = [f"P{i}" for i in range(5)]


def rows(segment: str, writer: str) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "segment_id": [segment] * len(PRODUCTS),
            "product_id": PRODUCTS,
            "writer": [writer] * len(PRODUCTS),
        },
        schema=SCHEMA,
    )


def per_segment(path) -> dict[str, list[tuple[str, str]]]:
    df = pl.read_delta(str(path)).sort("segment_id", "product_id")
    return {
        s: list(zip(g["product_id"], g["writer"]))
        for (s,), g in df.group_by("segment_id", maintain_order=True)
    }


class ForcedRace:
    """Patches ``variant_store.write_deltalake`` so that the first two writes to a table whose
    path ends with ``suffix`` race for sure: the first writer loads its snapshot and waits, the
    second commits, then the first commits from its now stale snapshot. Later writes (retries)
    go straight through. ``conflicts`` counts the CommitFailedErrors raised."""

    def __init__(self, monkeypatch, suffix: str = ""):
        self.suffix = suffix
        self.lock = threading.Lock()
        self.roles: dict[int, str] = {}
        self.snapshot_taken = threading.Event()
        self.second_done = threading.Event()
        self.calls = 0
        self.conflicts = 0
        monkeypatch.setattr(variant_store, "write_deltalake", self.write)

    def write(self, table_or_uri, data, **kwargs):
        me = threading.get_ident()
        with self.lock:
            self.calls += 1
            racing = (
                str(table_or_uri).endswith(self.suffix)
                and me not in self.roles
                and len(self.roles) < 2
            )
            if racing:
                self.roles[me] = "first" if not self.roles else "second"
        try:
            if racing and self.roles[me] == "first":
                stale = (
                    DeltaTable(str(table_or_uri))
                    if variant_store.table_exists(str(table_or_uri))
                    else None
                )
                self.snapshot_taken.set()
                assert self.second_done.wait(60), "the second writer never committed"
                return real_write_deltalake(
                    stale if stale is not None else table_or_uri, data, **kwargs
                )
            if racing:
                assert self.snapshot_taken.wait(60), "the first writer never started"
                try:
                    return real_write_deltalake(table_or_uri, data, **kwargs)
                finally:
                    self.second_done.set()
            return real_write_deltalake(table_or_uri, data, **kwargs)
        except CommitFailedError:
            with self.lock:
                self.conflicts += 1
            raise


def in_threads(*targets):
    errors, threads = [], []

    def wrap(fn):
        try:
            fn()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    for fn in targets:
        threads.append(threading.Thread(target=wrap, args=(fn,)))
        threads[-1].start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads), "a writer hung"
    return errors


# --------------------------------------------------------------------------- replace_segments


def test_same_segment_race_is_retried_and_ends_with_one_clean_set(store_root, monkeypatch):
    path = join(store_root, "t")
    replace_segments(
        path, pl.concat([rows("a", "old"), rows("b", "old")]), ["a", "b"], schema=SCHEMA
    )
    race = ForcedRace(monkeypatch)
    errors = in_threads(
        lambda: replace_segments(path, rows("a", "one"), ["a"], schema=SCHEMA),
        lambda: replace_segments(path, rows("a", "two"), ["a"], schema=SCHEMA),
    )
    assert not errors
    assert race.conflicts == 1 and race.calls == 3  # the stale commit failed once and was redone
    segments = per_segment(path)
    assert len(segments["a"]) == len(PRODUCTS) and [p for p, _ in segments["a"]] == PRODUCTS
    assert len({w for _, w in segments["a"]}) == 1  # one run's rows, not a mix
    assert segments["a"][0][1] in ("one", "two")
    assert segments["b"] == [(p, "old") for p in PRODUCTS]


def test_different_segments_race_both_land_without_a_retry(store_root, monkeypatch):
    path = join(store_root, "t")
    replace_segments(path, rows("z", "old"), ["z"], schema=SCHEMA)
    race = ForcedRace(monkeypatch)
    errors = in_threads(
        lambda: replace_segments(path, rows("a", "one"), ["a"], schema=SCHEMA),
        lambda: replace_segments(path, rows("b", "two"), ["b"], schema=SCHEMA),
    )
    assert not errors and race.conflicts == 0 and race.calls == 2
    assert per_segment(path) == {
        "a": [(p, "one") for p in PRODUCTS],
        "b": [(p, "two") for p in PRODUCTS],
        "z": [(p, "old") for p in PRODUCTS],
    }


@pytest.mark.parametrize("segments", [("a", "b"), ("a", "a")], ids=["different", "same"])
def test_two_writers_creating_the_table_at_once(store_root, monkeypatch, segments):
    """No table yet: both writers see none. Neither may drop the other's segment (a plain
    overwrite would), nor may a segment end up written twice (a retried create would)."""
    for round_ in range(4):
        path = join(store_root, f"t{round_}")
        barrier = threading.Barrier(2, timeout=60)

        def racing_write(table_or_uri, data, **kwargs):
            if not variant_store.table_exists(str(table_or_uri)) or not kwargs.get("predicate"):
                # both have decided the table is missing; now both write
                with contextlib.suppress(threading.BrokenBarrierError):
                    barrier.wait()
            return real_write_deltalake(table_or_uri, data, **kwargs)

        monkeypatch.setattr(variant_store, "write_deltalake", racing_write)
        first, second = segments
        errors = in_threads(
            lambda: replace_segments(path, rows(first, "one"), [first], schema=SCHEMA),
            lambda: replace_segments(path, rows(second, "two"), [second], schema=SCHEMA),
        )
        assert not errors
        got = per_segment(path)
        assert sorted(got) == sorted(set(segments)), f"round {round_}: a segment was lost"
        for segment, products in got.items():
            assert [p for p, _ in products] == PRODUCTS, (
                f"round {round_}: {segment} has {len(products)} rows"
            )
            assert len({w for _, w in products}) == 1


def test_a_conflict_that_never_clears_fails_clearly_and_writes_nothing(store_root, monkeypatch):
    path = join(store_root, "t")
    replace_segments(path, rows("a", "old"), ["a"], schema=SCHEMA)
    version = DeltaTable(path).version()
    attempts = []

    def always_conflicting(table_or_uri, data, **kwargs):
        attempts.append(1)
        raise CommitFailedError("Commit failed: a concurrent transactions added new data")

    monkeypatch.setattr(variant_store, "write_deltalake", always_conflicting)
    with pytest.raises(ConcurrentWriteError) as err:
        replace_segments(path, rows("a", "new"), ["a"], schema=SCHEMA)
    assert len(attempts) == variant_store.REPLACE_ATTEMPTS
    message = str(err.value)
    assert path in message and "segment(s) a" in message and "CommitFailedError" in message
    assert "run it again" in message
    assert DeltaTable(path).version() == version
    assert per_segment(path) == {"a": [(p, "old") for p in PRODUCTS]}


def test_two_runs_forgetting_their_journal_rows_at_once(store_root, monkeypatch):
    from segcopy_assets.generation import journal as generation_journal

    path = join(store_root, "generation_journal")
    real_write_deltalake(path, pl.concat([rows("a", "run-1"), rows("b", "run-1")]).to_arrow())
    stale = DeltaTable(path)  # run B reads the journal ...
    generation_journal.forget_segments(path, ["a"])  # ... run A forgets segment a ...
    # Two runs deleting from one journal file conflict; the refused one reloads and deletes again.
    opened = []

    def stale_first(p):
        opened.append(p)
        return stale if len(opened) == 1 else DeltaTable(p)

    monkeypatch.setattr(generation_journal, "DeltaTable", stale_first)
    generation_journal.forget_segments(path, ["b"])  # ... then run B forgets segment b
    assert len(opened) == 2  # the stale attempt was refused and retried
    assert pl.read_delta(path).height == 0
