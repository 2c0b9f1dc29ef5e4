"""The optional LLM judge: one call per variant that checks the rules a model reads better.

Off by default; on when ``SEGCOPY_JUDGE_MODEL`` is set (``resources.Judge``). The prompt is
``prompts/judge.md.j2`` (hashed like the copywriter's); the model answers, at temperature 0, a
JSON verdict per rule with a verbatim quote as evidence. A failure whose quote really is in the
copy (or, for a dropped fact, in the original) is an ERROR verdict of the ``llm_judge`` check; a
failure without a real quote is a WARN ("judge gave no evidence"): a judge that cannot point at
the words does not hold copy back. Answers are cached by a hash of the judge prompt, the model,
the copy, the original and the segment, so a rerun costs nothing.
"""

import asyncio
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
import polars as pl

from segcopy_assets.errors import GenerationError
from segcopy_assets.generation.openai_writer import Completion, describe_call_error
from segcopy_assets.generation.prompts import check_template, cost_usd, read_template
from segcopy_assets.quality.normalise import clean

JUDGE_TEMPLATE = "judge.md.j2"
CHECK = "llm_judge"
RULES = (
    "facts_preserved",
    "no_invented_features",
    "no_invented_offers",
    "whole_segment_voice",
    "no_refusal",
)
PLACEHOLDERS = frozenset({"brand_name", "place_share_threshold_pct"})


@dataclass(frozen=True)
class JudgePrompt:
    source: str
    brand_name: str
    model: str
    place_share_threshold: float

    @property
    def hash(self) -> str:
        blob = json.dumps(
            [self.source, self.brand_name, self.model, self.place_share_threshold], sort_keys=True
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def messages(self, copy: str, original: str, segment: dict) -> list[dict[str, str]]:
        system = (
            jinja2.Environment(undefined=jinja2.StrictUndefined)
            .from_string(self.source)
            .render(
                brand_name=self.brand_name,
                place_share_threshold_pct=round(self.place_share_threshold * 100),
            )
            .strip()
        )
        user = (
            f"<original>\n{_tagsafe(original, 'original')}\n</original>\n\n"
            f"<copy>\n{_tagsafe(copy, 'copy')}\n</copy>\n\n"
            f"<segment>\n{_tagsafe(segment_text(segment), 'segment')}\n</segment>"
        )
        return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def _tagsafe(text: str, tag: str) -> str:
    return (text or "").replace(f"</{tag}>", f"</ {tag}>")


def segment_text(segment: dict) -> str:
    """What the judge is told about a segment: its description and every place's share."""
    lines = [str(segment.get("segment_description") or segment.get("segment_id") or "")]
    for key, label in (
        ("top_regions", "Regions"),
        ("top_states", "States"),
        ("top_cities", "Cities"),
    ):
        entries = segment.get(key) or []
        if entries:
            shares = ", ".join(
                f"{e['value']} {round(float(e.get('share') or 0) * 100)}%" for e in entries
            )
            lines.append(f"{label} (share of the segment; any other holds less): {shares}")
    return "\n".join(lines)


def load_judge_prompt(
    prompts_dir: str | Path, *, model: str, brand_name: str, place_share_threshold: float
) -> JudgePrompt:
    directory = Path(prompts_dir)
    source = read_template(directory, JUDGE_TEMPLATE)
    check_template(directory, JUDGE_TEMPLATE, source, PLACEHOLDERS)
    return JudgePrompt(source, brand_name, model, place_share_threshold)


def judge_key(prompt: JudgePrompt, copy: str, original: str, segment: dict) -> str:
    blob = json.dumps([prompt.hash, prompt.model, copy, original, segment_text(segment)])
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


# ----------------------------------------------------------------------------- answers


@dataclass(frozen=True)
class RuleVerdict:
    rule: str
    passed: bool
    evidence: str = ""
    source: str = "copy"
    reason: str = ""


def parse_answer(text: str) -> list[RuleVerdict] | None:
    """The rule verdicts of a judge's answer, or None when it is not the JSON asked for."""
    text = (text or "").strip()
    fenced = re.search(r"```(?:json)?\s*(.*?)```", text, re.S)
    if fenced:
        text = fenced.group(1).strip()
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        return None
    try:
        data = json.loads(text[start : end + 1])
    except json.JSONDecodeError:
        return None
    items = data.get("verdicts") if isinstance(data, dict) else None
    if not isinstance(items, list):
        return None
    out = []
    for item in items:
        if not isinstance(item, dict) or item.get("rule") not in RULES:
            continue
        passed = item.get("pass")
        if not isinstance(passed, bool):
            continue
        out.append(
            RuleVerdict(
                rule=item["rule"],
                passed=passed,
                evidence=str(item.get("evidence") or "").strip(),
                source="original" if item.get("source") == "original" else "copy",
                reason=str(item.get("reason") or "").strip(),
            )
        )
    return out


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", clean(text)).strip().lower().strip("\"'“”‘’.,;:")


def evidence_found(evidence: str, copy: str, original: str, source: str) -> bool:
    """Whether the quote really stands in the text it names (case and spacing aside)."""
    quote = _squash(evidence)
    if len(quote) < 2:
        return False
    where = original if source == "original" else copy
    return quote in _squash(where)


