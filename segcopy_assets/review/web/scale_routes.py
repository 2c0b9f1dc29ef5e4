"""The review page's endpoints for reviewing at scale: acceptance-sampling batches, bulk
decisions behind a confirmation, the quality dashboard (with the generation failures; its Retry
buttons post to :mod:`failure_routes`).

Same rules as :mod:`app`: pages are GET, state changes are POST with the user's CSRF token and
``@signin.reviewer_only``; what each page shows is computed in :mod:`scale_pages`.
"""

import os
from collections.abc import Mapping

from starlette.datastructures import State
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from segcopy_assets.core.sampling import SamplingPlan
from segcopy_assets.errors import SettingsError
from segcopy_assets.review import bulk
from segcopy_assets.review.batches import draw_batches
from segcopy_assets.review.web import auth as signin
from segcopy_assets.review.web.scale_pages import (
    batches_context,
    bulk_context,
    bulk_filter,
    dashboard_context,
    plan_from,
)


def default_plan() -> SamplingPlan:
    """``SEGCOPY_SAMPLE_P`` / ``SEGCOPY_SAMPLE_C``, else 5 % at 95 % (:class:`SettingsError`
    when they are not numbers or outside the plan's bounds)."""
    p_text = os.environ.get("SEGCOPY_SAMPLE_P") or "0.05"
    c_text = os.environ.get("SEGCOPY_SAMPLE_C") or "0.95"
    try:
        return SamplingPlan(float(p_text), float(c_text))
    except ValueError as exc:
        raise SettingsError(
            f"SEGCOPY_SAMPLE_P={p_text!r} / SEGCOPY_SAMPLE_C={c_text!r} is no usable sampling "
            f"plan: {exc}"
        ) from None


def _unusable_settings(state: State, exc: SettingsError) -> Response:
    return state.message_page(state, "Unusable sampling settings", str(exc), 503)


def _batches_page(state: State, query: Mapping[str, str]) -> Response:
    notice = "Batches drawn." if query.get("drawn") else ""
    try:
        plan = default_plan()
    except SettingsError as exc:
        return _unusable_settings(state, exc)
    return state.render(state, "batches.html", notice=notice, **batches_context(state.tables, plan))


def _draw(state: State, form: dict[str, str]) -> Response:
    try:
        default = default_plan()
    except SettingsError as exc:
        return _unusable_settings(state, exc)
    plan = plan_from(form, default)
    with state.write_lock:
        draw_batches(state.tables, plan, reviewer=state.reviewer,
                     all_segments=form.get("all_segments") == "1")  # fmt: skip
    return RedirectResponse("/batches?drawn=1", status_code=303)


def _bulk_page(state: State, query: Mapping[str, str]) -> Response:
    return state.render(state, "bulk.html", **bulk_context(state.tables, query))


def _bulk_apply(state: State, form: dict[str, str]) -> Response:
    f = bulk_filter(form)
    decision = form.get("decision", "")
    with state.write_lock:
        rows = bulk.select(state.tables, f)
        if str(rows.height) != form.get("expected", ""):
            return state.message_page(
                state, "The selection changed",
                f"{rows.height} variants match now, not the {form.get('expected')} you confirmed "
                "(a decision or a regeneration happened in between). Nothing was recorded.",
                409,
            )  # fmt: skip
        bulk.decide_all(state.tables, rows, decision, reviewer=state.reviewer,
                        note=(form.get("note") or "").strip() or None,
                        audit=state.audit)  # fmt: skip
    back = {k: v for k, v in vars(f).items() if v and k != "checks"}
    query = "&".join(f"{k}={v}" for k, v in back.items())
    return RedirectResponse("/queue" + (f"?{query}&" if query else "?") + "done=1", status_code=303)


def _dashboard_page(state: State, query: Mapping[str, str]) -> Response:
    return state.render(state, "dashboard.html", **dashboard_context(state.tables, query))


async def batches_endpoint(request: Request) -> Response:
    from segcopy_assets.review.web.app import _guarded

    return await _guarded(request, _batches_page, request.query_params)


@signin.reviewer_only
async def draw_endpoint(request: Request) -> Response:
    from segcopy_assets.review.web.app import _guarded, read_form

    form = await read_form(request)
    if isinstance(form, Response):
        return form
    return await _guarded(request, _draw, form)


async def bulk_endpoint(request: Request) -> Response:
    from segcopy_assets.review.web.app import _guarded

    return await _guarded(request, _bulk_page, request.query_params)


@signin.reviewer_only
async def bulk_apply_endpoint(request: Request) -> Response:
    from segcopy_assets.review.web.app import _guarded, read_form

    form = await read_form(request)
    if isinstance(form, Response):
        return form
    return await _guarded(request, _bulk_apply, form)


async def dashboard_endpoint(request: Request) -> Response:
    from segcopy_assets.review.web.app import _guarded

    return await _guarded(request, _dashboard_page, request.query_params)


def routes() -> list[Route]:
    return [
        Route("/batches", batches_endpoint, methods=["GET"]),
        Route("/batches/draw", draw_endpoint, methods=["POST"]),
        Route("/bulk", bulk_endpoint, methods=["GET"]),
        Route("/bulk/apply", bulk_apply_endpoint, methods=["POST"]),
        Route("/dashboard", dashboard_endpoint, methods=["GET"]),
    ]
