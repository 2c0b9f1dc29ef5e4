"""What the review pages show: the queue filters, URLs, and the template context of each page.

Reads the warehouse tables (through :mod:`segcopy_assets.review.service` and the storage
helpers) and never writes them; the HTTP side (rendering, CSRF, decisions) is in
:mod:`segcopy_assets.review.web.app`.
"""

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

import polars as pl

from segcopy_assets.errors import InputValidationError, SegcopyError
from segcopy_assets.review.edit_rules import judge_edit
from segcopy_assets.review.service import STATUSES, ReviewTables, review_queue
from segcopy_assets.review.web.diff import inline_diff, word_diff
from segcopy_assets.review.web.failure_pages import pair_failure, retry_notice
from segcopy_assets.storage import delta, variant_store
from segcopy_assets.storage import review_log as reviews
from segcopy_assets.storage.tables import VERDICT_SCHEMA


@dataclass(frozen=True)
class Filters:
    segment: str = ""
    product: str = ""
    status: str = ""
    batch: str = ""  # an acceptance-sampling batch: the queue shows its sample
    sample: frozenset[str] | None = None  # the batch's sampled input hashes, once resolved

    @classmethod
    def from_mapping(cls, data: Mapping[str, str], prefix: str = "") -> "Filters":
        status = (data.get(prefix + "status") or "").strip()
        if status and status not in STATUSES:
            raise InputValidationError(
                "review page", "status", f"{status!r} is not one of {STATUSES}"
            )
        return cls(
            (data.get(prefix + "segment") or "").strip(),
            (data.get(prefix + "product") or "").strip(),
            status,
            (data.get(prefix + "batch") or "").strip(),
        )

    def resolved(self, tables: ReviewTables) -> "Filters":
        """With the batch's sample looked up (a batch id that does not exist is refused)."""
        if not self.batch:
            return self
        from segcopy_assets.review.batches import find_batch

        return replace(self, sample=frozenset(find_batch(tables, self.batch).sample))

    def query(self, **extra: str) -> str:
        params = {
            k: v
            for k, v in (
                ("segment", self.segment),
                ("product", self.product),
                ("status", self.status),
                ("batch", self.batch),
                *extra.items(),
            )
            if v
        }
        return ("?" + urlencode(params)) if params else ""

    def apply(self, queue: pl.DataFrame, with_status: bool = True) -> pl.DataFrame:
        if self.segment:
            queue = queue.filter(pl.col("segment_id") == self.segment)
        if self.product:
            queue = queue.filter(pl.col("product_id") == self.product)
        if with_status and self.status:
            queue = queue.filter(pl.col("review_status") == self.status)
        if self.sample is not None:
            queue = queue.filter(pl.col("input_hash").is_in(list(self.sample)))
        return queue


def variant_url(segment_id: str, product_id: str, filters: Filters, **extra: str) -> str:
    return f"/variant/{quote(segment_id, safe='')}/{quote(product_id, safe='')}" + filters.query(
        **extra
    )


def decide_url(segment_id: str, product_id: str) -> str:
    return f"/variant/{quote(segment_id, safe='')}/{quote(product_id, safe='')}/decide"


def find_variant(queue: pl.DataFrame, segment_id: str, product_id: str) -> pl.DataFrame:
    """The queue row of one variant (empty if there is none)."""
    return queue.filter((pl.col("segment_id") == segment_id) & (pl.col("product_id") == product_id))


def next_variant_url(
    queue: pl.DataFrame, segment_id: str, product_id: str, filters: Filters, **extra: str
) -> str | None:
    """The URL of the variant after this one in the filtered queue (in the queue's order,
    wrapping around), ``None`` when no other variant is left in it."""
    keys = _queue_keys(queue, filters)
    nxt = _next_key(keys, (segment_id, product_id), _queue_keys(queue, Filters()))
    return variant_url(*nxt, filters, **extra) if nxt else None


def _queue_keys(queue: pl.DataFrame, filters: Filters) -> list[tuple[str, str]]:
    """(segment, product) of the filtered queue, in the queue's own order (superseded first)."""
    return list(filters.apply(queue).select("segment_id", "product_id").iter_rows())


