"""Generating description variants for segment × product pairs: plan, reuse, call, collect.

Plain asyncio, no Dagster: the asset (and benchmarks) hand it segments, products, the prompt set
and a writer. Every pair whose ``input_hash`` already has an ``ok`` row is reused, never paid
for twice; the rest are written concurrently (the writer bounds the concurrency).
"""

import asyncio
import hashlib
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

import polars as pl

from segcopy_assets.errors import GenerationError
from segcopy_assets.generation.answer_parsing import split_copy_and_rationale
from segcopy_assets.generation.failures import counts_as_attempt
from segcopy_assets.generation.openai_writer import Completion, describe_call_error
from segcopy_assets.generation.prompts import PromptSet, cost_usd
from segcopy_assets.storage.tables import VARIANT_SCHEMA

if TYPE_CHECKING:
    from segcopy_assets.generation.repair import Repairer

PAIRINGS = ("all", "own_category")
#: Why a raw answer is unusable beyond having no copy or no rationale (None: it is usable).
AnswerProblem = Callable[[str], str | None]


class Writer(Protocol):
    backend: str
    model: str

    async def write(
        self, segment: dict, product: dict, messages: list[dict[str, str]]
    ) -> Completion: ...


def input_hash(prompt_hash: str, summary_hash: str, content_hash: str) -> str:
    """What a variant depends on: the prompt set, the segment summary, the product content."""
    return hashlib.sha256(f"{prompt_hash}|{summary_hash}|{content_hash}".encode()).hexdigest()[:32]


def plan_pairs(
    segments: pl.DataFrame, products: pl.DataFrame, pairing: str = "all"
) -> list[tuple[dict, dict]]:
    """Segment × product pairs: every product (the walkthrough's way) or the segment's category."""
    if pairing not in PAIRINGS:
        raise ValueError(f"pairing must be one of {PAIRINGS}, not {pairing!r}")
    product_rows = products.sort("product_id").to_dicts()
    pairs = []
    for segment in segments.sort("segment_id").to_dicts():
        for product in product_rows:
            if pairing == "own_category" and product["category"] != segment.get("top_category"):
                continue
            pairs.append((segment, product))
    return pairs


@dataclass
class GenerationStats:
    #: The counters that add up over runs (``channel_runs`` sums a channel's arms).
    COUNTS = (
        "pairs",
        "calls",
        "reused",
        "failed",
        "prompt_tokens",
        "completion_tokens",
        "repair_calls",
        "repaired",
        "repair_prompt_tokens",
        "repair_completion_tokens",
    )

    pairs: int = 0
    calls: int = 0
    reused: int = 0
    failed: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    wall_s: float = 0.0
    # the repair loop (generation.repair), counted apart from the first calls
    repair_calls: int = 0
    repaired: int = 0  # answers that pass every ERROR rule after their repair
    repair_prompt_tokens: int = 0
    repair_completion_tokens: int = 0

    def latency_percentile(self, q: float) -> float | None:
        if not self.latencies_ms:
            return None
        if len(self.latencies_ms) == 1:
            return self.latencies_ms[0]
        return statistics.quantiles(self.latencies_ms, n=100, method="inclusive")[int(q) - 1]

    def cost_usd(self, price: tuple[float, float] | None) -> float | None:
        """The first calls' cost (repairs: ``repair_cost_usd``)."""
        return cost_usd(self.prompt_tokens, self.completion_tokens, price)

    def repair_cost_usd(self, price: tuple[float, float] | None) -> float | None:
        return cost_usd(self.repair_prompt_tokens, self.repair_completion_tokens, price)


def _row(segment: dict, product: dict, prompt_set: PromptSet, writer: Writer, ihash: str) -> dict:
    return {
        "segment_id": segment["segment_id"],
        "product_id": product["product_id"],
        "backend": writer.backend,
        "model": writer.model,
        "prompt_hash": prompt_set.hash,
        "summary_hash": segment["summary_hash"],
        "content_hash": product["content_hash"],
        "input_hash": ihash,
    }


def completion_row(
    row: dict,
    completion: Completion,
    batch_id: str | None = None,
    answer_problem: AnswerProblem | None = None,
) -> dict:
    """A variant row from a model's answer (online or from a batch): copy and Rationale split,
    ``failed`` with the reason when the answer is unusable (``answer_problem``: what else makes
    it so, a channel's missing field) or was cut off (an attempt that counts toward parking the
    pair: ``generation.failures``)."""
    parsed = split_copy_and_rationale(completion.text)
    problem = parsed.problem or (answer_problem(completion.text) if answer_problem else None)
    if completion.finish_reason == "length":
        problem = "the answer was cut off at max_tokens"
    return {
        **row,
        "variant_text": parsed.copy,
        "rationale": parsed.rationale,
        "raw_output": completion.text,
        "prompt_tokens": completion.prompt_tokens,
        "completion_tokens": completion.completion_tokens,
        "latency_ms": round(completion.latency_ms, 1) if batch_id is None else None,
        "generated_at": datetime.now(UTC),
        "status": "failed" if problem else "ok",
        "error": problem,
        "batch_id": batch_id,
        "attempts": 1 if problem else None,
    }


