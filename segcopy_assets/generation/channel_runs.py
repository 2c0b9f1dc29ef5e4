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
from segcopy_assets.generation.freshness import FRESHNESS_SCHEMA, failure_states
from segcopy_assets.generation.prompts import PromptSet
from segcopy_assets.generation.repair import repairer
from segcopy_assets.generation.variants import (
    GenerationStats,
    generate_variants,
    input_hash,
    plan_pairs,
)
from segcopy_assets.storage import retry_requests, variant_store
from segcopy_assets.storage.retry_requests import RETRY_SCHEMA
from segcopy_assets.storage.tables import (
    CHANNEL_VARIANT_SCHEMA,
    VERDICT_SCHEMA,
    channel_batches_table,
    channel_retries_table,
    channel_tables,
)


@dataclass
class ChannelRun:
    rows: pl.DataFrame  # CHANNEL_VARIANT_SCHEMA: one per pair and arm of the segments
    verdicts: pl.DataFrame  # VERDICT_SCHEMA
    stats: GenerationStats
    recovered: int  # answers of an interrupted run, taken from the journal
    parked: int = 0  # pairs not sent: failed max_attempts runs with these inputs


@dataclass(frozen=True)
class ChannelPaths:
    variants: str
    checks: str
    journal: str
    batches: str = ""  # the Batch API state (batch mode only)
    retries: str = ""  # requests to send parked pairs again (segcopy retry --channel)

    @classmethod
    def of(cls, warehouse, channel: str) -> "ChannelPaths":
        """The tables of ``channel`` in a ``Warehouse`` resource's warehouse."""
        variants, checks, journal = channel_tables(channel)
        return cls(
            warehouse.table_path(variants),
            warehouse.table_path(checks),
            warehouse.table_path(journal),
            warehouse.table_path(channel_batches_table(channel)),
            warehouse.table_path(channel_retries_table(channel)),
        )

    def retry_requests(self, segment_ids: list[str] | None = None) -> pl.DataFrame:
        if not self.retries:
            return RETRY_SCHEMA.to_frame()
        return retry_requests.read_requests(self.retries, segment_ids)


@dataclass(frozen=True)
class Arm:
    """One of a pair's variants: its index, the angle the prompt names, its prompt set."""

    index: int
    angle: str | None
    prompt_set: PromptSet

    def pairs(self, pairs: list[tuple[dict, dict]]) -> list[tuple[dict, dict]]:
        """The pairs as this arm renders them (its angle beside the product's fields)."""
        if self.angle is None:
            return pairs
        return [(s, {**p, "angle": self.angle, "variant_index": self.index}) for s, p in pairs]

    def expected(self, pairs: list[tuple[dict, dict]]) -> pl.DataFrame:
        """``segment_id, product_id, input_hash`` a run of this arm would generate now."""
        return pl.DataFrame(
            {
                "segment_id": [s["segment_id"] for s, _ in pairs],
                "product_id": [p["product_id"] for _, p in pairs],
                "input_hash": self.hashes(self.pairs(pairs)),
            },
            schema=dict.fromkeys(["segment_id", "product_id", "input_hash"], pl.String),
        )

    def hashes(self, pairs: list[tuple[dict, dict]]) -> list[str]:
        return [
            input_hash(self.prompt_set.hash, s["summary_hash"], p["content_hash"]) for s, p in pairs
        ]


def arms(channel: Channel, variants_per_pair: int) -> list[Arm]:
    return [
        Arm(i, angle, channel.arm_prompt_set(angle)) for i, angle in channel.arms(variants_per_pair)
    ]


def answer_problem(channel: Channel) -> Callable[[str], str | None]:
    return lambda text: channel.parse(text)[2]


def channel_failures(channel: Channel) -> Callable[[dict, dict, dict], list[str]]:
    """``(row, segment, product) -> ["check: reason", ...]``: the channel's ERROR checks an
    answer fails (what the repair loop sends back)."""

    def failures(row: dict, segment: dict, product: dict) -> list[str]:
        answer = row["raw_output"] or f"{row['variant_text']}\n\n**Rationale:** {row['rationale']}"
        return [
            f"{v.check}: {v.reason}"
            for v in channel.judge(answer, segment, product)
            if not v.passed and v.severity == "ERROR"
        ]

    return failures


