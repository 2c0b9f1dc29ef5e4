"""Batch mode against online mode (issue 16): ``python -m bench.batch [--configs small,medium]
[--latency-ms 150] [--customers-scale F] [--json]``.

Each cell is one configuration of ``bench.scale`` (segments x products x customers) on a fresh
``SEGCOPY_HOME`` with the fake endpoint in its own process (``bench.FakeServerProcess``), every
step a ``segcopy run`` subprocess configured by environment only, side by side in one run:

- ``online``: ``full`` (every pair called at ``--latency-ms``), then ``prompt`` (one line of the
  copied prompt edited: every pair again);
- ``batch`` (``SEGCOPY_LLM_MODE=batch``, ``SEGCOPY_BATCH_POLL_S=1``, the fake ending a batch at
  its second retrieve): ``submit`` (``segcopy run``: render, upload, create, return), ``collect``
  (``segcopy run --wait``: poll, download, parse, write, check, publish), ``noop`` (``segcopy run
  --wait`` again: nothing may be requested), then ``prompt_submit`` / ``prompt_collect``.

Per step: wall and CPU s, peak RSS of the child, what the endpoint saw (chat calls, batches
created, batch lines run, files uploaded) and the estimated cost ``segcopy run`` printed.
Derived: cost of a batch refresh / cost online (target 0.5), chat calls in batch mode (target
0), requests of the no-op (target 0), and the platform's own time for a batch refresh
(submit + collect, the provider's hours left out) against the online refresh's wall time.
"""

import argparse
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench import FakeServerProcess, emit, log, machine, synthetic_products, table
from bench.scale import CONFIGS, change_prompt, child_env, parse_run_output, run_child

_COST = re.compile(r"prompt hash \w+; estimated cost \$?([\d.]+)")
_BATCH = re.compile(r"Batch API: (\d+) variant\(s\) from batches; estimated cost \$?([\d.]+)")
STEPS = {
    "online": [("full", []), ("prompt", [])],
    "batch": [
        ("submit", []),
        ("collect", ["--wait"]),
        ("noop", ["--wait"]),
        ("prompt_submit", []),
        ("prompt_collect", ["--wait"]),
    ],
}
COUNTERS = ("calls", "batches_created", "batch_lines", "files_uploaded")


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m bench.batch", description=__doc__)
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    p.add_argument("--configs", default="small,medium", help=f"any of {','.join(CONFIGS)}")
    p.add_argument("--latency-ms", type=float, default=150.0, help="fake endpoint latency")
    p.add_argument(
        "--modes",
        default="online,batch",
        help="online and/or batch (batch alone: no cost ratio, for the large configuration)",
    )
    p.add_argument("--customers-scale", type=float, default=1.0)
    p.add_argument("--step-timeout", type=float, default=3600.0)
    p.add_argument("--work-dir", type=Path, default=None)
    return p.parse_args(argv)


def run_cell(cfg, mode: str, args, root: Path, server: FakeServerProcess) -> dict[str, Any]:
    repo = Path(__file__).resolve().parents[1]
    cell_dir = root / f"{cfg.name}-{mode}"
    shutil.rmtree(cell_dir, ignore_errors=True)
    cell_dir.mkdir(parents=True)
    prompts, products = cell_dir / "prompts", cell_dir / "products"
    shutil.copytree(repo / "prompts", prompts)
    synthetic_products(cfg.products).write_delta(str(products))
    extra = {
        "SEGCOPY_HOME": str(cell_dir / "home"),
        "SEGCOPY_PRODUCTS_PATH": str(products),
        "SEGCOPY_PROMPTS_DIR": str(prompts),
        "SEGCOPY_LLM_BACKEND": "openai",
        "SEGCOPY_LLM_BASE_URL": str(server.base_url),
        "SEGCOPY_LLM_API_KEY": "sk-bench",
        "SEGCOPY_LLM_MODE": mode,
        "SEGCOPY_BATCH_POLL_S": "1",
    }
    if cfg.keys:
        extra["SEGCOPY_SEGMENT_KEYS"] = ",".join(cfg.keys)
    env = child_env(None, extra)
    cli = [sys.executable, "-m", "segcopy_assets.cli"]
    customers = max(1_000, round(cfg.customers * args.customers_scale))
    init = run_child(
        [*cli, "init-sample", "--customers", str(customers)],
        env,
        cell_dir,
        cell_dir / "init",
        args.step_timeout,
    )
    if init.rc:
        raise SystemExit(f"init-sample failed:\n{init.stderr[-2000:]}")
    steps: dict[str, Any] = {}
    for step, flags in STEPS[mode]:
        if step.startswith("prompt") and not step.endswith("collect"):
            change_prompt(prompts)
        before = server.stats()
        log(f"[{cfg.name}/{mode}] {step}: segcopy run {' '.join(flags)}")
        child = run_child([*cli, "run", *flags], env, cell_dir, cell_dir / step, args.step_timeout)
        if child.rc:
            raise SystemExit(f"{cfg.name}/{mode}/{step} failed:\n{child.stderr[-3000:]}")
        after = server.stats()
        out = parse_run_output(child.stdout)
        cost = _COST.search(child.stdout)
        batch = _BATCH.search(child.stdout)
        steps[step] = {
            "wall_s": round(child.wall_s, 2),
            "cpu_s": round(child.cpu_s, 2),
            "peak_rss_mb": round(child.peak_rss_mb),
            **{k: after[k] - before[k] for k in COUNTERS},
            "pairs": out.get("pairs"),
            "segments": out.get("segments_added") or None,
            "estimated_cost_usd": float(cost[1]) if cost else None,
            "batch_variants": int(batch[1]) if batch else None,
        }
    return steps


