"""Batch scenario of the fault soak: ``python -m bench.faults --scenario batch [--n 1000]
[--seed 7] [--files 4] [--fallback both] [--stuck 0] [--max-rounds 5] [--json]``.

N synthetic segment × product pairs (from the seed), rendered with ``prompts/``, go through
``generation.batch_flow`` against the fake's Files and Batch APIs (``batch_polls=2``), once per
fallback, each on its own fake, state table and journal. Faults: 10 % of the lines run end with a
500 error line; the first batch expires with half its lines run (``expire_next_batch(0.5)``);
``max_lines = ceil(N / files)``. The loop is the pipeline's: ``prepare`` with the pairs without
an ``ok`` journal row (it submits), again with that todo while the batches run (it must
re-attach), ``poll_open`` until none is open, ``prepare`` (collects into the journal; fallback
``online`` returns the pairs without copy as ``online``: ``generate_variants`` +
``ChatCompletionsWriter`` on the fake's chat endpoint; ``next_batch`` sends them again, and
the loop goes on). The fake draws a line's error from (seed, custom_id, attempt), so next_batch
converges; ``--stuck K`` makes K pairs fail (400) in every batch. A pair goes in at most
``--max-rounds`` batches: the last round collects without submitting (``mode="auto"``,
``min_pairs`` = N); a pair still without copy ends as a ``failed`` row with its last line error.
Under next_batch ``prepare`` itself routes online a pair that failed in ``max_attempts`` (3)
batches, so with ``--max-rounds`` above 3 a stuck pair ends online, not given up. Final rows:
``read_journal`` + online rows + those.

Checks (exit 1 when one breaks): ``expected == ok + failed``; ``missing``, ``duplicates`` 0;
``duplicate_batches`` 0: each ``prepare`` created (``batch_create_count``) exactly the files its
due pairs need (in its todo, not harvested, not routed online, in no open batch) with those pairs:
a rerun while waiting, or after all is collected (todo: the pairs without a batch answer), adds
none, but under next_batch the files of the pairs that ended failed (a next run retries them);
no pair re-sent after an ``ok`` line; every error and expired line recorded in the state table,
then recovered (online, by a later batch) or failed with a reason; no batch uncollected or
unknown; online calls == pairs routed online. ``--json``, last stdout line: ``{"scenario":
"batch","runs":[{"fallback","expected","ok","failed","missing","duplicates","duplicate_batches",
"batches","expired_batches","line_errors","online_calls","wall_s","checks",...}, ...],"missing",
"duplicates","duplicate_batches","invariants_hold",...}`` (top-level counts: sums over the runs).
"""

import argparse
import asyncio
import collections
import dataclasses
import hashlib
import json
import math
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import polars as pl

from bench import PROMPTS, emit, log, machine, table
from bench.faults import check_rows
from segcopy_assets.devtools.fake_openai import FakeOpenAIServer
from segcopy_assets.devtools.sample_products import sample_products_frame
from segcopy_assets.generation.batch_client import BatchClient
from segcopy_assets.generation.batch_flow import BatchPolicy, BatchRound, poll_open, prepare
from segcopy_assets.generation.batch_requests import request_body, request_line, split_lines
from segcopy_assets.generation.journal import read_journal
from segcopy_assets.generation.openai_writer import ChatCompletionsWriter
from segcopy_assets.generation.prompts import PromptSet, load_prompt_set
from segcopy_assets.generation.variants import generate_variants, input_hash
from segcopy_assets.storage import batch_store
from segcopy_assets.storage.tables import VARIANT_SCHEMA

API_KEY = "sk-soak-batch"
FALLBACKS = ("online", "next_batch")
MAX_POLLS = 200  # in all: a batch of the fake ends at its batch_polls-th retrieve
ACCOUNTED = ("recovered_online", "recovered_next_batch", "failed_with_reason", "unaccounted")
Pairs = dict[str, tuple[dict, dict]]


