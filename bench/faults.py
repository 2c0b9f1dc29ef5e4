"""Fault soak (issue 7): ``python -m bench.faults [--n 1000] [--seed 7] [--timeout 1] [--json]``.

N segment × product generations go through segcopy's real generation path
(``generate_variants`` + ``ChatCompletionsWriter`` with the ``openai`` client's own retries and a
short per-call timeout) against the fake OpenAI-compatible endpoint of ``segcopy_assets/devtools/fake_openai``,
with faults injected into a share of the HTTP requests:

=============  =====  ===========================================================
fault          share  what the endpoint does
=============  =====  ===========================================================
rate_limited    10 %  429 with ``Retry-After`` / ``retry-after-ms`` (50-250 ms)
server_error     5 %  500
hang             2 %  answers nothing for longer than the client's timeout
drop             1 %  closes the connection without answering
malformed        3 %  200 whose answer is empty or has no Rationale
=============  =====  ===========================================================

Faults are drawn per HTTP request from a RNG seeded with (seed, pass, request body, the
client's ``x-stainless-retry-count``): the same seed gives the same faults for the same pair
and attempt whatever the request order, and every retry draws afresh.

What is checked: every pair ends exactly once, ``ok`` or ``failed`` with a reason (none
missing, none duplicated); only ``ok`` rows reach ``on_generated`` (the journal); then a
second pass with ``reusable=`` the first result calls exactly the pairs that failed (failed
rows are never cached). The process exits 1 when an invariant breaks.

The faults are injected by an ASGI middleware (``FaultInjector``) wrapped around the fake
server's app, so ``segcopy_assets/devtools/fake_openai`` stays as it is. With ``--json`` the last stdout line
is ``{"expected","ok","failed","missing","duplicates","calls","wall_s","second_pass_calls",...}``
where ``calls`` counts HTTP requests (every attempt, retries included).

``--scenario {online,batch,sloppy}`` (default ``online``: everything above). ``--scenario sloppy``
runs ``bench.faults_sloppy``: a model that answers a share of pairs without a Rationale, with a
refusal or cut off, through ``segcopy run`` end to end (failures kept as state, parking,
publication of everything else). ``--scenario batch`` hands
the other arguments to ``bench.faults_batch``: the same pairs-end-exactly-once soak for batch
generation (``generation.batch_flow``) against the fake's Files and Batch APIs, with error lines,
an expired batch and both fallbacks (``online``, ``next_batch``); see that module's docstring
(``python -m bench.faults --scenario batch --help``).
"""

import argparse
import asyncio
import collections
import hashlib
import json
import random
import sys
import threading
import time
from typing import Any

import polars as pl

from bench import emit, log, machine, table

FAULT_RATES: dict[str, float] = {
    "rate_limited": 0.10,
    "server_error": 0.05,
    "hang": 0.02,
    "drop": 0.01,
    "malformed": 0.03,
}
CHAT_PATH = "/v1/chat/completions"


# ------------------------------------------------------------------------------ fault injection


def messages_key(messages: list[dict]) -> str:
    """Identifies a pair's request (its rendered messages) across attempts and passes."""
    return hashlib.sha256(json.dumps(messages, sort_keys=True).encode()).hexdigest()[:20]


