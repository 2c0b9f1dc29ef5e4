"""The Delta Sharing protocol endpoints over local Delta tables (see the package docstring).

``_Api`` answers the REST calls (shares, schemas, tables, version, metadata, query, changes) and
serves the data files under URLs it signs itself; ``create_app`` (server.py) routes to it.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from .delta_log import DeltaLog, Snapshot
from .errors import ApiError, _bad, _missing

URL_TTL_SECONDS = 3600


@dataclass(frozen=True)
class SharedTable:
    share: str
    schema: str
    name: str
    path: str | Path  # local Delta table directory (the one holding _delta_log)


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
            if m is None:
                raise ValueError(text)
            year, month, day, hour, minute, second, frac = m.groups()
            dt = datetime(
                int(year),
                int(month),
                int(day),
                int(hour),
                int(minute),
                int(second),
                int((frac or "0").ljust(6, "0")),
            )
        except ValueError:
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