def verdict_of(answer: list[RuleVerdict] | None, copy: str, original: str) -> tuple[str, bool, str]:
    """``(severity, passed, reason)`` of the ``llm_judge`` check for one variant."""
    if answer is None:
        return "WARN", False, "the judge's answer was not the JSON asked for; not judged"
    failing = [v for v in answer if not v.passed]
    if not failing:
        return "ERROR", True, ""
    supported, unsupported = [], []
    for v in failing:
        if evidence_found(v.evidence, copy, original, v.source):
            where = " (in the original: missing from the copy)" if v.source == "original" else ""
            supported.append(
                f'{v.rule}: "{v.evidence}"{where}' + (f" - {v.reason}" if v.reason else "")
            )
        else:
            unsupported.append(v.rule)
    if supported:
        reason = "judge: " + "; ".join(supported)
        if unsupported:
            reason += f"; judge gave no evidence for {', '.join(unsupported)}"
        return "ERROR", False, reason
    return "WARN", False, f"judge gave no evidence for {', '.join(unsupported)}"


# ----------------------------------------------------------------------------- running


@dataclass
class JudgeStats:
    variants: int = 0
    calls: int = 0
    reused: int = 0
    failed: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    errors: list[str] = field(default_factory=list)

    def cost_usd(self, price: tuple[float, float] | None) -> float | None:
        return cost_usd(self.prompt_tokens, self.completion_tokens, price)


@dataclass(frozen=True)
class JudgeItem:
    segment_id: str
    product_id: str
    input_hash: str
    copy: str
    original: str
    segment: dict


async def judge_variants(
    items: list[JudgeItem],
    prompt: JudgePrompt,
    complete: Callable,
    cached: dict[str, dict],
    on_progress: Callable[[int, int], None] | None = None,
) -> tuple[list[dict], list[dict], JudgeStats]:
    """``(verdict rows, new answer rows, stats)``: one ``llm_judge`` verdict per item.

    ``complete(messages)`` is an awaitable chat completion (``ChatCompletionsWriter.complete``:
    its concurrency, pacing and retries); ``cached`` maps judge keys to earlier answer rows. A
    call that fails after its retries gives a WARN verdict and no cache row (the next run asks
    again); a rejected key or unknown model (``GenerationError``) stops the run.
    """
    stats = JudgeStats(variants=len(items))
    new_answers: list[dict] = []
    done = 0

    async def one(item: JudgeItem) -> dict:
        nonlocal done
        key = judge_key(prompt, item.copy, item.original, item.segment)
        hit = cached.get(key)
        if hit is not None:
            stats.reused += 1
            text = hit["answer"]
        else:
            try:
                completion: Completion = await complete(
                    prompt.messages(item.copy, item.original, item.segment)
                )
            except GenerationError:
                raise
            except Exception as exc:  # one variant's judge call failed: WARN, asked again next run
                stats.failed += 1
                stats.errors.append(describe_call_error(exc))
                return _row(
                    item, "WARN", False, f"not judged: {describe_call_error(exc)}", judged=False
                )
            stats.calls += 1
            stats.prompt_tokens += completion.prompt_tokens
            stats.completion_tokens += completion.completion_tokens
            text = completion.text
            new_answers.append(
                {
                    "judge_key": key,
                    "model": prompt.model,
                    "judge_prompt_hash": prompt.hash,
                    "answer": text,
                    "prompt_tokens": completion.prompt_tokens,
                    "completion_tokens": completion.completion_tokens,
                    "judged_at": datetime.now(UTC),
                }
            )
        severity, passed, reason = verdict_of(parse_answer(text), item.copy, item.original)
        done += 1
        if on_progress is not None:
            on_progress(done, len(items))
        return _row(item, severity, passed, reason)

    rows: list[dict] = []
    if items:
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(one(item)) for item in items]
        except* GenerationError as errors:
            raise errors.exceptions[0] from None
        rows = [t.result() for t in tasks]
    return rows, new_answers, stats


def _row(item: JudgeItem, severity: str, passed: bool, reason: str, judged: bool = True) -> dict:
    """A verdict row; ``judged`` is False when the call failed (the next run asks again)."""
    return {
        "judged": judged,
        "segment_id": item.segment_id,
        "product_id": item.product_id,
        "input_hash": item.input_hash,
        "check": CHECK,
        "passed": passed,
        "severity": severity,
        "reason": reason,
    }


# ----------------------------------------------------------------------------- one partition


@dataclass
class LlmJudgeRun:
    """What judging a partition needs: the prompt, a client (an async context manager with
    ``complete(messages)``) and where the answers are cached."""

    prompt: JudgePrompt
    client: Any
    cache_path: str


def llm_judge_rows(
    run: LlmJudgeRun,
    variants: pl.DataFrame,
    originals: dict[str, str],
    segments: dict[str, dict],
    on_progress: Callable[[int, int], None] | None = None,
) -> tuple[list[dict], JudgeStats]:
    """``llm_judge`` verdict rows for every ``ok`` variant; new answers are cached first."""
    from segcopy_assets.storage.judge_answers import append_answers, read_answers

    items = [
        JudgeItem(
            segment_id=r["segment_id"],
            product_id=r["product_id"],
            input_hash=r["input_hash"],
            copy=r["variant_text"] or "",
            original=originals.get(r["product_id"], ""),
            segment=segments.get(r["segment_id"]) or {},
        )
        for r in variants.filter(pl.col("status") == "ok").iter_rows(named=True)
    ]
    keys = [judge_key(run.prompt, i.copy, i.original, i.segment) for i in items]
    cached = read_answers(run.cache_path, keys)

    async def go():
        async with run.client as client:
            return await judge_variants(items, run.prompt, client.complete, cached, on_progress)

    rows, new_answers, stats = asyncio.run(go())
    append_answers(run.cache_path, new_answers)
    return rows, stats