def _merged(parts: list[GenerationStats]) -> GenerationStats:
    total = GenerationStats()
    for part in parts:
        for name in GenerationStats.COUNTS:
            setattr(total, name, getattr(total, name) + getattr(part, name))
        total.latencies_ms.extend(part.latencies_ms)
        total.wall_s += part.wall_s
    return total


@dataclass
class ArmPlan:
    arm: Arm
    attempts: failures.AttemptPlan  # the pairs to send (parked ones left out) and their hashes
    previous: pl.DataFrame  # the arm's rows in the table before the run


@dataclass
class ChannelPlan:
    """What a channel run will do: per arm, the pairs to send; the answers it can reuse (the
    table's ``ok`` rows, the journal's, and a batch's: ``add_reusable``)."""

    arms: list[ArmPlan]
    reusable: pl.DataFrame
    recovered: int  # answers of an interrupted run, found in the journal

    @property
    def hashes(self) -> list[str]:
        return [h for a in self.arms for h in a.attempts.hashes]

    def todo(self, plan: ArmPlan) -> dict[str, tuple[dict, dict]]:
        """Input hash → pair of the arm's pairs no answer is held for."""
        held = set(self.reusable["input_hash"])
        return {
            h: pair
            for pair, h in zip(plan.attempts.pairs, plan.attempts.hashes, strict=True)
            if h not in held
        }

    def add_reusable(self, rows: pl.DataFrame) -> None:
        self.reusable = pl.concat([self.reusable, rows.select(self.reusable.columns)])


def plan_channel(
    channel: Channel,
    segments: pl.DataFrame,
    products: pl.DataFrame,
    paths: ChannelPaths,
    *,
    max_attempts: int,
    variants_per_pair: int = 1,
) -> ChannelPlan:
    """Each pair once per arm (``variants_per_pair``, each with its angle and its own input
    hash), but the parked ones (failed ``max_attempts`` runs in a row with the same inputs:
    kept as they are until their inputs change, as the description's)."""
    all_pairs = plan_pairs(segments, products)
    segment_ids = segments["segment_id"].to_list()
    previous_all = variant_store.read_channel_rows(paths.variants, segment_ids)
    retries = paths.retry_requests(segment_ids)
    plans = []
    for arm in arms(channel, variants_per_pair):
        previous = previous_all.filter(pl.col("variant_index") == arm.index)
        pairs = arm.pairs(all_pairs)
        attempts = failures.attempt_plan(pairs, arm.hashes(pairs), previous, retries, max_attempts)
        plans.append(ArmPlan(arm, attempts, previous))
    hashes = [h for p in plans for h in p.attempts.hashes]
    journaled = generation_journal.read_journal(paths.journal, hashes)
    reusable = pl.concat([variant_store.read_reusable(paths.variants, hashes), journaled])
    return ChannelPlan(plans, reusable, journaled.height)