async def _repair(
    row: dict, segment, product, messages, writer, repairer: "Repairer", stats, answer_problem
) -> dict:
    """``row`` sent back while it fails an ERROR rule, up to ``repairer.attempts`` times
    (``generation.repair``); the last usable answer, with the first one and its reasons."""
    reasons = repairer.failures(row, segment, product)
    if not reasons:
        return row
    first, current, failing, sent = row, row, reasons, 0
    repair_tokens = [0, 0]
    while failing and sent < repairer.attempts:
        sent += 1
        try:
            completion = await writer.write(
                segment,
                product,
                repairer.messages(messages, current["raw_output"] or "", failing, product),
            )
        except GenerationError:
            raise
        except Exception:  # a failed repair call: the answer before it stands, judged as it is
            break
        stats.repair_calls += 1
        stats.repair_prompt_tokens += completion.prompt_tokens
        stats.repair_completion_tokens += completion.completion_tokens
        repair_tokens[0] += completion.prompt_tokens
        repair_tokens[1] += completion.completion_tokens
        candidate = completion_row(row, completion, answer_problem=answer_problem)
        if candidate["status"] != "ok":
            continue  # an unusable repair: the answer before it stands
        current = candidate
        failing = repairer.failures(candidate, segment, product)
    if not failing:
        stats.repaired += 1
    return {
        **current,
        "repair_attempts": sent,
        "first_answer": first["raw_output"],
        "first_failures": "; ".join(reasons),
        # the first answer's cost stays on the row; the repairs' apart
        "prompt_tokens": first["prompt_tokens"],
        "completion_tokens": first["completion_tokens"],
        "repair_prompt_tokens": repair_tokens[0],
        "repair_completion_tokens": repair_tokens[1],
    }


async def _generate_one(
    segment, product, prompt_set, writer, ihash, stats, answer_problem=None, repairer=None
) -> dict:
    row = _row(segment, product, prompt_set, writer, ihash)
    messages = prompt_set.render(segment, product)
    try:
        completion = await writer.write(segment, product, messages)
    except GenerationError:
        raise
    except Exception as exc:  # one pair's failure is recorded, the others go on
        stats.failed += 1
        return {
            **row,
            "status": "failed",
            "error": describe_call_error(exc),
            "generated_at": datetime.now(UTC),
            # an unreachable or overloaded endpoint says nothing about the pair
            "attempts": 1 if counts_as_attempt(exc) else 0,
        }
    stats.calls += 1
    stats.prompt_tokens += completion.prompt_tokens
    stats.completion_tokens += completion.completion_tokens
    stats.latencies_ms.append(completion.latency_ms)
    result = completion_row(row, completion, answer_problem=answer_problem)
    if result["status"] == "failed":
        stats.failed += 1
    elif repairer is not None:
        result = await _repair(
            result, segment, product, messages, writer, repairer, stats, answer_problem
        )
    return result


async def generate_variants(
    pairs: list[tuple[dict, dict]],
    prompt_set: PromptSet,
    writer: Writer,
    *,
    reusable: pl.DataFrame | None = None,
    force_regenerate: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
    on_generated: Callable[[dict], None] | None = None,
    answer_problem: AnswerProblem | None = None,
    repairer: "Repairer | None" = None,
) -> tuple[pl.DataFrame, GenerationStats]:
    """Rows for every pair (schema ``VARIANT_SCHEMA``) and what it cost.

    ``reusable`` holds earlier ``ok`` rows; a pair whose input_hash is among them is copied, not
    generated, unless ``force_regenerate``. ``on_generated`` receives each new ``ok`` row as it
    completes (the journal makes it durable), after its repairs (``repairer``: an answer that
    fails an ERROR rule is sent back, ``generation.repair``). A ``GenerationError`` (bad key,
    unknown model) stops everything and propagates: the caller writes nothing.
    """
    started = time.perf_counter()
    stats = GenerationStats(pairs=len(pairs))
    cached: dict[str, dict] = {}
    if reusable is not None and reusable.height and not force_regenerate:
        for r in reusable.filter(pl.col("status") == "ok").to_dicts():
            cached.setdefault(r["input_hash"], r)

    rows: list[dict] = []
    todo = []
    for segment, product in pairs:
        ihash = input_hash(prompt_set.hash, segment["summary_hash"], product["content_hash"])
        hit = cached.get(ihash)
        if hit is not None:
            stats.reused += 1
            rows.append(
                {**hit, "segment_id": segment["segment_id"], "product_id": product["product_id"]}
            )
        else:
            todo.append((segment, product, ihash))

    done = 0
    step = max(1, len(todo) // 10)

    async def run(segment, product, ihash):
        nonlocal done
        result = await _generate_one(
            segment, product, prompt_set, writer, ihash, stats, answer_problem, repairer
        )
        if on_generated is not None and result["status"] == "ok":
            on_generated(result)
        done += 1
        if on_progress and (done % step == 0 or done == len(todo)):
            on_progress(done, len(todo))
        return result

    if todo:
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(run(*item)) for item in todo]
        except* GenerationError as errors:
            raise errors.exceptions[0] from None
        rows.extend(t.result() for t in tasks)

    stats.wall_s = time.perf_counter() - started
    frame = pl.DataFrame(rows, schema=VARIANT_SCHEMA) if rows else VARIANT_SCHEMA.to_frame()
    return frame.sort("segment_id", "product_id"), stats
