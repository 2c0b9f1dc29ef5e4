"""The OpenAI Files API of the fake endpoint: uploads kept in memory, listed, read and deleted.

``FileStore`` is the part of ``FakeOpenAIServer`` that answers ``/v1/files`` (see the package
docstring). The batch outputs (``batches.py``) are stored here too, with purpose ``batch_output``.
"""

from __future__ import annotations

import asyncio
import collections
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .faults import error_body

BATCH_ENDPOINT = "/v1/chat/completions"
UPLOAD_PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")
_AUTH_MESSAGE = (
    "Incorrect API key provided. You can find your API key at "
    "https://platform.openai.com/account/api-keys."
)


@dataclass
class _StoredFile:
    obj: dict[str, Any]
    data: bytes


def json_error(status: int, message: str, code: str | None = None) -> JSONResponse:
    return JSONResponse(error_body(status, message, code=code), status_code=status)


def cursor_page(
    items: list[dict[str, Any]], after: str | None, limit: int
) -> dict[str, Any] | None:
    """One page of a cursor-paginated list (``items`` already in the listing order): the items
    after the one whose id is ``after``; None if ``after`` is unknown."""
    start = 0
    if after:
        ids = [item["id"] for item in items]
        if after not in ids:
            return None
        start = ids.index(after) + 1
    data = items[start : start + limit]
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": start + limit < len(items),
    }


def int_param(request: Request, name: str, default: int, low: int, high: int) -> int | None:
    """A query parameter that must be an int in [low, high]; None if it is not."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        return None
    return value if low <= value <= high else None


# ---------------------------------------------------------------------- batch files


def validation_error(line: int | None, message: str, code: str = "invalid_request") -> dict:
    return {"code": code, "message": message, "line": line, "param": None}


def _line_problem(line: dict[str, Any], seen: set[str]) -> str | None:
    custom_id = line.get("custom_id")
    if not isinstance(custom_id, str) or not custom_id:
        return "'custom_id' must be a non-empty string."
    if custom_id in seen:
        return f"Duplicate custom_id {custom_id!r}: custom_ids must be unique within a batch."
    seen.add(custom_id)
    if line.get("method") != "POST":
        return "'method' must be 'POST'."
    if line.get("url") != BATCH_ENDPOINT:
        return f"'url' must be {BATCH_ENDPOINT!r}, the endpoint of the batch."
    body = line.get("body")
    if not isinstance(body, dict):
        return "'body' must be an object."
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "'body.model' must be a non-empty string."
    if not isinstance(body.get("messages"), list) or not body["messages"]:
        return "'body.messages' must be a non-empty array."
    return None


def parse_batch_input(data: bytes, single_model: bool = False) -> tuple[list[dict], list[dict]]:
    """(the lines that are JSON objects, the validation errors) of a batch input file. Blank lines
    are skipped; line numbers are 1-based."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return [], [validation_error(None, "The input file is not UTF-8.", "invalid_file_format")]
    lines: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    seen: set[str] = set()
    for number, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            line = json.loads(raw)
        except ValueError:
            errors.append(validation_error(number, "This line is not valid JSON."))
            continue
        if not isinstance(line, dict):
            errors.append(validation_error(number, "This line is not a JSON object."))
            continue
        lines.append(line)
        problem = _line_problem(line, seen)
        if problem:
            errors.append(validation_error(number, problem))
    if not lines and not errors:
        errors.append(validation_error(None, "The input file is empty.", "empty_file"))
    models = {str(line.get("body", {}).get("model")) for line in lines}
    if single_model and not errors and len(models) > 1:
        message = f"All requests of a batch must use the same model, found {sorted(models)}."
        errors.append(validation_error(None, message, "mismatched_model"))
    return lines, errors


NOT_RUN = {
    "expired": (
        "batch_expired",
        "This request could not be executed before the completion window of 24h expired.",
    ),
    "cancelled": (
        "batch_cancelled",
        "This request was not executed because the batch was cancelled.",
    ),
}


def metadata_problem(metadata: Any) -> str | None:
    if metadata is None:
        return None
    if not isinstance(metadata, dict):
        return "'metadata' must be an object."
    if len(metadata) > 16:
        return "'metadata' may have at most 16 keys."
    for key, value in metadata.items():
        if len(key) > 64:
            return f"The metadata key {key[:20]!r}... is longer than 64 characters."
        if not isinstance(value, str) or len(value) > 512:
            return f"The metadata value of {key!r} must be a string of at most 512 characters."
    return None


def result_line(
    batch_req_id: str, custom_id: str, status: int, request_id: str, body: dict[str, Any]
) -> dict[str, Any]:
    """A line of a batch output file (status 200) or error file (an HTTP error of the line)."""
    response = {"status_code": status, "request_id": request_id, "body": body}
    return {"id": batch_req_id, "custom_id": custom_id, "response": response, "error": None}


def not_run_line(batch_req_id: str, custom_id: str, batch_status: str) -> dict[str, Any]:
    """A line of a batch error file for a request that did not run (batch expired or cancelled)."""
    code, message = NOT_RUN[batch_status]
    error = {"code": code, "message": message}
    return {"id": batch_req_id, "custom_id": custom_id, "response": None, "error": error}


def batch_usage(input_tokens: int, output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": input_tokens + output_tokens,
    }


def jsonl(entries: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(entry) + "\n" for entry in entries).encode()


