"""``segcopy review serve``: the review page (:mod:`segcopy_assets.review.web.app`) on uvicorn.

By default the server listens on 127.0.0.1 only and accepts only Host headers naming this
machine; with nobody configured to sign in, the reviewer is ``--reviewer``, else
``$SEGCOPY_REVIEWER``, else the login name. For a team (:mod:`segcopy_assets.review.web.auth`)
it signs people in from a users file (``--users-file`` / ``$SEGCOPY_REVIEW_USERS_FILE``, or
``$SEGCOPY_HOME/review_users.toml`` if it exists) and/or a trusted proxy's header
(``--auth-header`` with ``--trusted-proxy``); a host other than loopback (``--host 0.0.0.0``)
is refused without one of them. The tables are the ones under ``$SEGCOPY_HOME``
(:meth:`ReviewTables.from_env`).
"""

import errno
import getpass
import ipaddress
import os
import socket
import sys
from typing import Any

import uvicorn

from segcopy_assets.errors import SettingsError
from segcopy_assets.review.service import ReviewTables
from segcopy_assets.review.users import ROLES, UsersFile, loose_permissions, users_path
from segcopy_assets.review.web.app import LOCAL_HOSTS, create_app
from segcopy_assets.review.web.auth import AuthConfig
from segcopy_assets.review.web.proxy import parse_proxies
from segcopy_assets.storage import delta

MIN_SECRET_CHARS = 32


def make_server(
    tables: ReviewTables,
    reviewer: str | None,
    host: str = "127.0.0.1",
    port: int = 8000,
    log_level: str = "warning",
    *,
    auth: AuthConfig | None = None,
    allowed_hosts: list[str] | None = None,
) -> uvicorn.Server:
    """A uvicorn server for the app (``.run()`` blocks; set ``.should_exit`` to stop it)."""
    hosts = allowed_hosts if allowed_hosts is not None else sorted({*LOCAL_HOSTS, host})
    app = create_app(tables, reviewer, allowed_hosts=hosts, auth=auth)
    return uvicorn.Server(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level=log_level,
            access_log=False,
            lifespan="off",
            server_header=False,
            # scope["client"] is the TCP peer: only auth.py believes X-Forwarded-*, and only
            # from a trusted proxy
            proxy_headers=False,
        )
    )


