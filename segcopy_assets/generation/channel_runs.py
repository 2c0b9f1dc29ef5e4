"""One run of a channel's variants for some segments: plain functions, no Dagster.

The same machinery as the description's (``defs/generation``), on the channel's own tables
(``storage.tables.channel_tables``): every pair whose input hash already has an ``ok`` row in
the channel's table or journal is reused, never paid for twice; the rest are written by the
writer with the channel's prompt; an answer that lacks a field is a failed generation; a failed
pair keeps its last good row with the failure recorded beside it (``failures.settle``); every
row is judged by the channel's checks (``quality.channel_checks``).
"""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from segcopy_assets.core.hashing import variant_hash
from segcopy_assets.generation import failures
from segcopy_assets.generation import journal as generation_journal
from segcopy_assets.generation.channels import Channel
from segcopy_assets.generation.freshness import FRESHNESS_SCHEMA
from segcopy_assets.generation.variants import (
    GenerationStats,
    generate_variants,
    input_hash,
    plan_pairs,
)
from segcopy_assets.storage import variant_store
from segcopy_assets.storage.retry_requests import RETRY_SCHEMA
from segcopy_assets.storage.tables import VERDICT_SCHEMA


@dataclass
class ChannelRun:
    rows: pl.DataFrame  # VARIANT_SCHEMA: one per pair of the segments
    verdicts: pl.DataFrame  # VERDICT_SCHEMA
    stats: GenerationStats
    recovered: int  # answers of an interrupted run, taken from the journal
    calls_needed: int  # pairs whose input hash had no ok row (before the run)
    parked: int = 0  # pairs not sent: failed max_attempts runs with these inputs


@dataclass(frozen=True)
class ChannelPaths:
    variants: str
    checks: str
    journal: str


def calls_needed(
    channel: Channel, segments: pl.DataFrame, products: pl.DataFrame, paths: ChannelPaths
) -> int:
    """How many pairs of ``segments`` have no ``ok`` row for their current inputs."""
    hashes = _hashes(channel, plan_pairs(segments, products))
    reusable = pl.concat(
        [
            variant_store.read_reusable(paths.variants, hashes),
            generation_journal.read_journal(paths.journal, hashes),
        ]
    )
    return len(set(hashes) - set(reusable["input_hash"]))


def _hashes(channel: Channel, pairs: list[tuple[dict, dict]]) -> list[str]:
    return [input_hash(channel.hash, s["summary_hash"], p["content_hash"]) for s, p in pairs]


def answer_problem(channel: Channel) -> Callable[[str], str | None]:
    return lambda text: channel.parse(text)[2]


def run_channel(
    channel: Channel,
    segments: pl.DataFrame,
    products: pl.DataFrame,
    writer,  # Copywriter.writer(...): used once, as an async context manager
    paths: ChannelPaths,
    *,
    max_attempts: int,
    force_regenerate: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> ChannelRun:
    """Generate (or reuse) and judge every pair of ``segments`` but the parked ones (failed
    ``max_attempts`` runs in a row with the same inputs: kept as they are until their inputs
    change, as the description's); writes only the journal."""
    all_pairs = plan_pairs(segments, products)
    segment_ids = segments["segment_id"].to_list()
    previous = variant_store.read_segments(paths.variants, segment_ids)
    plan = failures.attempt_plan(
        all_pairs, _hashes(channel, all_pairs), previous, RETRY_SCHEMA.to_frame(), max_attempts
    )
    journaled = generation_journal.read_journal(paths.journal, plan.hashes)
    reusable = pl.concat([variant_store.read_reusable(paths.variants, plan.hashes), journaled])
    needed = len(set(plan.hashes) - set(reusable["input_hash"]))

    async def generate(journal: generation_journal.GenerationJournal):
        async with writer:
            return await generate_variants(
                plan.pairs,
                channel.prompt_set,
                writer,
                reusable=reusable,
                force_regenerate=force_regenerate,
                on_progress=on_progress,
                on_generated=journal.add,
                answer_problem=answer_problem(channel),
            )

    with generation_journal.GenerationJournal(paths.journal) as journal:
        generated, stats = asyncio.run(generate(journal))
    rows = pl.concat([failures.settle(generated, previous), plan.held(previous)]).sort(
        "segment_id", "product_id"
    )
    return ChannelRun(
        rows,
        judge_rows(channel, rows, segments, products),
        stats,
        journaled.height,
        needed,
        parked=len(plan.parked),
    )


def judge_rows(
    channel: Channel, rows: pl.DataFrame, segments: pl.DataFrame, products: pl.DataFrame
) -> pl.DataFrame:
    """One verdict per ``ok`` row and channel check (a failed row has no copy to judge: it is
    reported by the run as failing, as the description's coverage does)."""
    by_segment = {s["segment_id"]: s for s in segments.to_dicts()}
    by_product = {p["product_id"]: p for p in products.to_dicts()}
    out = []
    for row in rows.filter(pl.col("status") == "ok").iter_rows(named=True):
        answer = row["raw_output"] or f"{row['variant_text']}\n\n**Rationale:** {row['rationale']}"
        segment, product = by_segment[row["segment_id"]], by_product[row["product_id"]]
        for verdict in channel.judge(answer, segment, product):
            out.append(
                {
                    "segment_id": row["segment_id"],
                    "product_id": row["product_id"],
                    "input_hash": row["input_hash"],
                    "check": verdict.check,
                    "passed": verdict.passed,
                    "severity": verdict.severity,
                    "reason": verdict.reason,
                    "variant_hash": variant_hash(
                        row["variant_text"], row["rationale"], row["status"]
                    ),
                    "rules_hash": channel.hash,
                }
            )
    frame = pl.DataFrame(out, schema=VERDICT_SCHEMA) if out else VERDICT_SCHEMA.to_frame()
    return frame.sort("segment_id", "product_id", "check")


def stale_segments(
    channel: Channel,
    segments: pl.DataFrame,
    products: pl.DataFrame,
    paths: ChannelPaths,
    max_attempts: int,
) -> list[str]:
    """Segments whose rows in the channel's table are not exactly its pairs, each ``ok`` for
    its current inputs and judged (a pair still failing is stale: the next run retries it,
    until it is parked after ``max_attempts`` failed runs with the same inputs)."""
    pairs = plan_pairs(segments, products)
    expected = pl.DataFrame(
        {
            "segment_id": [s["segment_id"] for s, _ in pairs],
            "product_id": [p["product_id"] for _, p in pairs],
            "input_hash": _hashes(channel, pairs),
        },
        schema={"segment_id": pl.String, "product_id": pl.String, "input_hash": pl.String},
    )
    key = ["segment_id", "product_id", "input_hash"]
    rows = variant_store.read_segments(paths.variants, None, schema=FRESHNESS_SCHEMA)
    parked = failures.parked_pairs(rows, expected, RETRY_SCHEMA.to_frame(), max_attempts)
    active = expected.join(parked, on=["segment_id", "product_id"], how="anti")
    ok = rows.filter(pl.col("status") == "ok").select(key)
    judged = variant_store.read_segments(paths.checks, None, schema=VERDICT_SCHEMA).select(key)
    missing = active.join(ok, on=key, how="anti")
    unjudged = active.join(judged.unique(), on=key, how="anti")
    # rows of pairs no longer planned (a product removed, another pairing)
    extra = rows.select(key).join(
        expected.select("segment_id", "product_id"), on=["segment_id", "product_id"], how="anti"
    )
    stale = pl.concat([missing, unjudged, extra])["segment_id"].unique().to_list()
    known = set(segments["segment_id"].to_list())
    return sorted(s for s in stale if s in known)
