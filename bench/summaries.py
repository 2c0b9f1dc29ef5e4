"""Segment summaries end to end (read the CDP Delta table, compute every summary column):
segcopy's polars ``compute_segment_summaries(pl.scan_delta(path))`` vs an idiomatic pandas
implementation that produces the same frame (checked equal, every column, on every run).

    python -m bench.summaries [--json] [--rows 1000000,10000000] [--repeat 3]

Synthetic CDP tables are written once with ``sample_data.write_sample_customers`` into
``--data-dir`` (default ``.segcopy/bench/``, git-ignored) and reused by later runs. Each size
runs polars and pandas alternately ``--repeat`` times in this one process; the best wall time of
each is reported, with its CPU time. Peak memory is measured apart, once per implementation and
size, each in a fresh spawned process (in this one, memory the other implementation's run left
to the allocator would count): ``peak_rss_mb`` is that process's peak resident set, interpreter
and imports included (``--no-memory`` skips it).
"""

import argparse
import os
import shutil
import sys
from pathlib import Path

from bench import DEFAULT_DATA_DIR, emit, load_avg, log, machine, peak_rss_mb, table, timed


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="python -m bench.summaries", description=__doc__.split("\n")[0]
    )
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    p.add_argument("--rows", default="1000000,10000000", help="comma-separated table sizes")
    p.add_argument(
        "--repeat", type=int, default=3, help="runs of each implementation per size (best kept)"
    )
    p.add_argument(
        "--data-dir", default=str(DEFAULT_DATA_DIR), help="where the generated tables are cached"
    )
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory runs")
    return p.parse_args(argv)


def customers_table(data_dir: Path, rows: int) -> str:
    """The cached synthetic table of ``rows`` customers (written on first use, atomically)."""
    from segcopy_assets.devtools.sample_data import write_sample_customers

    path = data_dir / f"customers_{rows}"
    if not (path / "_delta_log").is_dir():
        log(f"writing {rows:,} synthetic customers to {path} (once; cached for later runs) ...")
        partial = data_dir / f".customers_{rows}.partial-{os.getpid()}"
        shutil.rmtree(partial, ignore_errors=True)
        partial.parent.mkdir(parents=True, exist_ok=True)
        write_sample_customers(str(partial), n=rows)
        partial.rename(path)
    return str(path)


# ------------------------------------------------------------------------------ the pandas version


def pandas_segment_summaries(path: str):
    """What a pandas user would write for ``compute_segment_summaries`` (default segmentation):
    read the needed columns, one groupby per profile dimension, rank, keep the top places,
    build the share lists, then the same description and hash as segcopy."""
    import numpy as np
    from deltalake import DeltaTable

    from segcopy_assets.core.segments import (
        CORE,
        HIGH_VALUE,
        PLACE_DIMENSIONS,
        PROFILE_DIMENSIONS,
        VALUE_GROUP,
        SegmentationSpec,
        describe_segment,
        segment_slug,
        summary_hash,
    )

    spec = SegmentationSpec()
    keys, dims = list(spec.keys), dict(PROFILE_DIMENSIONS)
    needed = sorted(
        set(spec.source_key_columns()) | set(dims) | set(PLACE_DIMENSIONS) | {"preferred_category"}
    )
    df = DeltaTable(path).to_pandas(columns=needed)
    df[VALUE_GROUP] = np.where(
        df["predicted_clv_tier"].isin(spec.high_value_tiers), HIGH_VALUE, CORE
    )
    for column in [*dims, *PLACE_DIMENSIONS]:
        df[column] = df[column].fillna("Unknown").astype(str)

    by_segment = df.groupby(keys, sort=False, dropna=False)
    summary = by_segment.size().rename("customer_count").to_frame()
    categories = (
        df.groupby([*keys, "preferred_category"], sort=False, dropna=False)
        .size()
        .rename("n")
        .reset_index()
    )
    categories = categories.sort_values(
        [*keys, "n", "preferred_category"], ascending=[*[True] * len(keys), False, True]
    )
    summary["top_category"] = categories.groupby(keys, sort=False).first()["preferred_category"]

    def shares(column: str, top: int | None):
        counts = (
            df.groupby([*keys, column], sort=False, dropna=False)
            .size()
            .rename("count")
            .reset_index()
        )
        counts["share"] = counts["count"] / counts.groupby(keys, sort=False)["count"].transform(
            "sum"
        )
        counts = counts.sort_values(
            [*keys, "count", column], ascending=[*[True] * len(keys), False, True]
        )
        if top is not None:
            counts = counts.groupby(keys, sort=False).head(top)
        return counts.groupby(keys, sort=False)[[column, "count", "share"]].apply(
            lambda g: [
                {"value": v, "count": int(c), "share": float(s)}
                for v, c, s in zip(g[column], g["count"], g["share"])
            ]
        )

    for column in dims:
        summary[f"{column}_shares"] = shares(column, None)
    for column, (out, top) in PLACE_DIMENSIONS.items():
        summary[out] = shares(column, top)

    summary = summary[summary["customer_count"] >= spec.min_segment_size].reset_index()
    summary["share_of_customers"] = summary["customer_count"] / max(
        int(summary["customer_count"].sum()), 1
    )
    summary = summary.sort_values(keys).reset_index(drop=True)
    records = summary.to_dict("records")
    summary["segment_id"] = [segment_slug([r[k] for k in keys]) for r in records]
    summary["segment_description"] = [describe_segment(r, keys, dims) for r in records]
    summary["summary_hash"] = [summary_hash(r, keys, dims) for r in records]
    ordered = ["segment_id", *keys, "top_category", "customer_count", "share_of_customers"]
    ordered += [f"{d}_shares" for d in dims] + [out for out, _ in PLACE_DIMENSIONS.values()]
    return summary[[*ordered, "segment_description", "summary_hash"]]


