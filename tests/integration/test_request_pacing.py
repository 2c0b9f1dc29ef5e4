"""Client-side request pacing (``ChatCompletionsWriter(max_rps=...)``, which the generation bench
relies on) against the fake OpenAI-compatible endpoint on 127.0.0.1."""

import asyncio

import pytest

from segcopy_assets.devtools.fake_openai import FakeOpenAIServer
from segcopy_assets.generation.openai_writer import ChatCompletionsWriter
from segcopy_assets.generation.prompts import load_prompt_set
from segcopy_assets.generation.variants import generate_variants, plan_pairs


def _pairs(n: int):
    import polars as pl

    segments = pl.DataFrame(
        {
            "segment_id": ["s"],
            "top_category": ["Camping"],
            "summary_hash": ["h"],
            "segment_description": ["Customers who camp."],
        }
    )
    products = pl.DataFrame(
        {
            "product_id": [f"T-{i:02d}" for i in range(n)],
            "name": ["Ridge 2"] * n,
            "category": ["Camping"] * n,
            "subcategory": ["Tents"] * n,
            "price": [199.0] * n,
            "description": ["A 2-person tent. It weighs 1.9 kg."] * n,
            "content_hash": [f"c{i}" for i in range(n)],
        }
    )
    return plan_pairs(segments, products)


@pytest.fixture
def generate(prompts_dir):
    """``generate(srv, n, **writer_kwargs)`` → ``generate_variants`` over n pairs against srv."""

    def run(srv, n: int, **writer_kwargs):
        ps = load_prompt_set(prompts_dir, backend="openai")
        writer = ChatCompletionsWriter(
            base_url=srv.base_url,
            api_key="sk-test",
            model=ps.params.name,
            temperature=ps.params.temperature,
            max_tokens=ps.params.max_tokens,
            timeout_s=10,
            max_retries=2,
            **writer_kwargs,
        )

        async def go():
            async with writer:
                return await generate_variants(_pairs(n), ps, writer)

        return asyncio.run(go())

    return run


def test_max_rps_spaces_request_starts(generate):
    # 9 calls at 20 per second start over at least 8 x 50 ms (a lower bound: a slow machine only
    # spreads them further); without pacing the same calls start all at once.
    with FakeOpenAIServer() as srv:
        rows, _ = generate(srv, 9, max_rps=20)
        paced = srv.accepted_times
        srv.reset_stats()
        generate(srv, 9)
        unpaced = srv.accepted_times
    assert (rows["status"] == "ok").all() and len(paced) == 9
    assert max(paced) - min(paced) >= 0.5 * 8 / 20
    assert len(unpaced) == 9


def test_max_rps_meets_an_endpoint_rate_limit_without_losing_calls(generate):
    # The endpoint admits 5 per second; paced at 5 per second, every call succeeds.
    with FakeOpenAIServer(rate_limit_rps=5) as srv:
        rows, stats = generate(srv, 8, max_rps=5)
        assert (rows["status"] == "ok").all() and stats.failed == 0
        assert srv.success_count == 8
