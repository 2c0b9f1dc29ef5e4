"""Batch API files both ways (generation/batch_requests.py) and the batch policy."""

import json

import pytest

from segcopy_assets.generation.batch_flow import BatchPolicy
from segcopy_assets.generation.batch_requests import (
    ENDPOINT,
    parse_results,
    request_body,
    request_key,
    request_line,
    split_lines,
)

MESSAGES = [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]


def test_request_line_is_one_jsonl_line_with_the_online_body():
    body = request_body("gpt-4o-mini", 0.3, 700, MESSAGES)
    line = request_line("abc", body)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    parsed = json.loads(line)
    assert parsed == {"custom_id": "abc", "method": "POST", "url": ENDPOINT, "body": body}
    assert body == {
        "model": "gpt-4o-mini",
        "messages": MESSAGES,
        "temperature": 0.3,
        "max_tokens": 700,
    }


def test_split_lines_respects_both_limits_and_keeps_order():
    lines = [f"{i:04d}\n".encode() for i in range(23)]  # 5 bytes each
    by_count = split_lines(lines, max_lines=10, max_bytes=10_000)
    assert [len(c) for c in by_count] == [10, 10, 3]
    by_size = split_lines(lines, max_lines=100, max_bytes=12)  # two lines fit, not three
    assert all(sum(map(len, c)) <= 12 for c in by_size) and len(by_size) == 12
    assert [x for c in by_size for x in c] == lines
    with pytest.raises(ValueError, match="over the 3 limit"):
        split_lines(lines, max_bytes=3)
    assert split_lines([]) == []


def test_request_key_is_run_stable_and_moves_with_what_is_asked():
    key = request_key(["b", "a", "a"], "m", "p", ENDPOINT)
    assert key == request_key(["a", "b"], "m", "p", ENDPOINT)
    assert key != request_key(["a", "b", "c"], "m", "p", ENDPOINT)
    assert key != request_key(["a", "b"], "other-model", "p", ENDPOINT)
    assert key != request_key(["a", "b"], "m", "other-prompt", ENDPOINT)


def _ok(custom_id: str, text: str = "Copy.\n\n**Rationale:** why", finish: str = "stop") -> str:
    body = {
        "choices": [{"message": {"content": text}, "finish_reason": finish}],
        "usage": {"prompt_tokens": 11, "completion_tokens": 7},
    }
    return json.dumps(
        {
            "id": "r",
            "custom_id": custom_id,
            "response": {"status_code": 200, "body": body},
            "error": None,
        }
    )


def test_parse_results_joins_output_and_error_lines_on_custom_id():
    output = "\n".join([_ok("b"), "not json", json.dumps({"no": "id"}), _ok("a")])
    errors = "\n".join(
        [
            json.dumps(
                {
                    "custom_id": "c",
                    "response": {"status_code": 500, "body": {"error": {"message": "boom"}}},
                    "error": None,
                }
            ),
            json.dumps(
                {
                    "custom_id": "d",
                    "response": None,
                    "error": {"code": "batch_expired", "message": "window expired"},
                }
            ),
            _ok("a"),  # a second answer for a: the first wins
        ]
    )
    results = parse_results(output, errors, None)
    assert set(results) == {"a", "b", "c", "d"}
    assert results["a"].completion is not None and results["a"].completion.prompt_tokens == 11
    assert results["a"].completion.completion_tokens == 7 and results["a"].error is None
    assert results["c"].completion is None and results["c"].error == "batch line HTTP 500: boom"
    assert results["d"].error == "batch line batch_expired: window expired"


def test_batch_policy_modes():
    assert not BatchPolicy("online").use_batch(10**6)
    assert BatchPolicy("batch").use_batch(1) and not BatchPolicy("batch").use_batch(0)
    auto = BatchPolicy("auto", min_pairs=5_000)
    assert not auto.use_batch(5_000) and auto.use_batch(5_001)
    with pytest.raises(ValueError, match="mode must be one of"):
        BatchPolicy("sometimes")
    with pytest.raises(ValueError, match="fallback must be one of"):
        BatchPolicy("batch", fallback="never")
