"""Generation throughput: the walkthrough's one-call-after-another vs segcopy's concurrent path,
then the same against an endpoint limited to N requests per second.

    python -m bench.generation [--json] [--products 72 --segments 14 --latency-ms 150 ...]

(a) sequential: one blocking ``openai.OpenAI().chat.completions.create`` after another, as the
    walkthrough's notebook does, on the first ``--sequential-sample`` pairs, extrapolated
    linearly to all pairs (1,000 x 150 ms would take 150 s);
(b) segcopy: ``generate_variants`` with ``ChatCompletionsWriter`` (``--concurrency``, default
    32 = segcopy's default), all pairs, best of ``--repeat``;
(c) segcopy against the endpoint limited to ``--rate-limit-rps`` (429 + Retry-After beyond it),
    with the client paced at ``--max-rps`` (default: the limit), and once more without client
    pacing (segcopy's default configuration) to show what pacing changes.

The fake endpoint (``segcopy_assets/devtools/fake_openai``) runs in its own spawned process so it does not take
the client's CPU. Every pair must end ``ok``; failures are counted, never hidden.
"""

import argparse
import asyncio
import sys
import time

from bench import (
    PROMPTS,
    FakeServerProcess,
    emit,
    load_avg,
    log,
    machine,
    sample_segments,
    synthetic_products,
    table,
    timed,
    with_content_hash,
)


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="python -m bench.generation", description=__doc__.split("\n")[0]
    )
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    p.add_argument("--products", type=int, default=72)
    p.add_argument("--segments", type=int, default=14)
    p.add_argument("--latency-ms", type=float, default=150.0)
    p.add_argument("--jitter-ms", type=float, default=0.0)
    p.add_argument(
        "--sequential-sample",
        type=int,
        default=100,
        help="pairs measured one after another (0 = all); the rest is extrapolated",
    )
    p.add_argument(
        "--concurrency", type=int, default=32, help="segcopy's max_concurrency (default 32)"
    )
    p.add_argument(
        "--repeat", type=int, default=2, help="segcopy runs in (b); the best is reported"
    )
    p.add_argument(
        "--rate-limit-rps", type=float, default=50.0, help="endpoint limit in (c); 0 skips (c)"
    )
    p.add_argument(
        "--max-rps", type=float, default=None, help="client pacing in (c) (default: the limit)"
    )
    p.add_argument("--skip-unpaced", action="store_true", help="skip (c) without client pacing")
    return p.parse_args(argv)


def make_writer(prompt_set, base_url, **kwargs):
    from segcopy_assets.generation.openai_writer import ChatCompletionsWriter

    return ChatCompletionsWriter(
        base_url=base_url,
        api_key="sk-bench",
        model=prompt_set.params.name,
        temperature=prompt_set.params.temperature,
        max_tokens=prompt_set.params.max_tokens,
        **kwargs,
    )


def run_segcopy(pairs, prompt_set, base_url, **writer_kwargs):
    """segcopy's generation path, as the asset runs it; returns (timing, rows, stats)."""
    from segcopy_assets.generation.variants import generate_variants

    writer = make_writer(prompt_set, base_url, **writer_kwargs)

    async def go():
        async with writer:
            return await generate_variants(pairs, prompt_set, writer)

    with timed() as t:
        rows, stats = asyncio.run(go())
    return t, rows, stats


def run_sequential(pairs, prompt_set, base_url):
    """The walkthrough's way: a blocking client, one call after another (render, call, parse)."""
    import openai

    from segcopy_assets.generation.answer_parsing import split_copy_and_rationale

    client = openai.OpenAI(base_url=base_url, api_key="sk-bench")
    ok = 0
    with timed() as t:
        for segment, product in pairs:
            response = client.chat.completions.create(
                model=prompt_set.params.name,
                messages=prompt_set.render(segment, product),
                temperature=prompt_set.params.temperature,
                max_tokens=prompt_set.params.max_tokens,
            )
            parsed = split_copy_and_rationale(response.choices[0].message.content or "")
            ok += not parsed.problem
    client.close()
    return t, ok


def count_ok(rows) -> int:
    return int((rows["status"] == "ok").sum())


