"""The review page's ``/login`` and ``/logout`` (sign-in itself is :mod:`auth`).

The login form carries a CSRF token of its own visitor: a keyed hash of a random value kept in
their signed session cookie (made on their first visit), so a form posted from another site,
which has neither that cookie (SameSite=Lax) nor a matching token, cannot sign a victim in as
the attacker's account. Attempts go through the login throttle, shared by every review process
(``throttle.py``); a sign-out is recorded in the shared event log, so the cookie is refused by
every process and after a restart.
"""

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Mapping
from urllib.parse import parse_qs

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from segcopy_assets.core.user_names import normalise_name
from segcopy_assets.review.users import MAX_PASSWORD_LENGTH, User, UsersFile
from segcopy_assets.review.web.auth import (
    MAX_FORM_BYTES,
    NO_STORE,
    AuthConfig,
    _tag,
    identity,
    request_state,
    same_token,
    session_hash,
)
from segcopy_assets.review.web.proxy import client_address
from segcopy_assets.review.web.throttle import LoginThrottle
from segcopy_assets.storage.auth_events import AuthEvent

LOGIN_NONCE = "login_nonce"  # the visitor's pre-session value the login form's token signs
# argon2 takes 64 MiB per verification: a burst of sign-ins waits instead of taking the memory
_verifications = threading.BoundedSemaphore(4)


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


def _login_token(config: AuthConfig, request: Request) -> str:
    """The login form's CSRF token for this visitor: a keyed hash of a random value kept in
    their (signed) session cookie, made on their first visit. A form posted from another site
    has neither the cookie (SameSite=Lax) nor a token that matches it."""
    session = request.session
    nonce = session.get(LOGIN_NONCE)
    if not isinstance(nonce, str) or len(nonce) < 16:
        nonce = secrets.token_urlsafe(24)
        session[LOGIN_NONCE] = nonce
    msg = f"login\0{nonce}".encode()
    return hmac.new(config.secret.encode(), msg, hashlib.sha256).hexdigest()


def _login_token_ok(config: AuthConfig, request: Request, token: str) -> bool:
    nonce = request.session.get(LOGIN_NONCE)
    if not isinstance(nonce, str) or len(nonce) < 16:
        return False
    msg = f"login\0{nonce}".encode()
    expected = hmac.new(config.secret.encode(), msg, hashlib.sha256).hexdigest()
    return same_token(token, expected)


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
        csrf_token=_login_token(config, request),
    )
    response.headers.update(headers or {})
    return response


def _verify(users: UsersFile, name: str, password: str) -> User | None:
    """The user if the password is theirs; a password over the one length limit never is
    (``user add`` refuses it too)."""
    with _verifications:
        if len(password) > MAX_PASSWORD_LENGTH:
            return None
        return users.verify(name, password)


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
    if not _login_token_ok(config, request, form.get("csrf_token", "")):
        return _login_page(
            request, 403, "This sign-in form is stale or did not come from this page. Try again."
        )
    if config.users is None:
        return _login_page(request, 404, "Sign-in goes through the single sign-on of this site.")
    name, password = normalise_name(form.get("username", "")), form.get("password", "")
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
    if state.user is not None and not same_token(form.get("csrf_token", ""), state.csrf_token):
        return state.message_page(
            state, "Forbidden", "This sign-out form did not come from this page.", 403
        )
    who = state.user
    if who is not None and who.via == "password":
        # recorded in the shared log: refused by every review process, also after a restart
        config: AuthConfig = state.auth
        signed_in_at = int(request.session.get("at", time.time()))
        config.events.append(
            AuthEvent(
                "signout",
                secrets.token_hex(8),
                who.name,
                client_address(request, config.trusted_proxies),
                session_hash(who.sid),
                time.time(),
                signed_in_at + config.session_seconds,
            )
        )
    if "session" in request.scope:
        request.session.clear()
    return RedirectResponse("/login", 303, NO_STORE)


def routes() -> list[Route]:
    return [
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login_endpoint, methods=["POST"]),
        Route("/logout", logout_endpoint, methods=["POST"]),
    ]
