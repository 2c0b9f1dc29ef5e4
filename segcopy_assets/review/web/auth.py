"""Sign-in for the review page, so a team can use one server (``segcopy review serve`` with a
users file or behind an authenticating proxy).

Who a request is (:func:`authenticate`) comes from one of two places:

- a signed session cookie set by ``POST /login`` after the password matched the users file
  (:mod:`segcopy_assets.review.users`); the cookie holds the user name, a random session id,
  the sign-in time and a keyed tag of the password hash, so it ends after ``session_seconds``,
  when the user is removed, or when their password changes. The user's role is read from the
  users file on every request;
- a header set by an authenticating reverse proxy (``X-Forwarded-User`` of oauth2-proxy),
  honoured only when the request's peer address is one of ``trusted_proxies``.

:class:`AuthMiddleware` runs before every route: a page asked for without a signed-in user
redirects to ``/login`` (``/static/`` stays public), any other method answers 401, and a viewer's
state-changing request answers 403 whichever endpoint it is for, so an endpoint added later is
closed to viewers even if it forgets :func:`require_reviewer` (which every POST endpoint should
still call, or be decorated with :func:`reviewer_only`, to say so). :func:`request_state` is
``app.state`` as one request sees it: ``reviewer`` is the signed-in user, ``csrf_token`` their own
token (an HMAC of the server secret, the user and the session id).

Without an :class:`AuthConfig` (127.0.0.1, nobody configured) nothing here applies: the single
local user is the reviewer given to ``create_app`` and the CSRF token is the server's.
"""

import functools
import hashlib
import hmac
import secrets
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote

from starlette.datastructures import State
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from segcopy_assets.core.user_names import normalise_name
from segcopy_assets.review.users import (
    NAME_PATTERN,
    UsersFile,
    UsersFileInvalid,
)
from segcopy_assets.review.web.proxy import IPNetwork, client_address, is_https, is_trusted, peer
from segcopy_assets.storage.auth_events import EventLog, MemoryEventLog

SESSION_COOKIE = "segcopy_review"
SESSION_SECONDS = 12 * 3600
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PUBLIC_PATHS = frozenset({"/login", "/logout", "/favicon.ico"})
MAX_FORM_BYTES = 64 * 1024
NO_STORE = {"Cache-Control": "no-store"}


@dataclass(frozen=True)
class AuthConfig:
    """How the review page signs people in (at least one of ``users`` and ``header``)."""

    users: UsersFile | None = None
    header: str | None = None
    trusted_proxies: tuple[IPNetwork, ...] = ()
    header_role: str = "reviewer"
    behind_tls: bool = False
    secret: str = field(default="", repr=False)
    session_seconds: int = SESSION_SECONDS
    # sign-outs (and the login throttle's events), shared by every review process: the
    # warehouse's review_auth_events table (create_app sets it), or this process's memory
    events: EventLog = field(default_factory=MemoryEventLog, repr=False, compare=False)
    shared: bool = False  # events is the warehouse's table (else create_app makes it so)

    def __post_init__(self) -> None:
        if self.users is None and not self.header:
            raise ValueError("sign-in needs a users file or a trusted header")
        if self.header and not self.trusted_proxies:
            raise ValueError("a trusted header needs the addresses of the trusted proxies")

    def with_secret(self) -> "AuthConfig":
        """This config with a secret: the given one, else a random one for this process only."""
        return self if self.secret else replace(self, secret=secrets.token_urlsafe(32))


@dataclass(frozen=True)
class Identity:
    name: str
    role: str
    via: str  # "password", "header" or "local" (no sign-in: 127.0.0.1, single user)
    sid: str = field(default="", repr=False)

    @property
    def session_hash(self) -> str | None:
        """What the audit trail records of the session (never the id itself)."""
        return session_hash(self.sid) if self.sid else None


