"""The OpenAI Batch API of the fake endpoint, for ``/v1/chat/completions`` batches.

``BatchAPI`` is the part of ``FakeOpenAIServer`` that answers ``/v1/batches`` and scripts how the
batches end (see the package docstring). A batch advances only when it is retrieved, so tests are
deterministic; when it ends, its lines are answered at once by the chat-completions builder
(``ChatCompletionsApp._complete``) and written to an output file and an error file (``files.py``).
"""

from __future__ import annotations

import collections
import copy
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .faults import FaultScript, error_body
from .files import (
    BATCH_ENDPOINT,
    FileStore,
    batch_usage,
    cursor_page,
    int_param,
    json_error,
    jsonl,
    metadata_problem,
    not_run_line,
    parse_batch_input,
    result_line,
    validation_error,
)
from .stats import RequestStats

_WINDOW_S = 24 * 3600
_ENDED = ("completed", "failed", "expired", "cancelled")
_CANCELLABLE = ("validating", "in_progress", "finalizing")
_NULL_FIELDS = (
    *("errors", "output_file_id", "error_file_id", "usage", "in_progress_at", "finalizing_at"),
    *("completed_at", "failed_at", "expired_at", "cancelling_at", "cancelled_at"),
)


@dataclass
class _Batch:
    obj: dict[str, Any]  # the Batch JSON as retrieve shows it (updated in place)
    lines: list[dict[str, Any]]  # the input lines that parsed as JSON objects
    errors: list[dict[str, Any]]  # validation errors (then the batch fails)
    polls: int  # the retrieve at which it ends (0: ended at create)
    end: tuple[str, Any]  # ("completed", None) | ("expired", fraction) | ("failed", message)
    retrieves: int = 0


