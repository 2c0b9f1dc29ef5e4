"""segcopy at scale (issue 15, item 1): every step a ``segcopy run`` subprocess, as a user runs it.

Driven AS A USER DOES: each step is ``segcopy run`` configured by environment variables, on a
scratch ``SEGCOPY_HOME`` per cell.

    python -m bench.scale [--json] [--configs small,medium] [--writers offline,fake]
                          [--instances sqlite,postgres] [--pg-url URL] [--customers-scale F]
                          [--before [COMMIT]] [--work-dir DIR] [--keep]

Configurations (segments x products x customers):

==========  ==========================================================  ========  =========
name        SEGCOPY_SEGMENT_KEYS                                        products  customers
==========  ==========================================================  ========  =========
small       (default: preferred_subcategory,value_group) -> 14            14        20,000
medium      preferred_subcategory,predicted_clv_tier,region -> 252        14     1,000,000
large       ... ,lifecycle_status -> 1,052 (1,260 combinations, those     100     1,000,000
            under SEGCOPY_MIN_SEGMENT_SIZE=25 customers left out)
==========  ==========================================================  ========  =========

The segment count reported is the one the run produced (rows of ``segment_summaries``, also
"Segments: N added" in the first run's output): ``--customers-scale`` shrinks the customers and
with them the segments over the size floor.

A cell = (configuration, writer, instance): ``segcopy init-sample --customers N`` into a fresh
``SEGCOPY_HOME``, a synthetic products Delta table (``bench.synthetic_products``) at
``SEGCOPY_PRODUCTS_PATH``, a copy of ``prompts/`` at ``SEGCOPY_PROMPTS_DIR``, then five
``segcopy run`` steps:

1. ``full``         fresh home: every pair generated;
2. ``noop``         nothing changed (expected calls: 0);
3. ``one_segment``  the CDP sample rewritten so exactly one segment's summary changes (the
                    median-size segment's customers all get the discount sensitivity that segment
                    has least of); expected calls: changed segments x products;
4. ``one_product``  the products table rewritten with one description edited (expected: segments);
5. ``prompt``       one line of the copied ``user.md.j2`` edited, so the prompt hash changes
                    (expected: every pair).

Writers: ``offline`` (no model: every second is platform; calls = "G generated" of the run's
"Variants: P pairs, G generated, R reused" line) and ``fake`` (``SEGCOPY_LLM_BACKEND=openai`` on
``bench.FakeServerProcess`` at ``--latency-ms`` 150; calls = the endpoint's own count). For
``fake``, "pure generation" is the full run's pairs through
``segcopy_assets.generation.variants.generate_variants`` with the same Copywriter settings and
endpoint, no Dagster (as ``bench.pipeline`` does; run in a subprocess of the code under test,
timed around the generation only), and platform overhead = (full - pure) / pure.

Instances: ``sqlite`` (the embedded default) and ``postgres`` (``SEGCOPY_DAGSTER_PG_URL``; a
fresh database per cell, created through ``--pg-url`` / ``BENCH_PG_URL``, a role that may
CREATE DATABASE; dropped afterwards unless ``--keep``). Without a URL the bench runs SQLite only
and says so. A postgres cell also checks that the events really went to Postgres (code that does
not know ``SEGCOPY_DAGSTER_PG_URL`` silently falls back to SQLite: the cell is flagged).

Per step: wall s and CPU s of the ``segcopy run`` process, its peak RSS (``os.wait4``'s rusage of
that child, ru_maxrss), model calls vs expected, Dagster events written (rows of the instance's
event log after minus before: the per-run SQLite shards under ``dagster/history/runs``, not the
index shard's mirrored copies; ``event_logs`` in Postgres) and Dagster runs created. Each
step's stdout/stderr stay in the cell's directory (``--keep``, ``--work-dir``).

Targets of issue 15 (offline writer unless said; evaluated per instance, at ``large`` vs
``small``, or at the largest configuration run as a proxy, labelled so):
no-op at large <= 15 s, 0 calls and <= 2x the no-op at small; one segment at large <= 2x one
segment at small with calls = products; full regeneration with the fake endpoint at large:
overhead <= 0.2.

Commands:

    # default: small + medium, offline + fake, SQLite (and Postgres if BENCH_PG_URL is set)
    .venv/bin/python -m bench.scale --json
    # the issue's whole matrix (hours on 2 cores: large = 105,200 pairs per full/prompt step)
    .venv/bin/python -m bench.scale --json --configs small,medium,large --writers offline,fake \\
        --instances sqlite,postgres --pg-url postgresql://USER:PASSWORD@127.0.0.1:5432/postgres
    # the code before issue 15 (git worktree of 3f7fcab at /tmp/segcopy_before, imported through
    # PYTHONPATH by every subprocess; checked by printing segcopy_assets.__file__)
    .venv/bin/python -m bench.scale --json --before --configs small,medium --writers offline
    # smoke (~40 s): one small cell at 1,000 customers (7 segments), full run + one segment
    .venv/bin/python -m bench.scale --json --configs small --writers offline \\
        --customers-scale 0.05 --steps full,one_segment
    # the same with the fake endpoint and pure generation (~50 s)
    .venv/bin/python -m bench.scale --json --configs small --writers fake \\
        --customers-scale 0.05 --steps full,one_segment --latency-ms 5

Progress goes to stderr; the report to stdout; with ``--json`` the last stdout line is one JSON
object (``bench.emit``).
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from bench import REPO, FakeServerProcess, emit, load_avg, log, machine, synthetic_products, table

BEFORE_COMMIT = "3f7fcab"
BEFORE_DIR = Path("/tmp/segcopy_before")
STEPS = ("full", "noop", "one_segment", "one_product", "prompt")
WRITERS = ("offline", "fake")
INSTANCES = ("sqlite", "postgres")
HIGH_VALUE_TIERS = ("Platinum", "Gold", "Silver")  # Segmentation's default (value_group)
# Profile columns a one-segment change may rewrite, in order of preference (never a key).
PERTURBABLE = ("discount_sensitivity", "price_preference", "lifecycle_status", "city")
PROMPT_EDIT = ("user.md.j2", "Tailor this product description for the segment.")


@dataclass(frozen=True)
class Config:
    name: str
    keys: tuple[str, ...] | None  # None: segcopy's default keys
    products: int
    customers: int
    segments_hint: str


CONFIGS = {
    c.name: c
    for c in (
        Config("small", None, 14, 20_000, "14"),
        Config(
            "medium",
            ("preferred_subcategory", "predicted_clv_tier", "region"),
            14,
            1_000_000,
            "252",
        ),
        Config(
            "large",
            ("preferred_subcategory", "predicted_clv_tier", "region", "lifecycle_status"),
            100,
            1_000_000,
            "~1,000",
        ),
    )
}


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.split("\n")[0])
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    p.add_argument("--configs", default="small,medium", help=f"any of {','.join(CONFIGS)}")
    p.add_argument("--writers", default="offline,fake", help="offline and/or fake")
    p.add_argument(
        "--instances",
        default=None,
        help="sqlite and/or postgres (default: sqlite, plus postgres when a PG URL is given)",
    )
    p.add_argument(
        "--pg-url",
        default=os.environ.get("BENCH_PG_URL"),
        help="PostgreSQL URL of a role that may CREATE DATABASE (default: $BENCH_PG_URL)",
    )
    p.add_argument(
        "--customers-scale",
        type=float,
        default=1.0,
        help="multiply every configuration's customers (e.g. 0.1 for a quick smoke)",
    )
    p.add_argument("--steps", default=",".join(STEPS), help="subset of " + ",".join(STEPS))
    p.add_argument("--latency-ms", type=float, default=150.0, help="fake endpoint latency")
    p.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="SEGCOPY_LLM_MAX_CONCURRENCY (and the pure generation's); default: segcopy's",
    )
    p.add_argument(
        "--auto-approve",
        action="store_true",
        help="SEGCOPY_AUTO_APPROVE_PASSING_CHECKS=1 (publishing does real work; code before "
        "issue 15 ignores it)",
    )
    p.add_argument(
        "--before",
        nargs="?",
        const=BEFORE_COMMIT,
        default=None,
        metavar="COMMIT",
        help=f"measure the code of COMMIT (default {BEFORE_COMMIT}) from a git worktree",
    )
    p.add_argument("--before-dir", type=Path, default=BEFORE_DIR, help="that worktree's path")
    p.add_argument("--work-dir", type=Path, default=None, help="scratch root (default: a temp dir)")
    p.add_argument("--keep", action="store_true", help="keep scratch homes and PG databases")
    p.add_argument("--step-timeout", type=float, default=4 * 3600, help="seconds per step")
    args = p.parse_args(argv)
    args.configs = _choice_list(p, "--configs", args.configs, CONFIGS)
    args.writers = _choice_list(p, "--writers", args.writers, WRITERS)
    args.steps = _choice_list(p, "--steps", args.steps, STEPS)
    if "full" not in args.steps:
        p.error("--steps must include full (every other step starts from its state)")
    if args.instances is None:
        args.instances = ["sqlite", "postgres"] if args.pg_url else ["sqlite"]
    else:
        args.instances = _choice_list(p, "--instances", args.instances, INSTANCES)
    if "postgres" in args.instances and not args.pg_url:
        p.error("--instances postgres needs --pg-url or BENCH_PG_URL")
    if args.customers_scale <= 0:
        p.error("--customers-scale must be > 0")
    return args


def _choice_list(p, flag: str, value: str, choices) -> list[str]:
    items = [v.strip() for v in value.split(",") if v.strip()]
    bad = [v for v in items if v not in choices]
    if bad or not items:
        p.error(f"{flag}: unknown {bad or value!r}; choose from {', '.join(choices)}")
    return [c for c in choices if c in items]  # canonical order


# ----------------------------------------------------------------------------- the code under test


@dataclass
class Code:
    root: Path  # the repository whose segcopy_assets the subprocesses import
    pythonpath: str | None
    module_file: str
    commit: str | None


def code_under_test(before: str | None, before_dir: Path, scratch: Path) -> Code:
    """/work/main's package, or (``--before``) a git worktree of ``before`` put first on the
    subprocesses' PYTHONPATH; checked by importing it in a subprocess from the scratch dir."""
    if before is None:
        root, pythonpath = REPO, None
    else:
        root, pythonpath = before_dir.resolve(), str(before_dir.resolve())
        if not (root / "segcopy_assets").is_dir():
            log(f"git worktree add --detach {root} {before}")
            subprocess.run(
                ["git", "-C", str(REPO), "worktree", "add", "--detach", str(root), before],
                check=True,
                stdout=subprocess.DEVNULL,
            )
        head = _git(root, "rev-parse", "HEAD")
        wanted = _git(REPO, "rev-parse", before)
        if head != wanted:
            raise SystemExit(
                f"{root} is at {head[:12]}, not {before} ({wanted[:12]}): remove it "
                f"(git worktree remove {root}) or pass --before-dir"
            )
    env = child_env(pythonpath)
    probe = subprocess.run(
        [sys.executable, "-c", "import segcopy_assets; print(segcopy_assets.__file__)"],
        env=env,
        cwd=scratch,
        capture_output=True,
        text=True,
        check=True,
    )
    module_file = probe.stdout.strip()
    if not Path(module_file).resolve().is_relative_to(root):
        raise SystemExit(f"subprocesses import {module_file}, not the code under {root}")
    commit = _git(root, "rev-parse", "--short", "HEAD")
    return Code(root, pythonpath, module_file, commit)


