"""A small Delta Sharing server for local Delta tables.

segcopy reads CDP segments through the official ``delta-sharing`` connector. The reference server
(Scala) is not installable here, so this module implements the protocol (delta-io/delta-sharing
PROTOCOL.md) over local Delta tables with Starlette + uvicorn: enough for every public call of
connector 1.4.2 (listing, table version, metadata, ``load_as_pandas`` in parquet and
``responseformat=delta``, time travel, ``limit``, and change data feed on CDF-enabled tables).
It backs the tests, the benchmarks and local demos.

- Snapshots are rebuilt by replaying ``_delta_log`` (JSON commits after the newest complete
  classic checkpoint), so per-file ``stats`` are exactly what the writer recorded. Not supported:
  v2/sidecar checkpoints, deletion vectors, column mapping (parquet-format requests on such tables
  answer 400), ``predicateHints``/``jsonPredicateHints`` (ignored; they are only hints).
- Data files are served by the same app under URLs it signs itself: HMAC over file and expiry in
  ``X-Amz-Signature``, absolute expiry (epoch seconds) in ``X-Amz-Expires`` (the delta-kernel reader
  fetches http URLs only when they look presigned). That route takes no bearer token but checks the
  signature, and serves only files inside the shared table's directory.
- Client mistakes answer 4xx JSON errors (the connector retries 5xx for ~100 s). The bearer token is
  never logged, printed or echoed.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import hmac
import json
import os
import re
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

PREFIX = "/delta-sharing"
URL_TTL_SECONDS = 3600
_COMMIT_RE = re.compile(r"^(\d{20})\.json$")
_CHECKPOINT_RE = re.compile(r"^(\d{20})\.checkpoint(?:\.\d{10}\.(\d{10}))?\.parquet$")
_MAP_FIELDS = {"partitionValues", "tags", "options", "configuration"}


@dataclass(frozen=True)
class SharedTable:
    share: str
    schema: str
    name: str
    path: str | Path  # local Delta table directory (the one holding _delta_log)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _bad(message: str) -> ApiError:
    return ApiError(400, "INVALID_PARAMETER_VALUE", message)


def _missing(message: str) -> ApiError:
    return ApiError(404, "RESOURCE_DOES_NOT_EXIST", message)


def _clean(obj: Any) -> Any:
    """Drop null struct fields; map fields (pyarrow gives lists of pairs) become dicts, nulls kept."""
    if isinstance(obj, dict):
        return {
            k: dict(v) if k in _MAP_FIELDS else _clean(v) for k, v in obj.items() if v is not None
        }
    return obj


@functools.lru_cache(maxsize=8192)
def _read_commit(path: str, mtime_ns: int) -> tuple[dict, ...]:
    with open(path, encoding="utf-8") as f:
        return tuple(_clean(json.loads(line)) for line in f if line.strip())


@functools.lru_cache(maxsize=4)
def _read_checkpoint(paths: tuple[str, ...]) -> tuple[dict, ...]:
    import pyarrow.parquet as pq

    cols = ["protocol", "metaData", "add"]
    rows = (row for p in paths for row in pq.read_table(p, columns=cols).to_pylist())
    return tuple({k: _clean(row[k])} for row in rows for k in cols if row[k] is not None)


@dataclass
class Snapshot:
    version: int
    protocol: dict
    metadata: dict
    files: dict[str, dict]  # add actions by their (percent-encoded) log path


class DeltaLog:
    """Read-only view of one table's ``_delta_log``."""

    def __init__(self, root: Path):
        self.root, self.log_dir = root, root / "_delta_log"

    def listing(self) -> tuple[dict[int, Path], dict[int, list[Path]]]:
        try:
            names = os.listdir(self.log_dir)
        except (FileNotFoundError, NotADirectoryError):
            names = []
        commits: dict[int, Path] = {}
        parts: dict[int, list[tuple[Path, int]]] = {}
        for name in names:
            if m := _COMMIT_RE.match(name):
                commits[int(m.group(1))] = self.log_dir / name
            elif m := _CHECKPOINT_RE.match(name):
                parts.setdefault(int(m.group(1)), []).append(
                    (self.log_dir / name, int(m.group(2) or 1))
                )
        checkpoints = {
            v: sorted(p for p, _ in ps) for v, ps in parts.items() if len(ps) == ps[0][1]
        }
        if not commits and not checkpoints:
            raise _missing("The table has no data yet.")
        return commits, checkpoints

    def latest_version(self) -> int:
        commits, checkpoints = self.listing()
        return max([*commits, *checkpoints])

    def commit(self, version: int) -> tuple[dict, ...]:
        path = self.log_dir / f"{version:020d}.json"
        try:
            return _read_commit(str(path), path.stat().st_mtime_ns)  # commits are immutable
        except FileNotFoundError:
            raise _bad(f"Version {version} is no longer available in the table history.") from None

    def timestamps(self) -> dict[int, int]:
        """Commit times in ms: ``inCommitTimestamp`` if recorded, else the commit file's mtime."""
        out = {}
        for v, path in self.listing()[0].items():
            info = next((a["commitInfo"] for a in self.commit(v) if "commitInfo" in a), {})
            out[v] = int(info.get("inCommitTimestamp") or path.stat().st_mtime_ns // 1_000_000)
        return out

    def version_at(self, ms: int, *, at_or_after: bool) -> int:
        stamps = self.timestamps().items()
        if at_or_after:  # earliest version committed at or after ms
            found = [v for v, t in stamps if t >= ms]
            if not found:
                raise _bad("The timestamp is after the latest table version.")
            return min(found)
        found = [v for v, t in stamps if t <= ms]  # the version current at ms
        if not found:
            raise _bad("The timestamp is before the earliest available table version.")
        return max(found)

    def snapshot(self, version: int | None = None) -> Snapshot:
        commits, checkpoints = self.listing()
        latest = max([*commits, *checkpoints])
        version = latest if version is None else version
        if version > latest:
            raise _bad(f"Version {version} does not exist (latest is {latest}).")
        cp = max((c for c in checkpoints if c <= version), default=None)
        if cp is not None and all(v in commits for v in range(cp + 1, version + 1)):
            actions, start = list(_read_checkpoint(tuple(map(str, checkpoints[cp])))), cp + 1
        else:
            actions, start = [], 0
        for v in range(start, version + 1):
            actions.extend(self.commit(v))
        snap = Snapshot(version, {}, {}, {})
        for action in actions:
            if "protocol" in action:
                snap.protocol = action["protocol"]
            elif "metaData" in action:
                snap.metadata = action["metaData"]
            elif "add" in action:
                snap.files[action["add"]["path"]] = action["add"]
            elif "remove" in action:
                snap.files.pop(action["remove"]["path"], None)
        return snap


def _parse_timestamp(value: Any) -> int:
    """``yyyy-[m]m-[d]d hh:mm:ss[.f]`` (server local time, as the protocol says) or ISO 8601 -> ms."""
    text = value.strip().replace("Z", "+00:00") if isinstance(value, str) else ""
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        m = re.fullmatch(
            r"(\d{4})-(\d\d?)-(\d\d?)[ T](\d\d?):(\d\d):(\d\d)(?:\.(\d{1,6})\d*)?", text
        )
        try:
            *fields, frac = m.groups()  # type: ignore[union-attr]
            dt = datetime(*map(int, fields), int((frac or "0").ljust(6, "0")))
        except (AttributeError, ValueError):
            raise _bad(f"Invalid timestamp {value!r}: expected yyyy-mm-dd hh:mm:ss[.f].") from None
    return int(dt.astimezone().timestamp() * 1000)  # naive -> local time zone


def _int_param(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, str) and re.fullmatch(r"\d{1,18}", value.strip()):
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise _bad(f"{name} must be a non-negative integer.")


def _offers_delta(request: Request) -> bool:
    for part in request.headers.get("delta-sharing-capabilities", "").split(";"):
        key, _, value = part.partition("=")
        if key.strip().lower() == "responseformat":
            return "delta" in {v.strip().lower() for v in value.split(",")}
    return False


def _stable_id(name: str) -> str:
    h = hashlib.sha256(name.encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def _ndjson(lines: list[dict], version: int, delta: bool) -> Response:
    headers = {
        "content-type": "application/x-ndjson; charset=utf-8",
        "delta-table-version": str(version),
    }
    if delta:
        headers["delta-sharing-capabilities"] = "responseformat=delta"
    return Response(
        "".join(json.dumps(x, separators=(",", ":")) + "\n" for x in lines), headers=headers
    )


def _header_lines(snap: Snapshot, delta: bool, **extra: Any) -> list[dict]:
    """The protocol and metaData lines that start metadata, query and changes responses."""
    extra.update(size=sum(a.get("size", 0) for a in snap.files.values()), numFiles=len(snap.files))
    if delta:
        return [
            {"protocol": {"deltaProtocol": snap.protocol}},
            {"metaData": {"deltaMetadata": snap.metadata, **extra}},
        ]
    proto = snap.protocol
    implied = ["columnMapping"] if proto.get("minReaderVersion", 1) > 1 else []
    features = set(proto.get("readerFeatures") or implied)
    if features - {"timestampNtz"}:
        raise _bad(
            f"This table needs reader features {sorted(features)}: ask for responseformat=delta."
        )
    keep = (
        "id",
        "name",
        "description",
        "format",
        "schemaString",
        "partitionColumns",
        "configuration",
    )
    meta = {k: snap.metadata[k] for k in keep if k in snap.metadata}
    return [{"protocol": {"minReaderVersion": 1}}, {"metaData": {**meta, **extra}}]


class _Api:
    def __init__(self, tables: list[SharedTable], bearer_token: str):
        if not bearer_token:
            raise ValueError("bearer_token must not be empty")
        self.tables = list(tables)
        self.logs = [DeltaLog(Path(t.path).resolve()) for t in self.tables]
        self._token = bearer_token.encode()
        self._key = secrets.token_bytes(32)  # signs file URLs for the lifetime of the app

    def authenticate(self, request: Request) -> None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if not (
            scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), self._token)
        ):
            raise ApiError(401, "UNAUTHENTICATED", "Missing or invalid bearer token.")

    def _find(self, share: str, schema: str | None = None, table: str | None = None) -> list[int]:
        found = list(range(len(self.tables)))
        for what, attr, name in (
            ("share", "share", share),
            ("schema", "schema", schema),
            ("table", "name", table),
        ):
            if name is not None:
                found = [i for i in found if getattr(self.tables[i], attr).lower() == name.lower()]
                if not found:
                    raise _missing(f"The {what} {name!r} does not exist.")
        return found

    def _table(self, request: Request) -> int:
        p = request.path_params
        return self._find(p["share"], p["schema"], p["table"])[0]

    def _sign(self, idx: int, key: str, expires: str) -> str:
        return hmac.new(self._key, f"{idx}/{key}\n{expires}".encode(), hashlib.sha256).hexdigest()

    def _file_line(
        self,
        request: Request,
        idx: int,
        kind: str,
        action: dict,
        delta: bool,
        extra: dict,
        cdf: bool = False,
    ) -> dict:
        """One file line; ``kind`` is the log action (add/remove/cdc), ``cdf`` for /changes answers."""
        key = base64.urlsafe_b64encode(unquote(action["path"]).encode()).decode().rstrip("=")
        expires = str(int(time.time()) + URL_TTL_SECONDS)
        url = (
            f"{request.url_for('file', idx=str(idx), key=key)}?X-Amz-Expires={expires}"
            f"&X-Amz-Signature={self._sign(idx, key, expires)}"
        )
        size = action.get("size")
        if size is None:  # optional in remove actions
            size = (self.logs[idx].root / unquote(action["path"])).stat().st_size
        common = {
            "id": hashlib.sha256(action["path"].encode()).hexdigest()[:32],
            "size": size,
            "expirationTimestamp": int(expires) * 1000,
            **extra,
        }
        if delta:
            return {"file": {**common, "deltaSingleAction": {kind: {**action, "path": url}}}}
        body = {"url": url, "partitionValues": action.get("partitionValues", {}), **common}
        if "stats" in action and kind == "add":
            body["stats"] = action["stats"]
        return {("cdf" if kind == "cdc" else kind) if cdf else "file": body}

    # ---- endpoints (run in the thread pool; POST bodies arrive in request.state.body) ----------
    def _page(self, request: Request, items: list[dict]) -> Response:
        q = request.query_params
        start = _int_param(q.get("pageToken") or None, "pageToken") or 0
        size = _int_param(q.get("maxResults"), "maxResults")
        end = len(items) if size is None else start + size
        body: dict[str, Any] = {"items": items[start:end]}
        if end < len(items):
            body["nextPageToken"] = str(end)
        return JSONResponse(body)

    def _table_items(self, idx: list[int]) -> list[dict]:
        return [
            {
                "name": t.name,
                "schema": t.schema,
                "share": t.share,
                "shareId": _stable_id(t.share),
                "id": _stable_id(f"{t.share}.{t.schema}.{t.name}"),
            }
            for t in (self.tables[i] for i in idx)
        ]

    def list_shares(self, request: Request) -> Response:
        names = dict.fromkeys(t.share for t in self.tables)
        return self._page(request, [{"name": n, "id": _stable_id(n)} for n in names])

    def get_share(self, request: Request) -> Response:
        share = self.tables[self._find(request.path_params["share"])[0]].share
        return JSONResponse({"share": {"name": share, "id": _stable_id(share)}})

    def list_schemas(self, request: Request) -> Response:
        idx = self._find(request.path_params["share"])
        names = dict.fromkeys(self.tables[i].schema for i in idx)
        return self._page(request, [{"name": n, "share": self.tables[idx[0]].share} for n in names])

    def list_tables(self, request: Request) -> Response:
        p = request.path_params
        return self._page(request, self._table_items(self._find(p["share"], p["schema"])))

    def list_all_tables(self, request: Request) -> Response:
        return self._page(request, self._table_items(self._find(request.path_params["share"])))

    def table_version(self, request: Request) -> Response:
        log, ts = self.logs[self._table(request)], request.query_params.get("startingTimestamp")
        if ts is None:
            version = log.latest_version()
        else:
            version = log.version_at(_parse_timestamp(ts), at_or_after=True)
        return Response(headers={"delta-table-version": str(version)})

    def table_metadata(self, request: Request) -> Response:
        snap, delta = self.logs[self._table(request)].snapshot(), _offers_delta(request)
        return _ndjson(_header_lines(snap, delta), snap.version, delta)

    def query(self, request: Request) -> Response:
        idx, delta = self._table(request), _offers_delta(request)
        try:
            params = json.loads(request.state.body) if request.state.body.strip() else {}
        except ValueError:
            params = None
        if not isinstance(params, dict):
            raise _bad("The request body must be a JSON object.")
        version = _int_param(params.get("version"), "version")
        limit = _int_param(params.get("limitHint"), "limitHint")
        if params.get("startingVersion") is not None:
            raise _bad("startingVersion is not supported here: use the /changes API.")
        if version is not None and params.get("timestamp") is not None:
            raise _bad("Pass either version or timestamp, not both.")
        log = self.logs[idx]
        if params.get("timestamp") is not None:
            version = log.version_at(_parse_timestamp(params["timestamp"]), at_or_after=False)
        snap = log.snapshot(version)
        extra: dict[str, Any] = {}
        if version is not None:  # time travel: tell which version the files belong to
            extra = {"version": version, "timestamp": log.timestamps().get(version)}
            extra = {k: v for k, v in extra.items() if v is not None}
        lines = _header_lines(snap, delta, **({"version": version} if version is not None else {}))
        rows = 0
        for path in sorted(snap.files):
            if limit is not None and rows >= limit:
                break
            add = snap.files[path]
            with contextlib.suppress(ValueError, TypeError, AttributeError):
                rows += int(json.loads(add.get("stats") or "{}").get("numRecords", 0))
            lines.append(self._file_line(request, idx, "add", add, delta, extra))
        return _ndjson(lines, snap.version, delta)

    def changes(self, request: Request) -> Response:
        idx, q, delta = self._table(request), request.query_params, _offers_delta(request)
        log = self.logs[idx]
        start = _int_param(q.get("startingVersion"), "startingVersion")
        end = _int_param(q.get("endingVersion"), "endingVersion")
        if (start is None) == (q.get("startingTimestamp") is None):
            raise _bad("Pass exactly one of startingVersion or startingTimestamp.")
        if end is not None and q.get("endingTimestamp") is not None:
            raise _bad("Pass at most one of endingVersion or endingTimestamp.")
        if start is None:
            start = log.version_at(_parse_timestamp(q["startingTimestamp"]), at_or_after=True)
        if q.get("endingTimestamp") is not None:
            end = log.version_at(_parse_timestamp(q["endingTimestamp"]), at_or_after=False)
        latest = log.latest_version()
        end = latest if end is None else min(end, latest)
        if start > end:
            raise _bad(f"The starting version {start} is after the ending version {end}.")
        snap, stamps = log.snapshot(start), log.timestamps()
        if (
            str(snap.metadata.get("configuration", {}).get("delta.enableChangeDataFeed")).lower()
            != "true"
        ):
            raise _bad(
                "Change data feed is not enabled on this table (delta.enableChangeDataFeed)."
            )
        lines = _header_lines(snap, delta, version=start)
        for version in range(start, end + 1):
            actions, extra = (
                log.commit(version),
                {"version": version, "timestamp": stamps.get(version)},
            )
            if delta and version > start:
                lines += [
                    {"metaData": {"deltaMetadata": a["metaData"], "version": version}}
                    for a in actions
                    if "metaData" in a
                ]
            has_cdc = any(
                "cdc" in a for a in actions
            )  # cdc files, when present, replace add/remove
            for a in actions:
                kind = next((k for k in ("cdc", "add", "remove") if k in a), None)
                if kind and (kind == "cdc" or (not has_cdc and a[kind].get("dataChange", True))):
                    lines.append(
                        self._file_line(request, idx, kind, a[kind], delta, extra, cdf=True)
                    )
        return _ndjson(lines, start, delta)

    async def serve_file(self, request: Request) -> Response:
        q, p = request.query_params, request.path_params
        expires, signature = q.get("X-Amz-Expires", ""), q.get("X-Amz-Signature", "")
        idx = int(p["idx"]) if p["idx"].isdigit() else -1
        if not (
            0 <= idx < len(self.tables)
            and expires.isdigit()
            and hmac.compare_digest(signature.encode(), self._sign(idx, p["key"], expires).encode())
        ):
            raise ApiError(403, "PERMISSION_DENIED", "Invalid file URL signature.")
        if int(expires) < time.time():
            raise ApiError(
                403, "PERMISSION_DENIED", "The file URL has expired: query the table again."
            )
        root = self.logs[idx].root
        path = (
            root / base64.urlsafe_b64decode(p["key"] + "=" * (-len(p["key"]) % 4)).decode()
        ).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            raise _missing("The file does not exist.")
        return FileResponse(path, media_type="application/octet-stream")  # handles HEAD and Range


def create_app(tables: list[SharedTable], bearer_token: str) -> Starlette:
    """The Delta Sharing REST API under ``/delta-sharing`` plus the signed file route."""
    api = _Api(tables, bearer_token)

    def authed(handler):
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
