"""``POST /retry``: a reviewer asks for parked pairs (their generation failed
``SEGCOPY_MAX_ATTEMPTS`` times in a row with the same inputs) to be sent again, what
``segcopy retry`` does.

Form: ``csrf_token``, ``segment`` and ``product`` (both optional: every parked pair they
select), ``back`` (``dashboard`` or ``variant``: where to return) and the queue filters of the
variant page (``q_*``). It appends one row per parked pair to ``generation_retries``
(:func:`segcopy_assets.review.retries.retry_parked`), recorded as the signed-in reviewer, then
redirects (303) back with ``retried=<n>`` for the confirmation banner. Same rules as :mod:`app`:
CSRF token, ``@signin.reviewer_only`` (viewers get 403); what the pages show about failures is in
:mod:`failure_pages`.
"""

from starlette.datastructures import State
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from segcopy_assets.errors import SegcopyError
from segcopy_assets.resources import copywriter_from_env
from segcopy_assets.review.retries import retry_parked
from segcopy_assets.review.web import auth as signin
from segcopy_assets.review.web.failure_pages import warehouse_for
from segcopy_assets.review.web.pages import Filters, variant_url


def _back(form: dict[str, str], segment: str | None, product: str | None, **extra: str) -> str:
    """Where the form came from: the pair's variant page (with its queue filters) or the
    dashboard."""
    if form.get("back") == "variant" and segment and product:
        filters = Filters.from_mapping(form, prefix="q_")
        return variant_url(segment, product, filters, **extra)
    return "/dashboard" + Filters().query(**extra)


def _retry(state: State, form: dict[str, str]) -> Response:
    segment = (form.get("segment") or "").strip() or None
    product = (form.get("product") or "").strip() or None
    try:
        copywriter = copywriter_from_env()
        with state.write_lock:
            sent = retry_parked(
                warehouse_for(state.tables),
                copywriter,
                requested_by=state.reviewer,
                segment=segment,
                product=product,
            )
    except SegcopyError as exc:
        return state.message_page(
            state, "Cannot retry", str(exc), 400, _back(form, segment, product), "Back"
        )
    return RedirectResponse(
        _back(form, segment, product, retried=str(sent.height)), status_code=303
    )


@signin.reviewer_only
async def retry_endpoint(request: Request) -> Response:
    from segcopy_assets.review.web.app import _guarded, read_form

    form = await read_form(request)
    if isinstance(form, Response):
        return form
    return await _guarded(request, _retry, form)


def routes() -> list[Route]:
    return [Route("/retry", retry_endpoint, methods=["POST"])]