def same_token(given: object, expected: str) -> bool:
    """Constant-time comparison of a token from a request (any text, or not text at all) with
    ours: compared as bytes, so a non-ASCII value is a mismatch, never an error (a 500)."""
    if not isinstance(given, str):
        return False
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))


def session_hash(sid: str) -> str:
    return hashlib.sha256(f"segcopy-session\0{sid}".encode()).hexdigest()[:32]


def signed_out(config: AuthConfig, sid: str, now: float | None = None) -> bool:
    """Whether the session was signed out of, in this or any other review process."""
    now = time.time() if now is None else now
    digest = session_hash(sid)
    return any(
        e.kind == "signout" and e.ref == digest and e.until >= now
        for e in config.events.recent(now - config.session_seconds)
    )


def _tag(config: AuthConfig, password_hash: str) -> str:
    return hmac.new(config.secret.encode(), password_hash.encode(), hashlib.sha256).hexdigest()[:32]


def authenticate(request: Request, config: AuthConfig) -> Identity | None:
    """The signed-in user of this request, or ``None``."""
    if config.header and is_trusted(peer(request.scope), config.trusted_proxies):
        values = request.headers.getlist(config.header)
        raw = values[0].strip() if len(values) == 1 else ""
        if raw:
            if not NAME_PATTERN.fullmatch(raw):
                return None
            name = normalise_name(raw)
            # an invalid users file raises (503), never gives the header's default role
            known = config.users.get(name) if config.users else None
            return Identity(name, known.role if known else config.header_role, "header")
    if config.users is None or "session" not in request.scope:
        return None
    session = request.session
    signed_in, at, sid = session.get("user"), session.get("at"), session.get("sid")
    if not (isinstance(signed_in, str) and isinstance(at, int) and isinstance(sid, str)):
        return None
    if not 0 <= time.time() - at <= config.session_seconds or signed_out(config, sid):
        return None
    user = config.users.get(signed_in)
    if user is None or not user.password_hash:
        return None
    if not same_token(session.get("tag", ""), _tag(config, user.password_hash)):
        return None  # the password changed since this sign-in
    return Identity(user.name, user.role, "password", sid)


def identity(request: Request) -> Identity | None:
    """Who is signed in (set by :class:`AuthMiddleware`)."""
    config: AuthConfig | None = getattr(request.app.state, "auth", None)
    if config is None:
        return Identity(request.app.state.reviewer, "reviewer", "local")
    if "identity" not in request.scope.get("state", {}):
        request.state.identity = authenticate(request, config)
    return request.state.identity


def user_csrf_token(config: AuthConfig, who: Identity) -> str:
    msg = f"csrf\0{who.via}\0{who.name}\0{who.sid}".encode()
    return hmac.new(config.secret.encode(), msg, hashlib.sha256).hexdigest()


def request_state(request: Request) -> State:
    """``app.state`` for this request: ``user`` (an :class:`Identity` or ``None``), ``reviewer``
    (the signed-in user's name: what decisions are recorded under), ``csrf_token`` (theirs; the
    server's before sign-in) and ``audit`` (how and from where: what a decision row records)."""
    app_state = request.app.state
    state = State(dict(app_state._state))
    who = identity(request)
    config: AuthConfig | None = getattr(app_state, "auth", None)
    state.user = who
    state.reviewer = who.name if who else None
    if config is not None and who is not None:
        state.csrf_token = user_csrf_token(config, who)
    proxies = config.trusted_proxies if config is not None else ()
    state.audit = {
        "via": who.via if who else "local",
        "client_address": client_address(request, proxies) or None,
        "session_hash": who.session_hash if who else None,
    }
    return state


def require_reviewer(request: Request) -> Response | None:
    """``None`` if this request may change state (a signed-in reviewer, or the single local
    user); else the 401 or 403 page to answer. Call it first in every POST endpoint::

        if (denied := require_reviewer(request)) is not None:
            return denied
    """
    who = identity(request)
    if who is None:
        state = request_state(request)
        return state.message_page(
            state,
            "Sign in first",
            "You are not signed in (or your session ended).",
            401,
            "/login",
            "Sign in",
        )
    if who.role != "reviewer":
        state = request_state(request)
        return state.message_page(
            state,
            "Forbidden",
            f"{who.name} is a viewer: viewers can read every page but not decide.",
            403,
        )
    return None