def assert_same(polars_frame, pandas_frame) -> None:
    """The pandas result, converted to polars with segcopy's schema, equals segcopy's (floats may
    differ in the last bit: polars divides by a scalar as a multiplication)."""
    import polars as pl
    from polars.testing import assert_frame_equal

    converted = pl.DataFrame(pandas_frame.to_dict("records"), schema=polars_frame.schema)
    assert_frame_equal(
        converted, polars_frame
    )  # floats to 1e-5 relative; ints, strings, hashes exact


# ------------------------------------------------------------------------------------------- main


def run_polars(path: str):
    import polars as pl

    from segcopy_assets.core.segments import compute_segment_summaries

    return compute_segment_summaries(pl.scan_delta(path))


IMPLEMENTATIONS = {"polars": run_polars, "pandas": pandas_segment_summaries}


def _peak_in_child(conn, implementation: str, path: str) -> None:  # runs in a spawned process
    IMPLEMENTATIONS[implementation](path)
    conn.send(peak_rss_mb())


def peak_memory_mb(implementation: str, path: str) -> float:
    """Peak RSS of a fresh process that runs one implementation once."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    process = ctx.Process(target=_peak_in_child, args=(child, implementation, path))
    process.start()
    child.close()
    try:
        return round(parent.recv(), 1)
    finally:
        process.join()


def main(argv=None) -> dict:
    args = parse_args(argv)
    import polars as pl

    sizes = [int(s.replace("_", "")) for s in args.rows.split(",") if s.strip()]
    data_dir = Path(args.data_dir)
    results = []
    for rows in sizes:
        path = customers_table(data_dir, rows)
        polars_runs, pandas_runs = [], []
        for i in range(max(1, args.repeat)):
            log(f"{rows:,} customers, run {i + 1}/{args.repeat}: polars ...")
            with timed() as t:
                polars_frame = run_polars(path)
            polars_runs.append(t)
            log(f"{rows:,} customers, run {i + 1}/{args.repeat}: pandas ...")
            with timed() as t:
                pandas_frame = pandas_segment_summaries(path)
            pandas_runs.append(t)
            assert_same(polars_frame, pandas_frame)
            del pandas_frame
        memory = {}
        if not args.no_memory:
            for name in IMPLEMENTATIONS:
                log(f"{rows:,} customers: peak memory of {name}, in a fresh process ...")
                memory[name] = peak_memory_mb(name, path)
        best_pl = min(polars_runs, key=lambda r: r.wall_s)
        best_pd = min(pandas_runs, key=lambda r: r.wall_s)
        results.append(
            {
                "rows": rows,
                "segments": polars_frame.height,
                "polars_s": round(best_pl.wall_s, 3),
                "pandas_s": round(best_pd.wall_s, 3),
                "ratio": round(best_pd.wall_s / best_pl.wall_s, 2),
                "peak_rss_mb": memory.get("polars"),
                "pandas_peak_rss_mb": memory.get("pandas"),
                "polars_cpu_s": round(best_pl.cpu_s, 3),
                "pandas_cpu_s": round(best_pd.cpu_s, 3),
                "polars_runs_s": [round(r.wall_s, 3) for r in polars_runs],
                "pandas_runs_s": [round(r.wall_s, 3) for r in pandas_runs],
                "equal": True,
                "load_avg": load_avg(),
            }
        )
    result = {
        "results": results,
        "repeat": args.repeat,
        "polars_threads": pl.thread_pool_size(),
        "machine": machine(),
    }
    rows_out = [
        [
            r["rows"],
            r["segments"],
            r["polars_s"],
            r["polars_cpu_s"],
            r["pandas_s"],
            r["pandas_cpu_s"],
            r["ratio"],
            r["peak_rss_mb"],
            r["pandas_peak_rss_mb"],
            r["load_avg"],
        ]
        for r in results
    ]
    text = [
        f"segment summaries, end to end from Delta (best of {args.repeat}; same output checked equal); "
        f"polars on {pl.thread_pool_size()} threads, pandas single-threaded",
        "",
        table(
            [
                "customers",
                "segments",
                "polars s",
                "polars cpu s",
                "pandas s",
                "pandas cpu s",
                "ratio",
                "polars peak MB*",
                "pandas peak MB*",
                "load avg",
            ],
            rows_out,
        ),
        "",
        "targets: 10M customers <= 3 s (polars) and ratio >= 8",
        "* peak resident memory of a fresh process running that implementation once (imports included)",
        f"machine: {result['machine']['cores']} cores, {result['machine'].get('ram_gb')} GB RAM",
    ]
    emit("\n".join(text), result, args.json)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
