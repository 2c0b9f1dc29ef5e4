"""What the review pages show about failed generations: a pair's pending failure on its variant
page, the failing pairs on the dashboard, and the confirmation of a retry request.

Read-only, like :mod:`pages`; ``POST /retry`` is in :mod:`failure_routes`. The failing pairs come
from :func:`segcopy_assets.review.retries.failing_pairs` (parked or not is decided there, with
the copywriter's ``max_attempts`` and the retry requests); a setting or table it cannot read is
shown as a message on the page, never an error page.
"""

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from segcopy_assets.errors import SegcopyError
from segcopy_assets.resources import Copywriter, Warehouse, copywriter_from_env
from segcopy_assets.review.retries import failing_pairs
from segcopy_assets.review.service import ReviewTables
from segcopy_assets.storage import delta


def warehouse_for(tables: ReviewTables) -> Warehouse:
    """The ``Warehouse`` whose tables these are (``<root>/segcopy/<table>``)."""
    return Warehouse(root=delta.parent(delta.parent(tables.variants)))


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if isinstance(value, datetime) else ""


def pair_failure(tables: ReviewTables, v: Mapping[str, Any]) -> dict[str, Any] | None:
    """What the variant page says about a review queue row whose latest generation failed
    (``None`` when it did not): ``never`` (a ``failed`` row: it never generated) or the last
    good variant kept; ``attempts``, ``last_error``, ``last_attempt_at``; ``state`` (``parked``
    or ``retrying``, ``""`` when it could not be told, with ``error`` saying why)."""
    never = v["status"] != "ok"
    attempted = v.get("attempted_hash")
    if not never and (attempted is None or attempted == v["input_hash"]):
        return None
    info: dict[str, Any] = {
        "never": never,
        "attempts": int(v.get("attempts") or 0),
        "last_error": v.get("last_error") or v.get("error") or "",
        "last_attempt_at": _when(v.get("last_attempt_at") or v.get("generated_at")),
        "state": "",
        "max_attempts": None,
        "error": "",
    }
    try:
        copywriter = copywriter_from_env()
        info["max_attempts"] = copywriter.max_attempts
        info["state"] = "retrying"
        if info["attempts"] >= copywriter.max_attempts:  # else it cannot be parked
            found = failing_pairs(
                warehouse_for(tables),
                copywriter,
                segment=v["segment_id"],
                product=v["product_id"],
            )
            if found.height:
                info["state"] = found["state"][0]
    except SegcopyError as exc:
        info["state"], info["error"] = "", str(exc)
    return info


def failures_context(tables: ReviewTables) -> dict[str, Any]:
    """The dashboard's "Generation failures" section: every failing pair (``failures``), whether
    any is parked, and ``failures_error`` when they could not be read."""
    try:
        copywriter: Copywriter = copywriter_from_env()
        failing = failing_pairs(warehouse_for(tables), copywriter)
    except SegcopyError as exc:
        return {"failures": [], "any_parked": False, "failures_error": str(exc)}
    rows = [
        {**r, "last_attempt_at": _when(r["last_attempt_at"])}
        for r in failing.select(
            "segment_id",
            "product_id",
            "state",
            "attempts",
            "last_good_kept",
            "last_error",
            "last_attempt_at",
        ).iter_rows(named=True)
    ]
    return {
        "failures": rows,
        "any_parked": any(r["state"] == "parked" for r in rows),
        "failures_error": "",
    }


def retry_notice(query: Mapping[str, str]) -> str:
    """The confirmation banner after ``POST /retry`` (its redirect carries ``retried=<n>``)."""
    sent = query.get("retried") or ""
    if not sent.isdigit():
        return ""
    if sent == "0":
        return "Nothing is parked there any more: nothing was sent again."
    return (
        f"Retry requested: {sent} parked pair(s) will be sent again by the next run "
        "(segcopy run, or the retry sensor under segcopy dev)."
    )
