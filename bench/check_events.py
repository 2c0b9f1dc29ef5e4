"""What a range run's per-partition check results cost in Dagster events, by design option.

    python -m bench.check_events [--json] [--partitions 200] [--pg-url URL]

A toy asset on dynamic partitions with the shape of ``description_variants`` (single-run
backfill policy; every check of a range run logs one ``AssetCheckEvaluation`` per partition, as
``defs/generation/checks.py`` does), materialized over ``--partitions`` partitions with:

* ``12 checks``: one Dagster check per rule (segcopy before issue 15);
* ``2 checks``: the rules grouped (``well_formed`` + ``copy_quality``, segcopy now);
* each of the above with ``DAGSTER_EVENT_BATCH_SIZE`` = 0 (Dagster's default) and 1000 (what
  ``segcopy run`` / ``segcopy dev`` set: materializations, observations and planned events are
  written in batches; check evaluations cannot be);
* ``multi_run``: one run per partition (what ``BackfillPolicy.multi_run(1)`` makes a backfill
  launch; here in process, so without the run launcher's process start), 2 checks, on a tenth
  of the partitions (it is slow; the figure is per partition);

on a SQLite instance (a temp DAGSTER_HOME) and, with ``--pg-url`` (or BENCH_PG_URL), on a fresh
PostgreSQL database. Reported: wall milliseconds and events per partition; ms per partition is
also the seconds that 1,000 partitions would take.
"""

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import dagster as dg

from bench import emit, load_avg, log, machine, table

SEGMENTS = dg.DynamicPartitionsDefinition(name="segments")


def build(checks: int, multi_run: bool):
    names = [f"rule_{k}" for k in range(checks)]

    @dg.asset(
        name="variants",
        partitions_def=SEGMENTS,
        backfill_policy=dg.BackfillPolicy.multi_run(1)
        if multi_run
        else dg.BackfillPolicy.single_run(),
    )
    def variants(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        return dg.MaterializeResult(metadata={"pairs": 100})

    def make(name: str):
        @dg.asset_check(asset=variants, name=name, partitions_def=SEGMENTS)
        def check(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
            if not context.has_partition_key:
                for key in context.partition_keys:
                    context.op_execution_context.log_event(
                        dg.AssetCheckEvaluation(  # type: ignore[arg-type]
                            asset_key=variants.key,
                            check_name=name,
                            passed=True,
                            partition=key,
                            metadata={"evaluated": 100, "failing": 0},
                        )
                    )
            return dg.AssetCheckResult(check_name=name, passed=True)

        return check

    return variants, [make(n) for n in names]


def count_events(instance: dg.DagsterInstance) -> int:
    return sum(len(instance.all_logs(r.run_id)) for r in instance.get_runs())


QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def measure(instance, keys: list[str], checks: int, multi_run: bool) -> dict:
    asset, asset_checks = build(checks, multi_run)
    instance.add_dynamic_partitions("segments", keys)
    before = count_events(instance)
    started = time.perf_counter()
    if multi_run:
        for key in keys:
            dg.materialize(
                [asset, *asset_checks], instance=instance, partition_key=key, run_config=QUIET
            )
    else:
        dg.materialize(
            [asset, *asset_checks],
            instance=instance,
            run_config=QUIET,
            tags={
                "dagster/asset_partition_range_start": keys[0],
                "dagster/asset_partition_range_end": keys[-1],
            },
        )
    wall = time.perf_counter() - started
    events = count_events(instance) - before
    return {"per_partition_ms": round(1000 * wall / len(keys), 1), "events": events / len(keys)}


def instances(pg_url: str | None):
    with tempfile.TemporaryDirectory() as home:
        Path(home, "dagster.yaml").write_text("")
        yield "sqlite", lambda: dg.DagsterInstance.local_temp(tempdir=home)
    if pg_url:
        from segcopy_assets.devtools.postgres import scratch_database

        with scratch_database(pg_url) as url:
            yield "postgres", lambda: _pooled(dg.DagsterInstance.from_config(_pg_home(url)))


def _pooled(instance: dg.DagsterInstance) -> dg.DagsterInstance:
    """Connections kept open for the run, as ``segcopy run`` does (instance.pool_connections)."""
    from segcopy_assets.instance import pool_connections

    pool_connections(instance)
    return instance


def _pg_home(url: str) -> str:
    home = tempfile.mkdtemp()
    os.environ["BENCH_DAGSTER_PG_URL"] = url
    Path(home, "dagster.yaml").write_text(
        "storage:\n  postgres:\n    postgres_url:\n      env: BENCH_DAGSTER_PG_URL\n"
    )
    return home


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(prog="python -m bench.check_events")
    p.add_argument("--json", action="store_true")
    p.add_argument("--partitions", type=int, default=200)
    p.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL"))
    args = p.parse_args(argv)
    options = [
        ("12 checks", 12, False, "0"),
        ("12 checks, batched", 12, False, "1000"),
        ("2 checks", 2, False, "0"),
        ("2 checks, batched", 2, False, "1000"),
        ("multi_run, 2 checks, batched", 2, True, "1000"),
    ]
    results: dict = {"machine": machine(), "load_avg": load_avg(), "partitions": args.partitions}
    rows = []
    for kind, open_instance in instances(args.pg_url):
        for label, checks, multi, batch in options:
            os.environ["DAGSTER_EVENT_BATCH_SIZE"] = batch
            n = max(5, args.partitions // 10) if multi else args.partitions
            keys = [f"{uuid.uuid4().hex[:6]}-{k:05d}" for k in range(n)]
            log(f"{kind}: {label} over {n} partitions")
            with open_instance() as instance:
                r = measure(instance, keys, checks, multi)
            results[f"{kind}/{label}"] = r
            rows.append(
                [kind, label, n, r["per_partition_ms"], r["events"],
                 round(r["per_partition_ms"], 1)]
            )  # fmt: skip
    os.environ.pop("DAGSTER_EVENT_BATCH_SIZE", None)
    text = table(
        ["instance", "option", "partitions", "ms / partition", "events / partition",
         "s at 1,000 partitions"],
        rows,
    )  # fmt: skip
    emit(text, results, args.json)
    return results


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