class FaultInjector:
    """ASGI middleware in front of the fake endpoint that injects one fault per unlucky request.

    ``round`` is part of the seed, so a second pass draws new faults. ``log`` records
    ``(round, messages_key, attempt, fault)`` for every chat request received.
    """

    def __init__(
        self,
        app,
        *,
        seed: int,
        rates: dict[str, float] = FAULT_RATES,
        hang_s: float = 2.0,
        retry_after_s: tuple[float, float] = (0.05, 0.25),
    ):
        if sum(rates.values()) > 1:
            raise ValueError("fault rates add up to more than 1")
        self.app = app
        self.seed = seed
        self.rates = dict(rates)
        self.hang_s = hang_s
        self.retry_after_s = retry_after_s
        self.round = 1
        self.log: list[tuple[int, str, int, str]] = []
        self._lock = threading.Lock()

    def draw(self, body: bytes, attempt: int) -> tuple[str, random.Random]:
        digest = hashlib.sha256(f"{self.seed}|{self.round}|{attempt}|".encode() + body).digest()
        rng = random.Random(digest)
        r, edge = rng.random(), 0.0
        for fault, rate in self.rates.items():
            edge += rate
            if r < edge:
                return fault, rng
        return "none", rng

    def counts(self, round_: int | None = None) -> collections.Counter:
        with self._lock:
            return collections.Counter(
                f for r, _, _, f in self.log if round_ is None or r == round_
            )

    def requests(self, round_: int) -> list[tuple[str, int, str]]:
        with self._lock:
            return [(k, a, f) for r, k, a, f in self.log if r == round_]

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["path"] != CHAT_PATH or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        chunks = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        try:
            attempt = int(headers.get("x-stainless-retry-count", "0"))
            key = messages_key(json.loads(body)["messages"])
        except (ValueError, KeyError, TypeError):
            attempt, key = 0, "unparsable"
        fault, rng = self.draw(body, attempt)
        with self._lock:
            self.log.append((self.round, key, attempt, fault))

        if fault == "rate_limited":
            wait = rng.uniform(*self.retry_after_s)
            return await _json(
                send,
                429,
                _error(429, "Rate limit reached (injected)."),
                {"retry-after": f"{wait:.3f}", "retry-after-ms": str(int(wait * 1000))},
            )
        if fault == "server_error":
            return await _json(send, 500, _error(500, "The server had an error (injected)."))
        if fault == "drop":
            transport = getattr(getattr(send, "__self__", None), "transport", None)
            if transport is None:
                raise RuntimeError(
                    "cannot drop the connection: uvicorn's transport is not reachable"
                )
            transport.close()  # FIN without a response: the client sees the connection drop
            await _until_disconnected(receive)
            return
        if fault == "hang":
            await asyncio.sleep(self.hang_s)  # the client has given up by then
            return await _json(send, 503, _error(503, "Hung (injected)."))

        replay_done = False

        async def replay():
            nonlocal replay_done
            if not replay_done:
                replay_done = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        if fault == "malformed":
            return await self.app(scope, replay, _malformed_sender(send, empty=rng.random() < 0.5))
        return await self.app(scope, replay, send)


def _error(status: int, message: str) -> dict:
    from segcopy_assets.devtools.fake_openai import error_body

    return error_body(status, message)


async def _json(send, status: int, payload: dict, headers: dict[str, str] | None = None) -> None:
    data = json.dumps(payload).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": data, "more_body": False})


async def _until_disconnected(receive, limit_s: float = 5.0) -> None:
    try:
        async with asyncio.timeout(limit_s):
            while (await receive())["type"] != "http.disconnect":
                pass
    except TimeoutError:
        pass


def _malformed_sender(send, *, empty: bool):
    """Rewrite a 200 chat completion: empty content, or the copy without its Rationale."""
    start: dict | None = None
    buffer: list[bytes] = []

    async def sender(message):
        nonlocal start
        if message["type"] == "http.response.start":
            start = message
            return
        if message["type"] != "http.response.body":
            return await send(message)
        buffer.append(message.get("body", b""))
        if message.get("more_body"):
            return
        data = b"".join(buffer)
        if start is not None and start["status"] == 200:
            payload = json.loads(data)
            for choice in payload.get("choices", []):
                text = choice["message"]["content"] or ""
                choice["message"]["content"] = (
                    "" if empty else text.split("**Rationale:**")[0].strip()
                )
            data = json.dumps(payload).encode()
        headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(data)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": data, "more_body": False})

    return sender


# ------------------------------------------------------------------------------------- the soak


