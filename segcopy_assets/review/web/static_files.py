"""The review page's CSS and JS (``static/``, package data): the security headers of every page,
a fixed type per extension (not the host's mime.types), cached but checked before every use."""

import os

from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope


def _headers() -> dict[str, str]:
    from segcopy_assets.review.web.app import SECURITY_HEADERS

    return {**SECURITY_HEADERS, "Cache-Control": "no-cache"}


STATIC_MEDIA_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}


class StaticAssets(StaticFiles):
    """``static/``, with the security headers of every page and a fixed type per extension
    (not the host's mime.types)."""

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers.update(_headers())
        media_type = STATIC_MEDIA_TYPES.get(os.path.splitext(full_path)[1])
        if media_type and response.status_code != 304:
            response.headers["content-type"] = media_type
        return response
