"""The openai backend against a real OpenAI-compatible HTTP server on 127.0.0.1."""

import asyncio
import time

import polars as pl
import pytest

from segcopy_assets.devtools.fake_openai import FakeOpenAIServer
from segcopy_assets.errors import GenerationError
from segcopy_assets.generation.openai_writer import ChatCompletionsWriter
from segcopy_assets.generation.prompts import load_prompt_set
from segcopy_assets.generation.variants import generate_variants, input_hash, plan_pairs

SEGMENTS = pl.DataFrame(
    {
        "segment_id": ["tents--core", "tents--high-value"],
        "top_category": ["Camping", "Camping"],
        "summary_hash": ["s1", "s2"],
        "segment_description": ["Customers who camp on a budget.", "Customers who camp in style."],
    }
)
PRODUCTS = pl.DataFrame(
    {
        "product_id": ["T-1", "T-2", "B-1"],
        "name": ["Ridge 2", "Basecamp 4", "Aero Road"],
        "category": ["Camping", "Camping", "Bikes"],
        "subcategory": ["Tents", "Tents", "Road Bikes"],
        "price": [199.0, 349.0, 1999.0],
        "description": [
            "A 2-person tent. It weighs 1.9 kg.",
            "A 4-person tent with 2 doors.",
            "A 8.1 kg road bike.",
        ],
        "content_hash": ["c1", "c2", "c3"],
    }
)


@pytest.fixture
def prompt_set(prompts_dir):
    """``prompt_set(model=None)`` → the default prompt set for the openai backend."""

    def load(model=None):
        return load_prompt_set(prompts_dir, backend="openai", model_override=model)

    return load


def writer(srv, ps, **kwargs):
    args = dict(
        base_url=srv.base_url,
        api_key="sk-test",
        model=ps.params.name,
        temperature=ps.params.temperature,
        max_tokens=ps.params.max_tokens,
        max_concurrency=8,
        timeout_s=5,
        max_retries=3,
    )
    args.update(kwargs)
    return ChatCompletionsWriter(**args)


def run(pairs, ps, w, **kwargs):
    async def go():
        async with w:
            return await generate_variants(pairs, ps, w, **kwargs)

    return asyncio.run(go())


def test_request_carries_model_params_segment_and_product(prompt_set):
    ps = prompt_set("llama-3-70b-instruct")
    with FakeOpenAIServer(api_key="sk-test", models=("llama-3-70b-instruct",)) as srv:
        rows, stats = run(plan_pairs(SEGMENTS.head(1), PRODUCTS.head(1)), ps, writer(srv, ps))
        body = srv.requests[0]
    assert body["model"] == "llama-3-70b-instruct"
    assert (
        body["temperature"] == ps.params.temperature and body["max_tokens"] == ps.params.max_tokens
    )
    system, user = body["messages"]
    assert "Customers who camp on a budget." in system["content"]
    assert (
        "<product_description>\nA 2-person tent. It weighs 1.9 kg.\n</product_description>"
        in user["content"]
    )
    row = rows.row(0, named=True)
    assert row["status"] == "ok" and "It weighs 1.9 kg." in row["variant_text"]
    assert row["rationale"] and "**Rationale:**" in row["raw_output"]
    assert row["backend"] == "openai" and row["model"] == "llama-3-70b-instruct"
    assert row["input_hash"] == input_hash(ps.hash, "s1", "c1")
    assert row["prompt_tokens"] > 0 and row["completion_tokens"] > 0
    assert stats.calls == 1 and stats.prompt_tokens == row["prompt_tokens"]


@pytest.mark.parametrize("reply_format", ["plain", "heading"])
def test_rationale_formats_are_parsed(reply_format, prompt_set):
    ps = prompt_set()
    with FakeOpenAIServer(reply_format=reply_format) as srv:
        rows, _ = run(plan_pairs(SEGMENTS.head(1), PRODUCTS.head(1)), ps, writer(srv, ps))
    assert rows["status"].to_list() == ["ok"] and rows["rationale"][0]


def test_429_with_retry_after_and_500_are_retried(prompt_set):
    ps = prompt_set()
    with FakeOpenAIServer() as srv:
        srv.fail_next(429, 1, retry_after=0.3)
        srv.fail_next(500, 1)
        rows, stats = run(
            plan_pairs(SEGMENTS.head(1), PRODUCTS.head(1)), ps, writer(srv, ps, max_concurrency=1)
        )
        statuses = srv.statuses
    assert rows["status"].to_list() == ["ok"]
    assert statuses.get(429) == 1 and statuses.get(500) == 1 and statuses.get(200) == 1