def build_pairs(n: int) -> tuple[list[tuple[dict, dict]], Any]:
    """``n`` pairs: the 14 sample products × as many synthetic segments as needed."""
    from segcopy_assets.core.products import content_hash_expr
    from segcopy_assets.devtools.sample_products import sample_products_frame
    from segcopy_assets.generation.variants import plan_pairs

    products = sample_products_frame().with_columns(content_hash_expr().alias("content_hash"))
    n_segments = -(-n // products.height)
    segments = pl.DataFrame(
        {
            "segment_id": [f"soak-{i:04d}" for i in range(n_segments)],
            "top_category": ["Bikes"] * n_segments,
            "summary_hash": [f"soak-summary-{i}" for i in range(n_segments)],
            "segment_description": [
                f"Customers of soak segment {i} (about {100 + i:,} customers).\n- Value tier: 60% Low, 40% Medium."
                for i in range(n_segments)
            ],
        }
    )
    return plan_pairs(segments, products)[:n], products


def check_rows(rows: pl.DataFrame, pairs: list[tuple[dict, dict]]) -> dict:
    expected = {(s["segment_id"], p["product_id"]) for s, p in pairs}
    keys = list(zip(rows["segment_id"].to_list(), rows["product_id"].to_list()))
    counts = collections.Counter(keys)
    failed = rows.filter(pl.col("status") == "failed")
    return {
        "expected": len(expected),
        "ok": int((rows["status"] == "ok").sum()),
        "failed": failed.height,
        "missing": len(expected - set(counts)),
        "duplicates": sum(c - 1 for c in counts.values() if c > 1),
        "unexpected": len(set(counts) - expected),
        "other_status": int((~rows["status"].is_in(["ok", "failed"])).sum()),
        "failed_without_reason": int((failed["error"].fill_null("").str.strip_chars() == "").sum()),
        "failed_reasons": dict(collections.Counter(failed["error"].to_list()).most_common()),
    }


def run_soak(
    n: int = 1000,
    *,
    seed: int = 7,
    timeout_s: float = 1.0,
    max_retries: int = 4,
    concurrency: int = 32,
    latency_ms: float = 20.0,
    rates: dict[str, float] = FAULT_RATES,
) -> dict:
    from bench import PROMPTS
    from segcopy_assets.devtools.fake_openai import FakeOpenAIServer
    from segcopy_assets.generation.openai_writer import ChatCompletionsWriter
    from segcopy_assets.generation.prompts import load_prompt_set
    from segcopy_assets.generation.variants import generate_variants

    pairs, _ = build_pairs(n)
    prompt_set = load_prompt_set(PROMPTS, backend="openai", model_override="gpt-4o-mini")
    key_to_pair = {
        messages_key(prompt_set.render(s, p)): (s["segment_id"], p["product_id"]) for s, p in pairs
    }
    server = FakeOpenAIServer(
        api_key="sk-soak", latency_ms=latency_ms, jitter_ms=latency_ms / 2, seed=seed
    )
    injector = FaultInjector(server.app, seed=seed, rates=rates, hang_s=timeout_s + 1.0)
    server.app = injector  # the fake serves whatever ``app`` is when it starts

    def writer(base_url: str) -> ChatCompletionsWriter:
        return ChatCompletionsWriter(
            base_url=base_url,
            api_key="sk-soak",
            model=prompt_set.params.name,
            temperature=prompt_set.params.temperature,
            max_tokens=prompt_set.params.max_tokens,
            max_concurrency=concurrency,
            timeout_s=timeout_s,
            max_retries=max_retries,
        )

    async def generate(base_url: str, reusable: pl.DataFrame | None, journal: list[dict]):
        async with writer(base_url) as w:
            return await generate_variants(
                pairs, prompt_set, w, reusable=reusable, on_generated=journal.append
            )

    with server:
        journal1: list[dict] = []
        started = time.perf_counter()
        rows1, stats1 = asyncio.run(generate(server.base_url, None, journal1))
        wall1 = time.perf_counter() - started
        log(f"pass 1: {stats1.calls} completions, {stats1.failed} failed, {wall1:.1f} s")

        injector.round = 2
        journal2: list[dict] = []
        started = time.perf_counter()
        rows2, stats2 = asyncio.run(generate(server.base_url, rows1, journal2))
        wall2 = time.perf_counter() - started
        log(
            f"pass 2: {stats2.calls} completions, {stats2.reused} reused, {stats2.failed} failed, {wall2:.1f} s"
        )

    first = check_rows(rows1, pairs)
    second = check_rows(rows2, pairs)
    failed1 = rows1.filter(pl.col("status") == "failed")
    failed_first = set(zip(failed1["segment_id"].to_list(), failed1["product_id"].to_list()))
    requests2 = injector.requests(2)
    called_second = {key_to_pair.get(k) for k, _, _ in requests2}
    calls1 = len(injector.requests(1))
    result = {
        **{k: first[k] for k in ("expected", "ok", "failed", "missing", "duplicates")},
        "calls": calls1,
        "wall_s": round(wall1, 2),
        "second_pass_calls": len(called_second),
        "second_pass_requests": len(requests2),
        "second_pass_reused": stats2.reused,
        "second_pass_ok": second["ok"],
        "second_pass_failed": second["failed"],
        "second_pass_wall_s": round(wall2, 2),
        "second_pass_called_exactly_the_failed": called_second == failed_first,
        "unexpected": first["unexpected"] + second["unexpected"],
        "other_status": first["other_status"] + second["other_status"],
        "failed_without_reason": first["failed_without_reason"] + second["failed_without_reason"],
        "journaled_only_ok": len(journal1) == first["ok"]
        and all(r["status"] == "ok" for r in journal1 + journal2),
        "completions": stats1.calls,
        "injected": dict(injector.counts(1)),
        "failed_reasons": first["failed_reasons"],
        "settings": {
            "n": n,
            "seed": seed,
            "timeout_s": timeout_s,
            "max_retries": max_retries,
            "concurrency": concurrency,
            "latency_ms": latency_ms,
            "rates": rates,
        },
        "machine": machine(),
    }
    result["invariants_hold"] = (
        result["missing"] == 0
        and result["duplicates"] == 0
        and second["missing"] == 0
        and second["duplicates"] == 0
        and result["unexpected"] == 0
        and result["other_status"] == 0
        and result["failed_without_reason"] == 0
        and result["journaled_only_ok"]
        and result["second_pass_called_exactly_the_failed"]
        and stats2.reused == first["ok"]
        and first["ok"] + first["failed"] == first["expected"]
    )
    return result


def report(result: dict) -> str:
    s = result["settings"]
    rows = [
        ["pairs expected", result["expected"]],
        ["ok", result["ok"]],
        ["failed (with a reason)", result["failed"]],
        ["missing", result["missing"]],
        ["duplicated", result["duplicates"]],
        ["HTTP requests (all attempts)", result["calls"]],
        ["completions received", result["completions"]],
        ["wall seconds", result["wall_s"]],
    ]
    injected = [
        [fault, result["injected"].get(fault, 0), f"{rate:.0%}"]
        for fault, rate in s["rates"].items()
    ]
    injected.append(["none", result["injected"].get("none", 0), ""])
    reasons = [[reason, count] for reason, count in result["failed_reasons"].items()] or [
        ["(none)", 0]
    ]
    second = [
        ["pairs called again", result["second_pass_calls"]],
        ["= exactly the failed pairs", result["second_pass_called_exactly_the_failed"]],
        ["HTTP requests", result["second_pass_requests"]],
        ["reused (not called)", result["second_pass_reused"]],
        ["ok after pass 2", result["second_pass_ok"]],
        ["still failed", result["second_pass_failed"]],
    ]
    return "\n\n".join(
        [
            f"fault soak: {s['n']} pairs, seed {s['seed']}, timeout {s['timeout_s']} s, "
            f"{s['max_retries']} client retries, {s['concurrency']} in flight",
            table(["pass 1", "value"], rows),
            table(["injected fault", "requests", "rate"], injected),
            table(["why a pair failed (pass 1)", "pairs"], reasons),
            table(["pass 2 (reusable = pass 1)", "value"], second),
            f"invariants hold: {'yes' if result['invariants_hold'] else 'NO'}",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    scenario = argparse.ArgumentParser(add_help=False)
    scenario.add_argument(
        "--scenario",
        choices=("online", "batch", "sloppy"),
        default="online",
        help="online: this soak (default); batch: bench.faults_batch (--scenario batch --help); "
        "sloppy: bench.faults_sloppy, a sloppy model through `segcopy run` end to end",
    )
    chosen, rest = scenario.parse_known_args(argv)
    if chosen.scenario == "batch":
        from bench import faults_batch

        return faults_batch.main(rest)
    if chosen.scenario == "sloppy":
        from bench import faults_sloppy

        return faults_sloppy.main(rest)
    parser = argparse.ArgumentParser(
        prog="python -m bench.faults", description=__doc__.split("\n\n")[0], parents=[scenario]
    )
    parser.add_argument("--n", type=int, default=1000, help="pairs to generate (default 1000)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--timeout", type=float, default=1.0, help="per-call timeout in seconds")
    parser.add_argument("--retries", type=int, default=4, help="the openai client's max_retries")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--latency-ms", type=float, default=20.0, help="the fake endpoint's latency"
    )
    parser.add_argument(
        "--json", action="store_true", help="one JSON object on the last stdout line"
    )
    args = parser.parse_args(argv)
    result = run_soak(
        args.n,
        seed=args.seed,
        timeout_s=args.timeout,
        max_retries=args.retries,
        concurrency=args.concurrency,
        latency_ms=args.latency_ms,
    )
    emit(report(result), result, args.json)
    return 0 if result["invariants_hold"] else 1


if __name__ == "__main__":
    sys.exit(main())