def run_channel(
    channel: Channel,
    segments: pl.DataFrame,
    products: pl.DataFrame,
    writer,  # Copywriter.writer(...): used once, as an async context manager
    paths: ChannelPaths,
    *,
    max_attempts: int,
    variants_per_pair: int = 1,
    force_regenerate: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
    before_calls: Callable[[], None] | None = None,
    plan: ChannelPlan | None = None,
    repair_attempts: int = 0,
) -> ChannelRun:
    """Generate (or reuse) and judge every variant of ``segments`` that ``plan`` (default:
    ``plan_channel``) sends; writes only the journal. ``before_calls`` runs once before the
    first call, only when there is one to make (the endpoint's preflight). An answer that fails
    a channel check is sent back up to ``repair_attempts`` times (``generation.repair``)."""
    if plan is None:
        plan = plan_channel(
            channel,
            segments,
            products,
            paths,
            max_attempts=max_attempts,
            variants_per_pair=variants_per_pair,
        )
    plans = [(p.arm, p.attempts, p.previous) for p in plan.arms]
    hashes, reusable, recovered = plan.hashes, plan.reusable, plan.recovered
    if before_calls is not None and (force_regenerate or set(hashes) - set(reusable["input_hash"])):
        before_calls()

    async def generate(journal: generation_journal.GenerationJournal):
        out = []
        async with writer:
            for arm, attempts, _ in plans:
                out.append(
                    await generate_variants(
                        attempts.pairs,
                        arm.prompt_set,
                        writer,
                        reusable=reusable,
                        force_regenerate=force_regenerate,
                        on_progress=on_progress,
                        on_generated=journal.add,
                        answer_problem=answer_problem(channel),
                        repairer=repairer(
                            repair_attempts,
                            channel_failures(channel),
                            arm.prompt_set.repair_source,
                            arm.prompt_set.brand_name,
                        ),
                    )
                )
        return out

    with generation_journal.GenerationJournal(paths.journal) as journal:
        generated = asyncio.run(generate(journal))
    parts = []
    for (arm, attempts, previous), (rows, _) in zip(plans, generated, strict=True):
        settled = pl.concat([failures.settle(rows, previous), attempts.held(previous)])
        parts.append(
            settled.with_columns(
                pl.lit(arm.index, pl.Int64).alias("variant_index"),
                pl.lit(arm.angle, pl.String).alias("angle"),
            ).select(list(CHANNEL_VARIANT_SCHEMA))
        )
    rows = pl.concat(parts).sort("segment_id", "product_id", "variant_index")
    return ChannelRun(
        rows,
        judge_rows(channel, rows, segments, products),
        _merged([stats for _, stats in generated]),
        recovered,
        parked=sum(len(attempts.parked) for _, attempts, _ in plans),
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
    variants_per_pair: int = 1,
) -> list[str]:
    """Segments whose rows in the channel's table are not exactly its variants (pairs x arms),
    each ``ok`` for its current inputs and judged (a variant still failing is stale: the next
    run retries it, until it is parked after ``max_attempts`` failed runs with the same inputs)."""
    pairs = plan_pairs(segments, products)
    rows = variant_store.read_channel_rows(paths.variants, None)
    judged = variant_store.read_segments(paths.checks, None, schema=VERDICT_SCHEMA)
    key = ["segment_id", "product_id", "input_hash"]
    retries = paths.retry_requests()
    stale: set[str] = set()
    planned = []
    for arm in arms(channel, variants_per_pair):
        expected = arm.expected(pairs)
        mine = rows.filter(pl.col("variant_index") == arm.index)
        parked = failures.parked_pairs(
            mine.select(list(FRESHNESS_SCHEMA)), expected, retries, max_attempts
        )
        active = expected.join(parked, on=["segment_id", "product_id"], how="anti")
        ok = mine.filter(pl.col("status") == "ok").select(key)
        for gap in (
            active.join(ok, on=key, how="anti"),
            active.join(judged.select(key).unique(), on=key, how="anti"),
        ):
            stale |= set(gap["segment_id"].to_list())
        planned.append(expected.with_columns(pl.lit(arm.index, pl.Int64).alias("variant_index")))
    # rows of variants no longer planned (a product removed, fewer arms)
    arm_key = ["segment_id", "product_id", "variant_index"]
    extra = rows.select(arm_key).join(pl.concat(planned).select(arm_key), on=arm_key, how="anti")
    stale |= set(extra["segment_id"].to_list())
    known = set(segments["segment_id"].to_list())
    return sorted(s for s in stale if s in known)


def failing_arms(
    channel: Channel,
    segments: pl.DataFrame,
    products: pl.DataFrame,
    paths: ChannelPaths,
    max_attempts: int,
    variants_per_pair: int = 1,
) -> pl.DataFrame:
    """The channel's pairs x arms whose latest generation failed (``FAILING_SCHEMA`` and
    ``variant_index``), each retrying or parked, as ``freshness.pending_failures`` reports the
    description's."""
    pairs = plan_pairs(segments, products)
    rows = variant_store.read_channel_rows(paths.variants, None)
    retries = paths.retry_requests()
    out = []
    for arm in arms(channel, variants_per_pair):
        expected = arm.expected(pairs)
        failing = rows.filter((pl.col("variant_index") == arm.index) & failures.pending_failure())
        states = failure_states(failing, expected, retries, max_attempts)
        out.append(states.with_columns(pl.lit(arm.index, pl.Int64).alias("variant_index")))
    return pl.concat(out).sort("segment_id", "product_id", "variant_index")
