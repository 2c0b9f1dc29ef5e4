"""The real asset graph through Dagster, in process, on the fake endpoint: what the orchestration
costs on top of the model calls, and that reruns call exactly what changed.

    python -m bench.pipeline [--json] [--products 72 --latency-ms 150 --concurrency 32]

1. full: ``segcopy_assets.pipeline.run_pipeline`` on a fresh warehouse and Dagster instance
   (sample CDP table of ``--customers`` customers = 14 segments, ``--products`` synthetic
   products, the openai backend on the fake endpoint): every pair generated;
2. pure generation: the same pairs through ``generate_variants`` directly (same Copywriter
   resource, same endpoint), no Dagster;
3. no-op: ``run_pipeline`` again, nothing changed (must call nothing);
4. one segment: every Low-tier E-Bikes customer moves to the Mountain West region (only
   ``e-bikes--core``'s summary changes), ``run_pipeline`` again.

``full_s`` is the whole ``run_pipeline`` (upstream assets, partition sync, the
description_variants range run with its checks, publishing); ``variants_s`` only the
description_variants materialization (one ``dg.materialize`` call). Both overheads are
(x - pure_generation_s) / pure_generation_s. The endpoint runs in its own spawned process.
"""

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from bench import (
    PROMPTS,
    FakeServerProcess,
    emit,
    load_avg,
    log,
    machine,
    pipeline_resources,
    synthetic_products,
    table,
    timed,
)


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m bench.pipeline", description=__doc__.split("\n")[0])
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    p.add_argument("--products", type=int, default=72)
    p.add_argument(
        "--customers", type=int, default=20_000, help="sample CDP customers (14 segments)"
    )
    p.add_argument("--latency-ms", type=float, default=150.0)
    p.add_argument(
        "--concurrency", type=int, default=32, help="Copywriter.max_concurrency (default 32)"
    )
    p.add_argument(
        "--dagster-log-level",
        default="WARNING",
        help="console log level of the runs (run_pipeline's own default is INFO)",
    )
    return p.parse_args(argv)


class MaterializeTimer:
    """Wraps ``pipeline._materialize`` to time each ``dg.materialize`` call by its selection."""

    def __init__(self, pipeline_module, log_level: str):
        self.module, self.original, self.log_level = (
            pipeline_module,
            pipeline_module._materialize,
            log_level,
        )
        self.calls: list[tuple[tuple[str, ...], float]] = []

    def __enter__(self):
        def timed_materialize(selection, *args, **kwargs):
            kwargs.setdefault("log_level", self.log_level)
            started = time.perf_counter()
            try:
                return self.original(selection, *args, **kwargs)
            finally:
                self.calls.append((tuple(selection), time.perf_counter() - started))

        self.module._materialize = timed_materialize
        return self

    def __exit__(self, *exc):
        self.module._materialize = self.original

    def take(self) -> dict[str, float]:
        out = {",".join(key.to_user_string() for key in sel): round(s, 3) for sel, s in self.calls}
        self.calls.clear()
        return out


def change_one_segment(source: str, target: str) -> None:
    """Every Low-tier E-Bikes customer moves to Mountain West: e-bikes--core's region mix (and
    so its summary) changes; no other segment's does."""
    import polars as pl

    pl.read_delta(source).with_columns(
        pl.when(
            (pl.col("preferred_subcategory") == "E-Bikes") & (pl.col("predicted_clv_tier") == "Low")
        )
        .then(pl.lit("Mountain West"))
        .otherwise(pl.col("region"))
        .alias("region")
    ).write_delta(target)


