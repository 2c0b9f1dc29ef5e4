"""A sloppy model at scale (issue 21): ``python -m bench.faults --scenario sloppy [--pairs 2000]
[--seed 7] [--runs 6] [--latency-ms 20] [--json]``.

Driven as a user does, each step a ``segcopy`` subprocess on a scratch ``SEGCOPY_HOME``: the
sample CDP (14 segments) and ``ceil(pairs / 14)`` products (the sample's, then copies named with
words, not numbers), the openai backend on the
fake endpoint in its own process, answering through ``fake_openai.sloppy.SloppyResponder``: 5 %
of pairs without a Rationale, 2 % refusals (half with a Rationale: ``ok`` rows the checks must
hold back), 1 % cut off at ``max_tokens``; half of those faulty pairs answer the same way every
time, the others well from their second request on.

Steps: ``segcopy run`` until a run leaves no failed pair to retry (at most ``--runs``; with the
default ceiling of 3 a pair that keeps failing is parked by its third run), ``segcopy review
bulk approve --yes`` (every variant), ``segcopy run`` (publishes; must make 0 calls), ``segcopy
run`` again (nothing changed: 0 calls).

Checked (exit 1 when one breaks): every pair ``ok`` and passing its ERROR rules is published,
no fewer and no other (``published_matches``); no published copy is a refusal
(``defects_published`` = 0); no pair was sent more than ceiling + 1 times; the pairs still
failing are parked; the runs after settling make 0 calls. With ``--json`` the last stdout line
has ``pairs, ok, failed, parked, published, calls, defects_published`` and the rest.

``--before [COMMIT]`` runs the same steps on the code of COMMIT (default 8d3e639, main before
issue 21) from a git worktree put first on the subprocesses' PYTHONPATH (as ``bench.scale
--before``); a run that fails there is recorded, not an error.
"""

import argparse
import math
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import REPO, FakeServerProcess, emit, log, machine, synthetic_products, table

API_KEY = "sk-sloppy-bench"
BEFORE_COMMIT = "8d3e639"  # main before issue 21
BEFORE_DIR = Path("/tmp/segcopy_before_21")
CEILING = 3  # SEGCOPY_MAX_ATTEMPTS's default