def _digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def build_pairs(n: int, seed: int, prompt_set: PromptSet) -> Pairs:
    """``n`` pairs by input hash: up to 25 products (the sample catalogue's descriptions under
    new ids) × as many synthetic segments as needed, shuffled and described from ``seed``."""
    rng = random.Random(seed)
    base = sample_products_frame().to_dicts()
    rng.shuffle(base)
    products = []
    for i in range(min(n, 25)):
        p = base[i % len(base)]
        product = {k: p[k] for k in ("category", "subcategory", "description")}
        product.update(product_id=f"{p['product_id']}-{i:02d}", name=f"{p['name']} {i}")
        products.append({**product, "content_hash": _digest(seed, product)})
    segments = []
    for i in range(math.ceil(n / len(products))):
        low, size = rng.randint(20, 80), rng.randint(100, 9000)
        text = f"Customers of soak segment {i} (about {size:,}).\n- Value tier: {low}% Low."
        segment = {"segment_id": f"bsoak-{i:04d}", "segment_description": text}
        segments.append({**segment, "summary_hash": _digest(seed, segment)})
    ps = prompt_set.hash
    pairs = [(s, p) for s in segments for p in products][:n]
    return {input_hash(ps, s["summary_hash"], p["content_hash"]): (s, p) for s, p in pairs}


def request_lines(prompt_set: PromptSet, pairs: Pairs, hashes: set[str]) -> list[bytes]:
    """The request lines ``batch_flow.submit`` writes for these pairs (to count the files)."""
    m, render = prompt_set.params, prompt_set.render
    args = (m.name, m.temperature, m.max_tokens)
    return [request_line(h, request_body(*args, render(*pairs[h]))) for h in sorted(hashes)]


@dataclasses.dataclass
class Soak:
    """One fallback's run: its fake, client, tables, and what the checks found so far."""

    fallback: str
    pairs: Pairs
    prompt_set: PromptSet
    policy: BatchPolicy
    server: FakeOpenAIServer
    client: BatchClient
    store: str
    journal: str
    files_needed: int = 0
    duplicate_batches: int = 0
    polls: int = 0
    created: int = 0
    problems: list[str] = dataclasses.field(default_factory=list)

    def pending(self) -> Pairs:
        """A run's todo: the pairs without an ``ok`` journal row."""
        held = set(read_journal(self.journal, list(self.pairs))["input_hash"].to_list())
        return {h: p for h, p in self.pairs.items() if h not in held}

    def step(self, todo: Pairs, what: str, policy: BatchPolicy | None = None) -> BatchRound:
        """``prepare``; checks it created (``created``) exactly the batches its due pairs need."""
        policy = policy or self.policy
        before, known = self.server.batch_create_count, {b["id"] for b in self.server.batches}
        r = prepare(
            store_path=self.store, journal_path=self.journal, client=self.client, policy=policy,
            todo=todo, prompt_set=self.prompt_set, log=log,
            segment_ids=sorted({s["segment_id"] for s, _ in self.pairs.values()}),  # the run's
        )  # fmt: skip
        self.created = created = self.server.batch_create_count - before
        new_ids = [b["id"] for b in self.server.batches if b["id"] not in known]
        still = batch_store.submitted_open(batch_store.current(self.store)).filter(
            ~pl.col("batch_id").is_in(new_ids)
        )
        still_open = {h for b in still.iter_rows(named=True) for h in batch_store.pair_hashes(b)}
        due = set(todo) - set(r.harvested["input_hash"].to_list()) - r.online - still_open
        due = due if policy.use_batch(len(due)) else set()
        lines = request_lines(self.prompt_set, self.pairs, due)
        files = len(split_lines(lines, policy.max_lines, policy.max_bytes)) if lines else 0
        sent = sorted(x["custom_id"] for i in new_ids for x in self.server.batch_requests(i))
        self.files_needed += files
        if created != files or len(new_ids) != created or sent != sorted(due):
            self.duplicate_batches += max(0, created - files)
            found = f"{created} batch(es) created for {len(sent)} line(s)"
            self.problems.append(f"{what}: {found}; {files} file(s) due for {len(due)} pair(s)")
        return r

    def wait(self) -> None:
        """``poll_open`` until no batch is open (the fake ends a batch at a retrieve)."""
        while not batch_store.submitted_open(batch_store.current(self.store)).is_empty():
            if self.polls >= MAX_POLLS:
                self.problems.append(f"batches still open after {MAX_POLLS} polls")
                break
            poll_open(self.store, self.client, log)
            self.polls += 1

    def online(self, hashes: set[str]) -> pl.DataFrame:
        """The pairs ``prepare`` routed online, generated as the asset does (no reuse)."""
        m = self.prompt_set.params
        writer = ChatCompletionsWriter(
            base_url=self.server.base_url, api_key=API_KEY, model=m.name,
            temperature=m.temperature, max_tokens=m.max_tokens, max_retries=2,
        )  # fmt: skip

        async def go():
            async with writer:
                pairs = [self.pairs[h] for h in sorted(hashes)]
                return await generate_variants(pairs, self.prompt_set, writer)

        rows, stats = asyncio.run(go())
        log(f"online: {stats.calls} call(s), {stats.failed} failed, {stats.wall_s:.1f} s")
        return rows


