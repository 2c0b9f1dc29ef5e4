"""Benchmarks of segcopy (issue 6): ``python -m bench.<name> [--json]``.

Each bench prints a readable table and, with ``--json``, one JSON object on the LAST line of
stdout. The machine is small and shared: every bench measures the things it compares side by
side in one run and reports their RATIO; absolute seconds are only as good as the load at the
time (each result records the load average and, where it matters, CPU seconds next to wall
seconds). See ``bench/RESULTS.md``.

This module holds what the benches share (``bench.faults`` of issue 7 uses it too): timing, peak
RSS, machine facts, output, synthetic inputs, and ``FakeServerProcess``, the fake OpenAI endpoint
of ``segcopy_assets/devtools/fake_openai`` run in its own (spawned) process so that the server does not steal
the CPU of the client being measured.
"""

import json
import multiprocessing
import os
import platform
import resource
import sys
import time
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The benches measure the description's machinery (the figures of bench/RESULTS.md): the other
# channels (issue 24) stay off unless the caller sets SEGCOPY_CHANNELS (inherited by the
# segcopy processes a bench starts).
os.environ.setdefault("SEGCOPY_CHANNELS", "web_description")

REPO = Path(__file__).resolve().parent.parent
PROMPTS = REPO / "prompts"
DEFAULT_DATA_DIR = REPO / ".segcopy" / "bench"  # generated tables, cached across runs (git-ignored)


def ratio(n: int, d: int) -> float | None:
    """``n / d`` to 4 places (a rate of a labelled corpus), None when there is nothing to divide."""
    return round(n / d, 4) if d else None


# ---------------------------------------------------------------------------------------- timing


@dataclass
class Timing:
    wall_s: float = 0.0
    cpu_s: float = 0.0  # CPU time of this process, all threads


@contextmanager
def timed():
    """``with timed() as t: ...`` then ``t.wall_s`` / ``t.cpu_s``."""
    t = Timing()
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        yield t
    finally:
        t.wall_s = time.perf_counter() - wall
        t.cpu_s = time.process_time() - cpu


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (VmHWM)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine() -> dict[str, Any]:
    """The facts a reader needs to judge absolute figures."""
    info: dict[str, Any] = {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }
    try:
        with open("/proc/meminfo") as f:
            kb = int(next(line for line in f if line.startswith("MemTotal:")).split()[1])
        info["ram_gb"] = round(kb / 1024**2, 1)
    except (OSError, StopIteration):
        pass
    try:
        with open("/proc/cpuinfo") as f:
            info["cpu"] = next(
                line.split(":", 1)[1].strip() for line in f if line.startswith("model name")
            )
    except (OSError, StopIteration):
        pass
    return info


def load_avg() -> float:
    return round(os.getloadavg()[0], 2)


# ---------------------------------------------------------------------------------------- output


def table(headers: list[str], rows: list[list[Any]]) -> str:
    """A plain-text table with right-aligned numbers."""
    cells = [[_fmt(c) for c in row] for row in rows]
    widths = [
        max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)
    ]
    numeric = [
        all(isinstance(r[i], (int, float)) or r[i] is None for r in rows)
        for i in range(len(headers))
    ]

    def line(values):
        return "  ".join(
            v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric)
        )

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in cells)])


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 100 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def emit(text: str, result: dict, as_json: bool) -> None:
    """The readable report, then (with ``--json``) the result as the last line of stdout."""
    print(text, flush=True)
    if as_json:
        print(json.dumps(result, separators=(",", ":"), default=str), flush=True)