def derive(cells: dict[str, dict]) -> dict[str, Any]:
    """The comparisons; those needing a mode that was not run are None."""
    online, batch = cells.get("online"), cells.get("batch")
    if batch is None:
        return {}
    out: dict[str, Any] = {"cost_ratio_full": None, "cost_ratio_prompt": None}
    if online is not None:
        for key, b, o in (("full", "collect", "full"), ("prompt", "prompt_collect", "prompt")):
            online_cost = online[o]["estimated_cost_usd"]
            if online_cost:
                out[f"cost_ratio_{key}"] = round(batch[b]["estimated_cost_usd"] / online_cost, 4)
    return {
        **out,
        "chat_calls_in_batch_mode": sum(s["calls"] for s in batch.values()),
        "noop_requests": batch["noop"]["batches_created"]
        + batch["noop"]["batch_lines"]
        + batch["noop"]["calls"],
        "batches_per_refresh": [
            batch["submit"]["batches_created"],
            batch["prompt_submit"]["batches_created"],
        ],
        "platform_s_batch_prompt": round(
            batch["prompt_submit"]["wall_s"] + batch["prompt_collect"]["wall_s"], 1
        ),
        "wall_s_online_prompt": online["prompt"]["wall_s"] if online else None,
        "files_per_refresh": [
            batch["submit"]["files_uploaded"],
            batch["prompt_submit"]["files_uploaded"],
        ],
    }


def report(result: dict[str, Any]) -> str:
    rows = []
    for name, cells in result["configs"].items():
        for mode, steps in cells.items():
            if mode == "derived":
                continue
            for step, s in steps.items():
                rows.append(
                    [
                        name,
                        mode,
                        step,
                        s["wall_s"],
                        s["cpu_s"],
                        s["peak_rss_mb"],
                        s["calls"],
                        s["batches_created"],
                        s["batch_lines"],
                        s["estimated_cost_usd"],
                    ]
                )
    headers = ["config", "mode", "step", "wall s", "cpu s", "rss MB", "chat calls"]
    headers += ["batches", "batch lines", "cost $"]
    derived = [[n, *c["derived"].values()] for n, c in result["configs"].items() if c["derived"]]
    if not derived:
        return table(headers, rows)
    first = next(c["derived"] for c in result["configs"].values() if c["derived"])
    return table(headers, rows) + "\n\n" + table(["config", *first], derived)


def main(argv=None) -> dict:
    args = parse_args(argv)
    names = [c.strip() for c in args.configs.split(",") if c.strip()]
    unknown = set(names) - set(CONFIGS)
    if unknown:
        raise SystemExit(f"unknown config(s) {sorted(unknown)}; known: {', '.join(CONFIGS)}")
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if not modes or set(modes) - set(STEPS):
        raise SystemExit(f"--modes: any of {', '.join(STEPS)}")
    root = args.work_dir or Path(tempfile.mkdtemp(prefix="segcopy-bench-batch-"))
    result: dict[str, Any] = {"machine": machine(), "latency_ms": args.latency_ms, "configs": {}}
    with FakeServerProcess(latency_ms=args.latency_ms, batch_polls=2) as server:
        for name in names:
            cfg = CONFIGS[name]
            cells = {mode: run_cell(cfg, mode, args, root, server) for mode in modes}
            cells["derived"] = derive(cells)
            result["configs"][name] = cells
    if args.work_dir is None:
        shutil.rmtree(root, ignore_errors=True)
    emit(report(result), result, args.json)
    return result


if __name__ == "__main__":
    main()
