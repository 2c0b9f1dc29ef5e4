"""The review page: a small web app where marketers approve, reject and edit variants.

``segcopy review serve`` runs it on 127.0.0.1 (:mod:`segcopy_assets.review.web.server`). Pages
are rendered on the server (Starlette + Jinja2 with autoescaping; the templates are in
``templates/``, a little CSS and vanilla JS are served from ``static/`` at ``/static/``, no
build step):

- ``GET /queue?segment=&product=&status=``: the review queue, filtered, with counts per status;
- ``GET /variant/{segment_id}/{product_id}``: the original and the variant side by side with a
  word-level diff (:mod:`segcopy_assets.review.web.diff`), the rationale, the segment summary,
  every check verdict, the decision history and approve / reject / edit-and-approve (keyboard:
  ``a``, ``r``, ``n`` for next, ``e`` to edit);
- ``GET /batches``, ``POST /batches/draw``, ``GET /bulk``, ``POST /bulk/apply``,
  ``GET /dashboard``: reviewing at scale (:mod:`segcopy_assets.review.web.scale_routes`);
  ``POST /retry``: send parked pairs again (:mod:`segcopy_assets.review.web.failure_routes`);
- ``POST /variant/{segment_id}/{product_id}/decide``: records one decision through
  :func:`segcopy_assets.review.service.decide`, i.e. the same append-only ``variant_reviews``
  log as the CLI, bound to the variant's ``input_hash``. An edited text failing an ERROR rule
  is refused (400: the variant page again, with the reasons) unless the form says ``force``
  (recorded, marked failing, never published). The next materialization of
  ``published_variants`` (``segcopy run``, or the publishing sensor under ``segcopy dev``) picks
  it up. Nothing in this package talks to Dagster.

What each page shows is computed in :mod:`segcopy_assets.review.web.pages`; this module holds
the HTTP side: routes, rendering, CSRF and the decision write path. The per-server state (the
tables, the reviewer, the CSRF token and the write lock) is on ``app.state``, read through
``signin.request_state(request)``: with sign-in (:mod:`segcopy_assets.review.web.auth`) its
``reviewer`` is the signed-in user and ``csrf_token`` their own. Every POST endpoint is
``@signin.reviewer_only`` (viewers get 403), like :func:`decide_endpoint`.

Safety: every piece of model text is escaped (Jinja2 autoescape; the diff is built from escaped
tokens) and a Content-Security-Policy allows only this server's own script, so a variant holding
``<script>`` shows as text and could not run even if escaping failed. State changes are POST
only and need the per-server random CSRF token from a hidden field (403 without it). The Host
header must name this machine (no DNS rebinding). A form carries the ``input_hash`` the reviewer
saw: if the variant was regenerated in between, the decision is refused (409) instead of landing
on copy nobody read. Decisions from this server are written one at a time (a lock), and a Delta
commit that lost a race with another process (two servers or the CLI creating the log at once)
is tried again, so two reviewers clicking at once are both recorded; the later decision wins, as
in the log.
"""

import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs

import jinja2
import polars as pl
from deltalake.exceptions import CommitFailedError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import State
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route

from segcopy_assets.errors import InputValidationError, SegcopyError
from segcopy_assets.review.edit_rules import EditRefused
from segcopy_assets.review.service import ReviewTables, decide, review_queue
from segcopy_assets.review.web import auth as signin
from segcopy_assets.review.web.guards import BodyLimits, GuardedStarlette
from segcopy_assets.review.web.pages import (
    Filters,
    find_variant,
    next_variant_url,
    queue_context,
    variant_context,
    variant_url,
)
from segcopy_assets.review.web.static_files import StaticAssets
from segcopy_assets.review.web.throttle import LoginThrottle
from segcopy_assets.storage.auth_events import DeltaEventLog

MAX_FORM_BYTES = 256 * 1024  # the largest request body (a bulk or decision form)
SIGN_IN_PATHS = ("/login", "/logout")  # anonymous forms: auth.MAX_FORM_BYTES
COMMIT_ATTEMPTS = 5
LOCAL_HOSTS = ["127.0.0.1", "localhost", "::1", "[::1]"]
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # same-origin, not no-referrer: with no-referrer browsers send "Origin: null" with our own
    # forms, and the cross-site check (guards.py) could not tell them from another site's
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
STATUS_LABELS = {
    "pending": "Pending",
    "approved": "Approved",
    "rejected": "Rejected",
    "failed": "Failed checks",
}
DECISION_LABELS = {
    "approve": "Approved",
    "reject": "Rejected",
    "edit": "Edited & approved",
    "edit_failing": "Edited, failing: not published",  # recorded with force: never published
}

