"""The repair loop in batch mode: a batch's answer that fails an ERROR rule is repaired in the
next submission instead of going to the cache as it is.

When a batch is collected, each usable answer of a pair the run wants is judged
(``Repairs.reasons``). One that fails is journalled as ``needs_repair`` (the answer, its
reasons, the first answer and its reasons), not as ``ok``: the cache does not take it, so the
pair stays to do. ``batch_flow.prepare`` then sends these pairs in a repair submission (the
conversation the online loop sends: the original messages, the answer as the assistant's turn,
``prompts/repair.md.j2`` quoting the reasons), keyed by the pair, the attempt and the reasons,
so a rerun re-attaches to it instead of paying twice. Collecting a repair batch judges the new
answer: it passes, or the attempts are spent, or its line failed (the answer before it stands)
and the pair's row goes to the journal as ``ok`` with ``repair_attempts``, ``first_answer`` and
``first_failures``, as an online repair's does; otherwise it waits for another attempt.

Repairs of batch answers always go to the Batch API (at the batch price), whatever the size.
"""

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import polars as pl

from segcopy_assets.generation.journal import read_latest
from segcopy_assets.generation.prompts import PromptSet
from segcopy_assets.generation.repair import Repairer

#: A journal row whose answer fails an ERROR rule and waits for its repair (never reused).
NEEDS_REPAIR = "needs_repair"
#: ``generation_batches.purpose`` of a repair submission: ``repair<N>``, the attempt its
#: requests are (first answers: null).
REPAIR_PURPOSE = "repair"
_SEPARATOR = "\n"


@dataclass(frozen=True)
class Repairs:
    """What collecting and submitting need to repair: the loop and the run's pairs."""

    repairer: Repairer
    todo: Mapping[str, tuple[dict, dict]]  # input hash -> (segment, product)

    def reasons(self, row: dict) -> list[str] | None:
        """The ERROR rules ``row`` fails; None when its pair is not the run's (not judged)."""
        pair = self.todo.get(row["input_hash"])
        if pair is None:
            return None
        segment, product = pair
        return self.repairer.failures(row, segment, product)

    def messages(self, prompt_set: PromptSet, row: dict) -> list[dict[str, str]]:
        """The repair conversation for a ``needs_repair`` row."""
        segment, product = self.todo[row["input_hash"]]
        return self.repairer.messages(
            prompt_set.render(segment, product),
            row["raw_output"] or "",
            current_reasons(row),
            product,
        )


def next_attempt(row: dict) -> int:
    """The repair attempt a ``needs_repair`` row waits for (1 for a first answer)."""
    return int(row.get("repair_attempts") or 0) + 1


def current_reasons(row: dict) -> list[str]:
    """The reasons the next repair quotes (kept in ``error`` while the row waits)."""
    return [r for r in (row.get("error") or "").split(_SEPARATOR) if r]


def pending_row(row: dict, reasons: list[str]) -> dict:
    """A first answer (``ok`` row of a batch) that fails ``reasons``: to be repaired."""
    return {
        **row,
        "status": NEEDS_REPAIR,
        "error": _SEPARATOR.join(reasons),
        "repair_attempts": 0,
        "first_answer": row["raw_output"],
        "first_failures": "; ".join(reasons),
        "repair_prompt_tokens": 0,
        "repair_completion_tokens": 0,
    }


def settle(prior: dict, answer: dict | None, reasons: list[str] | None, attempts: int) -> dict:
    """The pair's row after one repair of ``prior`` (a ``needs_repair`` row).

    ``answer``: the repair's row (``completion_row`` of its line) or None when the line failed;
    ``reasons``: what the answer fails (None: it was unusable). The result is ``ok`` (done: it
    passes, the attempts are spent, or the call failed and the answer before it stands) or
    ``needs_repair`` again with the new answer or, unusable, the one before it."""
    sent = next_attempt(prior)
    now = {"generated_at": datetime.now(UTC)}  # the journal's latest row of the pair is this
    tokens = {
        "repair_prompt_tokens": int(prior.get("repair_prompt_tokens") or 0)
        + int((answer or {}).get("prompt_tokens") or 0),
        "repair_completion_tokens": int(prior.get("repair_completion_tokens") or 0)
        + int((answer or {}).get("completion_tokens") or 0),
    }
    kept = {  # the pair's first answer: its cost stays on the row, as the online loop's does
        "first_answer": prior["first_answer"],
        "first_failures": prior["first_failures"],
        "prompt_tokens": prior["prompt_tokens"],
        "completion_tokens": prior["completion_tokens"],
        "repair_attempts": sent,
        **tokens,
    }
    if answer is not None and answer["status"] == "ok" and reasons is not None:
        current = {**answer, **kept, **now}
        if reasons and sent < attempts:
            return {**current, "status": NEEDS_REPAIR, "error": _SEPARATOR.join(reasons)}
        return {**current, "status": "ok", "error": None}
    # the line failed or its answer is unusable: the answer before it stands
    if answer is not None and sent < attempts:
        return {**prior, **kept, **now}
    return {**prior, **kept, **now, "status": "ok", "error": None}


def purpose(attempt: int) -> str:
    return f"{REPAIR_PURPOSE}{attempt}"


def purpose_attempt(value: str | None) -> int:
    """The repair attempt of a batch's ``purpose`` (0: first answers)."""
    if not value or not value.startswith(REPAIR_PURPOSE):
        return 0
    return int(value[len(REPAIR_PURPOSE) :])


def repair_key_ids(rows: list[dict]) -> list[str]:
    """What identifies a repair submission's requests: pair, attempt and the reasons quoted."""
    ids = []
    for row in rows:
        reasons = hashlib.sha256((row.get("error") or "").encode()).hexdigest()[:12]
        ids.append(f"{row['input_hash']}|{purpose(next_attempt(row))}|{reasons}")
    return ids


def read_pending(journal_path: str, input_hashes: set[str]) -> dict[str, dict]:
    """The latest journal row of each of these pairs, where it waits for a repair."""
    latest = read_latest(journal_path, sorted(input_hashes))
    if latest.is_empty():
        return {}
    waiting = latest.filter(pl.col("status") == NEEDS_REPAIR)
    return {r["input_hash"]: r for r in waiting.iter_rows(named=True)}
