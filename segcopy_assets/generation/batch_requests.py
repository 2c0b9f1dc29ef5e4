"""The Batch API's files, both ways: request lines out, answer lines back (pure, no client).

A request line is ``{"custom_id", "method", "url", "body"}`` with the pair's ``input_hash`` as
``custom_id`` and the same body an online call sends; a request file holds at most
``MAX_LINES`` lines and ``MAX_BYTES`` bytes. Answers come back unordered in an output file
(``response.body`` is a chat.completion) and an error file (a non-200 ``response`` or an
``error`` such as ``batch_expired``); both are joined on ``custom_id``.
"""

import hashlib
import json
from dataclasses import dataclass
from typing import Final, Literal

from segcopy_assets.generation.openai_writer import Completion

ENDPOINT: Final[Literal["/v1/chat/completions"]] = "/v1/chat/completions"
COMPLETION_WINDOW: Final[Literal["24h"]] = "24h"
#: The provider's limits per input file (OpenAI: 50,000 requests, 200 MB).
MAX_LINES = 50_000
MAX_BYTES = 200 * 1024 * 1024
#: Metadata keys carried by every batch we create, so an orphan is found again after a crash.
KEY_METADATA = "segcopy_key"
PART_METADATA = "segcopy_part"


def request_body(
    model: str, temperature: float, max_tokens: int, messages: list[dict[str, str]]
) -> dict:
    """The chat-completions body of one request (what ``ChatCompletionsWriter`` sends online)."""
    return {
        "model": model,
        "messages": messages,
        "temperature": temperature,
        "max_tokens": max_tokens,
    }


def request_line(custom_id: str, body: dict) -> bytes:
    line = {"custom_id": custom_id, "method": "POST", "url": ENDPOINT, "body": body}
    return json.dumps(line, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def split_lines(
    lines: list[bytes], max_lines: int = MAX_LINES, max_bytes: int = MAX_BYTES
) -> list[list[bytes]]:
    """Consecutive chunks of ``lines``, each within both limits (a file per chunk)."""
    if max_lines < 1 or max_bytes < 1:
        raise ValueError("max_lines and max_bytes must be positive")
    chunks: list[list[bytes]] = []
    current: list[bytes] = []
    size = 0
    for line in lines:
        if len(line) > max_bytes:
            raise ValueError(
                f"one request line is {len(line):,} bytes, over the {max_bytes:,} limit"
            )
        if current and (len(current) >= max_lines or size + len(line) > max_bytes):
            chunks.append(current)
            current, size = [], 0
        current.append(line)
        size += len(line)
    if current:
        chunks.append(current)
    return chunks


def request_key(custom_ids: list[str], model: str, prompt_hash: str, endpoint: str) -> str:
    """Run-stable identity of a submission: the same requests to the same model and endpoint
    give the same key, whatever order they were planned in (a rerun re-attaches by it)."""
    blob = json.dumps(
        {
            "requests": sorted(set(custom_ids)),
            "model": model,
            "prompt_hash": prompt_hash,
            "endpoint": endpoint,
        },
        separators=(",", ":"),
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


@dataclass(frozen=True)
class LineResult:
    """One answered line: a completion, or why there is none."""

    custom_id: str
    completion: Completion | None
    error: str | None


def _completion(body: dict) -> Completion:
    choices = body.get("choices") or []
    choice = choices[0] if choices else {}
    usage = body.get("usage") or {}
    message = choice.get("message") or {}
    return Completion(
        text=message.get("content") or "",
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        completion_tokens=int(usage.get("completion_tokens") or 0),
        latency_ms=0.0,
        finish_reason=choice.get("finish_reason"),
    )


def _line_error(record: dict) -> str:
    error = record.get("error")
    if error:
        code = error.get("code") or "error"
        return f"batch line {code}: {str(error.get('message') or '')[:200]}".rstrip(": ")
    response = record.get("response") or {}
    body = response.get("body") or {}
    detail = body.get("error") if isinstance(body, dict) else None
    message = (detail or {}).get("message") if isinstance(detail, dict) else None
    return f"batch line HTTP {response.get('status_code')}" + (
        f": {str(message)[:200]}" if message else ""
    )


def parse_results(*files: str | None) -> dict[str, LineResult]:
    """Every line of the output and error files, by ``custom_id`` (first answer wins).

    A line that is not JSON or carries no ``custom_id`` cannot be joined to a pair and is
    skipped; its pair then counts as missing from the batch (and is not lost: see batch_flow).
    """
    results: dict[str, LineResult] = {}
    for text in files:
        for raw in (text or "").splitlines():
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except ValueError:
                continue
            custom_id = record.get("custom_id") if isinstance(record, dict) else None
            if not isinstance(custom_id, str) or custom_id in results:
                continue
            response = record.get("response") or {}
            if not record.get("error") and response.get("status_code") == 200:
                results[custom_id] = LineResult(custom_id, _completion(response["body"]), None)
            else:
                results[custom_id] = LineResult(custom_id, None, _line_error(record))
    return results