def fake_batches(server: FakeOpenAIServer) -> list[dict]:
    """The fake's batches in creation order: lines sent, ``ok`` lines, error lines by kind."""

    def lines(file_id: str | None) -> list[dict]:
        raw = server.file_content(file_id).decode() if file_id else ""
        return [json.loads(x) for x in raw.splitlines() if x.strip()]

    def kind(x: dict) -> str:
        expired = (x["error"] or {}).get("code") == "batch_expired"
        return "expired_lines" if expired else "line_errors"

    return [
        {"id": b["id"], "status": b["status"]}
        | {"sent": [x["custom_id"] for x in server.batch_requests(b["id"])]}
        | {"ok": {x["custom_id"] for x in lines(b["output_file_id"])}}
        | {"errors": {x["custom_id"]: kind(x) for x in lines(b["error_file_id"])}}
        for b in server.batches
    ]


def given_up(soak: Soak, hashes: set[str]) -> pl.DataFrame:
    """Failed rows for pairs next_batch stopped sending: the reason is their last line error."""
    last: dict[str, str] = {}
    sent: collections.Counter[str] = collections.Counter()
    for b in batch_store.current(soak.store).iter_rows(named=True):  # oldest first
        sent.update(batch_store.pair_hashes(b))
        last.update({e["input_hash"]: e["error"] for e in b["line_errors"] or []})
    rows = []
    for h in sorted(hashes & set(last)):  # without a recorded error a pair stays missing
        s, p = soak.pairs[h]
        rows.append(
            {**{k: s[k] for k in ("segment_id", "summary_hash")}, "input_hash": h}
            | {k: p[k] for k in ("product_id", "content_hash")}
            | {"backend": "openai", "model": soak.prompt_set.params.name, "status": "failed"}
            | {"prompt_hash": soak.prompt_set.hash}
            | {"error": f"{last[h]} (in each of {sent[h]} batch(es))"}
        )
    return pl.DataFrame(rows, schema=VARIANT_SCHEMA)


def account(soak: Soak, view: list[dict], final: pl.DataFrame) -> collections.Counter[str]:
    """Every error and expired line of the fake: recorded in the state table, and recovered or
    failed with a reason in the final rows; pairs sent again after an ``ok`` line."""
    store = batch_store.current(soak.store)
    rows = store.iter_rows(named=True)
    recorded = {(b["batch_id"], e["input_hash"]) for b in rows for e in b["line_errors"] or []}
    final_rows = {r["input_hash"]: r for r in final.iter_rows(named=True)}
    c: collections.Counter[str] = collections.Counter()
    ok_before: set[str] = set()
    for b in view:
        c["resent_ok_lines"] += len(set(b["sent"]) & ok_before)
        ok_before |= b["ok"]
        for h, kind in b["errors"].items():
            c[kind] += 1
            c["unrecorded"] += (b["id"], h) not in recorded
            row = final_rows.get(h, {})
            status, source = row.get("status"), row.get("batch_id")
            if status == "ok" and source is None:
                c["recovered_online"] += 1
            elif status == "ok" and source != b["id"]:
                c["recovered_next_batch"] += 1
            elif status == "failed" and (row.get("error") or "").strip():
                c["failed_with_reason"] += 1
            else:  # missing, or ok from the very batch that reported the error
                c["unaccounted"] += 1
    unknown = {b["id"] for b in view} ^ set(store["batch_id"].to_list())
    c["orphans"] = len(unknown) + int((store["state"] != "collected").sum())
    return c


