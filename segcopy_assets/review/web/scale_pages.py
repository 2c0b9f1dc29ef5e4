"""Template context of the pages for reviewing at scale: batches, bulk decisions, dashboard.

Read-only, like :mod:`pages`; the endpoints that draw batches and record bulk decisions are in
:mod:`scale_routes` (sending parked pairs again: :mod:`failure_routes`).
"""

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from segcopy_assets.core.sampling import SamplingPlan
from segcopy_assets.errors import InputValidationError
from segcopy_assets.review import batches as batch_service
from segcopy_assets.review import bulk
from segcopy_assets.review.dashboard import bar_chart, dashboard
from segcopy_assets.review.service import ReviewTables
from segcopy_assets.review.web.failure_pages import failures_context, retry_notice

BADGES = {"accepted": "accepted", "rejected": "rejected", "pending": "pending"}


def plan_from(data: Mapping[str, str], default: SamplingPlan) -> SamplingPlan:
    """The plan a form asks for (``p``, ``c``; either left out: the default's), refused with a
    400 when it is not a number or outside :class:`SamplingPlan`'s bounds."""
    try:
        p = float(data.get("p") or default.p)
        c = float(data.get("c") or default.c)
        return SamplingPlan(p, c)
    except ValueError as exc:  # not a number, or out of bounds (NaN, inf, 1e-300, c = 1, ...)
        raise InputValidationError(
            "review page", "p", f"not a usable sampling plan: {exc}"
        ) from None


def batches_context(tables: ReviewTables, plan: SamplingPlan) -> dict[str, Any]:
    rows = []
    for b in batch_service.batches(tables):
        rows.append({
            "batch_id": b.batch_id, "segment_id": b.segment_id, "prompt_hash": b.prompt_hash,
            "members": len(b.members), "sample": len(b.sample), "state": b.outcome.state,
            "badge": BADGES[b.outcome.state], "approved": b.outcome.approved,
            "rejections": b.outcome.rejections, "pending": b.outcome.pending, "bound": b.bound,
            "current": b.current, "url": "/queue?" + urlencode({"batch": b.batch_id}),
        })  # fmt: skip
    # current batches first, sorted by segment then prompt; batches whose variants were
    # regenerated since are closed: listed apart, without a link to review their sample
    order = {"pending": 0, "rejected": 1, "accepted": 2}
    rows.sort(key=lambda r: (r["segment_id"], order.get(str(r["state"]), 3), r["prompt_hash"]))
    return {
        "batches": [r for r in rows if r["current"]],
        "stale_batches": [r for r in rows if not r["current"]],
        "plan": plan,
        "plan_text": f"zero rejections in n = {plan.n} bound the defect rate at "
        f"{plan.p * 100:g} % with {plan.c * 100:g} % confidence",
    }


def bulk_filter(data: Mapping[str, str]) -> bulk.BulkFilter:
    """The filter a bulk form carries (the queue's filters, plus checks and batch)."""

    def value(name: str) -> str | None:
        return (data.get(name) or "").strip() or None

    return bulk.BulkFilter(
        value("segment"), value("product"), value("status"), value("checks"), value("batch")
    )


def bulk_context(tables: ReviewTables, data: Mapping[str, str]) -> dict[str, Any]:
    decision = (data.get("decision") or "").strip()
    if decision not in bulk.BULK_DECISIONS:
        raise InputValidationError(
            "review page", "decision", f"bulk decisions are {bulk.BULK_DECISIONS}"
        )
    f = bulk_filter(data)
    rows = bulk.select(tables, f)
    hidden = {k: v for k, v in vars(f).items() if v}
    return {
        "decision": decision,
        "decision_label": "Approve" if decision == "approve" else "Reject",
        "total": rows.height,
        "described": f.describe(),
        "counts": bulk.summary(rows).to_dicts(),
        "hidden": {**hidden, "decision": decision, "expected": str(rows.height)},
        "back_url": "/queue" + (("?" + urlencode(hidden)) if hidden else ""),
    }


def dashboard_context(tables: ReviewTables, query: Mapping[str, str]) -> dict[str, Any]:
    """``dashboard.html``: quality, batches, checks vs reviewers, and the generation failures
    (``query`` may carry ``retried``, the count of a retry request just made)."""
    d = dashboard(tables)
    return {
        **failures_context(tables),
        "retried": retry_notice(query),
        "rows": d.rows,
        "checks": d.checks,
        "chart": bar_chart(d.check_rates),
        "batches": d.batches,
        "disagreements": d.disagreements,
        "pct": lambda v: "–" if v is None else f"{v:.0%}",
    }