def _git(repo: Path, *args: str) -> str:
    out = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    return out.stdout.strip()


def child_env(pythonpath: str | None, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The parent's environment without any segcopy or OpenAI setting (but the channels the
    bench measures) and without DAGSTER_HOME (which would move the instance), plus ``extra``. Other DAGSTER_* knobs pass through (the
    report lists them)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SEGCOPY_", "BENCH_"))
        and k not in ("DAGSTER_HOME", "OPENAI_API_KEY", "OPENAI_BASE_URL", "PYTHONPATH")
    }
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    env["SEGCOPY_CHANNELS"] = os.environ["SEGCOPY_CHANNELS"]  # bench/__init__: the description's
    env.update(extra or {})
    return env


# --------------------------------------------------------------------------------- one subprocess


@dataclass
class Child:
    rc: int
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    stdout: str
    stderr: str


def run_child(argv: list[str], env: dict, cwd: Path, log_stem: Path, timeout: float) -> Child:
    """``argv`` as a child process, waited for with ``os.wait4`` (its own rusage); stdout and
    stderr go to ``log_stem``.out/.err (files, so a full pipe never blocks the child)."""
    out_path, err_path = log_stem.with_suffix(".out"), log_stem.with_suffix(".err")
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=out, stderr=err)
        killer = threading.Timer(timeout, lambda: _kill(proc.pid))
        killer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            killer.cancel()
        wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)  # the child is reaped: tell Popen
    return Child(
        rc=proc.returncode,
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        peak_rss_mb=usage.ru_maxrss / 1024,  # KB on Linux
        stdout=out_path.read_text(errors="replace"),
        stderr=err_path.read_text(errors="replace"),
    )