class FileStore:
    """Files uploaded to (or written by) the fake endpoint, in memory, and their handlers."""

    _authorized: Callable[[Request], bool]  # ChatCompletionsApp's bearer check
    _lock: threading.Lock
    _stop_event: asyncio.Event | None

    def _init_file_store(self) -> None:
        self._files: dict[str, _StoredFile] = {}  # insertion (creation) order
        self._file_counter = 0
        self._upload_hangs: collections.deque[tuple[float, bool]] = collections.deque()
        self._file_upload_count = 0

    # ------------------------------------------------------------------ scripting and views

    def hang_next_file_upload(self, seconds: float, *, after_store: bool) -> None:
        """The next valid ``POST /v1/files`` sleeps ``seconds`` (cut short when the server stops,
        then answered 503). ``after_store=False``: before the file is stored; if the client gave
        up meanwhile, nothing is stored at all. ``after_store=True``: after the file was stored,
        so it exists while the client never sees its id. Calls queue up in order."""
        with self._lock:
            self._upload_hangs.append((seconds, after_store))

    @property
    def files(self) -> list[dict[str, Any]]:
        """The file objects stored (uploads and batch outputs), in creation order."""
        with self._lock:
            return [dict(f.obj) for f in self._files.values()]

    def file_content(self, file_id: str) -> bytes:
        """The bytes of a stored file (KeyError if unknown)."""
        with self._lock:
            return self._files[file_id].data

    @property
    def file_upload_count(self) -> int:
        """``POST /v1/files`` requests received (every status)."""
        with self._lock:
            return self._file_upload_count

    # ------------------------------------------------------------------ helpers

    def _unauthorized(self) -> JSONResponse:
        return json_error(401, _AUTH_MESSAGE)

    async def _hang(self, seconds: float) -> bool:
        """Sleep ``seconds``; False if cut short because the server stops."""
        stop = self._stop_event
        if seconds <= 0:
            return stop is None or not stop.is_set()
        if stop is None:
            await asyncio.sleep(seconds)
            return True
        try:
            await asyncio.wait_for(stop.wait(), timeout=seconds)
        except TimeoutError:
            return True
        return False

    def _store_file(self, filename: str, purpose: str, data: bytes) -> dict[str, Any]:
        with self._lock:
            self._file_counter += 1
            file_id = f"file-fake{self._file_counter:010d}"
            obj = {
                "id": file_id,
                "object": "file",
                "bytes": len(data),
                "created_at": int(time.time()),
                "filename": filename,
                "purpose": purpose,
                "status": "processed",
                "expires_at": None,
                "status_details": None,
            }
            self._files[file_id] = _StoredFile(obj, data)
            return dict(obj)

    def _get_file(self, file_id: str) -> _StoredFile | None:
        with self._lock:
            return self._files.get(file_id)

    def _file_not_found(self, file_id: str) -> JSONResponse:
        return json_error(404, f"No such File object: {file_id}")

    # ------------------------------------------------------------------ handlers

    async def _files_create(self, request: Request) -> Response:
        with self._lock:
            self._file_upload_count += 1
        if not self._authorized(request):
            return self._unauthorized()
        try:
            form = await request.form()
        except (HTTPException, AssertionError) as exc:
            return json_error(400, f"Could not parse the multipart body: {exc}")
        upload, purpose = form.get("file"), form.get("purpose")
        if not isinstance(upload, UploadFile):
            return json_error(400, "Missing file: 'file' must be an uploaded file.")
        if purpose not in UPLOAD_PURPOSES:
            return json_error(
                400, f"Invalid purpose {purpose!r}: expected one of {', '.join(UPLOAD_PURPOSES)}."
            )
        data = await upload.read()
        filename = upload.filename or "upload"
        with self._lock:
            hang = self._upload_hangs.popleft() if self._upload_hangs else None
        if hang and not hang[1]:
            if not await self._hang(hang[0]):
                return json_error(503, "The server is shutting down.")
            if await request.is_disconnected():
                return json_error(499, "The client closed the connection.")
        obj = self._store_file(filename, str(purpose), data)
        if hang and hang[1] and not await self._hang(hang[0]):
            return json_error(503, "The server is shutting down.")
        return JSONResponse(obj)

    async def _files_list(self, request: Request) -> Response:
        if not self._authorized(request):
            return self._unauthorized()
        limit = int_param(request, "limit", 10000, 1, 10000)
        order = request.query_params.get("order", "desc")
        if limit is None:
            return json_error(400, "'limit' must be an integer between 1 and 10000.")
        if order not in ("asc", "desc"):
            return json_error(400, "'order' must be 'asc' or 'desc'.")
        purpose = request.query_params.get("purpose")
        with self._lock:
            items = [
                dict(f.obj)
                for f in self._files.values()
                if purpose is None or f.obj["purpose"] == purpose
            ]
        if order == "desc":
            items.reverse()
        page = cursor_page(items, request.query_params.get("after"), limit)
        if page is None:
            return json_error(400, "'after' is not the id of a listed file.")
        return JSONResponse(page)

    def _lookup_file(self, request: Request) -> _StoredFile | Response:
        """The stored file the path names, or the 401/404 response to send instead."""
        if not self._authorized(request):
            return self._unauthorized()
        file_id = request.path_params["file_id"]
        stored = self._get_file(file_id)
        return self._file_not_found(file_id) if stored is None else stored

    async def _files_retrieve(self, request: Request) -> Response:
        stored = self._lookup_file(request)
        return stored if isinstance(stored, Response) else JSONResponse(dict(stored.obj))

    async def _files_content(self, request: Request) -> Response:
        stored = self._lookup_file(request)
        if isinstance(stored, Response):
            return stored
        return Response(stored.data, media_type="application/octet-stream")

    async def _files_delete(self, request: Request) -> Response:
        if not self._authorized(request):
            return self._unauthorized()
        file_id = request.path_params["file_id"]
        with self._lock:
            stored = self._files.pop(file_id, None)
        if stored is None:
            return self._file_not_found(file_id)
        return JSONResponse({"id": file_id, "object": "file", "deleted": True})
