"""The review page's channels (issue 24): ``/channels`` lists the channels,
``/channels/{channel}`` shows its variants as they will look (``review.channel_previews``) with
their review status, and a reviewer approves or rejects each arm there
(``/channels/{channel}/decide``: into the channel's own review log; an edit is the command
line's ``segcopy review edit --channel``)."""

from collections.abc import Mapping

from starlette.datastructures import State
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from segcopy_assets import settings
from segcopy_assets.errors import InputValidationError
from segcopy_assets.review import channel_previews
from segcopy_assets.review.service import ReviewTables, current_variant, decide
from segcopy_assets.review.web import auth as signin
from segcopy_assets.storage import delta

#: What the channel page's buttons record (an edit needs the channel's format: the CLI's).
PAGE_DECISIONS = ("approve", "reject")


def _schema_dir(state: State) -> str:
    return delta.parent(state.tables.variants)


def _channels_page(state: State) -> Response:
    channels = channel_previews.overview(_schema_dir(state), settings.prompts_dir())
    return state.render(state, "channels.html", channels=channels)


def _channel_page(state: State, name: str, query: Mapping[str, str]) -> Response:
    context = channel_previews.previews(
        _schema_dir(state), settings.prompts_dir(), name, (query.get("segment") or "").strip()
    )
    return state.render(state, "channel.html", **context)


async def channels_endpoint(request: Request) -> Response:
    from segcopy_assets.review.web.app import _guarded

    return await _guarded(request, _channels_page)


async def channel_endpoint(request: Request) -> Response:
    from segcopy_assets.review.web.app import _guarded

    return await _guarded(
        request, _channel_page, request.path_params["channel"], request.query_params
    )


def _record(state: State, name: str, form: dict[str, str]) -> Response:
    from segcopy_assets.review.web.app import _message

    if name not in channel_previews.preview_channels(settings.prompts_dir()):
        raise InputValidationError("channels", "channel", f"no channel {name!r}")
    decision = form.get("decision", "")
    if decision not in PAGE_DECISIONS:
        raise InputValidationError(
            "review", "decision", f"{decision!r} is not one of {PAGE_DECISIONS}"
        )
    try:
        arm = int(form.get("variant_index", ""))
    except ValueError:
        raise InputValidationError("review", "variant_index", "not an arm number") from None
    segment_id, product_id = form.get("segment_id", ""), form.get("product_id", "")
    back = f"/channels/{name}?segment={segment_id}#arm-{segment_id}-{product_id}-{arm}"
    tables = ReviewTables.under(_schema_dir(state), name)
    with state.write_lock:  # one writer at a time, as the description's decisions
        variant = current_variant(tables, segment_id, product_id, arm)
        if variant["input_hash"] != form.get("input_hash"):
            return _message(
                state,
                "The variant changed",
                "This copy was regenerated after you opened the page, so your decision was not "
                "recorded. Review the new copy.",
                409,
                back,
                "Open the current copy",
            )
        decide(
            tables,
            segment_id,
            product_id,
            decision,
            reviewer=state.reviewer,
            audit=state.audit,
            arm=arm,
            note=(form.get("note") or "").strip() or None,
        )
    return RedirectResponse(back, status_code=303)


@signin.reviewer_only
async def channel_decide_endpoint(request: Request) -> Response:
    from segcopy_assets.review.web.app import _guarded, read_form

    form = await read_form(request)
    if isinstance(form, Response):
        return form
    return await _guarded(request, _record, request.path_params["channel"], form)


def routes() -> list[Route]:
    return [
        Route("/channels", channels_endpoint, methods=["GET"]),
        Route("/channels/{channel}", channel_endpoint, methods=["GET"]),
        Route("/channels/{channel}/decide", channel_decide_endpoint, methods=["POST"]),
    ]