def serve(
    tables: ReviewTables,
    reviewer: str | None,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    auth: AuthConfig | None = None,
    allowed_hosts: list[str] | None = None,
) -> None:
    """Serve the review page until interrupted (Ctrl+C)."""
    shown = f"[{host}]" if ":" in host else host
    if auth is None:
        who = f"reviewing as {reviewer}"
    else:
        ways = [f"users file {auth.users.path}"] if auth.users else []
        if auth.header:
            ways.append(f"header {auth.header} from {', '.join(map(str, auth.trusted_proxies))}")
        who = "sign-in by " + " or ".join(ways)
    sock = bind(host, port)  # before the address is printed: a busy port is the only message
    print(f"segcopy review: http://{shown}:{port}/queue  ({who}; Ctrl+C stops)", flush=True)
    make_server(
        tables, reviewer, host, port, log_level="info", auth=auth, allowed_hosts=allowed_hosts
    ).run(sockets=[sock])


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``; a SettingsError naming the address and --port when
    it cannot be had (in use, not this machine's address, a privileged port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        why = "is in use" if exc.errno == errno.EADDRINUSE else f"cannot be bound ({exc.strerror})"
        raise SettingsError(
            f"{host}:{port} {why}: choose another port with --port (e.g. --port {port + 1})"
        ) from None
    sock.set_inheritable(True)
    return sock


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _option(args: Any, name: str, env: str) -> Any:
    value = getattr(args, name, None)
    return value if value not in (None, [], False) else os.environ.get(env) or None


def auth_from(args: Any) -> AuthConfig | None:
    """The sign-in configured by the flags of ``segcopy review serve`` and the environment,
    ``None`` if there is none (raises SettingsError on an unusable setting)."""
    path, named = users_path(getattr(args, "users_file", None))
    if named and not path.is_file():
        raise SettingsError(
            f"there is no users file at {path}: add users with "
            f"`segcopy review user add NAME --users-file {path}`"
        )
    users = UsersFile(path) if path.is_file() else None
    if users is not None and not users.users() and not named:
        users = None  # an emptied default file: as if there were none
    header = _option(args, "auth_header", "SEGCOPY_REVIEW_AUTH_HEADER")
    proxies_text = _option(args, "trusted_proxy", "SEGCOPY_REVIEW_TRUSTED_PROXIES") or ""
    try:
        proxies = parse_proxies(proxies_text)
    except ValueError as exc:
        raise SettingsError(f"--trusted-proxy / $SEGCOPY_REVIEW_TRUSTED_PROXIES: {exc}") from None
    if header and not proxies:
        raise SettingsError(
            "--auth-header needs --trusted-proxy ADDRESS[,ADDRESS|NETWORK...] "
            "(the reverse proxy that sets it); from any other address the header is ignored"
        )
    role = _option(args, "header_role", "SEGCOPY_REVIEW_HEADER_ROLE") or "reviewer"
    if role not in ROLES:
        raise SettingsError(f"--header-role {role!r} is not one of {', '.join(ROLES)}")
    if users is None and not header:
        return None
    if users is not None and not users.users() and not header:
        raise SettingsError(
            f"the users file {path} has no users (or is not valid): nobody could sign in; "
            "add one with `segcopy review user add NAME`"
        )
    secret = os.environ.get("SEGCOPY_REVIEW_SECRET", "")
    if secret and len(secret) < MIN_SECRET_CHARS:
        raise SettingsError(
            f"$SEGCOPY_REVIEW_SECRET is too short (at least {MIN_SECRET_CHARS} characters; "
            "e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
        )
    behind_tls = bool(getattr(args, "behind_tls", False)) or os.environ.get(
        "SEGCOPY_REVIEW_BEHIND_TLS", ""
    ).strip().lower() in ("1", "true", "yes")
    return AuthConfig(
        users=users,
        header=header,
        trusted_proxies=proxies,
        header_role=role,
        behind_tls=behind_tls,
        secret=secret,
    )


def allowed_hosts_for(args: Any, host: str) -> list[str] | None:
    """The Host names to accept: loopback names, the bound host (unless 0.0.0.0 / ::) and every
    ``--allowed-host`` / ``$SEGCOPY_REVIEW_ALLOWED_HOSTS``; ``None``: the default of today."""
    extra = [*(getattr(args, "allowed_host", None) or [])]
    extra += [h for h in os.environ.get("SEGCOPY_REVIEW_ALLOWED_HOSTS", "").split(",")]
    extra = [h.strip().lower() for h in extra if h.strip()]
    for name in extra:
        if name == "*" or "*" in name[1:] or (name.startswith("*") and not name.startswith("*.")):
            raise SettingsError(
                f"--allowed-host {name!r}: give a host name (no port), or *.example.com"
            )
    if not extra and is_loopback(host):
        return None
    bound = [] if host in ("0.0.0.0", "::", "[::]") else [host]
    return sorted({*LOCAL_HOSTS, *bound, *extra})


def cmd_review_serve(args: Any) -> int:
    """``segcopy review serve [--host H] [--port N] [--reviewer NAME] [sign-in options]``."""
    host = getattr(args, "host", None) or "127.0.0.1"
    try:
        auth = auth_from(args)
        hosts = allowed_hosts_for(args, host)
    except SettingsError as exc:
        print(f"segcopy review: {exc}", file=sys.stderr)
        return 1
    if auth is None and not is_loopback(host):
        print(
            f"segcopy review: refusing to serve on {host} without sign-in: anyone who can reach "
            "it could decide. Add users (`segcopy review user add NAME`, then --users-file if "
            "not the default) or use --auth-header with --trusted-proxy behind an "
            "authenticating proxy; or serve on 127.0.0.1.",
            file=sys.stderr,
        )
        return 1
    if auth is not None and auth.users is not None:
        auth.users.prepare()
        if loose_permissions(auth.users.path):
            print(
                f"segcopy review: warning: {auth.users.path} is readable by others (chmod 600 it)",
                file=sys.stderr,
            )
    tables = ReviewTables.from_env()
    if not delta.table_exists(tables.variants):
        print(
            "segcopy review: no description_variants yet: run `segcopy run` first", file=sys.stderr
        )
        return 1
    if not is_loopback(host) and hosts == sorted({*LOCAL_HOSTS}):
        print(
            "segcopy review: only loopback Host names are accepted: add the name people use "
            "with --allowed-host (e.g. --allowed-host review.example.com)",
            file=sys.stderr,
        )
    try:
        if auth is None:
            reviewer = (
                getattr(args, "reviewer", None)
                or os.environ.get("SEGCOPY_REVIEWER")
                or getpass.getuser()
            )
            if hosts is None:
                serve(tables, reviewer, host=host, port=args.port)
            else:
                serve(tables, reviewer, host=host, port=args.port, allowed_hosts=hosts)
            return 0
        if getattr(args, "reviewer", None):
            print(
                "segcopy review: --reviewer is ignored with sign-in: decisions carry the "
                "signed-in user's name",
                file=sys.stderr,
            )
        serve(tables, None, host=host, port=args.port, auth=auth, allowed_hosts=hosts)
    except SettingsError as exc:
        print(f"segcopy review: {exc}", file=sys.stderr)
        return 1
    return 0
