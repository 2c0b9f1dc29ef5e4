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
snapshot.
"""

import contextlib
import multiprocessing
import threading

import dagster as dg
import polars as pl
import pytest
from deltalake import DeltaTable
from deltalake import write_deltalake as real_write_deltalake
from deltalake.exceptions import CommitFailedError

from segcopy_assets.definitions import ALL_ASSETS, ALL_CHECKS
from segcopy_assets.pipeline import run_pipeline
from segcopy_assets.storage import variant_store
from segcopy_assets.storage.variant_store import ConcurrentWriteError, replace_segments
from tests.conftest import make_resources

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


def test_same_segment_race_is_retried_and_ends_with_one_clean_set(tmp_path, monkeypatch):
    path = str(tmp_path / "t")
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


def test_different_segments_race_both_land_without_a_retry(tmp_path, monkeypatch):
    path = str(tmp_path / "t")
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
def test_two_writers_creating_the_table_at_once(tmp_path, monkeypatch, segments):
    """No table yet: both writers see none. Neither may drop the other's segment (a plain
    overwrite would), nor may a segment end up written twice (a retried create would)."""
    for round_ in range(4):
        path = str(tmp_path / f"t{round_}")
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


def test_a_conflict_that_never_clears_fails_clearly_and_writes_nothing(tmp_path, monkeypatch):
    path = str(tmp_path / "t")
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


# ---------------------------------------------------------------------------- two Dagster runs
#
# Two runs are two spawned processes on one instance and one warehouse, as under `dagster dev`
# (a run per process). Not threads: Dagster calls logging.config.dictConfig at every run start,
# which deadlocks against another thread's run that is logging at that moment.


class ProcessRace:
    """``ForcedRace`` across processes: the "first" run commits its first write to
    description_variants from a snapshot read before the "second" run committed."""

    def __init__(self, role: str, snapshot_taken, second_done):
        self.role, self.snapshot_taken, self.second_done = role, snapshot_taken, second_done
        self.raced = False
        self.conflicts = 0

    def write(self, table_or_uri, data, **kwargs):
        racing = not self.raced and str(table_or_uri).endswith("description_variants")
        self.raced = self.raced or racing
        try:
            if racing and self.role == "first":
                stale = DeltaTable(str(table_or_uri))
                self.snapshot_taken.set()
                assert self.second_done.wait(120), "the second run never committed"
                return real_write_deltalake(stale, data, **kwargs)
            if racing:
                assert self.snapshot_taken.wait(120), "the first run never reached its write"
                try:
                    return real_write_deltalake(table_or_uri, data, **kwargs)
                finally:
                    self.second_done.set()
            return real_write_deltalake(table_or_uri, data, **kwargs)
        except CommitFailedError:
            self.conflicts += 1
            raise


def run_partition_in_child(
    instance_ref, tmp_path, sample_tables, segment_id, role, events, results
):
    """A spawned process: materialize one description_variants partition (force_regenerate)."""
    instance = dg.DagsterInstance.from_ref(instance_ref)
    race = ProcessRace(role, *events)
    variant_store.write_deltalake = race.write
    result = dg.materialize(
        [*ALL_ASSETS, *ALL_CHECKS],
        selection=["description_variants"],
        partition_key=segment_id,
        resources=make_resources(tmp_path, sample_tables),
        instance=instance,
        raise_on_error=False,
        run_config={"ops": {"description_variants": {"config": {"force_regenerate": True}}}},
    )
    failures = [e.step_failure_data.error.message for e in result.all_events if e.is_step_failure]
    results.put(
        {
            "role": role,
            "segment": segment_id,
            "success": result.success,
            "failures": failures,
            "raced": race.raced,
            "conflicts": race.conflicts,
        }
    )


def two_runs_at_once(tmp_path, sample_tables, instance, segments: tuple[str, str]) -> list[dict]:
    ctx = multiprocessing.get_context("spawn")
    events = (ctx.Event(), ctx.Event())
    results = ctx.Queue()
    procs = [
        ctx.Process(
            target=run_partition_in_child,
            args=(instance.get_ref(), tmp_path, sample_tables, segment, role, events, results),
        )
        for segment, role in zip(segments, ("first", "second"))
    ]
    for proc in procs:
        proc.start()
    try:
        out = [results.get(timeout=240) for _ in procs]
    finally:
        for proc in procs:
            proc.join(30)
            if proc.is_alive():
                proc.terminate()
    return sorted(out, key=lambda r: r["role"])


@pytest.fixture
def instance():
    """On disk: the spawned runs open it from its ref (overrides conftest's in-memory one)."""
    with dg.instance_for_test() as inst:
        yield inst


@pytest.fixture
def warehouse(tmp_path, sample_tables, instance):
    resources = make_resources(tmp_path, sample_tables)
    run_pipeline(instance, resources)
    return resources


def assert_one_row_per_pair(resources) -> pl.DataFrame:
    variants = pl.read_delta(resources["warehouse"].table_path("description_variants"))
    assert variants.height == 196 and variants.select("segment_id", "product_id").n_unique() == 196
    checks = pl.read_delta(resources["warehouse"].table_path("variant_checks"))
    assert checks.height == checks.select("segment_id", "product_id", "check").n_unique()
    return variants


@pytest.mark.slow
def test_two_runs_of_different_segments_at_once_both_land(
    tmp_path, sample_tables, instance, warehouse
):
    before = pl.read_delta(warehouse["warehouse"].table_path("description_variants"))
    results = two_runs_at_once(
        tmp_path, sample_tables, instance, ("tents--core", "road-bikes--high-value")
    )
    for r in results:
        assert r["success"] and r["raced"], r
    assert (
        sum(r["conflicts"] for r in results) == 0
    )  # disjoint partitions: delta-rs merges the commits
    after = assert_one_row_per_pair(warehouse)
    moved = after.join(before, on=["segment_id", "product_id"], suffix="_old").filter(
        pl.col("generated_at") != pl.col("generated_at_old")
    )
    assert (
        set(moved["segment_id"]) == {"tents--core", "road-bikes--high-value"} and moved.height == 28
    )


@pytest.mark.slow
def test_two_runs_of_the_same_segment_at_once_end_with_one_clean_result(
    tmp_path, sample_tables, instance, warehouse
):
    before = pl.read_delta(warehouse["warehouse"].table_path("description_variants"))
    results = two_runs_at_once(tmp_path, sample_tables, instance, ("tents--core", "tents--core"))
    first, second = results
    assert first["raced"] and second["raced"]
    assert first["conflicts"] == 1 and second["conflicts"] == 0  # the stale commit was refused ...
    assert first["success"] and second["success"], results  # ... and redone: both runs succeed
    after = assert_one_row_per_pair(warehouse)
    segment = after.filter(pl.col("segment_id") == "tents--core")
    assert segment.height == 14 and segment["product_id"].n_unique() == 14
    assert segment["generated_at"].min() > before["generated_at"].max()
    others = after.filter(pl.col("segment_id") != "tents--core").sort("segment_id", "product_id")
    assert others.equals(
        before.filter(pl.col("segment_id") != "tents--core").sort("segment_id", "product_id")
    )


def test_two_runs_forgetting_their_journal_rows_at_once(tmp_path, monkeypatch):
    from segcopy_assets.generation import journal as generation_journal

    path = str(tmp_path / "generation_journal")
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