def _segcopy(env: dict, *args: str, timeout: float = 1800) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).parent / "segcopy"
    return subprocess.run(
        [str(exe), *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def _retried_next(stdout: str) -> int | None:
    """How many failed pairs the run says the next run sends again (0: none failed)."""
    found = re.search(r"Failed: \d+ pair\(s\).*?: (\d+) retried by the next run", stdout)
    return int(found.group(1)) if found else (0 if "Variants:" in stdout else None)


def _generated(stdout: str) -> int | None:
    found = re.search(r"Variants: \d+ pairs, (\d+) generated", stdout)
    return int(found.group(1)) if found else None


#: Names of the catalogue's copies: a number in a name ("Tempo Endurance Road Bike 2") would be
#: a number the copy adds to the original's facts, failing good copy for a reason of the bench's.
COPY_NAMES = ("Alpine", "Ridge", "Summit", "Canyon", "Harbor", "Meadow", "Forest", "Prairie")


def catalogue(n: int):
    """``n`` products: the 14 sample products, then copies with distinct ids and word-named
    models ("Tempo Endurance Road Bike Ridge"), the same descriptions."""
    import polars as pl

    products = synthetic_products(n)
    copy = pl.col("product_id").str.extract(r"^[^-]+-[^-]+-(\d+)$").cast(pl.Int64).fill_null(0)
    suffix = copy.map_elements(
        lambda k: " ".join(COPY_NAMES[d] for d in _digits(k, len(COPY_NAMES))),
        return_dtype=pl.String,
    )
    return products.with_columns(
        pl.when(copy > 0)
        .then(pl.col("name").str.replace(r" \d+$", "") + " " + suffix)
        .otherwise(pl.col("name"))
        .alias("name")
    )


def _digits(k: int, base: int) -> list[int]:
    out = []
    while True:
        k, d = divmod(k, base)
        out.append(d)
        if k == 0:
            return out[::-1]


def run_sloppy(
    pairs: int = 2000,
    *,
    seed: int = 7,
    max_runs: int = 6,
    latency_ms: float = 20.0,
    work_dir: Path | None = None,
    keep: bool = False,
    before: str | None = None,
    before_dir: Path = BEFORE_DIR,
) -> dict:
    from bench.scale import child_env, code_under_test
    from segcopy_assets.devtools.fake_openai.sloppy import REFUSAL, SloppyResponder

    root = Path(tempfile.mkdtemp(prefix="bench-sloppy-", dir=work_dir))
    code = code_under_test(before, before_dir, root)
    products_path = root / "products"
    n_products = max(1, math.ceil(pairs / 14))
    catalogue(n_products).write_delta(str(products_path))
    env = child_env(
        code.pythonpath,
        {
            "SEGCOPY_HOME": str(root / "home"),
            "SEGCOPY_PRODUCTS_PATH": str(products_path),
            "SEGCOPY_LLM_BACKEND": "openai",
            "SEGCOPY_LLM_API_KEY": API_KEY,
            "SEGCOPY_LLM_TIMEOUT_S": "30",
            "SEGCOPY_REVIEWER": "bench",
        },
    )
    # the code before issue 21 fails a run with a failed pair (its blocking check): go on
    allowed = (0, 1, 3) if before else (0, 3)
    steps: list[dict] = []
    started = time.perf_counter()
    try:
        with FakeServerProcess(
            api_key=API_KEY, latency_ms=latency_ms, seed=seed, responder=SloppyResponder(seed)
        ) as fake:
            env["SEGCOPY_LLM_BASE_URL"] = fake.base_url

            def step(name: str, *args: str) -> dict:
                before = fake.stats()["ok"]
                t0 = time.perf_counter()
                done = _segcopy(env, *args)
                record = {
                    "step": name,
                    "exit": done.returncode,
                    "calls": fake.stats()["ok"] - before,
                    "generated": _generated(done.stdout),
                    "retried_next": _retried_next(done.stdout),
                    "wall_s": round(time.perf_counter() - t0, 1),
                }
                log(
                    f"{name}: exit {done.returncode}, {record['calls']} call(s), {record['wall_s']} s"
                )
                if done.returncode not in allowed:
                    tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
                    raise RuntimeError(
                        f"{name} failed (exit {done.returncode}): " + " | ".join(tail)
                    )
                steps.append(record)
                return record

            for k in range(1, max_runs + 1):  # until no pair is left to retry (all parked)
                ran = step(f"run {k}", "run")
                if ran["calls"] == 0 or ran["retried_next"] == 0:
                    break
            step("bulk approve", "review", "bulk", "approve", "--yes")
            step("run (publish)", "run")
            step("run (nothing changed)", "run")
            responder = fake.stats()["responder"] or {}
            total_calls = fake.stats()["ok"]
        result = _tables(Path(env["SEGCOPY_HOME"]), REFUSAL)
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
    after = [s for s in steps if s["step"].startswith("run (")]
    settled = [
        s for s in steps if s["step"].startswith("run ") and not s["step"].startswith("run (")
    ]
    result.update(
        {
            "pairs": pairs if result["pairs"] == 0 else result["pairs"],
            "calls": total_calls,
            "runs_to_settle": len(settled),
            "second_run_calls": after[-1]["calls"] if after else None,
            "calls_after_settling": sum(s["calls"] for s in after),
            "max_requests_per_pair": responder.get("max_requests_per_pair"),
            "ceiling": CEILING,
            "faulty_pairs": responder.get("faulty_pairs"),
            "sticky_faulty_pairs": responder.get("sticky_faulty_pairs"),
            "exit_statuses": [s["exit"] for s in steps],
            "steps": steps,
            "wall_s": round(time.perf_counter() - started, 1),
            "settings": {"pairs": pairs, "seed": seed, "latency_ms": latency_ms, "runs": max_runs},
            "code": {"commit": code.commit, "module": code.module_file},
            "machine": machine(),
        }
    )
    result["invariants_hold"] = bool(
        result["published_matches"]
        and result["defects_published"] == 0
        and (result["max_requests_per_pair"] or 0) <= CEILING + 1
        and result["failed"] == result["parked"]
        and result["calls_after_settling"] == 0
        and settled
        and settled[-1]["retried_next"] == 0  # every failing pair parked: nothing left to send
    )
    return result


def _tables(home: Path, refusal: str) -> dict:
    """What the warehouse holds after the runs (read once every subprocess is done)."""
    import polars as pl

    from segcopy_assets.storage.delta import table_exists

    schema_dir = home / "warehouse" / "segcopy"
    variants = pl.read_delta(str(schema_dir / "description_variants"))
    verdicts = pl.read_delta(str(schema_dir / "variant_checks"))
    published_path = str(schema_dir / "published_variants")
    published = (  # the code before issue 21 may never have published
        pl.read_delta(published_path)
        if table_exists(published_path)
        else pl.DataFrame(
            schema={
                c: pl.String for c in ("segment_id", "product_id", "input_hash", "published_text")
            }
        )
    )
    failing_errors = verdicts.filter(~pl.col("passed") & (pl.col("severity") == "ERROR"))
    ok = variants.filter(pl.col("status") == "ok")
    publishable = ok.join(failing_errors.select("input_hash").unique(), on="input_hash", how="anti")
    key = ["segment_id", "product_id", "input_hash"]
    expected = set(publishable.select(key).iter_rows())
    got = set(published.select(key).iter_rows())
    attempts = variants["attempts"] if "attempts" in variants.columns else None
    parked = variants.filter(attempts.fill_null(0) >= CEILING) if attempts is not None else []
    return {
        "pairs": variants.height,
        "ok": ok.height,
        "failed": variants.filter(pl.col("status") != "ok").height,
        "parked": len(parked),
        "ok_failing_checks": ok.height - publishable.height,
        "publishable": len(expected),
        "published": published.height,
        "published_matches": expected == got,
        "defects_published": int(
            published["published_text"].str.contains(refusal, literal=True).sum()
        ),
    }


def report(r: dict) -> str:
    rows = [[s["step"], s["exit"], s["calls"], s["generated"], s["wall_s"]] for s in r["steps"]]
    summary = [
        ["pairs", r["pairs"]],
        ["ok", r["ok"]],
        ["ok but failing an ERROR check (held back)", r["ok_failing_checks"]],
        ["failed (no variant)", r["failed"]],
        ["parked", r["parked"]],
        ["published / publishable", f"{r['published']} / {r['publishable']}"],
        ["published = exactly the publishable", r["published_matches"]],
        ["defective copy published", r["defects_published"]],
        ["model calls in all", r["calls"]],
        [f"most requests for one pair (ceiling {r['ceiling']} + 1)", r["max_requests_per_pair"]],
        ["calls after settling", r["calls_after_settling"]],
        ["faulty pairs drawn", r["faulty_pairs"]],
        ["of which sticky", r["sticky_faulty_pairs"]],
    ]
    return "\n\n".join(
        [
            f"sloppy model: {r['settings']['pairs']} pairs, seed {r['settings']['seed']}",
            table(["step", "exit", "calls", "generated", "wall s"], rows),
            table(["result", "value"], summary),
            f"invariants hold: {'yes' if r['invariants_hold'] else 'NO'}",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.faults --scenario sloppy", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--pairs", type=int, default=2000, help="at least (14 segments x products)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--runs", type=int, default=6, help="most `segcopy run`s to settle")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--work-dir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the scratch home")
    parser.add_argument("--json", action="store_true", help="one JSON object on the last line")
    parser.add_argument(
        "--before",
        nargs="?",
        const=BEFORE_COMMIT,
        default=None,
        metavar="COMMIT",
        help=f"measure the code of COMMIT (default {BEFORE_COMMIT}, before issue 21) from a git "
        "worktree on the subprocesses' PYTHONPATH",
    )
    parser.add_argument("--before-dir", type=Path, default=BEFORE_DIR)
    args = parser.parse_args(argv)
    result = run_sloppy(
        args.pairs,
        seed=args.seed,
        max_runs=args.runs,
        latency_ms=args.latency_ms,
        work_dir=args.work_dir,
        keep=args.keep,
        before=args.before,
        before_dir=args.before_dir,
    )
    emit(report(result), result, args.json)
    return 0 if result["invariants_hold"] else 1


if __name__ == "__main__":
    sys.exit(main())
