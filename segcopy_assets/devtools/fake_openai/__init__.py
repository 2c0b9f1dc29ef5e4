"""A fake OpenAI-compatible chat-completions server: a real HTTP server on 127.0.0.1.

Used by the test suite and by benchmarks. It runs Starlette under uvicorn on an event loop in a
background thread, binds a free port and exposes ``base_url`` for ``openai.OpenAI(base_url=...)``::

    with FakeOpenAIServer(latency_ms=50, api_key="sk-test") as srv:
        client = openai.OpenAI(base_url=srv.base_url, api_key="sk-test", max_retries=0)
        client.chat.completions.create(model="gpt-4o-mini", messages=[...])
        assert srv.call_count == 1

Endpoints: ``POST /v1/chat/completions`` (non-streaming) and ``GET /v1/models``.

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

Modules: ``replies`` (default replies, token counting), ``faults`` (error bodies, scripted faults),
``stats`` (recorded requests, counters), ``app`` (request handling), ``server`` (the server thread).
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