def reviewer_only(
    endpoint: Callable[[Request], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    """Decorator form of :func:`require_reviewer` for an endpoint."""

    @functools.wraps(endpoint)
    async def guarded(request: Request) -> Response:
        denied = require_reviewer(request)
        return denied if denied is not None else await endpoint(request)

    return guarded


# ---------------------------------------------------------------------------------------------
# middleware


class AuthMiddleware:
    """Pages need a signed-in user; state changes need a reviewer (see the module docstring)."""

    def __init__(self, app: ASGIApp, config: AuthConfig) -> None:
        self.app = app
        self.config = config

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        path: str = scope["path"]
        try:
            if self.config.users is not None:
                self.config.users.users()  # fails closed on an invalid file, for everyone
            request.state.identity = authenticate(request, self.config)
        except UsersFileInvalid as exc:
            if path.startswith("/static/"):
                await self.app(scope, receive, send)
            else:
                await _unavailable(request, exc)(scope, receive, send)
            return
        response: Response | None = None
        if path in PUBLIC_PATHS or path.startswith("/static/"):
            pass
        elif request.state.identity is None and scope["method"] in ("GET", "HEAD"):
            target = path + (
                "?" + scope["query_string"].decode("latin-1") if scope["query_string"] else ""
            )
            response = RedirectResponse(f"/login?next={quote(target, safe='')}", 303, NO_STORE)
        elif request.state.identity is None or scope["method"] not in SAFE_METHODS:
            response = require_reviewer(request)
        if response is None:
            await self.app(scope, receive, send)
        else:
            await response(scope, receive, send)


_reported: set[str] = set()


def _unavailable(request: Request, exc: UsersFileInvalid) -> Response:
    """503 while the users file is invalid: nobody is signed in or out, nothing is decided.
    The reason (file and line) goes to the server's log, not to the visitor."""
    reason = str(exc)
    if reason not in _reported:
        _reported.add(reason)
        print(f"segcopy review: {reason}; answering 503 until it is fixed", file=sys.stderr)
    state = State(dict(request.app.state._state))
    state.user = state.reviewer = None
    state.audit = {}
    return state.message_page(
        state,
        "Sign-in unavailable",
        "The review page's users file is not valid, so nobody can be signed in. Whoever runs "
        "this server must fix it (its log names the line); the page comes back on its own.",
        503,
        "/queue",
        "Try again",
    )


class SessionCookies:
    """Starlette's signed-cookie sessions, with the Secure flag when the browser used HTTPS."""

    def __init__(self, app: ASGIApp, config: AuthConfig) -> None:
        options: dict[str, Any] = {
            "secret_key": config.secret,
            "session_cookie": SESSION_COOKIE,
            "max_age": config.session_seconds,
            "same_site": "lax",
        }
        self.config = config
        self.plain = SessionMiddleware(app, https_only=False, **options)
        self.secure = SessionMiddleware(app, https_only=True, **options)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        https = scope["type"] == "http" and is_https(
            scope, self.config.trusted_proxies, self.config.behind_tls
        )
        await (self.secure if https else self.plain)(scope, receive, send)


def auth_middleware(config: AuthConfig | None) -> list[Middleware]:
    """The middleware of sign-in (none without a config); after the Host check."""
    if config is None:
        return []
    return [Middleware(SessionCookies, config=config), Middleware(AuthMiddleware, config=config)]


def auth_routes() -> list[Route]:
    """``GET``/``POST /login`` and ``POST /logout`` (:mod:`segcopy_assets.review.web.login`)."""
    from segcopy_assets.review.web.login import routes

    return routes()
