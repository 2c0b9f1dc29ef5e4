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

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import polars as pl

from segcopy_assets.storage.tables import PUBLISHED_SCHEMA

#: The default grace period: a week covers a team's weekly review cycle, so a prompt tweak made on
#: Monday never takes copy down before its reviewers meet; beyond that, copy written under
#: instructions the brand has since changed should not stay live unreviewed.
DEFAULT_GRACE_DAYS = 7.0

#: The decisions that carry over to identical text (a rejection is a reason to look again).
CARRIED = ("approve", "edit")

#: The columns that name one published slot: a pair (the description), or a pair and its arm
#: (a channel with several arms: ``CHANNEL_SLOT``).
PAIR = ("segment_id", "product_id")
CHANNEL_SLOT = ("segment_id", "product_id", "variant_index")


@dataclass(frozen=True)
class Continuity:
    """What publication needs to keep superseded copy: the previous published rows by slot
    (``key``: a pair, or a pair and its arm), the input hash each current slot would be
    generated with now, the time and the grace period."""

    previous: dict[tuple, dict]
    wanted: dict[tuple, str]
    now: datetime
    grace: timedelta = timedelta(days=DEFAULT_GRACE_DAYS)
    key: tuple[str, ...] = PAIR

    @classmethod
    def build(
        cls,
        previous: pl.DataFrame,
        wanted: dict[tuple, str],
        now: datetime,
        grace: timedelta = timedelta(days=DEFAULT_GRACE_DAYS),
        *,
        key: tuple[str, ...] = PAIR,
        schema: pl.Schema = PUBLISHED_SCHEMA,
    ) -> "Continuity":
        """From the previous published table (any columns it predates read null; an arm index
        it predates reads 0, the one arm)."""
        present = set(previous.columns)
        rows = previous.select(
            pl.col(c) if c in present else pl.lit(None, dtype).alias(c)
            for c, dtype in schema.items()
        )
        if "variant_index" in key:
            rows = rows.with_columns(pl.col("variant_index").fill_null(0))
        by_slot = {tuple(r[c] for c in key): r for r in rows.iter_rows(named=True)}
        return cls(by_slot, wanted, now, grace, key)

    def slot(self, row: dict) -> tuple:
        return tuple(row[c] for c in self.key)


def _text(value: str | None) -> str:
    return (value or "").strip()


def carried_approvals(
    previous: pl.DataFrame,
    current: pl.DataFrame,
    latest: pl.DataFrame,
    now: datetime,
    key: tuple[str, ...] = PAIR,
) -> list[dict]:
    """Review-log rows carrying a decision to new variants with unchanged text.

    ``previous``/``current``: a segment's variant rows before and after a run; ``latest``: the
    decision in force per (segment, product, input hash) (``review_log.latest_decisions``). A
    current ``ok`` row gets one when its slot's (``key``: its pair, or its pair and arm)
    previous row was ``ok`` with another input hash, the same text, and an approve or edit
    decision, and it has no decision of its own yet."""
    cols = list(dict.fromkeys([*key, "input_hash", "variant_text"]))
    before = previous.filter(pl.col("status") == "ok").select(cols)
    after = current.filter(pl.col("status") == "ok").select(cols)
    moved = after.join(before, on=list(key), suffix="_prev").filter(
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
    failures: Callable[[str], list[str]],
    since: datetime | None,
) -> tuple[dict | None, str]:
    """``candidate`` (a published row of an older variant of the slot) kept live as superseded,
    or ``(None, why it is withdrawn)``. ``failures``: the ``"check: reason"`` of each ERROR rule
    a text fails against the product and ``segment`` as they are now. ``since``: when it was
    first superseded (None: now)."""
    recorded = candidate.get("content_hash")
    if recorded is not None and recorded != content_hash:
        return None, "its product changed since the copy was approved: withdrawn at once"
    # a changed segment, or copy published before its hashes were recorded (an older table):
    # judged again against the product and the segment as they are now
    if recorded is None or candidate.get("summary_hash") != segment.get("summary_hash"):
        checks = (f.split(":")[0] for f in failures(candidate["published_text"]))
        failing = [c for c in checks if c != "rationale_present"]
        if failing:
            what = "its segment changed" if recorded is not None else "judged again"
            return None, f"{what}: the approved copy now fails " + ", ".join(failing)
    started = since or continuity.now
    if continuity.now - started >= continuity.grace:  # a grace of 0: withdrawn at once
        days = continuity.grace.total_seconds() / 86400
        return None, (
            f"superseded since {started:%Y-%m-%d %H:%M} UTC: the {days:g}-day grace period is over"
        )
    wanted = continuity.wanted.get(continuity.slot(candidate))
    return {
        **candidate,
        "state": "superseded",
        "superseded_at": started,
        "superseded_by": wanted,
    }, ""