def test_hung_call_times_out_into_a_failed_row_and_others_succeed(prompt_set):
    ps = prompt_set()
    with FakeOpenAIServer() as srv:
        srv.hang_next(1, 30)
        started = time.perf_counter()
        rows, stats = run(
            plan_pairs(SEGMENTS.head(1), PRODUCTS),
            ps,
            writer(srv, ps, timeout_s=0.5, max_retries=0, max_concurrency=1),
        )
        elapsed = time.perf_counter() - started
    assert elapsed < 10
    assert rows.filter(pl.col("status") == "failed")["error"].to_list() == [
        "timed out (after the client's retries)"
    ]
    assert (rows["status"] == "ok").sum() == 2 and stats.failed == 1


def test_in_flight_calls_are_bounded_and_concurrent(prompt_set):
    ps = prompt_set()
    segments = pl.concat([SEGMENTS.with_columns(pl.col("segment_id") + f"-{i}") for i in range(10)])
    pairs = plan_pairs(segments, PRODUCTS)  # 60 pairs
    with FakeOpenAIServer(latency_ms=100) as srv:
        rows, _ = run(pairs, ps, writer(srv, ps, max_concurrency=7))
        peak = srv.max_in_flight
    assert rows.height == 60 and (rows["status"] == "ok").all()
    assert 1 < peak <= 7


def test_bad_key_stops_everything_without_leaking_it(prompt_set):
    ps = prompt_set()
    with FakeOpenAIServer(api_key="sk-right") as srv, pytest.raises(GenerationError) as err:
        run(plan_pairs(SEGMENTS, PRODUCTS), ps, writer(srv, ps, api_key="sk-wrong-secret"))
    assert "401" in str(err.value) and "sk-wrong-secret" not in str(err.value)


def test_reuse_by_input_hash_and_force(prompt_set):
    ps = prompt_set()
    pairs = plan_pairs(SEGMENTS, PRODUCTS)
    with FakeOpenAIServer() as srv:
        first, stats1 = run(pairs, ps, writer(srv, ps))
        second, stats2 = run(pairs, ps, writer(srv, ps), reusable=first)
        calls_after_reuse = srv.call_count
        changed = SEGMENTS.with_columns(
            pl.when(pl.col("segment_id") == "tents--core")
            .then(pl.lit("s1b"))
            .otherwise(pl.col("summary_hash"))
            .alias("summary_hash")
        )
        third, stats3 = run(plan_pairs(changed, PRODUCTS), ps, writer(srv, ps), reusable=second)
        fourth, stats4 = run(pairs, ps, writer(srv, ps), reusable=first, force_regenerate=True)
    assert (stats1.calls, stats2.calls, stats2.reused) == (6, 0, 6)
    assert calls_after_reuse == 6
    assert second["generated_at"].to_list() == first["generated_at"].to_list()
    assert (stats3.calls, stats3.reused) == (3, 3)
    assert set(third.filter(pl.col("summary_hash") == "s1b")["segment_id"]) == {"tents--core"}
    assert stats4.calls == 6


def test_answer_without_rationale_or_cut_off_is_failed_not_cached(prompt_set):
    ps = prompt_set()
    with FakeOpenAIServer(reply_format="none") as srv:
        rows, stats = run(plan_pairs(SEGMENTS.head(1), PRODUCTS.head(1)), ps, writer(srv, ps))
    assert (
        rows["status"].to_list() == ["failed"]
        and rows["error"][0] == "the answer has no Rationale section"
    )
    with FakeOpenAIServer() as srv:
        rows, _ = run(
            plan_pairs(SEGMENTS.head(1), PRODUCTS.head(1)), ps, writer(srv, ps, max_tokens=5)
        )
    assert rows["error"].to_list() == ["the answer was cut off at max_tokens"]


def test_cost_and_latency_percentiles(prompt_set):
    ps = prompt_set("gpt-4o-mini")
    with FakeOpenAIServer(latency_ms=20) as srv:
        _, stats = run(plan_pairs(SEGMENTS, PRODUCTS), ps, writer(srv, ps))
    cost = stats.cost_usd(ps.price_per_1m())
    assert cost == pytest.approx(
        (stats.prompt_tokens * 0.15 + stats.completion_tokens * 0.60) / 1e6
    )
    assert 15 <= stats.latency_percentile(50) <= stats.latency_percentile(95)
    assert prompt_set("mystery").price_per_1m() is None