def _when(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    return "" if value is None else str(value)


def _read_optional(path: str, columns: list[str]) -> pl.DataFrame:
    if not delta.table_exists(path):
        return pl.DataFrame(schema={c: pl.String for c in columns})
    return pl.read_delta(path, columns=columns)


def _next_key(
    keys: list[tuple[str, str]],
    current: tuple[str, str],
    order: list[tuple[str, str]] | None = None,
) -> tuple[str, str] | None:
    """The first of ``keys`` (the filtered queue) after ``current`` in queue order, wrapping
    around; never ``current``. ``order``: the whole queue's keys in its order (``keys`` by
    default), to place a ``current`` that is not in ``keys`` (e.g. it left the filtered queue
    with the decision just recorded)."""
    rank = {k: i for i, k in enumerate(order if order is not None else keys)}
    others = [k for k in keys if k != current]
    here = rank.get(current)
    if here is None:
        return others[0] if others else None
    after = [k for k in others if rank.get(k, -1) > here]
    return after[0] if after else (others[0] if others else None)


def _decision_key(row: Mapping[str, Any]) -> str | None:
    """The label key of a decision: ``edit_failing`` for an edit recorded although its text
    fails ERROR rules (never published), else the decision."""
    if row.get("decision") == "edit" and row.get("edit_failed_checks"):
        return "edit_failing"
    return row.get("decision")


def _product_names(tables: ReviewTables) -> dict[str, str]:
    frame = _read_optional(tables.products, ["product_id", "name"])
    return dict(frame.iter_rows())


def queue_context(tables: ReviewTables, query: Mapping[str, str]) -> dict[str, Any]:
    """``queue.html``: the filtered queue, with counts per status (under the other filters)."""
    filters = Filters.from_mapping(query).resolved(tables)
    queue = review_queue(tables)
    names = _product_names(tables)
    scoped = filters.apply(queue, with_status=False)
    shown = filters.apply(queue)
    counts = dict(scoped.group_by("review_status").len().iter_rows())
    rows = [
        {
            **r,
            "product_name": names.get(r["product_id"], ""),
            "decided_at": _when(r["decided_at"]),
            "url": variant_url(r["segment_id"], r["product_id"], filters),
            "decision_key": _decision_key(r),
        }
        for r in shown.select(
            "segment_id",
            "product_id",
            "review_status",
            "failed_checks",
            "decision",
            "reviewer",
            "decided_at",
            "superseded",
            "carried_from",
            "edit_failed_checks",
        )
        .rename({"review_status": "status"})
        .iter_rows(named=True)
    ]
    tab_urls = {
        s: "/queue" + Filters(filters.segment, filters.product, s, filters.batch).query()
        for s in ("", *STATUSES)
    }
    notice = "You reached the end of this queue." if query.get("done") else ""
    return {
        "f": filters,
        "rows": rows,
        "statuses": STATUSES,
        "counts": {s: counts.get(s, 0) for s in STATUSES},
        "total": scoped.height,
        "tab_urls": tab_urls,
        "bulk_query": Filters(filters.segment, filters.product, filters.status).query() or "?",
        "notice": notice,
        "segments": sorted(queue["segment_id"].unique().to_list()),
        "products": [
            {"id": p, "name": names.get(p, "")}
            for p in sorted(queue["product_id"].unique().to_list())
        ],
    }


def variant_context(
    tables: ReviewTables,
    segment_id: str,
    product_id: str,
    filters: Filters,
    query: Mapping[str, str],
) -> dict[str, Any] | None:
    """``variant.html`` (without the hidden form fields), or ``None`` if there is no such
    variant. ``query`` may name the variant decided just before (``decided_segment`` and
    ``decided_product``) to confirm that decision in a banner."""
    queue = review_queue(tables)
    found = find_variant(queue, segment_id, product_id)
    if found.is_empty():
        return None
    v = found.row(0, named=True)
    keys = _queue_keys(queue, filters)
    current = (segment_id, product_id)
    position = keys.index(current) + 1 if current in keys else None

    verdicts = variant_store.read_segments(tables.verdicts, [segment_id], schema=VERDICT_SCHEMA)
    checks = verdicts.filter(
        (pl.col("product_id") == product_id) & (pl.col("input_hash") == v["input_hash"])
    ).to_dicts()
    failing = sorted({c["check"] for c in checks if not c["passed"] and c["severity"] == "ERROR"})

    summaries = _read_optional(tables.summaries, ["segment_id", "segment_description"])
    summary = summaries.filter(pl.col("segment_id") == segment_id)
    log = reviews.read_reviews(tables.reviews).with_row_index("_order")
    history = (
        log.filter(
            (pl.col("segment_id") == segment_id)
            & (pl.col("product_id") == product_id)
            & (pl.col("input_hash") == v["input_hash"])
        )
        .sort("decided_at", "_order", descending=True)
        .to_dicts()
    )
    for h in history:
        h["decided_at"] = _when(h["decided_at"])
        h["decision_key"] = _decision_key(h)

    generation_failed = v["status"] != "ok"
    left, right, stats = word_diff(
        v["original"] or "", "" if generation_failed else v["variant_text"] or ""
    )
    edited_right = None
    if v["decision"] == "edit" and v["edited_text"]:
        edited_right = inline_diff(v["variant_text"] or "", v["edited_text"])

    just_decided = None
    last_seg, last_prod = query.get("decided_segment"), query.get("decided_product")
    if last_seg and last_prod:
        mine = log.filter((pl.col("segment_id") == last_seg) & (pl.col("product_id") == last_prod))
        if not mine.is_empty():
            just_decided = mine.sort("decided_at", "_order").row(-1, named=True)
            just_decided["decision_key"] = _decision_key(just_decided)

    nxt = _next_key(keys, current, _queue_keys(queue, Filters()))
    return {
        "v": {**v, "decided_at": _when(v["decided_at"]), "decision_key": _decision_key(v)},
        "product_name": _product_names(tables).get(product_id, product_id),
        "left": left,
        "right": right,
        "stats": stats,
        "edited_right": edited_right,
        "edit_text": (
            v["edited_text"]
            if v["decision"] == "edit" and v["edited_text"]
            else v["variant_text"] or ""
        ),
        "checks": checks,
        "checks_passed": sum(1 for c in checks if c["passed"]),
        "failing": failing,
        "segment_description": summary["segment_description"][0] if summary.height else "",
        "history": history,
        "generation_failed": generation_failed,
        "generated_at": _when(v["generated_at"]),
        "position": position,
        "queue_size": len(keys),
        "next_url": variant_url(*nxt, filters) if nxt else None,
        "queue_url": "/queue" + filters.query(),
        "decide_url": decide_url(segment_id, product_id),
        "just_decided": just_decided,
        "edit_reasons": _edit_reasons(tables, v),
        "superseded": _superseded(tables, v),
        "repair": _repair(v),
        "failure": pair_failure(tables, v),
        "retried": retry_notice(query),
        # a refused edit (app._record) shows its reasons, the text and the note typed
        "refused": [],
        "edit_open": v["decision"] == "edit",
        "edit_note": "",
    }


def _edit_reasons(tables: ReviewTables, v: dict) -> list[str]:
    """``"rule: reason"`` of every ERROR rule the edit in force fails, when it was recorded
    although it fails them (judged again now, as publication does; else the rules recorded)."""
    if _decision_key(v) != "edit_failing":
        return []
    try:
        found = judge_edit(tables.summaries, tables.products, v, v["edited_text"] or "")
    except SegcopyError:
        found = []
    return found or [r.strip() for r in str(v["edit_failed_checks"]).split(",")]


def _grace_days() -> float | None:
    """SEGCOPY_SUPERSEDED_GRACE_DAYS (default 7), ``None`` when it is not a valid setting."""
    from segcopy_assets.resources import publication_from_env

    try:
        return float(publication_from_env().superseded_grace_days)
    except SegcopyError:
        return None


def _superseded(tables: ReviewTables, v: dict) -> dict[str, Any] | None:
    """The superseded copy live for this variant's pair (what the banner says), or ``None``."""
    if not v.get("superseded"):
        return None
    live: dict[str, Any] = {}
    if delta.table_exists(tables.published):
        published = pl.read_delta(tables.published)
        if "state" in published.columns:
            rows = published.filter(
                (pl.col("segment_id") == v["segment_id"])
                & (pl.col("product_id") == v["product_id"])
                & (pl.col("state") == "superseded")
            )
            live = rows.row(0, named=True) if rows.height else {}
    grace = _grace_days()
    since = live.get("superseded_at")
    ends = since + timedelta(days=grace) if isinstance(since, datetime) and grace else None
    return {
        "grace_days": None if grace is None else f"{grace:g}",
        "since": _when(since),
        "ends": _when(ends),
        "text": live.get("published_text") or "",
        "input_hash": (live.get("input_hash") or "")[:12],
    }


def _repair(v: dict) -> dict | None:
    """The repair loop's record of a variant (generation.repair): the rules its first answer
    failed and what the repair changed, or None when it was not repaired."""
    if not v.get("first_failures"):
        return None
    from segcopy_assets.generation.answer_parsing import split_copy_and_rationale

    first = split_copy_and_rationale(v.get("first_answer") or "").copy
    return {
        "attempts": v.get("repair_attempts") or 1,
        "reasons": v["first_failures"].split("; "),
        "diff": inline_diff(first, v["variant_text"] or ""),
    }