# autoescaped: every value from the tables is text, never markup
_env = jinja2.Environment(
    loader=jinja2.PackageLoader("segcopy_assets.review.web", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


# ---------------------------------------------------------------------------------------------
# rendering


def _render(state: State, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    user = getattr(state, "user", None)  # who is signed in (auth.Identity)
    values = {
        "reviewer": state.reviewer,
        "user": user,
        "can_decide": user is None or user.role == "reviewer",
        "csrf_token": state.csrf_token,
        "labels": STATUS_LABELS,
        "decision_labels": DECISION_LABELS,
    }
    # the sign-out form's token (base.html) is always this user's
    html = _env.get_template(name).render(values | context, signout_token=state.csrf_token)
    return HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)


def _message(
    state: State,
    title: str,
    text: str,
    status_code: int,
    back_url: str = "/queue",
    back_label: str = "Back to the queue",
) -> HTMLResponse:
    return _render(
        state,
        "message.html",
        status_code,
        title=title,
        message=text,
        back_url=back_url,
        back_label=back_label,
    )


def _not_found(state: State, segment_id: str, product_id: str, filters: Filters) -> HTMLResponse:
    return _message(
        state,
        "Not found",
        f"There is no variant for segment {segment_id!r} and product {product_id!r}.",
        404,
        "/queue" + filters.query(),
    )


def _hidden_fields(token: str, filters: Filters) -> dict[str, str]:
    """Hidden form fields: the CSRF token and the queue filters to come back to."""
    return {
        "csrf_token": token,
        "q_segment": filters.segment,
        "q_product": filters.product,
        "q_status": filters.status,
        "q_batch": filters.batch,
    }


# ---------------------------------------------------------------------------------------------
# pages and the decision (blocking: run in a worker thread)


def _queue_page(state: State, query: Mapping[str, str]) -> Response:
    return _render(state, "queue.html", **queue_context(state.tables, query))


def _stats_page(state: State) -> Response:
    from segcopy_assets.review.calibration import ALL_CHECKS, calibration_stats

    stats = calibration_stats(state.tables)
    groups = []
    for (prompt_hash,), group in stats.group_by("prompt_hash", maintain_order=True):
        total = group.filter(pl.col("check") == ALL_CHECKS).row(0, named=True)
        checks = group.filter(pl.col("check") != ALL_CHECKS).to_dicts()
        groups.append({"prompt_hash": prompt_hash, "total": total, "checks": checks})
    return _render(state, "stats.html", groups=groups)


def _variant_page(
    state: State,
    segment_id: str,
    product_id: str,
    query: Mapping[str, str],
    status_code: int = 200,
    **overrides: Any,
) -> Response:
    filters = Filters.from_mapping(query).resolved(state.tables)
    context = variant_context(state.tables, segment_id, product_id, filters, query)
    if context is None:
        return _not_found(state, segment_id, product_id, filters)
    hidden = _hidden_fields(state.csrf_token, filters)
    return _render(state, "variant.html", status_code, hidden=hidden, **(context | overrides))


def _record(state: State, segment_id: str, product_id: str, form: dict[str, str]) -> Response:
    tables: ReviewTables = state.tables
    filters = Filters.from_mapping(form, prefix="q_").resolved(tables)
    decision, note = form.get("decision", ""), form.get("note") or ""
    # one writer at a time: concurrent first commits to the log would conflict
    with state.write_lock:
        found = find_variant(review_queue(tables), segment_id, product_id)
        if found.is_empty():
            return _not_found(state, segment_id, product_id, filters)
        seen = form.get("input_hash", "")
        if seen != found["input_hash"][0]:
            return _message(
                state,
                "The variant changed",
                "This variant was regenerated after you opened it, so your decision was not recorded. "
                "Review the new copy.",
                409,
                variant_url(segment_id, product_id, filters),
                "Open the current variant",
            )
        for attempt in range(COMMIT_ATTEMPTS):
            try:
                decide(
                    tables,
                    segment_id,
                    product_id,
                    decision,
                    reviewer=state.reviewer,
                    note=note.strip() or None,
                    edited_text=form.get("edited_text") if decision == "edit" else None,
                    force=form.get("force") == "1",
                    audit=state.audit,
                )
                break
            except EditRefused as refused:  # nothing recorded: the page again, the text kept
                query = {k[2:]: v for k, v in form.items() if k.startswith("q_")}
                kept = {"edit_text": form.get("edited_text") or "", "edit_note": note}
                return _variant_page(state, segment_id, product_id, query, 400,
                                     refused=refused.failures, edit_open=True, **kept)  # fmt: skip
            except CommitFailedError:
                # another process committed to the log at the same moment (e.g. both created
                # it); a failed commit wrote nothing, so trying again cannot duplicate
                if attempt == COMMIT_ATTEMPTS - 1:
                    raise
                time.sleep(0.05 * (attempt + 1) + secrets.randbelow(50) / 1000)
        queue = review_queue(tables)
    nxt = next_variant_url(
        queue,
        segment_id,
        product_id,
        filters,
        decided_segment=segment_id,
        decided_product=product_id,
    )
    if nxt is None:
        return RedirectResponse("/queue" + filters.query(done="1"), status_code=303)
    return RedirectResponse(nxt, status_code=303)


# ---------------------------------------------------------------------------------------------
# endpoints


async def _guarded(request: Request, fn: Callable[..., Response], *args: Any) -> Response:
    state = signin.request_state(request)
    try:
        return await run_in_threadpool(fn, state, *args)
    except InputValidationError as exc:
        return _message(state, "Cannot do that", str(exc), 400)
    except SegcopyError as exc:
        return _message(state, "Nothing to review yet", str(exc), 503)


async def home(request: Request) -> Response:
    return RedirectResponse("/queue", status_code=302)


async def queue_endpoint(request: Request) -> Response:
    return await _guarded(request, _queue_page, request.query_params)


async def stats_endpoint(request: Request) -> Response:
    return await _guarded(request, _stats_page)


async def variant_endpoint(request: Request) -> Response:
    p = request.path_params
    return await _guarded(
        request, _variant_page, p["segment_id"], p["product_id"], request.query_params
    )


async def read_form(request: Request) -> dict[str, str] | Response:
    """A POSTed form with a valid CSRF token, or the response refusing it (413, 403)."""
    state = signin.request_state(request)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return _message(state, "Too large", "The form is too large.", 413)
    form = {}
    if content_type == "application/x-www-form-urlencoded":
        form = {
            k: v[0]
            for k, v in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items()
        }
    if not signin.same_token(form.get("csrf_token", ""), state.csrf_token):
        return _message(
            state,
            "Forbidden",
            "This form is stale or did not come from this review page "
            "(missing or wrong CSRF token). Reload the page and try again.",
            403,
        )
    return form


@signin.reviewer_only
async def decide_endpoint(request: Request) -> Response:
    form = await read_form(request)
    if isinstance(form, Response):
        return form
    p = request.path_params
    return await _guarded(request, _record, p["segment_id"], p["product_id"], form)


async def no_icon(request: Request) -> Response:
    return Response(status_code=204)


def create_app(
    tables: ReviewTables,
    reviewer: str | None,
    *,
    allowed_hosts: list[str] | None = None,
    auth: signin.AuthConfig | None = None,
) -> Starlette:
    """The review web app over these warehouse tables; decisions are recorded as ``reviewer``,
    or, with ``auth``, as the signed-in user (``reviewer`` is then ignored)."""
    if auth is None and (not reviewer or not reviewer.strip()):
        raise ValueError("the review app needs a reviewer name")
    from segcopy_assets.review.web import channel_routes, failure_routes, scale_routes

    if auth is not None:
        auth = auth.with_secret()
        if not auth.shared:  # sign-outs and the throttle in the warehouse: every process's
            auth = replace(auth, events=DeltaEventLog(tables.auth_events), shared=True)
    routes = [
        Route("/", home, methods=["GET"]),
        Route("/queue", queue_endpoint, methods=["GET"]),
        Route("/stats", stats_endpoint, methods=["GET"]),
        Route("/variant/{segment_id}/{product_id}", variant_endpoint, methods=["GET"]),
        Route("/variant/{segment_id}/{product_id}/decide", decide_endpoint, methods=["POST"]),
        *scale_routes.routes(),
        *failure_routes.routes(),
        *channel_routes.routes(),
        Mount("/static", StaticAssets(packages=[("segcopy_assets.review.web", "static")])),
        Route("/favicon.ico", no_icon, methods=["GET"]),
        *(signin.auth_routes() if auth is not None else []),
    ]
    hosts = allowed_hosts if allowed_hosts is not None else LOCAL_HOSTS
    middleware = [
        Middleware(TrustedHostMiddleware, allowed_hosts=hosts),
        *signin.auth_middleware(auth),
    ]
    # outside the whole stack: headers, one Host, body limits, no cross-site writes (guards.py)
    limits = BodyLimits(MAX_FORM_BYTES, {path: signin.MAX_FORM_BYTES for path in SIGN_IN_PATHS})
    app = GuardedStarlette(
        routes=routes, middleware=middleware, security_headers=SECURITY_HEADERS, limits=limits
    )
    app.state.tables = tables
    # with sign-in there is no server-wide reviewer: decisions carry the signed-in user
    app.state.reviewer = reviewer.strip() if auth is None and reviewer else None
    app.state.auth = auth
    app.state.login_throttle = LoginThrottle(store=auth.events if auth is not None else None)
    app.state.render = _render
    app.state.message_page = _message
    app.state.csrf_token = secrets.token_urlsafe(32)
    app.state.write_lock = threading.Lock()
    return app
