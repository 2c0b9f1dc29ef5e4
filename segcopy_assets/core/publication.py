"""What customers may see: approved (or edited) copy of current variants that passes the checks.

Publication works per variant: one bad variant never holds back the good, approved copy of its
segment. An edited text is judged again before it is published. A variant nobody reviewed is
published when an accepted acceptance-sampling batch covers it (``core.sampling``), with the
batch and its bound recorded. When a pair's variant was replaced and the new one is not
publishable yet, the approved copy of the old one stays live as ``superseded``
(``core.continuity``).
"""

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from segcopy_assets.core.continuity import PAIR, Continuity, superseded
from segcopy_assets.core.sampling import Acceptance
from segcopy_assets.quality.judge import ERROR, CheckSettings, judge_variant
from segcopy_assets.storage.review_log import latest_decisions
from segcopy_assets.storage.tables import PUBLISHED_SCHEMA

WITHHELD_SCHEMA = pl.Schema(
    {
        "segment_id": pl.String,
        "product_id": pl.String,
        "input_hash": pl.String,
        "reason": pl.String,
        # the pair's older approved copy is published meanwhile (state superseded)
        "superseded_live": pl.Boolean,
    }
)


def failing_errors(verdicts: pl.DataFrame) -> pl.DataFrame:
    """``input_hash, failed_checks`` for variants with at least one failing ERROR verdict
    (``coverage`` is about the pair, not the variant's copy: a failed replacement does not
    make the last good variant defective)."""
    return (
        verdicts.filter(
            ~pl.col("passed")
            & (pl.col("severity") == ERROR)
            & pl.col("input_hash").is_not_null()
            & (pl.col("check") != "coverage")
        )
        .group_by("input_hash")
        .agg(pl.col("check").unique().sort().str.join(", ").alias("failed_checks"))
    )


def edit_failures(
    edited_text: str, rationale: str, original: str, segment: dict, settings: CheckSettings
) -> list[str]:
    """``"check: reason"`` of every ERROR rule an edited text fails (empty: it passes)."""
    verdicts = judge_variant(edited_text, rationale or "-", original, segment, settings)
    return [f"{v.check}: {v.reason}" for v in verdicts if not v.passed and v.severity == ERROR]


#: ``(text, rationale, segment, product_id) -> ["check: reason", ...]``: the ERROR rules a text
#: publication did not see judged fails (an edit; superseded copy whose segment changed).
TextFailures = Callable[[str, str, dict, str], list[str]]


def description_failures(originals: dict[str, str], settings: CheckSettings) -> TextFailures:
    """The description's rules (``quality.judge``) against each product's original."""

    def failures(text: str, rationale: str, segment: dict, product_id: str) -> list[str]:
        return edit_failures(text, rationale, originals.get(product_id, ""), segment, settings)

    return failures


@dataclass(frozen=True)
class _Outcome:
    text: str | None  # published text, or None when withheld
    approval: str | None
    reason: str = ""
    final: bool = False  # withheld for good: a rejection (no older copy stands in)


def _decide(row: dict, segments: dict, rules: TextFailures, accepted, auto) -> _Outcome:
    decision = row["decision"]
    if row["status"] != "ok":
        return _Outcome(None, None, f"generation failed: {row['error']}")
    if decision == "reject":
        return _Outcome(None, None, f"rejected by {row['reviewer']}", final=True)
    if decision == "edit":
        failures = rules(
            row["edited_text"],
            row["rationale"] or "",
            segments[row["segment_id"]],
            row["product_id"],
        )
        if failures:
            return _Outcome(None, None, "edited text fails " + "; ".join(failures))
        return _Outcome(row["edited_text"], "edit")
    if row["failed_checks"]:
        return _Outcome(None, None, f"fails {row['failed_checks']}")
    if decision == "approve":
        return _Outcome(row["variant_text"], "approve")
    if row["input_hash"] in accepted:
        return _Outcome(row["variant_text"], "sample")
    if auto:
        return _Outcome(row["variant_text"], "auto")
    return _Outcome(None, None, "not reviewed")


def _published_row(
    row: dict, outcome: _Outcome, accepted: dict, extra: tuple[str, ...] = ()
) -> dict:
    acceptance = accepted.get(row["input_hash"]) if outcome.approval == "sample" else None
    return {
        **{c: row.get(c) for c in extra},
        "segment_id": row["segment_id"],
        "product_id": row["product_id"],
        "published_text": outcome.text,
        "input_hash": row["input_hash"],
        "approval": outcome.approval,
        "reviewer": row["reviewer"],
        "decided_at": row["decided_at"],
        "model": row["model"],
        "prompt_hash": row["prompt_hash"],
        **_batch_fields(acceptance),
        "summary_hash": row.get("summary_hash"),
        "content_hash": row.get("content_hash"),
        "state": "current",
        "superseded_at": None,
        "superseded_by": None,
    }


