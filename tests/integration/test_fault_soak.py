"""The fault soak of ``bench.faults`` (``run_soak``) in this process against the fake endpoint:
invariants only, no timings. The bench's command line: tests/e2e/test_bench_faults.py."""

import pytest


def test_every_pair_ends_once_and_only_failed_pairs_are_called_again():
    from bench.faults import run_soak

    # Heavy faults and no client retries, so transport faults do fail pairs too.
    rates = {
        "rate_limited": 0.15,
        "server_error": 0.15,
        "hang": 0.05,
        "drop": 0.1,
        "malformed": 0.15,
    }
    result = run_soak(
        42, seed=3, timeout_s=0.5, max_retries=0, concurrency=8, latency_ms=5, rates=rates
    )
    assert result["missing"] == 0 and result["duplicates"] == 0 and result["unexpected"] == 0
    assert result["ok"] + result["failed"] == result["expected"] == 42
    assert result["failed"] > 0 and result["failed_without_reason"] == 0
    assert (
        result["second_pass_called_exactly_the_failed"]
        and result["second_pass_calls"] == result["failed"]
    )
    assert result["second_pass_reused"] == result["ok"] and result["journaled_only_ok"]
    assert result["invariants_hold"]


@pytest.mark.parametrize(
    "fault, reason",
    [
        ("rate_limited", "HTTP 429 RateLimitError"),
        ("server_error", "HTTP 500 InternalServerError"),
        ("hang", "timed out"),
        ("drop", "endpoint unreachable"),
        ("malformed", "the answer has no"),
    ],
)
def test_each_injected_fault_is_what_it_says(fault, reason):
    from bench.faults import run_soak

    result = run_soak(
        3, seed=1, timeout_s=0.5, max_retries=0, concurrency=3, latency_ms=0, rates={fault: 1.0}
    )
    assert result["injected"] == {fault: 3} and result["failed"] == 3
    assert list(result["failed_reasons"]) and all(
        r.startswith(reason) for r in result["failed_reasons"]
    )
    assert result["second_pass_calls"] == 3 and result["missing"] == 0