def _kill(pid: int) -> None:
    log(f"step timed out: killing pid {pid}")
    with suppress(ProcessLookupError):
        os.kill(pid, 9)


_VARIANTS = re.compile(r"Variants: (\d+|None) pairs, (\d+|None) generated, (\d+|None) reused")
_SEGMENTS = re.compile(r"Segments: (\d+) added, (\d+) removed")
_STALE = re.compile(r"Stale segments: (\d+) of (\d+), in (\d+) range run")


def parse_run_output(stdout: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if m := _VARIANTS.search(stdout):
        pairs, generated, reused = (None if g == "None" else int(g) for g in m.groups())
        out.update(pairs=pairs, generated=generated, reused=reused)
    if m := _SEGMENTS.search(stdout):
        out.update(segments_added=int(m[1]), segments_removed=int(m[2]))
    if m := _STALE.search(stdout):
        out.update(stale_segments=int(m[1]), range_runs=int(m[3]))
    return out


def _tail(text: str, n: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-n:])


# ------------------------------------------------------------------------------ Dagster instances


class SqliteCounter:
    """Events and runs of the SQLite instance under ``<home>/dagster``: rows of ``event_logs``
    in every per-run shard (and the run-less shard), not the index shard's mirrored copies."""

    def __init__(self, home: Path):
        self.history = home / "dagster" / "history"

    def totals(self) -> tuple[int, int]:
        import sqlite3

        events = 0
        shards = self.history / "runs"
        if shards.is_dir():
            for f in sorted(shards.iterdir()):
                if f.name.endswith(".db") and f.name != "index.db":  # ".db": run-less events
                    events += _sqlite_count(sqlite3, f, "event_logs")
        return events, _sqlite_count(sqlite3, self.history / "runs.db", "runs")


def _sqlite_count(sqlite3, path: Path, table_name: str) -> int:
    if not path.exists():
        return 0
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute(f"SELECT count(*) FROM {table_name}").fetchone()[0]
    except sqlite3.OperationalError:  # table not created yet
        return 0
    finally:
        conn.close()