def main(argv=None) -> dict:
    args = parse_args(argv)
    from segcopy_assets.generation.prompts import load_prompt_set
    from segcopy_assets.generation.variants import plan_pairs

    segments = sample_segments(args.segments)
    products = with_content_hash(synthetic_products(args.products))
    pairs = plan_pairs(segments, products)
    n = len(pairs)
    prompt_set = load_prompt_set(PROMPTS, backend="openai")
    sample = n if args.sequential_sample <= 0 else min(args.sequential_sample, n)
    result: dict = {
        "n": n,
        "latency_ms": args.latency_ms,
        "products": products.height,
        "segments": segments.height,
        "concurrency": args.concurrency,
        "load_avg_start": load_avg(),
    }
    rows_out = []

    server_options = dict(latency_ms=args.latency_ms, jitter_ms=args.jitter_ms)
    with FakeServerProcess(**server_options) as server:
        # (a) one call after another, on a sample
        log(f"(a) sequential: {sample} of {n} pairs, one blocking call after another ...")
        seq, seq_ok = run_sequential(pairs[:sample], prompt_set, server.base_url)
        per_call = seq.wall_s / sample
        sequential_s = per_call * n
        result.update(
            sequential_s=round(sequential_s, 3),
            sequential_measured_pairs=sample,
            sequential_measured_s=round(seq.wall_s, 3),
            sequential_extrapolated=sample < n,
            sequential_ok=seq_ok,
            sequential_per_call_ms=round(per_call * 1000, 2),
        )
        server.reset()

        # (b) segcopy's concurrent path
        runs = []
        for i in range(max(1, args.repeat)):
            log(
                f"(b) segcopy: {n} pairs, max_concurrency {args.concurrency} (run {i + 1}/{args.repeat}) ..."
            )
            t, rows, _ = run_segcopy(
                pairs, prompt_set, server.base_url, max_concurrency=args.concurrency
            )
            stats = server.stats()
            server.reset()
            runs.append((t, count_ok(rows), stats))
        t, ok, stats = min(runs, key=lambda r: r[0].wall_s)
        result.update(
            segcopy_s=round(t.wall_s, 3),
            segcopy_runs_s=[round(r[0].wall_s, 3) for r in runs],
            segcopy_cpu_s=round(t.cpu_s, 3),
            segcopy_ok=ok,
            segcopy_max_in_flight=stats["max_in_flight"],
            speedup=round(sequential_s / t.wall_s, 2),
        )
        ideal = -(-n // args.concurrency) * args.latency_ms / 1000
        result["segcopy_ideal_s"] = round(ideal, 3)  # waves of `concurrency` calls, no overhead
        rows_out.append(
            [
                "(a) sequential"
                + (f" ({sample} measured, x{n / sample:.1f})" if sample < n else ""),
                n,
                round(sequential_s, 2),
                None,
                seq_ok if sample == n else f"{seq_ok}/{sample}",
                "-",
                1.0,
            ]
        )
        rows_out.append(
            [
                f"(b) segcopy, max_concurrency {args.concurrency}",
                n,
                round(t.wall_s, 2),
                round(t.cpu_s, 2),
                ok,
                "-",
                result["speedup"],
            ]
        )

        # (c) endpoint limited to N requests per second
        if args.rate_limit_rps > 0:
            limit = args.rate_limit_rps
            max_rps = args.max_rps or limit
            server.set(rate_limit_rps=limit)
            variants = [("paced", {"max_rps": max_rps})]
            if not args.skip_unpaced:
                variants.append(("unpaced", {}))
            for name, extra in variants:
                time.sleep(1.1)  # an empty rate-limit window for each run
                log(f"(c) segcopy against a {limit:g} rps limit, {name} {extra} ...")
                t, rows, _ = run_segcopy(
                    pairs, prompt_set, server.base_url, max_concurrency=args.concurrency, **extra
                )
                stats = server.stats()
                server.reset()
                ok = count_ok(rows)
                rejected = stats["statuses"].get(429, 0)
                figures = {
                    "s": round(t.wall_s, 3),
                    "ok": ok,
                    "failed": n - ok,
                    "requests": stats["calls"],
                    "rejected_429": rejected,
                    "server_rps": round(stats["accepted_rps"], 2),
                    "max_admitted_in_any_1s": stats["max_admitted_in_any_1s"],
                    "utilization": round(stats["accepted_rps"] / limit, 3),
                    "end_to_end_utilization": round(
                        ok / t.wall_s / limit, 3
                    ),  # pairs done ok per s
                }
                result[name] = figures
                label = f"(c) {limit:g} rps limit, " + (
                    f"client paced at {max_rps:g} rps" if extra else "no client pacing"
                )
                rows_out.append(
                    [
                        label,
                        n,
                        round(t.wall_s, 2),
                        round(t.cpu_s, 2),
                        ok,
                        rejected,
                        round(sequential_s / t.wall_s, 2),
                    ]
                )
            paced = result["paced"]
            result.update(
                rate_limit_rps=limit,
                max_rps=max_rps,
                limited_s=paced["s"],
                limit_utilization=paced["utilization"],
                limited_ok=paced["ok"],
                limited_failed=paced["failed"],
            )

    result["load_avg_end"] = load_avg()
    result["machine"] = machine()
    text = [
        f"generation: {n} pairs ({products.height} products x {segments.height} segments), "
        f"{args.latency_ms:g} ms latency"
        + (f" +- {args.jitter_ms:g} ms" if args.jitter_ms else "")
        + ", fake endpoint in its own process",
        "",
        table(["run", "pairs", "wall s", "client cpu s", "ok", "429s", "speedup"], rows_out),
        "",
        f"speedup (b) vs (a): {result['speedup']}x (ideal for {args.concurrency} in flight: "
        f"{sequential_s / ideal:.1f}x; target >= 25)",
    ]
    if args.rate_limit_rps > 0:
        p = result["paced"]
        text.append(
            f"limit utilization (server-side admitted rps / limit): {p['utilization']} "
            f"({p['server_rps']} of {args.rate_limit_rps:g} rps; end to end {p['end_to_end_utilization']}); "
            f"failed pairs: {p['failed']} (target >= 0.9 and 0 failed)"
        )
        if "unpaced" in result:
            u = result["unpaced"]
            text.append(
                f"without client pacing: {u['rejected_429']} requests rejected with 429, "
                f"{u['failed']} pairs failed after the client's retries, utilization {u['utilization']}"
            )
    text.append(
        f"load average {result['load_avg_start']} -> {result['load_avg_end']} on "
        f"{result['machine']['cores']} cores"
    )
    emit("\n".join(text), result, args.json)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