def run_fallback(fallback: str, pairs: Pairs, prompt_set: PromptSet, opts) -> dict:
    started = time.perf_counter()
    log(f"-- batch soak, fallback {fallback}")
    policy = BatchPolicy("batch", fallback=fallback, max_lines=math.ceil(len(pairs) / opts.files))
    collect_only = dataclasses.replace(policy, mode="auto", min_pairs=len(pairs))
    server = FakeOpenAIServer(
        api_key=API_KEY, batch_polls=opts.polls, batch_line_error_rate=opts.line_error_rate,
        seed=opts.seed,
    )  # fmt: skip
    with (
        tempfile.TemporaryDirectory(prefix="segcopy-batch-soak-") as tmp,
        server,
        BatchClient(base_url=server.base_url, api_key=API_KEY, max_retries=2) as client,
    ):
        store, journal = (str(Path(tmp) / t) for t in ("generation_batches", "generation_journal"))
        soak = Soak(fallback, pairs, prompt_set, policy, server, client, store, journal)
        if opts.stuck:
            server.fail_lines(sorted(pairs)[:: len(pairs) // opts.stuck][: opts.stuck], 400)
        if opts.expire > 0:
            server.expire_next_batch(opts.expire)
        r = soak.step(soak.pending(), "submission")
        rounds, routed, online_rows = 1, set(), [VARIANT_SCHEMA.to_frame()]
        while True:
            if r.must_wait and opts.polls >= 2:  # at 0/1 a retrieve ends it: no rerun waits
                todo = soak.pending()
                again = soak.step(todo, f"rerun while waiting (round {rounds})")
                if again.waiting_pairs != len(todo):
                    soak.problems.append(f"round {rounds}: a rerun waits on {again.waiting_pairs}")
                soak.wait()
            last = fallback == "next_batch" and rounds >= opts.max_rounds
            r = soak.step(soak.pending(), f"collect {rounds}", collect_only if last else None)
            if r.online:
                routed |= r.online
                online_rows.append(soak.online(r.online))
            if not r.must_wait:
                break
            rounds += 1
        journaled, online = read_journal(soak.journal, list(pairs)), pl.concat(online_rows)
        ended = set(journaled["input_hash"].to_list()) | set(online["input_hash"].to_list())
        gave_up = given_up(soak, set(pairs) - ended) if fallback == "next_batch" else online[:0]
        final = pl.concat([journaled, online, gave_up])
        view = fake_batches(server)
        acc = account(soak, view, final)  # before the rerun, which may submit (next_batch)
        batches, files_needed = server.batch_create_count, soak.files_needed
        rerun_todo = soak.pending()  # the pairs no batch answered: online ones, given-up ones
        rerun, rerun_batches = soak.step(rerun_todo, "rerun after collecting"), soak.created
        if fallback == "online" and rerun.online != set(rerun_todo):
            soak.problems.append("rerun after collecting: not all the unanswered pairs go online")
        online_calls = server.call_count
    counts = check_rows(final, list(pairs.values()))
    expired = [b["status"] == "expired" for b in view]
    result = {
        "fallback": fallback,
        **{k: counts[k] for k in ("expected", "ok", "failed", "missing", "duplicates")},
        "duplicate_batches": soak.duplicate_batches, "batches": batches,
        "files_needed": files_needed, "batch_rounds": rounds, "expired_batches": sum(expired),
        **{k: acc[k] for k in ("line_errors", "expired_lines", *ACCOUNTED, "unrecorded")},
        **{k: acc[k] for k in ("resent_ok_lines", "orphans")},
        "online_pairs": len(routed), "online_calls": online_calls, "given_up": gave_up.height,
        "rerun_batches": rerun_batches, "polls": soak.polls,
        "failed_reasons": counts["failed_reasons"], "problems": soak.problems,
        "wall_s": round(time.perf_counter() - started, 2),
    }  # fmt: skip
    c, faults_seen = counts, opts.line_error_rate == 0 or acc["line_errors"] > 0
    result["checks"] = {
        "ok + failed == expected": c["ok"] + c["failed"] == c["expected"],
        "every pair once": c["missing"] == c["duplicates"] == c["unexpected"] == 0,
        "failed rows carry a reason": c["failed_without_reason"] == c["other_status"] == 0,
        "prepare: batches == files due, reruns add none": not soak.problems,
        "no pair re-sent after an ok line": acc["resent_ok_lines"] == 0,
        "error lines recorded and accounted": acc["unrecorded"] == acc["unaccounted"] == 0,
        "no batch uncollected or unknown": acc["orphans"] == 0,
        # next_batch routes online only what failed in max_attempts batches
        "online calls == pairs routed online": online_calls == len(routed),
        "the scripted faults happened": faults_seen and sum(expired) == int(opts.expire > 0),
    }
    result["invariants_hold"] = all(result["checks"].values())
    return result


ROWS = [
    ("pairs expected", "expected"), ("ok", "ok"), ("failed (with a reason)", "failed"),
    ("missing", "missing"), ("duplicated", "duplicates"), ("batches created", "batches"),
    ("files the submissions needed", "files_needed"), ("duplicate batches", "duplicate_batches"),
    ("batch rounds", "batch_rounds"), ("expired batches", "expired_batches"),
    ("expired lines", "expired_lines"), ("error lines (500, stuck 400)", "line_errors"),
    ("error lines recovered online", "recovered_online"),
    ("error lines recovered by a later batch", "recovered_next_batch"),
    ("error lines ending failed (reason)", "failed_with_reason"),
    ("error lines unaccounted", "unaccounted"), ("pairs routed online", "online_pairs"),
    ("online chat calls", "online_calls"), ("rerun after collecting: batches", "rerun_batches"),
    ("polls", "polls"), ("wall seconds", "wall_s"),
]  # fmt: skip


def report(result: dict) -> str:
    runs, s = result["runs"], result["settings"]
    heads = ["fallback"] + [r["fallback"] for r in runs]
    checks = list(runs[0]["checks"])
    parts = [
        f"batch fault soak: {s['n']} pairs, seed {s['seed']}, {s['files']} file(s), "
        f"{s['line_error_rate']:.0%} error lines, first batch expires at {s['expire']:.0%}, "
        f"{s['stuck']} stuck pair(s), next_batch at most {s['max_rounds']} round(s)",
        table(heads, [[label] + [r[k] for r in runs] for label, k in ROWS]),
        table(["check", *heads[1:]], [[c] + [r["checks"][c] for r in runs] for c in checks]),
    ]
    for r in runs:
        reasons = [[why[:90], n] for why, n in r["failed_reasons"].items()]
        if reasons:
            parts.append(table([f"why a pair failed ({r['fallback']})", "pairs"], reasons))
        parts += [f"problem ({r['fallback']}): {p}" for p in r["problems"]]
    parts.append(f"invariants hold: {'yes' if result['invariants_hold'] else 'NO'}")
    return "\n\n".join(parts)


OPTIONS = [  # flag, type, default, help
    ("--n", int, 1000, "pairs to generate"),
    ("--seed", int, 7, "seeds the pairs and the fake's line errors"),
    ("--files", int, 4, "request files of the first submission (max_lines = ceil(n / files))"),
    ("--line-error-rate", float, 0.1, "share of the lines run that end with a 500 error line"),
    ("--expire", float, 0.5, "the first batch expires with this share of its lines run (0: none)"),
    ("--polls", int, 2, "retrieves until a batch of the fake ends"),
    ("--stuck", int, 0, "pairs whose lines fail (400) in every batch"),
    ("--max-rounds", int, 5, "next_batch: batches a pair is sent in at most"),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.faults --scenario batch", description=__doc__.split("\n\n")[0]
    )
    for flag, kind, default, text in OPTIONS:
        parser.add_argument(flag, type=kind, default=default, help=f"{text} (default {default})")
    parser.add_argument("--fallback", choices=(*FALLBACKS, "both"), default="both")
    parser.add_argument("--json", action="store_true", help="one JSON object, last stdout line")
    opts = parser.parse_args(argv)
    if min(opts.n, opts.files, opts.max_rounds) < 1 or not 0 <= opts.stuck <= opts.n:
        parser.error("--n, --files and --max-rounds must be positive, --stuck within 0..n")
    started = time.perf_counter()
    prompt_set = load_prompt_set(PROMPTS, backend="openai", model_override="gpt-4o-mini")
    pairs = build_pairs(opts.n, opts.seed, prompt_set)
    fallbacks = FALLBACKS if opts.fallback == "both" else (opts.fallback,)
    runs = [run_fallback(f, pairs, prompt_set, opts) for f in fallbacks]
    result = {
        "scenario": "batch", "runs": runs,
        **{k: sum(r[k] for r in runs) for k in ("missing", "duplicates", "duplicate_batches")},
        "invariants_hold": all(r["invariants_hold"] for r in runs),
        "wall_s": round(time.perf_counter() - started, 2),
        "settings": {k: v for k, v in vars(opts).items() if k != "json"}, "machine": machine(),
    }  # fmt: skip
    emit(report(result), result, opts.json)
    return 0 if result["invariants_hold"] else 1