def main(argv=None) -> dict:
    args = parse_args(argv)
    import dagster as dg
    import polars as pl

    from segcopy_assets import pipeline
    from segcopy_assets.devtools.sample_data import write_sample_customers
    from segcopy_assets.generation.variants import generate_variants, plan_pairs
    from segcopy_assets.resources import CdpSource, Copywriter

    result: dict = {
        "latency_ms": args.latency_ms,
        "concurrency": args.concurrency,
        "load_avg_start": load_avg(),
    }
    with (
        tempfile.TemporaryDirectory(prefix="segcopy-bench-pipeline-") as tmp,
        FakeServerProcess(latency_ms=args.latency_ms) as server,
        dg.instance_for_test() as instance,
        MaterializeTimer(pipeline, args.dagster_log_level) as timer,
    ):
        tmp = Path(tmp)
        customers, products_path = str(tmp / "customers"), str(tmp / "products")
        write_sample_customers(customers, n=args.customers)
        synthetic_products(args.products).write_delta(products_path)
        copywriter = Copywriter(
            backend="openai",
            base_url=server.base_url,
            api_key="sk-bench",
            prompts_dir=str(PROMPTS),
            max_concurrency=args.concurrency,
        )
        resources = pipeline_resources(tmp, customers, products_path, copywriter)
        warehouse = resources["warehouse"]

        # 1. full regeneration: one run_pipeline
        log("1. full run_pipeline ...")
        with timed() as full:
            report = pipeline.run_pipeline(instance, resources)
        steps_full = timer.take()
        full_calls = server.stats()["calls"]
        server.reset()
        variants = pl.read_delta(warehouse.table_path("description_variants"))
        pairs_n = variants.height
        result.update(
            pairs=pairs_n,
            segments=len(report.segments_added),
            products=args.products,
            full_s=round(full.wall_s, 3),
            full_cpu_s=round(full.cpu_s, 3),
            variants_s=steps_full.get("description_variants"),
            full_calls=full_calls,
            full_ok=int((variants["status"] == "ok").sum()),
            steps_full_s=steps_full,
            variants_generation_wall_s=report.variant_metadata.get("generation_wall_s"),
        )

        # 2. the same pairs straight through generate_variants (same resource, same endpoint)
        log("2. pure generation: the same pairs through generate_variants ...")
        summaries = pl.read_delta(warehouse.table_path("segment_summaries"))
        products = pl.read_delta(warehouse.table_path("products"))
        pairs = plan_pairs(summaries, products)
        prompt_set = copywriter.prompt_set()
        writer = copywriter.writer(prompt_set)

        async def generate():
            async with writer:
                return await generate_variants(pairs, prompt_set, writer)

        with timed() as pure:
            rows, _ = asyncio.run(generate())
        server.reset()
        pure_s = pure.wall_s
        result.update(
            pure_generation_s=round(pure_s, 3),
            pure_generation_cpu_s=round(pure.cpu_s, 3),
            pure_pairs=len(pairs),
            pure_ok=int((rows["status"] == "ok").sum()),
            overhead=round((full.wall_s - pure_s) / pure_s, 3),
            variants_overhead=round((steps_full["description_variants"] - pure_s) / pure_s, 3),
        )

        # 3. no-op rerun
        log("3. no-op run_pipeline ...")
        with timed() as noop:
            report = pipeline.run_pipeline(instance, resources)
        steps_noop = timer.take()
        result.update(
            noop_calls=server.stats()["calls"],
            noop_s=round(noop.wall_s, 3),
            noop_calls_made_metadata=report.variant_metadata.get("calls_made"),
            steps_noop_s=steps_noop,
        )
        server.reset()

        # 4. one segment changed
        log("4. run_pipeline after one segment changed ...")
        changed = str(tmp / "customers_v2")
        change_one_segment(customers, changed)
        before = summaries.select("segment_id", "summary_hash")
        resources = {**resources, "cdp": CdpSource(delta_path=changed)}
        with timed() as one:
            report = pipeline.run_pipeline(instance, resources)
        steps_one = timer.take()
        after = pl.read_delta(warehouse.table_path("segment_summaries")).select(
            "segment_id", "summary_hash"
        )
        moved = after.join(before, on="segment_id", how="left", suffix="_before").filter(
            pl.col("summary_hash") != pl.col("summary_hash_before").fill_null("")
        )
        result.update(
            one_segment_calls=server.stats()["calls"],
            one_segment_s=round(one.wall_s, 3),
            changed_segments=moved["segment_id"].to_list(),
            expected_one_segment_calls=moved.height * products.height,
            one_segment_calls_made_metadata=report.variant_metadata.get("calls_made"),
            steps_one_segment_s=steps_one,
        )

    result["load_avg_end"] = load_avg()
    result["machine"] = machine()
    r = result
    rows_out = [
        ["1. full regeneration (whole run_pipeline)", r["full_calls"], r["full_s"], r["overhead"]],
        [
            "   of which description_variants materialization",
            r["full_calls"],
            r["variants_s"],
            r["variants_overhead"],
        ],
        [
            "2. pure generation (generate_variants, no Dagster)",
            r["pure_pairs"],
            r["pure_generation_s"],
            0.0,
        ],
        ["3. no-op rerun (whole run_pipeline)", r["noop_calls"], r["noop_s"], None],
        [
            f"4. one segment changed ({', '.join(r['changed_segments'])})",
            r["one_segment_calls"],
            r["one_segment_s"],
            None,
        ],
    ]
    text = [
        f"pipeline: {r['pairs']} pairs ({r['products']} products x {r['segments']} segments, "
        f"{args.customers:,} customers), {args.latency_ms:g} ms latency, max_concurrency {args.concurrency}, "
        f"in-process Dagster, fake endpoint in its own process",
        "",
        table(["run", "model calls", "wall s", "overhead vs 2."], rows_out),
        "",
        f"overhead (whole pipeline): {r['overhead']}; description_variants only: {r['variants_overhead']} "
        f"(target <= 0.2)",
        f"no-op calls: {r['noop_calls']} (target 0); one-segment calls: {r['one_segment_calls']} "
        f"(expected {r['expected_one_segment_calls']} = {len(r['changed_segments'])} changed segment(s) "
        f"x {r['products']} products)",
        "steps of the full run (s): " + ", ".join(f"{k} {v}" for k, v in r["steps_full_s"].items()),
        f"description_variants materialization {r['variants_s']} s = generation "
        f"{r['variants_generation_wall_s']} s (the asset's generation_wall_s) + "
        f"{round(r['variants_s'] - (r['variants_generation_wall_s'] or 0), 3)} s else (run setup, Dagster "
        f"events, cache read, Delta writes, judging every variant, checks); with nothing to generate "
        f"(no-op) it takes {r['steps_noop_s'].get('description_variants')} s",
        f"load average {r['load_avg_start']} -> {r['load_avg_end']} on {r['machine']['cores']} cores",
    ]
    emit("\n".join(text), result, args.json)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