class BatchAPI(FileStore, FaultScript, RequestStats):
    """Batches of chat completions: ``/v1/batches`` handlers, scripting and views."""

    batch_polls: int
    batch_line_error_rate: float
    batch_cancel_completed_fraction: float
    batch_single_model: bool
    models: list[str]
    _rng: random.Random
    _id_counter: int
    _complete: Callable[[dict[str, Any]], tuple[int, dict[str, Any], str]]  # ChatCompletionsApp

    def _init_batches(self, seed: int | None) -> None:
        self._batch_seed = seed if seed is not None else random.randrange(2**32)
        self._batches: dict[str, _Batch] = {}  # creation order
        self._batch_counter = 0
        self._batch_req_counter = 0
        self._batch_ends: collections.deque[tuple[str, Any]] = collections.deque()
        self._create_hangs: collections.deque[tuple[float, bool]] = collections.deque()
        self._failing_lines: dict[str, int] = {}
        self._line_attempts: collections.Counter[str] = collections.Counter()
        self._batch_create_count = 0
        self._batch_lines_executed = 0

    # ------------------------------------------------------------------ scripting

    def fail_lines(self, custom_ids: Iterable[str], status: int = 500) -> None:
        """Lines with these custom_ids (in any batch, until ``clear_faults``) get an error line
        with ``status`` instead of a completion."""
        with self._lock:
            for custom_id in custom_ids:
                self._failing_lines[custom_id] = status

    def expire_next_batch(self, completed_fraction: float = 0.5) -> None:
        """The next created batch ends ``expired``: its first ``round(completed_fraction * total)``
        lines (input order) run, the others are ``batch_expired`` error lines. Queues up with
        ``fail_next_batch``."""
        with self._lock:
            self._batch_ends.append(("expired", completed_fraction))

    def fail_next_batch(self, message: str = "The batch failed (scripted by the fake).") -> None:
        """The next created batch ends ``failed`` at its first retrieve (like a validation
        failure): ``errors.data`` holds ``message`` (code ``batch_failed``), no line runs."""
        with self._lock:
            self._batch_ends.append(("failed", message))

    def hang_next_batch_create(self, seconds: float, *, after_create: bool) -> None:
        """The next valid ``POST /v1/batches`` sleeps ``seconds`` (cut short when the server stops,
        then answered 503). ``after_create=False``: before the batch is created; if the client gave
        up meanwhile, no batch is created at all. ``after_create=True``: after the batch was
        created and recorded, so it exists while the client never sees its id."""
        with self._lock:
            self._create_hangs.append((seconds, after_create))

    def clear_faults(self) -> None:
        """Drop the scripted chat faults and hangs and all the batch and file scripts
        (``fail_lines``, ``expire_next_batch``, ``fail_next_batch``, the create/upload hangs)."""
        super().clear_faults()
        with self._lock:
            self._failing_lines.clear()
            self._batch_ends.clear()
            self._create_hangs.clear()
            self._upload_hangs.clear()

    def reset_stats(self) -> None:
        """Clear the recorded requests and counters, including ``batch_create_count``,
        ``file_upload_count`` and ``batch_lines_executed`` (not the stored files and batches)."""
        super().reset_stats()
        with self._lock:
            self._batch_create_count = self._file_upload_count = self._batch_lines_executed = 0

    def reset_batches(self) -> None:
        """Forget all the stored files and batches and how often each custom_id ran."""
        with self._lock:
            self._files.clear()
            self._batches.clear()
            self._line_attempts.clear()

    # ------------------------------------------------------------------ views

    @property
    def batches(self) -> list[dict[str, Any]]:
        """The batches as retrieve shows them (without advancing them), in creation order."""
        with self._lock:
            return [copy.deepcopy(b.obj) for b in self._batches.values()]

    def batch_requests(self, batch_id: str) -> list[dict[str, Any]]:
        """The input lines of a batch (those that parsed as JSON objects; KeyError if unknown)."""
        with self._lock:
            return copy.deepcopy(self._batches[batch_id].lines)

    @property
    def batch_create_count(self) -> int:
        """``POST /v1/batches`` requests received (every status)."""
        with self._lock:
            return self._batch_create_count

    @property
    def batch_lines_executed(self) -> int:
        """Batch lines run (answered with a completion or a per-line error; not the lines left
        undone by expiry or cancellation)."""
        with self._lock:
            return self._batch_lines_executed

    # ------------------------------------------------------------------ progress

    def _set(self, batch: _Batch, **fields: Any) -> None:
        with self._lock:
            batch.obj.update(fields)

    def _view(self, batch: _Batch) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(batch.obj)

    def _advance(self, batch: _Batch) -> None:
        """One retrieve: validating -> in_progress (-> finalizing) -> ended at ``polls``."""
        status = batch.obj["status"]
        if status in _ENDED:
            return
        if status == "cancelling":
            self._finish(batch, cancelled=True)
            return
        batch.retrieves += 1
        if batch.errors or batch.end[0] == "failed" or batch.retrieves >= batch.polls:
            self._finish(batch)
            return
        now = int(time.time())
        fields: dict[str, Any] = {
            "status": "in_progress",
            "in_progress_at": batch.obj["in_progress_at"] or now,
            "request_counts": {"total": len(batch.lines), "completed": 0, "failed": 0},
        }
        if batch.polls >= 3 and batch.retrieves == batch.polls - 1:
            fields.update(status="finalizing", finalizing_at=now)
        self._set(batch, **fields)

    def _batch_req_id(self) -> str:
        with self._lock:
            self._batch_req_counter += 1
            return f"batch_req_{self._batch_req_counter:010d}"

    def _run_line(self, line: dict[str, Any]) -> tuple[int, dict[str, Any], str]:
        """(status, body, request id) of one batch line, answered like an online request."""
        custom_id, body = line["custom_id"], line["body"]
        with self._lock:
            attempt = self._line_attempts[custom_id]
            self._line_attempts[custom_id] += 1
            status = self._failing_lines.get(custom_id)
            rate = self.batch_line_error_rate
            self._batch_lines_executed += 1
        if status is None and rate > 0:
            draw = random.Random(f"{self._batch_seed}:{custom_id}:{attempt}").random()
            status = 500 if draw < rate else None
        if status is not None:
            error = error_body(status, f"Scripted failure with status {status}.")
        elif body["model"] not in self.models:
            status, error = (
                404,
                error_body(
                    404,
                    f"The model `{body['model']}` does not exist or you do not have access to it.",
                    code="model_not_found",
                ),
            )
        elif body.get("stream"):
            status, error = 400, error_body(400, "stream=true is not supported in a batch.")
        else:
            return self._complete(body)
        with self._lock:
            self._id_counter += 1
            return status, error, f"req_fake{self._id_counter:010d}"

    def _finish(self, batch: _Batch, cancelled: bool = False) -> None:
        """End the batch: run its lines and write the output and error files."""
        now = int(time.time())
        kind, arg = batch.end
        zero = {"total": 0, "completed": 0, "failed": 0}
        if batch.errors or kind == "failed":
            if cancelled:
                self._set(batch, status="cancelled", cancelled_at=now, request_counts=zero)
                return
            errors = batch.errors or [validation_error(None, str(arg), "batch_failed")]
            data = {"object": "list", "data": errors}
            self._set(batch, status="failed", failed_at=now, errors=data, request_counts=zero)
            return
        total = len(batch.lines)
        status = "cancelled" if cancelled else kind
        if cancelled:
            done = round(self.batch_cancel_completed_fraction * total)
        elif kind == "expired":
            done = round(float(arg) * total)
        else:
            done = total
        done = min(max(done, 0), total)
        outputs: list[dict[str, Any]] = []
        errors = []
        input_tokens = output_tokens = 0
        for line in batch.lines[:done]:
            code, body, request_id = self._run_line(line)
            entry = result_line(self._batch_req_id(), line["custom_id"], code, request_id, body)
            (outputs if code == 200 else errors).append(entry)
            if code == 200:
                input_tokens += body["usage"]["prompt_tokens"]
                output_tokens += body["usage"]["completion_tokens"]
        for line in batch.lines[done:]:
            errors.append(not_run_line(self._batch_req_id(), line["custom_id"], status))
        self._rng.shuffle(outputs)  # the real output is unordered
        self._rng.shuffle(errors)
        bid = batch.obj["id"]
        fields: dict[str, Any] = {
            "status": status,
            "output_file_id": None,
            "error_file_id": None,
            "request_counts": {"total": total, "completed": len(outputs), "failed": len(errors)},
            "usage": batch_usage(input_tokens, output_tokens),
        }
        if outputs:
            output = self._store_file(f"{bid}_output.jsonl", "batch_output", jsonl(outputs))
            fields["output_file_id"] = output["id"]
        if errors:
            error_file = self._store_file(f"{bid}_error.jsonl", "batch_output", jsonl(errors))
            fields["error_file_id"] = error_file["id"]
        if status == "cancelled":
            fields["cancelled_at"] = now
        else:
            fields["in_progress_at"] = batch.obj["in_progress_at"] or now
            fields["finalizing_at"] = batch.obj["finalizing_at"] or now
            fields["expired_at" if status == "expired" else "completed_at"] = now
        self._set(batch, **fields)

    # ------------------------------------------------------------------ handlers

    def _lookup(self, request: Request) -> _Batch | Response:
        if not self._authorized(request):
            return self._unauthorized()
        batch_id = request.path_params["batch_id"]
        with self._lock:
            batch = self._batches.get(batch_id)
        if batch is None:
            return json_error(404, f"No batch found with id '{batch_id}'.")
        return batch

    async def _batches_create(self, request: Request) -> Response:
        with self._lock:
            self._batch_create_count += 1
        if not self._authorized(request):
            return self._unauthorized()
        try:
            params = await request.json()
        except ValueError:
            params = None
        if not isinstance(params, dict):
            return json_error(400, "We could not parse the JSON body of your request.")
        file_id, endpoint = params.get("input_file_id"), params.get("endpoint")
        metadata = params.get("metadata")
        if not isinstance(file_id, str) or not file_id:
            return json_error(400, "Missing required parameter: 'input_file_id'.")
        if endpoint != BATCH_ENDPOINT:
            return json_error(400, f"Invalid endpoint {endpoint!r}: only {BATCH_ENDPOINT!r}.")
        if params.get("completion_window") != "24h":
            return json_error(400, "Invalid 'completion_window': only '24h' is supported.")
        problem = metadata_problem(metadata)
        if problem:
            return json_error(400, problem)
        stored = self._get_file(file_id)
        if stored is None:
            return self._file_not_found(file_id)
        if stored.obj["purpose"] != "batch":
            return json_error(400, f"The input file {file_id} must have purpose 'batch'.")
        lines, errors = parse_batch_input(stored.data, self.batch_single_model)

        with self._lock:
            hang = self._create_hangs.popleft() if self._create_hangs else None
        if hang and not hang[1]:
            if not await self._hang(hang[0]):
                return json_error(503, "The server is shutting down.")
            if await request.is_disconnected():
                return json_error(499, "The client closed the connection.")
        now = int(time.time())
        first_body = lines[0].get("body") if lines else None
        with self._lock:
            self._batch_counter += 1
            batch_id = f"batch_fake{self._batch_counter:010d}"
            end = self._batch_ends.popleft() if self._batch_ends else ("completed", None)
            obj: dict[str, Any] = {
                "id": batch_id,
                "object": "batch",
                "endpoint": endpoint,
                "model": first_body.get("model") if isinstance(first_body, dict) else None,
                "input_file_id": file_id,
                "completion_window": "24h",
                "status": "validating",
                "created_at": now,
                "expires_at": now + _WINDOW_S,
                "request_counts": {"total": 0, "completed": 0, "failed": 0},
                "metadata": metadata,
                **dict.fromkeys(_NULL_FIELDS),
            }
            batch = _Batch(obj, lines, errors, max(0, int(self.batch_polls)), end)
            self._batches[batch_id] = batch
        if batch.polls == 0:
            self._finish(batch)
        if hang and hang[1] and not await self._hang(hang[0]):
            return json_error(503, "The server is shutting down.")
        return JSONResponse(self._view(batch))

    async def _batches_retrieve(self, request: Request) -> Response:
        batch = self._lookup(request)
        if isinstance(batch, Response):
            return batch
        self._advance(batch)
        return JSONResponse(self._view(batch))

    async def _batches_cancel(self, request: Request) -> Response:
        batch = self._lookup(request)
        if isinstance(batch, Response):
            return batch
        status = batch.obj["status"]
        if status not in _CANCELLABLE and status != "cancelling":
            return json_error(400, f"Cannot cancel a batch with status '{status}'.")
        if status != "cancelling":
            self._set(batch, status="cancelling", cancelling_at=int(time.time()))
        return JSONResponse(self._view(batch))

    async def _batches_list(self, request: Request) -> Response:
        if not self._authorized(request):
            return self._unauthorized()
        limit = int_param(request, "limit", 20, 1, 100)
        if limit is None:
            return json_error(400, "'limit' must be an integer between 1 and 100.")
        with self._lock:
            items = [copy.deepcopy(b.obj) for b in reversed(self._batches.values())]
        page = cursor_page(items, request.query_params.get("after"), limit)
        if page is None:
            return json_error(400, "'after' is not the id of a listed batch.")
        return JSONResponse(page)
