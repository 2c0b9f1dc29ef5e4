"""Tests of the fake OpenAI server, driven through the official openai client."""

from __future__ import annotations

import asyncio
import time

import openai
import pytest

from segcopy_assets.devtools.fake_openai import FakeOpenAIServer, count_tokens

KEY = "sk-test-key"
MODEL = "gpt-4o-mini"
PRODUCT = (
    "The Trailblazer 40L backpack weighs 1.2 kg, has a waterproof zip and a lifetime warranty."
)


def user_prompt(product: str = PRODUCT, segment: str = "weekend hikers") -> str:
    return (
        f"Write copy for the segment below.\n<segment>{segment}</segment>\n"
        f"<product_description>{product}</product_description>"
    )


def messages(product: str = PRODUCT, segment: str = "weekend hikers") -> list[dict]:
    return [
        {"role": "system", "content": "You are a careful marketing copywriter."},
        {"role": "user", "content": user_prompt(product, segment)},
    ]


def client(srv: FakeOpenAIServer, **kwargs) -> openai.OpenAI:
    kwargs.setdefault("api_key", KEY)
    kwargs.setdefault("max_retries", 0)
    return openai.OpenAI(base_url=srv.base_url, **kwargs)


def aclient(srv: FakeOpenAIServer, **kwargs) -> openai.AsyncOpenAI:
    kwargs.setdefault("api_key", KEY)
    kwargs.setdefault("max_retries", 0)
    return openai.AsyncOpenAI(base_url=srv.base_url, **kwargs)


async def burst(srv: FakeOpenAIServer, n: int, **kwargs) -> list:
    """n concurrent chat completions; returns completions or the raised exceptions."""
    async with aclient(srv, **kwargs) as c:
        return await asyncio.gather(
            *(
                c.chat.completions.create(model=MODEL, messages=messages(f"Product number {i}."))
                for i in range(n)
            ),
            return_exceptions=True,
        )


@pytest.fixture(scope="module")
def shared_srv():
    with FakeOpenAIServer(api_key=KEY) as server:
        yield server


@pytest.fixture
def srv(shared_srv):
    """The shared default server (api_key=KEY, no latency/limits), with clean stats and no faults."""
    shared_srv.clear_faults()
    shared_srv.reset_stats()
    yield shared_srv
    assert shared_srv.in_flight == 0


def test_base_url_is_a_real_local_port(srv):
    assert srv.base_url == f"http://127.0.0.1:{srv.port}/v1"
    assert srv.port > 0


def test_completion_has_copy_rationale_usage_and_echoes_model(srv):
    c = client(srv)
    resp = c.chat.completions.create(model=MODEL, messages=messages())
    content = resp.choices[0].message.content
    copy, sep, rationale = content.partition("\n\n**Rationale:** ")
    assert sep, content
    assert copy.endswith(PRODUCT)  # the facts are echoed verbatim
    assert "weekend hikers" in copy.removesuffix(PRODUCT)  # one tailored sentence in front
    assert rationale.strip()
    assert resp.model == MODEL
    assert resp.object == "chat.completion"
    assert resp.id.startswith("chatcmpl-")
    assert resp.choices[0].finish_reason == "stop"
    words = sum(len(m["content"].split()) for m in messages())
    assert resp.usage.prompt_tokens == round(words * 1.3)
    assert resp.usage.completion_tokens == count_tokens(content) > 0
    assert resp.usage.total_tokens == resp.usage.prompt_tokens + resp.usage.completion_tokens
    # deterministic
    again = c.chat.completions.create(model=MODEL, messages=messages())
    assert again.choices[0].message.content == content
    other = c.chat.completions.create(model="gpt-4.1-mini", messages=messages())
    assert other.model == "gpt-4.1-mini"
    assert srv.call_count == 3
    assert srv.statuses == {200: 3}
    assert srv.requests[0]["messages"] == messages()
    assert srv.requests[0]["model"] == MODEL
    assert len(srv.accepted_times) == 3


def test_last_product_description_pair_wins_else_last_user_message(srv):
    c = client(srv)
    text = (
        "<product_description>old draft</product_description> notes "
        "<product_description>Final: 2 kg, red.</product_description>"
    )
    resp = c.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": text}])
    content = resp.choices[0].message.content
    assert "Final: 2 kg, red." in content and "old draft" not in content
    resp = c.chat.completions.create(
        model=MODEL,
        messages=[
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "x"},
            {"role": "user", "content": "Plain product text, 3 colours."},
        ],
    )
    assert (
        resp.choices[0].message.content.split("\n\n")[0].endswith("Plain product text, 3 colours.")
    )


