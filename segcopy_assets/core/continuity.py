"""Publication continuity: approved copy does not leave the site because its variant was replaced.

A prompt, segment or product change gives a pair a new variant (a new input hash), and decisions
bind to input hashes. Two rules keep approved copy live through that:

* **Identical text carries the approval.** A new variant whose text is the text of the pair's
  previous variant, approved (or edited and approved), gets the same decision, recorded in the
  review log with ``carried_from`` = the previous input hash (:func:`carried_approvals`).
* **Superseded copy stays published** while the new variant waits for review (or failed to
  generate, or fails a check): marked ``superseded`` with the time it was superseded, until the
  new variant is approved (it replaces the copy) or rejected (nothing is published), or the grace
  period ends (:func:`superseded`). A changed product withdraws its copy at once (stale facts
  must not stay live); a changed segment re-judges the copy against the segment as it is now.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

import polars as pl

from segcopy_assets.quality.judge import ERROR, CheckSettings, judge_variant
from segcopy_assets.storage.tables import PUBLISHED_SCHEMA

#: The default grace period: a week covers a team's weekly review cycle, so a prompt tweak made on
#: Monday never takes copy down before its reviewers meet; beyond that, copy written under
#: instructions the brand has since changed should not stay live unreviewed.
DEFAULT_GRACE_DAYS = 7.0

#: The decisions that carry over to identical text (a rejection is a reason to look again).
CARRIED = ("approve", "edit")


@dataclass(frozen=True)
class Continuity:
    """What publication needs to keep superseded copy: the previous ``published_variants``
    rows by pair, the input hash each current pair would be generated with now, the time and
    the grace period."""

    previous: dict[tuple[str, str], dict]
    wanted: dict[tuple[str, str], str]
    now: datetime
    grace: timedelta = timedelta(days=DEFAULT_GRACE_DAYS)

    @classmethod
    def build(
        cls,
        previous: pl.DataFrame,
        wanted: dict[tuple[str, str], str],
        now: datetime,
        grace: timedelta = timedelta(days=DEFAULT_GRACE_DAYS),
    ) -> "Continuity":
        """From the previous ``published_variants`` table (any columns it predates read null)."""
        present = set(previous.columns)
        rows = previous.select(
            pl.col(c) if c in present else pl.lit(None, dtype).alias(c)
            for c, dtype in PUBLISHED_SCHEMA.items()
        )
        by_pair = {(r["segment_id"], r["product_id"]): r for r in rows.iter_rows(named=True)}
        return cls(by_pair, wanted, now, grace)


def _text(value: str | None) -> str:
    return (value or "").strip()


def carried_approvals(
    previous: pl.DataFrame, current: pl.DataFrame, latest: pl.DataFrame, now: datetime
) -> list[dict]:
    """Review-log rows carrying a decision to new variants with unchanged text.

    ``previous``/``current``: a segment's variant rows before and after a run; ``latest``: the
    decision in force per (segment, product, input hash) (``review_log.latest_decisions``). A
    current ``ok`` row gets one when its pair's previous row was ``ok`` with another input hash,
    the same text, and an approve or edit decision, and it has no decision of its own yet."""
    cols = ["segment_id", "product_id", "input_hash", "variant_text"]
    before = previous.filter(pl.col("status") == "ok").select(cols)
    after = current.filter(pl.col("status") == "ok").select(cols)
    moved = after.join(before, on=["segment_id", "product_id"], suffix="_prev").filter(
        pl.col("input_hash") != pl.col("input_hash_prev")
    )
    if moved.is_empty() or latest.is_empty():
        return []
    decided = latest.filter(pl.col("decision").is_in(CARRIED))
    own = set(latest.select("segment_id", "product_id", "input_hash").iter_rows())
    by_variant = {
        (r["segment_id"], r["product_id"], r["input_hash"]): r for r in decided.to_dicts()
    }
    rows = []
    for m in moved.iter_rows(named=True):
        pair = (m["segment_id"], m["product_id"])
        old = by_variant.get((*pair, m["input_hash_prev"]))
        if old is None or (*pair, m["input_hash"]) in own:
            continue
        if _text(m["variant_text"]) != _text(m["variant_text_prev"]):
            continue
        rows.append(
            {
                "segment_id": pair[0],
                "product_id": pair[1],
                "input_hash": m["input_hash"],
                "decision": old["decision"],
                "edited_text": old["edited_text"],
                "reviewer": old["reviewer"],
                "note": f"carried over from variant {m['input_hash_prev'][:12]}: identical text",
                "decided_at": now,
                "carried_from": m["input_hash_prev"],
                "edit_failed_checks": old.get("edit_failed_checks"),
                "signed_in_via": "carried",
                "client_address": None,
                "session_hash": None,
            }
        )
    return rows


def superseded(
    candidate: dict,
    continuity: Continuity,
    *,
    segment: dict,
    content_hash: str | None,
    original: str,
    settings: CheckSettings,
    since: datetime | None,
) -> tuple[dict | None, str]:
    """``candidate`` (a published row of an older variant of the pair) kept live as superseded,
    or ``(None, why it is withdrawn)``. ``since``: when it was first superseded (None: now)."""
    recorded = candidate.get("content_hash")
    if recorded is not None and recorded != content_hash:
        return None, "its product changed since the copy was approved: withdrawn at once"
    # a changed segment, or copy published before its hashes were recorded (an older table):
    # judged again against the product and the segment as they are now
    if recorded is None or candidate.get("summary_hash") != segment.get("summary_hash"):
        verdicts = judge_variant(candidate["published_text"], "-", original, segment, settings)
        failing = [
            v.check
            for v in verdicts
            if not v.passed and v.severity == ERROR and v.check != "rationale_present"
        ]
        if failing:
            what = "its segment changed" if recorded is not None else "judged again"
            return None, f"{what}: the approved copy now fails " + ", ".join(failing)
    started = since or continuity.now
    if continuity.now - started >= continuity.grace:  # a grace of 0: withdrawn at once
        days = continuity.grace.total_seconds() / 86400
        return None, (
            f"superseded since {started:%Y-%m-%d %H:%M} UTC: the {days:g}-day grace period is over"
        )
    wanted = continuity.wanted.get((candidate["segment_id"], candidate["product_id"]))
    return {
        **candidate,
        "state": "superseded",
        "superseded_at": started,
        "superseded_by": wanted,
    }, ""
