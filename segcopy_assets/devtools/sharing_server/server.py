"""Running the Delta Sharing server: the Starlette app, the profile file, ``serve`` and
``running_server``."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .api import SharedTable, _Api
from .errors import ApiError

PREFIX = "/delta-sharing"


def create_app(tables: list[SharedTable], bearer_token: str) -> Starlette:
    """The Delta Sharing REST API under ``/delta-sharing`` plus the signed file route."""
    api = _Api(tables, bearer_token)

    def authed(handler: Callable[[Request], Response]) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            api.authenticate(request)
            request.state.body = await request.body() if request.method == "POST" else b""
            return await run_in_threadpool(handler, request)

        return endpoint

    s, t = PREFIX + "/shares/{share}", PREFIX + "/shares/{share}/schemas/{schema}/tables/{table}"
    routes = [
        Route(PREFIX + "/shares", authed(api.list_shares)),
        Route(s, authed(api.get_share)),
        Route(s + "/schemas", authed(api.list_schemas)),
        Route(s + "/schemas/{schema}/tables", authed(api.list_tables)),
        Route(s + "/all-tables", authed(api.list_all_tables)),
        Route(t + "/version", authed(api.table_version)),  # GET routes also answer HEAD
        Route(t + "/metadata", authed(api.table_metadata)),
        Route(t + "/query", authed(api.query), methods=["POST"]),
        Route(t + "/changes", authed(api.changes)),
        Route(PREFIX + "/files/{idx}/{key}", api.serve_file, name="file"),
    ]

    async def on_api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        headers = {"www-authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse(
            {"errorCode": exc.code, "message": exc.message}, exc.status, headers=headers
        )

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        code = {404: "RESOURCE_DOES_NOT_EXIST", 405: "METHOD_NOT_ALLOWED"}.get(
            exc.status_code, "BAD_REQUEST"
        )
        return JSONResponse({"errorCode": code, "message": str(exc.detail)}, exc.status_code)

    async def on_crash(request: Request, exc: Exception) -> Response:
        return JSONResponse(
            {"errorCode": "INTERNAL_ERROR", "message": "Internal server error."}, 500
        )

    handlers = {ApiError: on_api_error, HTTPException: on_http_error, Exception: on_crash}
    return Starlette(routes=routes, exception_handlers=handlers)


def write_profile(path: str | Path, endpoint: str, bearer_token: str) -> Path:
    """Write a Delta Sharing profile file readable by its owner only (mode 0600)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # also when the file existed with wider permissions
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        profile = {"shareCredentialsVersion": 1, "endpoint": endpoint, "bearerToken": bearer_token}
        json.dump(profile, f, indent=2)
    return path


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


def _endpoint(host: str, port: int) -> str:
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    return f"http://{f'[{host}]' if ':' in host else host}:{port}{PREFIX}"


def _announce(profile_path: str | Path, share: str, schema: str, table: str, endpoint: str) -> None:
    """Say where to point the connector. The token lives in the profile file, never on stdout."""
    print(f"Delta Sharing endpoint: {endpoint}", flush=True)
    print(f"Table URL: {profile_path}#{share}.{schema}.{table}", flush=True)


def serve(
    table_path: str | Path,
    *,
    share: str = "segcopy",
    schema: str = "cdp",
    table: str = "customers",
    host: str = "127.0.0.1",
    port: int = 0,
    token: str | None = None,
    profile_path: str | Path = "segcopy.share",
) -> None:
    """Serve one local Delta table until interrupted; writes the profile once the port is known."""
    token = token or secrets.token_urlsafe(32)
    app = create_app([SharedTable(share, schema, table, Path(table_path))], token)
    sock = _bind(host, port)
    endpoint = _endpoint(host, sock.getsockname()[1])
    write_profile(profile_path, endpoint, token)
    _announce(profile_path, share, schema, table, endpoint)
    # No access log: it would print the presigned file URLs (an hour of read access each).
    uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="info", access_log=False)).run(
        sockets=[sock]
    )


@contextlib.contextmanager
def running_server(tables: list[SharedTable], token: str, host: str = "127.0.0.1") -> Iterator[str]:
    """Run the server in a background thread on a free port; yields the endpoint URL."""
    sock = _bind(host, 0)
    config = uvicorn.Config(
        create_app(tables, token), lifespan="off", log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 15
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("The Delta Sharing server did not start.")
            time.sleep(0.01)
        yield _endpoint(host, sock.getsockname()[1])
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