def test_default_reply_for_the_project_prompt_shape_parses(srv):
    """The user template shape of prompts/user.md.j2: a Product line, no segment tag."""
    user = (
        "Tailor this product description for the segment.\n\nProduct: Trail Pro 29 (Bikes / Mountain)\n\n"
        "<product_description>\nA 29er with 12 gears and a 140 mm fork.\n</product_description>\n"
    )
    content = (
        client(srv)
        .chat.completions.create(
            model=MODEL,
            messages=[
                {"role": "system", "content": "Segment description: ..."},
                {"role": "user", "content": user},
            ],
        )
        .choices[0]
        .message.content
    )
    copy, sep, rationale = content.partition("\n\n**Rationale:** ")
    assert sep and rationale.strip()
    assert "Trail Pro 29" in copy
    assert copy.endswith("A 29er with 12 gears and a 140 mm fork.")


def test_models_endpoint(srv):
    ids = [m.id for m in client(srv).models.list()]
    assert MODEL in ids


def test_wrong_key_is_authentication_error(srv):
    with pytest.raises(openai.AuthenticationError) as exc_info:
        client(srv, api_key="sk-wrong").chat.completions.create(model=MODEL, messages=messages())
    assert exc_info.value.status_code == 401
    assert exc_info.value.code == "invalid_api_key"
    assert srv.statuses == {401: 1}
    assert srv.rejections == {"auth": 1}


@pytest.mark.parametrize(
    ("reply_format", "marker"),
    [
        ("bold", "\n\n**Rationale:** "),
        ("plain", "\n\nRationale: "),
        ("heading", "\n\n## Rationale\n"),
    ],
)
def test_reply_formats(reply_format, marker):
    with FakeOpenAIServer(reply_format=reply_format) as srv:
        content = (
            client(srv)
            .chat.completions.create(model=MODEL, messages=messages())
            .choices[0]
            .message.content
        )
    copy, sep, rationale = content.partition(marker)
    assert sep and copy.endswith(PRODUCT) and rationale.strip()
    if reply_format != "bold":
        assert "**Rationale:**" not in content


def test_custom_responder_gets_request_json():
    seen = []

    def responder(body):
        seen.append(body)
        return f"custom for {body['model']} with {len(body['messages'])} messages"

    with FakeOpenAIServer(responder=responder) as srv:
        resp = client(srv).chat.completions.create(
            model=MODEL, messages=messages(), temperature=0.3
        )
    assert resp.choices[0].message.content == f"custom for {MODEL} with 2 messages"
    assert seen[0]["temperature"] == 0.3


def test_responder_exception_is_a_500():
    def responder(body):
        raise KeyError("boom")

    with FakeOpenAIServer(responder=responder) as srv:
        with pytest.raises(openai.InternalServerError):
            client(srv).chat.completions.create(model=MODEL, messages=messages())
        assert srv.errors and "KeyError" in srv.errors[0]


def test_max_tokens_truncates_with_finish_reason_length(srv):
    resp = client(srv).chat.completions.create(
        model=MODEL, messages=messages(), max_completion_tokens=5
    )
    assert resp.choices[0].finish_reason == "length"
    assert resp.usage.completion_tokens <= 5


def test_scripted_429_has_retry_after_and_client_honours_it(srv):
    srv.fail_next(429, 1, retry_after=1)
    with pytest.raises(openai.RateLimitError) as exc_info:
        client(srv, max_retries=0).chat.completions.create(model=MODEL, messages=messages())
    headers = exc_info.value.response.headers
    assert headers["retry-after"] == "1"
    assert headers["retry-after-ms"] == "1000"
    assert (
        exc_info.value.body["type"] == "requests"
    )  # OpenAI error shape (the client unwraps "error")

    srv.fail_next(429, 1, retry_after=1)
    start = time.monotonic()
    resp = client(srv, max_retries=2).chat.completions.create(model=MODEL, messages=messages())
    elapsed = time.monotonic() - start
    assert resp.choices[0].message.content
    assert 0.95 <= elapsed < 3, elapsed  # waited the server's Retry-After, not the 0.5 s backoff
    assert srv.statuses == {429: 2, 200: 1}
    assert [h["x-stainless-retry-count"] for h in srv.request_headers] == ["0", "0", "1"]
    assert srv.request_headers[-1]["authorization"] == f"Bearer {KEY}"


def test_scripted_500_then_success_with_retries(srv):
    srv.fail_next(500, 1)
    with pytest.raises(openai.InternalServerError):
        client(srv).chat.completions.create(model=MODEL, messages=messages())
    srv.fail_next(500, 1)
    srv.fail_next(503, 1, retry_after=0.05)
    resp = client(srv, max_retries=2).chat.completions.create(model=MODEL, messages=messages())
    assert resp.choices[0].message.content
    assert srv.statuses == {500: 2, 503: 1, 200: 1}
    assert srv.rejections == {"scripted": 3}
    assert srv.pending_faults == 0