def select_published(
    variants: pl.DataFrame,
    verdicts: pl.DataFrame,
    reviews: pl.DataFrame,
    *,
    segments: dict[str, dict],
    originals: dict[str, str],
    settings: CheckSettings,
    auto_approve_passing_checks: bool = False,
    accepted: dict[str, Acceptance] | None = None,
    continuity: Continuity | None = None,
    content_hashes: dict[str, str] | None = None,
    rules: TextFailures | None = None,
    schema: pl.Schema = PUBLISHED_SCHEMA,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(published, withheld)``: published rows (``schema``) and every current variant not
    published as current copy (``WITHHELD_SCHEMA``, with why). ``accepted``: input hash →
    the accepted sampling batch covering it. ``continuity``: keep the approved copy of replaced
    variants live as superseded, per slot (``continuity.key``: a pair, or a pair and its arm;
    ``content_hashes``: product → its content hash now). ``rules``: what an edit is judged by
    (default: the description's rules against ``originals`` under ``settings``); ``schema``:
    the published table's columns (those beyond ``PUBLISHED_SCHEMA`` are copied from the
    variant row, as a channel's arm)."""
    accepted = accepted or {}
    content_hashes = content_hashes or {}
    rules = rules or description_failures(originals, settings)
    extra = tuple(c for c in schema if c not in PUBLISHED_SCHEMA)
    key = continuity.key if continuity is not None else PAIR
    current = variants.filter(pl.col("segment_id").is_in(list(segments)))
    decisions = latest_decisions(reviews)
    joined = current.join(
        decisions.select(
            "segment_id",
            "product_id",
            "input_hash",
            "decision",
            "edited_text",
            "reviewer",
            "decided_at",
        ),
        on=["segment_id", "product_id", "input_hash"],
        how="left",
    ).join(failing_errors(verdicts), on="input_hash", how="left")

    published, withheld = [], []
    for row in joined.sort(*key).iter_rows(named=True):
        slot = tuple(row[c] for c in key)
        outcome = _decide(row, segments, rules, accepted, auto_approve_passing_checks)
        wanted = continuity.wanted.get(slot) if continuity is not None else None
        fresh = wanted is None or wanted == row["input_hash"]
        if outcome.text is not None and fresh:
            published.append(_published_row(row, outcome, accepted, extra))
            continue
        reason = outcome.reason or _why_not_current(row, wanted)
        live = None
        if continuity is not None and not (outcome.final and fresh):
            live, why = _stand_in(
                row, outcome, accepted, continuity, segments, content_hashes, rules, extra
            )
            if live is None and why:
                reason += f"; older approved copy withdrawn: {why}"
        if live is not None:
            published.append(live)
        withheld.append(
            {
                "segment_id": row["segment_id"],
                "product_id": row["product_id"],
                "input_hash": row["input_hash"],
                "reason": reason,
                "superseded_live": live is not None,
            }
        )
    return (
        pl.DataFrame(published, schema=schema),
        pl.DataFrame(withheld, schema=WITHHELD_SCHEMA),
    )


def _why_not_current(row: dict, wanted: str | None) -> str:
    """Why an approved variant of older inputs is not current copy."""
    if wanted is not None and row.get("attempted_hash") == wanted:
        return f"its new variant failed to generate: {row.get('last_error')}"
    return "its inputs changed; its new variant is not generated yet"


def _stand_in(
    row: dict,
    outcome: _Outcome,
    accepted: dict,
    continuity: Continuity,
    segments: dict,
    content_hashes: dict,
    rules: TextFailures,
    extra: tuple[str, ...],
) -> tuple[dict | None, str]:
    """The older approved copy that stays live for a slot whose variant is not publishable as
    current copy, or ``(None, why not)``: the row's own copy when it is approved but its inputs
    moved since (its replacement failed or is not generated yet), else the slot's previous
    published copy of another variant."""
    slot = continuity.slot(row)
    previous = continuity.previous.get(slot)
    if outcome.text is not None:  # approved, but of older inputs
        candidate = _published_row(row, outcome, accepted, extra)
    elif previous is not None and previous["input_hash"] != row["input_hash"]:
        candidate = previous
    else:
        return None, ""
    # when the copy was first superseded: kept across publications (and withdrawals, so a
    # withdrawn copy never comes back with a new grace period)
    known = []
    if (
        previous is not None
        and previous["input_hash"] == candidate["input_hash"]
        and previous["state"] == "superseded"
    ):
        known.append(previous["superseded_at"])
    wanted = continuity.wanted.get(slot)
    if outcome.text is not None and row.get("attempted_hash") == wanted:
        known.append(row.get("failing_since"))  # its replacement has failed since then
    since = min((t for t in known if t is not None), default=None)
    segment = segments[row["segment_id"]]
    return superseded(
        candidate,
        continuity,
        segment=segment,
        content_hash=content_hashes.get(row["product_id"]),
        failures=lambda text: rules(text, "-", segment, row["product_id"]),
        since=since,
    )


def _batch_fields(acceptance: Acceptance | None) -> dict:
    if acceptance is None:
        return {"batch_id": None, "sample_size": None, "sample_rejections": None, "bound": None}
    return {
        "batch_id": acceptance.batch_id,
        "sample_size": acceptance.sample_size,
        "sample_rejections": acceptance.rejections,
        "bound": acceptance.bound,
    }
