"""Two Dagster runs of description_variants at once, in two spawned processes on one on-disk
instance and one warehouse, as under ``dagster dev`` (a run per process). Not threads: Dagster
calls logging.config.dictConfig at every run start, which deadlocks against another thread's run
that is logging at that moment.

The race is forced: the "first" run reads its snapshot of the table, the "second" commits, then
the first commits from its stale snapshot (deltalake's behaviour and ``replace_segments``'s retry
are described in tests/integration/test_concurrent_writers.py).
"""

import multiprocessing

import dagster as dg
import polars as pl
import pytest
from deltalake import DeltaTable
from deltalake import write_deltalake as real_write_deltalake
from deltalake.exceptions import CommitFailedError

from segcopy_assets.definitions import ALL_ASSETS, ALL_CHECKS
from segcopy_assets.pipeline import run_pipeline
from segcopy_assets.resources import (
    CdpSource,
    Copywriter,
    Judge,
    ProductRepository,
    Publication,
    QualityRules,
    Segmentation,
    Warehouse,
)
from segcopy_assets.storage import variant_store
from segcopy_assets.storage.io_manager import warehouse_io_manager


class ProcessRace:
    """A forced race across processes (``ForcedRace`` in test_concurrent_writers.py does it
    across threads): the "first" run commits its first write to description_variants from a
    snapshot read before the "second" run committed."""

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


def child_resources(tmp_path, sample_tables, prompts_dir) -> dict:
    """``make_resources(tmp_path, sample_tables)`` (conftest), built again in a spawned run:
    fixtures do not reach it and Dagster resources do not unpickle. The ``warehouse`` fixture
    asserts that both build the same resources."""
    warehouse = Warehouse(root=str(tmp_path / "warehouse"))
    return {
        "cdp": CdpSource(delta_path=sample_tables["customers"]),
        "product_repository": ProductRepository(path=sample_tables["products"]),
        "segmentation": Segmentation(),
        "copywriter": Copywriter(backend="offline", prompts_dir=str(prompts_dir)),
        "quality_rules": QualityRules(),
        "publication": Publication(),
        "judge": Judge(prompts_dir=str(prompts_dir)),
        "warehouse": warehouse,
        "warehouse_io_manager": warehouse_io_manager(warehouse.root),
    }


def run_partition_in_child(
    instance_ref, tmp_path, sample_tables, prompts_dir, segment_id, role, events, results
):
    """A spawned process: materialize one description_variants partition (force_regenerate)."""
    instance = dg.DagsterInstance.from_ref(instance_ref)
    race = ProcessRace(role, *events)
    variant_store.write_deltalake = race.write
    result = dg.materialize(
        [*ALL_ASSETS, *ALL_CHECKS],
        selection=["description_variants"],
        partition_key=segment_id,
        resources=child_resources(tmp_path, sample_tables, prompts_dir),
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


def two_runs_at_once(
    tmp_path, sample_tables, prompts_dir, instance, segments: tuple[str, str]
) -> list[dict]:
    ctx = multiprocessing.get_context("spawn")
    events = (ctx.Event(), ctx.Event())
    results = ctx.Queue()
    procs = [
        ctx.Process(
            target=run_partition_in_child,
            args=(
                instance.get_ref(),
                tmp_path,
                sample_tables,
                prompts_dir,
                segment,
                role,
                events,
                results,
            ),
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
def warehouse(tmp_path, sample_tables, disk_instance, make_resources, prompts_dir):
    """A full run on an on-disk instance (the spawned runs open it from its ref)."""
    resources = make_resources(tmp_path, sample_tables)
    assert child_resources(tmp_path, sample_tables, prompts_dir) == resources
    run_pipeline(disk_instance, resources)
    return resources


def assert_one_row_per_pair(resources) -> pl.DataFrame:
    variants = pl.read_delta(resources["warehouse"].table_path("description_variants"))
    assert variants.height == 196 and variants.select("segment_id", "product_id").n_unique() == 196
    checks = pl.read_delta(resources["warehouse"].table_path("variant_checks"))
    assert checks.height == checks.select("segment_id", "product_id", "check").n_unique()
    return variants


@pytest.mark.slow
def test_two_runs_of_different_segments_at_once_both_land(
    tmp_path, sample_tables, prompts_dir, disk_instance, warehouse
):
    before = pl.read_delta(warehouse["warehouse"].table_path("description_variants"))
    results = two_runs_at_once(
        tmp_path,
        sample_tables,
        prompts_dir,
        disk_instance,
        ("tents--core", "road-bikes--high-value"),
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
    tmp_path, sample_tables, prompts_dir, disk_instance, warehouse
):
    before = pl.read_delta(warehouse["warehouse"].table_path("description_variants"))
    results = two_runs_at_once(
        tmp_path, sample_tables, prompts_dir, disk_instance, ("tents--core", "tents--core")
    )
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
