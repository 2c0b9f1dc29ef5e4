"""The review page's channel previews (issue 24): ``/channels`` lists the channels, and
``/channels/{channel}`` shows its variants as they will look (``review.channel_previews``).
Read only: the channels' copy is not reviewed or published yet."""

from collections.abc import Mapping

from starlette.datastructures import State
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from segcopy_assets import settings
from segcopy_assets.review import channel_previews
from segcopy_assets.storage import delta


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


def routes() -> list[Route]:
    return [
        Route("/channels", channels_endpoint, methods=["GET"]),
        Route("/channels/{channel}", channel_endpoint, methods=["GET"]),
    ]
