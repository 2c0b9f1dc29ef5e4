"""Guards around the whole review app: one pure ASGI layer outside Starlette's middleware stack
(outside even ``ServerErrorMiddleware``), so they hold for every answer, framework errors
included.

:class:`Guard`, for every HTTP request:

- adds the security headers (CSP, nosniff, X-Frame-Options, Referrer-Policy, Cache-Control) to
  every response that does not set them itself: pages, redirects, the router's 404 and 405, the
  static files' 404, the Host check's 400, a 500. A header a response sets is kept (the static
  files' ``Cache-Control: no-cache``);
- refuses (400) a request with more than one ``Host`` header, before the host allowlist
  (``TrustedHostMiddleware``) would judge it by the first;
- refuses (403, nothing read or written) a state change (any method but GET, HEAD, OPTIONS) that
  a browser says is cross-site: a ``Sec-Fetch-Site`` other than ``same-origin`` or ``none``, or
  an ``Origin`` other than this server's own (the Host header, with https when the browser used
  HTTPS: ``behind_tls`` or a trusted proxy's ``X-Forwarded-Proto``; on plain HTTP, where a TLS
  proxy nobody told us about may sit in front, only host and port are compared). A request with
  neither header (curl, scripts) goes on: the CSRF tokens still apply. ``Origin: null`` is
  refused: our pages' Referrer-Policy is ``same-origin``, so browsers send our own origin with our
  forms, and ``null`` comes from another site's no-referrer page or a sandboxed frame;
- limits the request body (:class:`BodyLimits`): a ``Content-Length`` over the limit answers 413
  before anything is read (an unreadable one: 400); a body without one (chunked) is counted as
  it streams and cut at the limit with 413, so ``await request.body()`` never returns more than
  the limit. Whatever the app was answering to a body it could not read is dropped.

:class:`GuardedStarlette` is a ``Starlette`` with :class:`Guard` around its middleware stack.
"""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from segcopy_assets.review.web.auth import AuthConfig
from segcopy_assets.review.web.proxy import is_https

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SAME_ORIGIN_FETCHES = frozenset({"same-origin", "none"})  # "none": typed, bookmarked
_ORIGIN = re.compile(r"(https?)://([^/?#@\s]+)", re.IGNORECASE)
_MAX_LENGTH_DIGITS = 18  # more is over any limit (and int() of 4,300+ digits raises)


@dataclass(frozen=True)
class BodyLimits:
    """The most bytes a request body may have: ``default``, or ``by_path[path]``."""

    default: int
    by_path: Mapping[str, int] = field(default_factory=dict)

    def for_path(self, path: str) -> int:
        return self.by_path.get(path, self.default)


class _BodyTooLarge(Exception):
    """Raised by ``receive`` once a body passes its limit."""


def same_origin(origin: str, host: str, https: bool) -> bool:
    """Is ``origin`` (an Origin header) this server's own, reached by the Host header ``host``?
    With ``https`` (the browser used HTTPS) the scheme must be https; otherwise only host and
    port are compared (a default port, written or not, is the same)."""
    match = _ORIGIN.fullmatch(origin.strip())
    if match is None or not host.strip():
        return False
    scheme = match.group(1).lower()
    if https and scheme != "https":
        return False
    default_port = ":443" if scheme == "https" else ":80"

    def netloc(value: str) -> str:
        value = value.strip().lower()
        return value.removesuffix(default_port)

    return netloc(match.group(2)) == netloc(host)


def _plain(text: str, status_code: int) -> PlainTextResponse:
    return PlainTextResponse(text, status_code=status_code)


class Guard:
    """The pure ASGI layer of this module's docstring, around ``app``."""

    def __init__(
        self,
        app: ASGIApp,
        headers: Mapping[str, str],
        limits: BodyLimits,
        auth: Callable[[], AuthConfig | None] = lambda: None,
    ) -> None:
        self.app = app
        self.headers = [
            (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()
        ]
        self.limits = limits
        self.auth = auth  # the sign-in config (trusted proxies, behind TLS) at request time

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {bytes(k).lower() for k, _ in headers}
                headers += [(k, v) for k, v in self.headers if k not in present]
                message = {**message, "headers": headers}
            await send(message)

        refusal = self.refusal(scope)
        if refusal is not None:
            await refusal(scope, receive, send_with_headers)
            return
        await self._limited(scope, receive, send_with_headers)

    def refusal(self, scope: Scope) -> PlainTextResponse | None:
        """The answer refusing this request before the app sees it, or ``None``."""
        raw: list[tuple[bytes, bytes]] = list(scope.get("headers", []))
        if sum(1 for k, _ in raw if k.lower() == b"host") > 1:
            return _plain("Invalid host header", 400)
        headers = Headers(raw=raw)
        if scope["method"] not in SAFE_METHODS and self._cross_site(scope, headers):
            return _plain("Cross-site request refused: this form did not come from this site.", 403)
        lengths = {v.strip() for v in headers.getlist("content-length")}
        if lengths:
            if len(lengths) > 1 or not all(v.isascii() and v.isdigit() for v in lengths):
                return _plain("Invalid Content-Length", 400)
            (length,) = lengths
            limit = self.limits.for_path(scope["path"])
            if len(length) > _MAX_LENGTH_DIGITS or int(length) > limit:
                return _plain(f"Content too large (at most {limit} bytes)", 413)
        return None

    def _cross_site(self, scope: Scope, headers: Headers) -> bool:
        sites = headers.getlist("sec-fetch-site")
        if any(s.strip().lower() not in SAME_ORIGIN_FETCHES for s in sites):
            return True
        # our pages' Referrer-Policy (same-origin) makes browsers send our own origin with our
        # forms: "null" comes from a page elsewhere (no-referrer) or a sandboxed frame
        origins = [o.strip() for o in headers.getlist("origin")]
        if not origins:
            return False
        if any(o.lower() == "null" for o in origins):
            return True
        config = self.auth()
        proxies = config.trusted_proxies if config is not None else ()
        https = is_https(scope, proxies, config.behind_tls if config is not None else False)
        host = headers.get("host", "")
        return not all(same_origin(origin, host, https) for origin in origins)

    async def _limited(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The app, with the body counted against its limit as it streams."""
        limit = self.limits.for_path(scope["path"])
        received = 0
        exceeded = responded = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            if exceeded:
                raise _BodyTooLarge
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal responded
            if exceeded:
                return  # the app's answer to a body it could not read (e.g. a 500): the 413 below
            if message["type"] == "http.response.start":
                responded = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not exceeded or responded:
                raise
        if exceeded and not responded:
            await _plain(f"Content too large (at most {limit} bytes)", 413)(scope, receive, send)


class GuardedStarlette(Starlette):
    """A ``Starlette`` app with :class:`Guard` outside its whole middleware stack."""

    def __init__(
        self, *args: Any, security_headers: Mapping[str, str], limits: BodyLimits, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.security_headers = dict(security_headers)
        self.limits = limits

    def build_middleware_stack(self) -> ASGIApp:
        return Guard(
            super().build_middleware_stack(),
            self.security_headers,
            self.limits,
            lambda: getattr(self.state, "auth", None),
        )
