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
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qs, quote

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import State
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from segcopy_assets.review.users import NAME_PATTERN, User, UsersFile
from segcopy_assets.review.web.proxy import IPNetwork, client_address, is_https, is_trusted, peer
from segcopy_assets.review.web.throttle import LoginThrottle

SESSION_COOKIE = "segcopy_review"
SESSION_SECONDS = 12 * 3600
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PUBLIC_PATHS = frozenset({"/login", "/logout", "/favicon.ico"})
MAX_FORM_BYTES = 64 * 1024
MAX_PASSWORD_CHARS = 1024
NO_STORE = {"Cache-Control": "no-store"}
# argon2 takes 64 MiB per verification: a burst of sign-ins waits instead of taking the memory
_verifications = threading.BoundedSemaphore(4)


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
    # sessions signed out of (id → sign-in time): their cookie is refused until it expires
    ended: dict[str, int] = field(default_factory=dict, repr=False, compare=False)

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


def _tag(config: AuthConfig, password_hash: str) -> str:
    return hmac.new(config.secret.encode(), password_hash.encode(), hashlib.sha256).hexdigest()[:32]


def authenticate(request: Request, config: AuthConfig) -> Identity | None:
    """The signed-in user of this request, or ``None``."""
    if config.header and is_trusted(peer(request.scope), config.trusted_proxies):
        values = request.headers.getlist(config.header)
        name = values[0].strip() if len(values) == 1 else ""
        if name:
            if not NAME_PATTERN.fullmatch(name):
                return None
            known = config.users.get(name) if config.users else None
            return Identity(name, known.role if known else config.header_role, "header")
    if config.users is None or "session" not in request.scope:
        return None
    session = request.session
    signed_in, at, sid = session.get("user"), session.get("at"), session.get("sid")
    if not (isinstance(signed_in, str) and isinstance(at, int) and isinstance(sid, str)):
        return None
    if not 0 <= time.time() - at <= config.session_seconds or sid in config.ended:
        return None
    user = config.users.get(signed_in)
    if user is None or not user.password_hash:
        return None
    if not hmac.compare_digest(str(session.get("tag", "")), _tag(config, user.password_hash)):
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
    (the signed-in user's name: what decisions are recorded under) and ``csrf_token`` (theirs;
    the server's before sign-in, for the login form)."""
    app_state = request.app.state
    state = State(dict(app_state._state))
    who = identity(request)
    config: AuthConfig | None = getattr(app_state, "auth", None)
    state.user = who
    state.reviewer = who.name if who else None
    if config is not None and who is not None:
        state.csrf_token = user_csrf_token(config, who)
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
        request.state.identity = authenticate(request, self.config)
        path: str = scope["path"]
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


# ---------------------------------------------------------------------------------------------
# /login and /logout


async def _read_form(request: Request) -> dict[str, str] | None:
    """The urlencoded form of a POST (empty if it is not one), ``None`` if it is too large."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return None
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        return {}
    parsed = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[0] for k, v in parsed.items()}


def _safe_next(value: str | None) -> str:
    """Where to go after signing in: a path of this site, never another origin."""
    value = value or ""
    if not value.startswith("/") or value.startswith(("//", "/\\")) or "\\" in value:
        return "/queue"
    if any(ord(c) < 0x20 for c in value) or value.startswith("/login"):
        return "/queue"
    return value


def _login_page(
    request: Request,
    status: int = 200,
    error: str = "",
    name: str = "",
    next_url: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    state = request_state(request)
    config: AuthConfig = state.auth
    response = state.render(
        state,
        "login.html",
        status,
        error=error,
        username=name,
        next_url=_safe_next(request.query_params.get("next") if next_url is None else next_url),
        password_login=config.users is not None,
    )
    response.headers.update(headers or {})
    return response


def _verify(users: UsersFile, name: str, password: str) -> User | None:
    with _verifications:
        return users.verify(name, password[:MAX_PASSWORD_CHARS])


async def login_page(request: Request) -> Response:
    if identity(request) is not None:
        return RedirectResponse(_safe_next(request.query_params.get("next")), 303, NO_STORE)
    return _login_page(request)


async def login_endpoint(request: Request) -> Response:
    app_state = request.app.state
    config: AuthConfig = app_state.auth
    form = await _read_form(request)
    if form is None:
        return _login_page(request, 413, "The form is too large.")
    next_url = form.get("next", "")
    if not secrets.compare_digest(form.get("csrf_token", ""), app_state.csrf_token):
        return _login_page(
            request, 403, "This sign-in form is stale or did not come from this page. Try again."
        )
    if config.users is None:
        return _login_page(request, 404, "Sign-in goes through the single sign-on of this site.")
    name, password = form.get("username", "").strip(), form.get("password", "")
    address = client_address(request, config.trusted_proxies)
    throttle: LoginThrottle = app_state.login_throttle
    wait = throttle.begin(name, address)
    if wait > 0:
        minutes = max(1, round(wait / 60))
        text = (
            "Too many failed sign-ins for this user or from this address. "
            f"Try again in about {minutes} minute{'s' if minutes != 1 else ''}."
        )
        return _login_page(request, 429, text, name, next_url, {"Retry-After": str(int(wait) + 1)})
    user = await run_in_threadpool(_verify, config.users, name, password)
    if user is None or user.password_hash is None:
        return _login_page(request, 401, "Wrong user name or password.", name, next_url)
    throttle.succeeded(name, address)
    session = request.session
    session.clear()
    session.update(
        user=user.name,
        sid=secrets.token_urlsafe(16),
        at=int(time.time()),
        tag=_tag(config, user.password_hash),
    )
    return RedirectResponse(_safe_next(form.get("next")), 303, NO_STORE)


async def logout_endpoint(request: Request) -> Response:
    state = request_state(request)
    form = await _read_form(request) or {}
    if state.user is not None and not secrets.compare_digest(
        form.get("csrf_token", ""), state.csrf_token
    ):
        return state.message_page(
            state, "Forbidden", "This sign-out form did not come from this page.", 403
        )
    who = state.user
    if who is not None and who.via == "password":
        config: AuthConfig = state.auth
        now = int(time.time())
        for sid, at in list(config.ended.items()):
            if now - at > config.session_seconds:
                del config.ended[sid]
        config.ended[who.sid] = int(request.session.get("at", now))
    if "session" in request.scope:
        request.session.clear()
    return RedirectResponse("/login", 303, NO_STORE)


def auth_routes() -> list[Route]:
    return [
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login_endpoint, methods=["POST"]),
        Route("/logout", logout_endpoint, methods=["POST"]),
    ]
