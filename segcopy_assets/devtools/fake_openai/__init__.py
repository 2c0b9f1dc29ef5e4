"""A fake OpenAI-compatible chat-completions server: a real HTTP server on 127.0.0.1.

Used by the test suite and by benchmarks. It runs Starlette under uvicorn on an event loop in a
background thread, binds a free port and exposes ``base_url`` for ``openai.OpenAI(base_url=...)``::

    with FakeOpenAIServer(latency_ms=50, api_key="sk-test") as srv:
        client = openai.OpenAI(base_url=srv.base_url, api_key="sk-test", max_retries=0)
        client.chat.completions.create(model="gpt-4o-mini", messages=[...])
        assert srv.call_count == 1

Endpoints: ``POST /v1/chat/completions`` (non-streaming), ``GET /v1/models``, and the Files and
Batch APIs (below). Every endpoint checks ``Authorization: Bearer <api_key>`` if ``api_key`` is set.

Order in which a chat completion request is handled:

1. body parsed and recorded in ``requests`` (invalid JSON / missing fields -> 400);
2. ``Authorization: Bearer <api_key>`` checked if ``api_key`` is set (-> 401);
3. scripted faults from ``fail_next`` (-> that status, immediately);
4. rate limit ``rate_limit_rps``: sliding one-second window of admitted requests (-> 429 with
   ``Retry-After`` (seconds, may be fractional) and ``retry-after-ms``);
5. concurrency limit ``max_concurrency``: ``"reject"`` -> 429, ``"queue"`` -> wait FIFO for a slot;
6. the request is now *in flight* (counted in ``in_flight`` / ``max_in_flight``, its admission time
   appended to ``accepted_times``); a ``hang_next`` hang, then the simulated latency
   (``latency_ms`` +- ``jitter_ms`` plus ``completion_tokens / output_tokens_per_s``), all via
   ``asyncio.sleep`` so thousands of concurrent requests need no threads;
7. 200 with the standard chat.completion JSON.

Every sleep is cut short when the server stops (those requests answer 503), so ``stop()`` is quick
even with hung requests. No Dagster import here on purpose.

Files (in memory): ``POST /v1/files`` (multipart ``file`` + ``purpose``), ``GET /v1/files``
(``purpose``, ``limit``, ``after``, ``order`` = desc), ``GET /v1/files/{id}``,
``GET /v1/files/{id}/content``, ``DELETE /v1/files/{id}``; ids ``file-fake<n>``.

Batches (``endpoint="/v1/chat/completions"``, ``completion_window="24h"``, <= 16 metadata keys,
else 400; an unknown input file 404): ``POST /v1/batches``, ``GET /v1/batches`` (newest first,
``after``, ``limit`` = 20, never advances), ``GET /v1/batches/{id}``, ``POST
/v1/batches/{id}/cancel``. A batch advances **only when it is retrieved**: it is ``validating``
after create, retrieves ``1 .. batch_polls-1`` show ``in_progress`` (the last of them
``finalizing`` if ``batch_polls >= 3``), retrieve ``batch_polls`` ends it (``batch_polls=0``: create
returns it ended; ``batch_polls`` is read at create). An input file with a bad line (not JSON, no unique ``custom_id``, method not
POST, url not the endpoint, body without model/messages) fails the batch at its first retrieve with
``errors.data`` (code ``invalid_request``, ``line`` 1-based); ``batch_single_model=True`` also
rejects mixed models, like the real API. When a batch ends its lines run at once through the chat
builder (same responder/default reply, tokens, max_tokens truncation; no latency; not counted in
the chat stats). The output file (purpose ``batch_output``) holds one line per 200, shuffled with
the server's rng; the error file the other lines; ``request_counts.completed``/``failed`` are their
line counts; ``usage`` is summed. Output line::

    {"id": "batch_req_<n>", "custom_id": ..., "error": null,
     "response": {"status_code": 200, "request_id": "req_fake<n>", "body": <chat.completion>}}

A per-line HTTP error (``fail_lines``, ``batch_line_error_rate``, a model not in ``models`` -> 404
``model_not_found``) is the same with ``status_code`` and ``"body": {"error": {...}}``; a line that
did not run: ``"response": null, "error": {"code": "batch_expired" | "batch_cancelled", "message"}``.
Cancel moves a running batch to ``cancelling`` and the next retrieve to ``cancelled``: its first
``round(batch_cancel_completed_fraction * total)`` lines run, the rest are ``batch_cancelled``;
cancelling an ended batch is a 400 (a ``cancelling`` one is returned unchanged).

Batch scripting (thread-safe): ``batch_polls``, ``batch_line_error_rate`` (a line fails 500 with
this probability, drawn from (seed, custom_id, attempt): order-independent and reproducible, while
a re-submitted custom_id draws again), ``batch_cancel_completed_fraction``, ``batch_single_model``
(constructor args and attributes); ``fail_lines(custom_ids, status=500)``;
``expire_next_batch(completed_fraction=0.5)`` / ``fail_next_batch(message)`` (queue up, one per
created batch); ``hang_next_batch_create(seconds, *, after_create)`` /
``hang_next_file_upload(seconds, *, after_store)`` (before: nothing is recorded if the client gave
up; after: it exists though the client never saw its id); ``clear_faults()`` drops these scripts
too. Views: ``batches``, ``batch_requests(id)``, ``batch_create_count``, ``batch_lines_executed``,
``files``, ``file_content(id)``, ``file_upload_count``; ``reset_stats()`` zeroes the counters,
``reset_batches()`` forgets the stored files and batches.

Modules: ``replies`` (default replies, token counting), ``faults`` (error bodies, scripted faults),
``stats`` (recorded requests, counters), ``app`` (request handling), ``files`` (Files API, batch file
formats), ``batches`` (Batch API), ``server`` (the server thread).
"""

from .app import ConcurrencyMode
from .faults import error_body
from .replies import (
    ReplyFormat,
    count_tokens,
    default_reply,
    extract_product_description,
    extract_product_name,
    extract_segment,
    format_reply,
    is_judge_request,
    judge_reply,
    judged_copy,
    message_text,
)
from .server import FakeOpenAIServer

__all__ = [
    "ConcurrencyMode",
    "FakeOpenAIServer",
    "ReplyFormat",
    "count_tokens",
    "default_reply",
    "error_body",
    "extract_product_description",
    "extract_product_name",
    "extract_segment",
    "format_reply",
    "is_judge_request",
    "judge_reply",
    "judged_copy",
    "message_text",
]