def log(message: str) -> None:
    """Progress goes to stderr, so stdout stays the report (and the JSON line)."""
    print(message, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------- fake endpoint, own process


def _serve_fake(conn, options: dict) -> None:  # runs in the spawned child
    from segcopy_assets.devtools.fake_openai import FakeOpenAIServer

    server = FakeOpenAIServer(**options).start()
    conn.send(("ready", server.base_url))
    try:
        while True:
            try:
                command, args = conn.recv()
            except EOFError:
                return
            if command == "stop":
                return
            if command == "set":
                for name, value in args.items():
                    setattr(server, name, value)
                conn.send(("ok", None))
            elif command == "reset":
                server.reset_stats()
                conn.send(("ok", None))
            elif command == "stats":
                accepted = server.accepted_times
                conn.send(
                    (
                        "ok",
                        {
                            "calls": server.call_count,
                            "ok": server.success_count,
                            "statuses": server.statuses,
                            "rejections": server.rejections,
                            "max_in_flight": server.max_in_flight,
                            "accepted": len(accepted),
                            "accepted_rps": server.achieved_rps("accepted"),
                            "completed_rps": server.achieved_rps("completed"),
                            "accepted_span_s": (max(accepted) - min(accepted))
                            if len(accepted) > 1
                            else 0.0,
                            "max_admitted_in_any_1s": _max_in_window(accepted, 1.0),
                            "server_cpu_s": time.process_time(),
                            "batches_created": len(server.batches),
                            "batch_lines": server.batch_lines_executed,
                            "files_uploaded": server.file_upload_count,
                            # a responder that counts what it answered (fake_openai.sloppy)
                            "responder": server.responder.stats()
                            if hasattr(server.responder, "stats")
                            else None,
                        },
                    )
                )
            else:
                conn.send(("error", f"unknown command {command!r}"))
    finally:
        server.stop()


def _max_in_window(times: list[float], span: float) -> int:
    times, best, lo = sorted(times), 0, 0
    for hi, t in enumerate(times):
        while times[lo] <= t - span:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def stop_child(process, conn, stop_message) -> None:
    """Ask a spawned server process to stop; terminate it if it has not within 15 s."""
    with suppress(OSError, ValueError):
        conn.send(stop_message)
    process.join(15)
    if process.is_alive():
        process.terminate()
        process.join(5)


class FakeServerProcess:
    """``segcopy_assets.devtools.fake_openai.FakeOpenAIServer`` in a spawned process (never forked: the parent
    may already run the deltalake/polars Rust runtimes). Same options; ``set(...)`` changes
    them while it runs, ``stats()`` reads its counters, ``reset()`` clears them."""

    def __init__(self, **options: Any):
        self.options = options
        self.base_url: str | None = None
        self._process = None
        self._conn = None

    def __enter__(self) -> "FakeServerProcess":
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(target=_serve_fake, args=(child, self.options), daemon=True)
        self._process.start()
        child.close()
        if not self._conn.poll(60):
            self.__exit__()
            raise RuntimeError("the fake OpenAI server process did not start within 60 s")
        status, self.base_url = self._conn.recv()
        assert status == "ready", status
        return self

    def _call(self, command: str, args: Any = None) -> Any:
        self._conn.send((command, args))
        status, value = self._conn.recv()
        if status != "ok":
            raise RuntimeError(value)
        return value

    def set(self, **attrs: Any) -> None:
        self._call("set", attrs)

    def reset(self) -> None:
        self._call("reset")

    def stats(self) -> dict:
        return self._call("stats")

    def __exit__(self, *exc: object) -> None:
        if self._process is None:
            return
        stop_child(self._process, self._conn, ("stop", None))
        self._conn.close()
        self._process = None


# ------------------------------------------------------------------------------- synthetic inputs


def synthetic_products(n: int):
    """``n`` products in the content repository's shape: the 14 sample products, repeated with
    distinct ids and names (``RB-100-02`` "Tempo Endurance Road Bike 2"), same descriptions."""
    import polars as pl

    from segcopy_assets.devtools.sample_products import sample_products_frame

    base = sample_products_frame()
    copies = []
    for k in range(-(-n // base.height)):
        suffix_id, suffix_name = (f"-{k:02d}", f" {k}") if k else ("", "")
        copies.append(
            base.with_columns(pl.col("product_id") + suffix_id, pl.col("name") + suffix_name)
        )
    return pl.concat(copies).head(n).sort("product_id")


def with_content_hash(products):
    """Products as ``products.load_products`` returns them (with ``content_hash``)."""
    from segcopy_assets.core.products import content_hash_expr

    return products.with_columns(content_hash_expr().alias("content_hash")).sort("product_id")


def pipeline_resources(root: Path, customers: str, products: str, copywriter) -> dict:
    """The pipeline's resources on local tables: the CDP and product Delta tables at
    ``customers`` and ``products``, the warehouse under ``root/warehouse``, the given
    ``copywriter``, default segmentation and quality rules, and the LLM judge off."""
    from segcopy_assets.resources import (
        CdpSource,
        Judge,
        ProductRepository,
        Publication,
        QualityRules,
        Segmentation,
        Warehouse,
    )
    from segcopy_assets.storage.io_manager import warehouse_io_manager

    warehouse = Warehouse(root=str(Path(root) / "warehouse"))
    return {
        "cdp": CdpSource(delta_path=customers),
        "product_repository": ProductRepository(path=products),
        "segmentation": Segmentation(),
        "copywriter": copywriter,
        "quality_rules": QualityRules(),
        "publication": Publication(),
        "judge": Judge(prompts_dir=str(PROMPTS)),
        "warehouse": warehouse,
        "warehouse_io_manager": warehouse_io_manager(warehouse.root),
    }


def sample_segments(n: int, customers: int = 20_000):
    """``n`` segment summaries: the 14 real ones of the sample customers, repeated with distinct
    ids and summary hashes beyond 14 (``tents--core-1``)."""
    import hashlib

    import polars as pl

    from segcopy_assets.core.segments import compute_segment_summaries
    from segcopy_assets.devtools.sample_data import generate_customers

    real = compute_segment_summaries(pl.concat(list(generate_customers(customers))).lazy())
    copies = []
    for k in range(-(-n // real.height)):
        if k == 0:
            copies.append(real)
            continue
        copies.append(
            real.with_columns(
                pl.col("segment_id") + f"-{k}",
                pl.col("summary_hash").map_elements(
                    lambda h, k=k: hashlib.sha256(f"{h}|{k}".encode()).hexdigest()[:16],
                    return_dtype=pl.String,
                ),
            )
        )
    return pl.concat(copies).head(n).sort("segment_id")