def test_hang_next_triggers_client_timeout_quickly():
    start = time.monotonic()
    with FakeOpenAIServer(api_key=KEY) as srv:
        srv.hang_next(1, 5)
        t0 = time.monotonic()
        with pytest.raises(openai.APITimeoutError):
            client(srv, timeout=0.5).chat.completions.create(model=MODEL, messages=messages())
        assert time.monotonic() - t0 < 2
        assert srv.pending_hangs == 0
        # the hang was consumed: the next request answers at once
        assert (
            client(srv, timeout=2).chat.completions.create(model=MODEL, messages=messages()).choices
        )
    assert time.monotonic() - start < 4  # stopping does not wait for the hung request


def test_rate_limit_burst_gets_429s_then_retries_succeed():
    with FakeOpenAIServer(api_key=KEY, rate_limit_rps=20) as srv:
        results = asyncio.run(burst(srv, 40, max_retries=0))
        limited = [r for r in results if isinstance(r, openai.RateLimitError)]
        ok = [r for r in results if not isinstance(r, BaseException)]
        assert len(limited) + len(ok) == 40, [r for r in results if isinstance(r, BaseException)][
            :3
        ]
        assert limited and 1 <= len(ok) <= 20
        retry_after = float(limited[0].response.headers["retry-after"])
        assert 0 < retry_after <= 1.0
        assert 0 < int(limited[0].response.headers["retry-after-ms"]) <= 1000
        assert srv.rejections.get("rate_limit") == len(limited)

        time.sleep(1.05)  # let the window drain
        srv.reset_stats()
        start = time.monotonic()
        results = asyncio.run(burst(srv, 40, max_retries=3))
        assert all(not isinstance(r, BaseException) for r in results), results
        assert 0.9 < time.monotonic() - start < 5
        assert srv.success_count == 40
        assert srv.achieved_rps() <= 41  # 40 admissions spread over about a second


def test_concurrent_requests_are_served_in_parallel():
    with FakeOpenAIServer(api_key=KEY, latency_ms=200) as srv:
        start = time.monotonic()
        results = asyncio.run(burst(srv, 20))
        elapsed = time.monotonic() - start
    assert all(not isinstance(r, BaseException) for r in results), results
    assert srv.max_in_flight >= 10
    assert elapsed < 2.0, elapsed  # serial would be 20 * 0.2 = 4 s


def test_max_concurrency_reject_mode():
    with FakeOpenAIServer(api_key=KEY, latency_ms=300, max_concurrency=3) as srv:
        results = asyncio.run(burst(srv, 10))
        ok = [r for r in results if not isinstance(r, BaseException)]
        limited = [r for r in results if isinstance(r, openai.RateLimitError)]
        assert len(ok) + len(limited) == 10
        assert len(ok) >= 3 and limited
        assert srv.max_in_flight <= 3
        assert srv.rejections.get("concurrency") == len(limited)


def test_max_concurrency_queue_mode():
    with FakeOpenAIServer(
        api_key=KEY, latency_ms=100, max_concurrency=3, concurrency_mode="queue"
    ) as srv:
        start = time.monotonic()
        results = asyncio.run(burst(srv, 9))
        elapsed = time.monotonic() - start
        assert all(not isinstance(r, BaseException) for r in results), results
        assert srv.max_in_flight == 3
        assert srv.max_queued >= 1
        assert elapsed >= 0.29  # three waves of 0.1 s
        assert srv.in_flight == 0


def test_output_tokens_per_s_adds_latency():
    text = " ".join(["word"] * 100)  # 130 tokens
    with FakeOpenAIServer(output_tokens_per_s=650, responder=lambda body: text) as srv:
        start = time.monotonic()
        resp = client(srv).chat.completions.create(model=MODEL, messages=messages())
        elapsed = time.monotonic() - start
    assert resp.usage.completion_tokens == 130
    assert elapsed >= 0.19, elapsed  # 130 / 650 = 0.2 s


def test_reset_stats(srv):
    c = client(srv)
    c.chat.completions.create(model=MODEL, messages=messages())
    srv.reset_stats()
    assert srv.call_count == 0 and srv.requests == [] and srv.statuses == {}
    assert srv.accepted_times == [] and srv.max_in_flight == 0
    c.chat.completions.create(model=MODEL, messages=messages())
    assert srv.call_count == 1 and srv.max_in_flight == 1