class PgCounter:
    def __init__(self, url: str):
        self.url = url

    def totals(self) -> tuple[int, int]:
        import psycopg2

        conn = psycopg2.connect(self.url)
        try:
            with conn.cursor() as cur:
                counts = []
                for table_name in ("event_logs", "runs"):
                    cur.execute("SELECT to_regclass(%s)", (table_name,))
                    if cur.fetchone()[0] is None:
                        counts.append(0)
                        continue
                    cur.execute(f"SELECT count(*) FROM {table_name}")
                    counts.append(cur.fetchone()[0])
            return counts[0], counts[1]
        finally:
            conn.close()


def masked(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


class PgDatabases:
    """Fresh databases through an admin URL (a role with CREATEDB); dropped on close."""

    def __init__(self, admin_url: str, keep: bool):
        self.admin_url, self.keep = admin_url, keep
        self.created: list[str] = []

    def _execute(self, sql: str) -> None:
        import psycopg2

        conn = psycopg2.connect(self.admin_url)
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
        finally:
            conn.close()

    def create(self, name: str) -> str:
        self._execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return urlunsplit(urlsplit(self.admin_url)._replace(path=f"/{name}"))

    def drop(self, name: str) -> None:
        if self.keep:
            return
        with suppress(Exception):
            self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# ------------------------------------------------------------------------------- the changes made


def change_one_segment(home: Path, keys: list[str], summaries_path: str) -> dict[str, Any]:
    """Rewrite the CDP sample so that only one segment's summary moves: every customer of the
    median-size segment gets the value of a non-key profile column that segment has least of."""
    import polars as pl

    customers_path = str(home / "sample" / "cdp_customers")
    summaries = pl.read_delta(summaries_path)
    source_keys = ["predicted_clv_tier" if k == "value_group" else k for k in keys]
    column = next(c for c in PERTURBABLE if c not in source_keys)
    ranked = summaries.sort(["customer_count", "segment_id"])
    segment = ranked.row(ranked.height // 2, named=True)
    member = pl.lit(True)
    for key in keys:
        if key == "value_group":
            high = pl.col("predicted_clv_tier").is_in(list(HIGH_VALUE_TIERS))
            member &= high if segment[key] == "high value" else ~high
        else:
            member &= pl.col(key).cast(pl.String) == segment[key]
    customers = pl.read_delta(customers_path)
    counts = (
        customers.filter(member)
        .group_by(column)
        .len()
        .join(customers.select(pl.col(column).unique()), on=column, how="right")
        .with_columns(pl.col("len").fill_null(0))
        .sort(["len", column])
    )
    value = counts[column][0]
    moved = customers.filter(member & (pl.col(column) != value)).height
    customers.with_columns(
        pl.when(member).then(pl.lit(value)).otherwise(pl.col(column)).alias(column)
    ).write_delta(customers_path, mode="overwrite")
    return {
        "segment": segment["segment_id"],
        "segment_customers": segment["customer_count"],
        "column": column,
        "value": value,
        "customers_changed": moved,
    }


def change_one_product(products_path: str) -> dict[str, Any]:
    """Rewrite the products table with the first product's description edited."""
    import polars as pl

    products = pl.read_delta(products_path).sort("product_id")
    first = products["product_id"][0]
    products.with_columns(
        pl.when(pl.col("product_id") == first)
        .then(pl.col("description") + " Every one is checked by hand before it ships.")
        .otherwise(pl.col("description"))
        .alias("description")
    ).write_delta(products_path, mode="overwrite")
    return {"product": first}


def change_prompt(prompts_dir: Path) -> dict[str, Any]:
    name, line = PROMPT_EDIT
    path = prompts_dir / name
    text = path.read_text(encoding="utf-8")
    if line in text:
        text = text.replace(line, line.replace("for the segment.", "for this segment."), 1)
    else:  # another prompt set: edit its first line
        first, _, rest = text.partition("\n")
        text = f"{first.rstrip()} \n{rest}"
    path.write_text(text, encoding="utf-8")
    return {"file": name}


def summary_hashes(path: str) -> dict[str, str]:
    import polars as pl

    frame = pl.read_delta(path, columns=["segment_id", "summary_hash"])
    return dict(zip(frame["segment_id"].to_list(), frame["summary_hash"].to_list()))


# ------------------------------------------------------------------------------- pure generation

_PURE_SCRIPT = """
import asyncio, json, sys, time
import polars as pl
from segcopy_assets.generation.variants import generate_variants, plan_pairs
from segcopy_assets.resources import Copywriter, Warehouse

warehouse_root, base_url, prompts_dir, concurrency = sys.argv[1:5]
warehouse = Warehouse(root=warehouse_root)
summaries = pl.read_delta(warehouse.table_path("segment_summaries"))
products = pl.read_delta(warehouse.table_path("products"))
fields = {"max_concurrency": int(concurrency)} if concurrency else {}
copywriter = Copywriter(
    backend="openai", base_url=base_url, api_key="sk-bench", prompts_dir=prompts_dir, **fields
)
pairs = plan_pairs(summaries, products)
prompt_set = copywriter.prompt_set()
writer = copywriter.writer(prompt_set)

async def generate():
    async with writer:
        return await generate_variants(pairs, prompt_set, writer)

wall, cpu = time.perf_counter(), time.process_time()
rows, _ = asyncio.run(generate())
print(json.dumps({
    "pairs": len(pairs),
    "ok": int((rows["status"] == "ok").sum()),
    "wall_s": time.perf_counter() - wall,
    "cpu_s": time.process_time() - cpu,
}))
"""


def pure_generation(
    warehouse: Path, base_url: str, prompts: Path, cell: "Cell", concurrency: int | None
) -> dict[str, Any]:
    """The full run's pairs through ``generate_variants`` alone (same Copywriter settings and
    endpoint), in a subprocess of the code under test; timed around the generation only."""
    child = run_child(
        [
            sys.executable,
            "-c",
            _PURE_SCRIPT,
            str(warehouse),
            base_url,
            str(prompts),
            str(concurrency or ""),
        ],
        cell.env,
        cell.dir,
        cell.dir / "pure_generation",
        cell.timeout,
    )
    if child.rc != 0:
        return {"error": _tail(child.stderr)}
    out = json.loads(child.stdout.strip().splitlines()[-1])
    return {
        "pairs": out["pairs"],
        "ok": out["ok"],
        "wall_s": round(out["wall_s"], 3),
        "cpu_s": round(out["cpu_s"], 3),
        "process_wall_s": round(child.wall_s, 3),
        "peak_rss_mb": round(child.peak_rss_mb, 1),
    }


# --------------------------------------------------------------------------------------- one cell


@dataclass
class Cell:
    config: Config
    writer: str
    instance: str
    dir: Path
    home: Path
    env: dict[str, str]
    counter: Any
    timeout: float


def run_cell(
    cfg: Config,
    writer: str,
    instance: str,
    args,
    code: Code,
    root: Path,
    server: FakeServerProcess | None,
    pg: PgDatabases | None,
    pure_cache: dict[str, dict],
) -> dict[str, Any]:
    import polars as pl

    customers = max(1_000, round(cfg.customers * args.customers_scale))
    cell_dir = root / f"{cfg.name}-{writer}-{instance}"
    shutil.rmtree(cell_dir, ignore_errors=True)
    cell_dir.mkdir(parents=True)
    home, products_path, prompts = cell_dir / "home", cell_dir / "products", cell_dir / "prompts"
    shutil.copytree(code.root / "prompts", prompts)
    synthetic_products(cfg.products).write_delta(str(products_path))
    keys = list(cfg.keys or ("preferred_subcategory", "value_group"))

    extra = {
        "SEGCOPY_HOME": str(home),
        "SEGCOPY_PRODUCTS_PATH": str(products_path),
        "SEGCOPY_PROMPTS_DIR": str(prompts),
    }
    if cfg.keys:
        extra["SEGCOPY_SEGMENT_KEYS"] = ",".join(cfg.keys)
    if writer == "offline":
        extra["SEGCOPY_LLM_BACKEND"] = "offline"
    else:
        assert server is not None and server.base_url
        extra.update(
            SEGCOPY_LLM_BACKEND="openai",
            SEGCOPY_LLM_BASE_URL=server.base_url,
            SEGCOPY_LLM_API_KEY="sk-bench",
        )
    if args.concurrency:
        extra["SEGCOPY_LLM_MAX_CONCURRENCY"] = str(args.concurrency)
    if args.auto_approve:
        extra["SEGCOPY_AUTO_APPROVE_PASSING_CHECKS"] = "1"
    db_name = None
    sqlite_counter = SqliteCounter(home)
    counter: Any = sqlite_counter
    if instance == "postgres":
        assert pg is not None
        db_name = f"segcopy_bench_{cfg.name}_{writer}_{os.getpid()}"
        pg.drop(db_name)
        pg_url = pg.create(db_name)
        extra["SEGCOPY_DAGSTER_PG_URL"] = pg_url
        counter = PgCounter(pg_url)
    env = child_env(code.pythonpath, extra)
    cell = Cell(cfg, writer, instance, cell_dir, home, env, counter, args.step_timeout)
    result: dict[str, Any] = {
        "writer": writer,
        "instance": instance,
        "customers": customers,
        "segment_keys": keys,
        "products": cfg.products,
        "steps": {},
    }
    if db_name:
        result["pg_database"] = db_name
    summaries_path = str(home / "warehouse" / "segcopy" / "segment_summaries")
    try:
        log(f"[{cfg.name}/{writer}/{instance}] segcopy init-sample --customers {customers:,}")
        init = run_child(
            [
                sys.executable,
                "-m",
                "segcopy_assets.cli",
                "init-sample",
                "--customers",
                str(customers),
            ],
            cell.env,
            cell_dir,
            cell_dir / "init_sample",
            args.step_timeout,
        )
        if init.rc != 0:
            raise StepFailed("init-sample", init)
        result["init_sample_s"] = round(init.wall_s, 3)

        hashes_before: dict[str, str] = {}
        for step in args.steps:
            change: dict[str, Any] = {}
            if step == "one_segment":
                hashes_before = summary_hashes(summaries_path)
                change = change_one_segment(home, keys, summaries_path)
            elif step == "one_product":
                change = change_one_product(str(products_path))
            elif step == "prompt":
                change = change_prompt(prompts)
            record = run_step(cell, step, server)
            record.update(change)
            result["steps"][step] = record
            if step == "full":
                summaries = pl.read_delta(summaries_path, columns=["segment_id"])
                result["segments"] = summaries.height
                result["pairs"] = record.get("pairs")
                sqlite_events = sqlite_counter.totals()[0]
                if instance == "postgres" and (record["events"] == 0 or sqlite_events):
                    result["pg_not_used"] = (
                        f"{record['events']} events in Postgres, {sqlite_events} in SQLite: "
                        "this code did not honour SEGCOPY_DAGSTER_PG_URL"
                    )
                    log(f"WARNING: {result['pg_not_used']}")
                if writer == "fake":
                    cache_key = cfg.name
                    if cache_key not in pure_cache:
                        log(f"[{cfg.name}/{writer}/{instance}] pure generation ...")
                        assert server is not None and server.base_url
                        server.reset()
                        pure = pure_generation(
                            home / "warehouse", server.base_url, prompts, cell, args.concurrency
                        )
                        pure["calls"] = server.stats()["calls"]
                        server.reset()
                        pure["measured_in"] = f"{cfg.name}/{writer}/{instance}"
                        pure_cache[cache_key] = pure
                    pure = pure_cache[cache_key]
                    result["pure_generation"] = pure
                    if pure.get("wall_s"):
                        result["overhead"] = round(
                            (record["wall_s"] - pure["wall_s"]) / pure["wall_s"], 3
                        )
            expected = expected_calls(step, result, record, hashes_before, summaries_path)
            record.update(expected)
    except StepFailed as exc:
        result["error"] = f"{exc.step}: exit {exc.child.rc}\n{_tail(exc.child.stderr)}"
        log(f"[{cfg.name}/{writer}/{instance}] FAILED {result['error']}")
    finally:
        if db_name and pg is not None:
            pg.drop(db_name)
        if not args.keep:
            shutil.rmtree(home, ignore_errors=True)
    return result


class StepFailed(Exception):
    def __init__(self, step: str, child: Child):
        super().__init__(step)
        self.step, self.child = step, child


def run_step(cell: Cell, step: str, server: FakeServerProcess | None) -> dict[str, Any]:
    tag = f"[{cell.config.name}/{cell.writer}/{cell.instance}]"
    log(f"{tag} {step}: segcopy run ...")
    events_before, runs_before = cell.counter.totals()
    load_before = load_avg()
    if server is not None:
        server.reset()
    child = run_child(
        [sys.executable, "-m", "segcopy_assets.cli", "run"],
        cell.env,
        cell.dir,
        cell.dir / f"step_{step}",
        cell.timeout,
    )
    if child.rc != 0:
        raise StepFailed(step, child)
    events_after, runs_after = cell.counter.totals()
    parsed = parse_run_output(child.stdout)
    if server is not None and cell.writer == "fake":
        calls = server.stats()["calls"]
    else:
        calls = parsed.get("generated")
    record = {
        "wall_s": round(child.wall_s, 3),
        "cpu_s": round(child.cpu_s, 3),
        "peak_rss_mb": round(child.peak_rss_mb, 1),
        "calls": calls,
        "events": events_after - events_before,
        "runs": runs_after - runs_before,
        "load_avg": [load_before, load_avg()],  # 1-minute load average at start and end
        **parsed,
    }
    log(
        f"{tag} {step}: {record['wall_s']} s, {calls} calls, {record['events']} events, "
        f"{record['runs']} runs, peak {record['peak_rss_mb']} MB"
    )
    return record


def expected_calls(
    step: str, cell: dict, record: dict, hashes_before: dict[str, str], summaries_path: str
) -> dict[str, Any]:
    segments, products, pairs = cell.get("segments"), cell["products"], cell.get("pairs")
    out: dict[str, Any] = {}
    if step in ("full", "prompt"):
        out["expected_calls"] = pairs
    elif step == "noop":
        out["expected_calls"] = 0
    elif step == "one_segment":
        after = summary_hashes(summaries_path)
        moved = sorted(s for s, h in after.items() if hashes_before.get(s) != h)
        out["changed_segments"] = moved
        out["expected_calls"] = len(moved) * products
    elif step == "one_product":
        out["expected_calls"] = segments
    out["calls_ok"] = record.get("calls") == out["expected_calls"]
    return out


# ---------------------------------------------------------------------------------------- targets


def evaluate_targets(configs: dict[str, dict], instances: list[str]) -> list[dict[str, Any]]:
    """The issue's targets per instance: at ``large`` vs ``small``, else at the largest
    configuration run (a proxy, labelled so)."""
    out: list[dict[str, Any]] = []
    run = [name for name in CONFIGS if name in configs]
    big = "large" if "large" in run else (run[-1] if run else None)

    def step(config: str | None, writer: str, instance: str, name: str) -> dict | None:
        if config is None:
            return None
        for cell in configs.get(config, {}).get("cells", []):
            if cell["writer"] == writer and cell["instance"] == instance:
                return cell["steps"].get(name)
        return None

    def cell_of(config: str | None, writer: str, instance: str) -> dict | None:
        for cell in configs.get(config or "", {}).get("cells", []):
            if cell["writer"] == writer and cell["instance"] == instance:
                return cell
        return None

    for instance in instances:
        where = big if big == "large" else f"{big} (proxy for large)"
        noop_big, noop_small = (
            step(big, "offline", instance, "noop"),
            step("small", "offline", instance, "noop"),
        )
        if noop_big:
            out.append(
                _target(
                    f"no-op at {where} <= 15 s",
                    instance,
                    noop_big["wall_s"],
                    15.0,
                    f"{noop_big['wall_s']} s",
                )
            )
            out.append(
                {
                    "target": f"no-op at {where}: 0 calls",
                    "instance": instance,
                    "met": noop_big["calls"] == 0,
                    "ratio": None,
                    "value": f"{noop_big['calls']} calls",
                }
            )
            if noop_small and big != "small":
                out.append(
                    _target(
                        f"no-op at {where} <= 2x no-op at small",
                        instance,
                        noop_big["wall_s"] / noop_small["wall_s"],
                        2.0,
                        f"{noop_big['wall_s']} s / {noop_small['wall_s']} s",
                    )
                )
        else:
            out.append(_unmeasured("no-op targets (offline writer)", instance))
        one_big, one_small = (
            step(big, "offline", instance, "one_segment"),
            step("small", "offline", instance, "one_segment"),
        )
        big_cell = cell_of(big, "offline", instance)
        if one_big and one_small and big != "small" and big_cell:
            out.append(
                _target(
                    f"one segment at {where} <= 2x one segment at small",
                    instance,
                    one_big["wall_s"] / one_small["wall_s"],
                    2.0,
                    f"{one_big['wall_s']} s / {one_small['wall_s']} s",
                )
            )
            out.append(
                {
                    "target": f"one segment at {where}: calls = products",
                    "instance": instance,
                    "met": one_big["calls"] == big_cell["products"]
                    and len(one_big.get("changed_segments", [])) == 1,
                    "ratio": None,
                    "value": f"{one_big['calls']} calls, {big_cell['products']} products, "
                    f"{len(one_big.get('changed_segments', []))} segment(s) changed",
                }
            )
        else:
            out.append(_unmeasured("one-segment targets (offline, small and a bigger)", instance))
        fake = cell_of(big, "fake", instance)
        if fake and fake.get("overhead") is not None:
            out.append(
                _target(
                    f"full regeneration at {where}, fake endpoint: overhead <= 0.2",
                    instance,
                    fake["overhead"],
                    0.2,
                    f"({fake['steps']['full']['wall_s']} - {fake['pure_generation']['wall_s']}) / "
                    f"{fake['pure_generation']['wall_s']} s",
                )
            )
        else:
            out.append(_unmeasured("overhead target (fake writer)", instance))
    return out


def _target(name: str, instance: str, value: float, limit: float, shown: str) -> dict[str, Any]:
    return {
        "target": name,
        "instance": instance,
        "met": value <= limit,
        "ratio": round(value / limit, 3),  # <= 1 is met
        "value": shown,
    }


def _unmeasured(name: str, instance: str) -> dict[str, Any]:
    return {"target": name, "instance": instance, "met": None, "ratio": None, "value": "not run"}


# ------------------------------------------------------------------------------------------- main


def report(result: dict[str, Any]) -> str:
    lines = [
        f"segcopy at scale: every step a `segcopy run` subprocess; code {result['code']['module']} "
        f"({result['code']['commit']}{', BEFORE' if result['code']['before'] else ''})",
    ]
    lines += [f"note: {n}" for n in result["notes"]]
    headers = [
        "writer",
        "instance",
        "step",
        "wall s",
        "cpu s",
        "calls",
        "expected",
        "events",
        "runs",
        "peak MB",
        "load",
    ]
    for name, config in result["configs"].items():
        cells = config["cells"]
        segs = sorted({c.get("segments") for c in cells if c.get("segments") is not None})
        lines += [
            "",
            f"== {name}: {', '.join(map(str, segs)) or '?'} segments (target {config['segments_hint']}) "
            f"x {config['products']} products, {config['customers']:,} customers; "
            f"keys {','.join(config['segment_keys'])}",
        ]
        rows = []
        for cell in cells:
            for step_name, s in cell["steps"].items():
                rows.append(
                    [
                        cell["writer"],
                        cell["instance"],
                        step_name,
                        s["wall_s"],
                        s["cpu_s"],
                        s["calls"],
                        s.get("expected_calls"),
                        s["events"],
                        s["runs"],
                        s["peak_rss_mb"],
                        "{} -> {}".format(*s["load_avg"]) if "load_avg" in s else None,
                    ]
                )
        if rows:
            lines.append(table(headers, rows))
        for cell in cells:
            tag = f"{cell['writer']}/{cell['instance']}"
            pure = cell.get("pure_generation")
            if pure and "wall_s" in pure:
                lines.append(
                    f"{tag}: pure generation {pure['wall_s']} s for {pure['pairs']} pairs "
                    f"({pure['calls']} calls, measured in {pure['measured_in']}); "
                    f"platform overhead (full - pure) / pure = {cell.get('overhead')}"
                )
            elif pure:
                lines.append(f"{tag}: pure generation failed: {pure.get('error')}")
            bad = [k for k, s in cell["steps"].items() if not s.get("calls_ok")]
            if bad:
                lines.append(f"{tag}: calls differ from expected in {', '.join(bad)}")
            one = cell["steps"].get("one_segment")
            if one:
                lines.append(
                    f"{tag}: one segment = {one['segment']} ({one['segment_customers']:,} customers, "
                    f"{one['customers_changed']:,} moved to {one['column']}={one['value']}); "
                    f"summaries changed: {len(one.get('changed_segments', []))}"
                )
            if cell.get("pg_not_used"):
                lines.append(f"{tag}: WARNING {cell['pg_not_used']}")
            if cell.get("error"):
                first, *rest = cell["error"].splitlines()
                lines.append(f"{tag}: FAILED at {first} ... {' | '.join(rest[-2:])}")
    lines += ["", "Targets of issue 15 (ratio = measured / limit; <= 1 is met):"]
    lines.append(
        table(
            ["target", "instance", "verdict", "ratio", "measured"],
            [
                [
                    t["target"],
                    t["instance"],
                    {True: "met", False: "MISSED", None: "not measured"}[t["met"]],
                    t["ratio"],
                    t["value"],
                ]
                for t in result["targets"]
            ],
        )
    )
    lines.append(
        f"load average {result['load_avg_start']} -> {result['load_avg_end']} on "
        f"{result['machine'].get('cores')} cores; {result['elapsed_s']:.0f} s in all"
    )
    return "\n".join(lines)


def main(argv=None) -> dict:
    args = parse_args(argv)
    started = time.perf_counter()
    notes: list[str] = []
    result: dict[str, Any] = {"load_avg_start": load_avg(), "notes": notes}
    with ExitStack() as stack:
        if args.work_dir:
            root = args.work_dir.resolve()
            root.mkdir(parents=True, exist_ok=True)
        elif args.keep:
            root = Path(tempfile.mkdtemp(prefix="segcopy-bench-scale-"))
        else:
            root = Path(
                stack.enter_context(tempfile.TemporaryDirectory(prefix="segcopy-bench-scale-"))
            )
        code = code_under_test(args.before, args.before_dir, root)
        result["code"] = {
            "root": str(code.root),
            "module": code.module_file,
            "commit": code.commit,
            "before": args.before is not None,
            "pythonpath": code.pythonpath,
        }
        log(f"code under test: {code.module_file} ({code.commit})")
        if not args.pg_url:
            notes.append("no --pg-url / BENCH_PG_URL: SQLite instance only")
        elif "postgres" in args.instances:
            notes.append(f"postgres: fresh database per cell via {masked(args.pg_url)}")
        if args.before and "postgres" in args.instances:
            notes.append("the code before issue 15 has no SEGCOPY_DAGSTER_PG_URL: expect SQLite")
        passed = sorted(k for k in os.environ if k.startswith("DAGSTER_") and k != "DAGSTER_HOME")
        if passed:
            notes.append(
                "passed to every run: " + ", ".join(f"{k}={os.environ[k]}" for k in passed)
            )
        if args.customers_scale != 1:
            notes.append(f"customers scaled by {args.customers_scale}")
        if args.keep:
            notes.append(f"scratch kept in {root}")
        server = None
        if "fake" in args.writers:
            server = stack.enter_context(FakeServerProcess(latency_ms=args.latency_ms))
        pg = PgDatabases(args.pg_url, args.keep) if "postgres" in args.instances else None
        pure_cache: dict[str, dict] = {}
        configs: dict[str, dict] = {}
        for name in args.configs:
            cfg = CONFIGS[name]
            entry: dict[str, Any] = {
                "segment_keys": list(cfg.keys or ("preferred_subcategory", "value_group")),
                "products": cfg.products,
                "customers": max(1_000, round(cfg.customers * args.customers_scale)),
                "segments_hint": cfg.segments_hint,
                "cells": [],
            }
            configs[name] = entry
            for writer in args.writers:
                for instance in args.instances:
                    entry["cells"].append(
                        run_cell(cfg, writer, instance, args, code, root, server, pg, pure_cache)
                    )
        result["configs"] = configs
        result["latency_ms"] = args.latency_ms
    result["targets"] = evaluate_targets(configs, args.instances)
    result["load_avg_end"] = load_avg()
    result["machine"] = machine()
    result["elapsed_s"] = round(time.perf_counter() - started, 1)
    emit(report(result), result, args.json)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
