"""The endpoint preflight against the fake OpenAI server (issue 21): one cheap request before
any run; an unreachable endpoint, a refused key or an unknown model stops with one line naming
the variable to fix."""

import socket

import dagster as dg
import openai
import pytest
from starlette.routing import Route

from segcopy_assets.devtools.fake_openai import FakeOpenAIServer
from segcopy_assets.errors import GenerationError
from segcopy_assets.generation.openai_writer import preflight
from segcopy_assets.pipeline import PipelineFailed
from segcopy_assets.pipeline import preflight as pipeline_preflight
from segcopy_assets.resources import Copywriter, Judge
from segcopy_assets.resources.env import judge_from_env

KEY = "sk-test-PREFLIGHT-secret-77"
MODEL = "gpt-4o-mini"
END = "nothing was run or written"


@pytest.fixture
def srv():
    with FakeOpenAIServer(api_key=KEY) as server:
        yield server


@pytest.fixture
def closed_port():
    """A port on 127.0.0.1 nothing listens on (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _without_model_list(server: FakeOpenAIServer, status: int) -> None:
    """/v1/models answers 404 (no route) or 405 (POST only), like a Databricks endpoint."""
    routes = server.app.router.routes
    routes[:] = [r for r in routes if not getattr(r, "path", "").startswith("/v1/models")]
    if status == 405:
        routes.append(Route("/v1/models", server._list_models, methods=["POST"]))


def _fails(**kwargs) -> str:
    kwargs.setdefault("api_key", KEY)
    kwargs.setdefault("model", MODEL)
    with pytest.raises(GenerationError) as err:
        preflight(**kwargs)
    message = str(err.value)
    assert "\n" not in message and message.endswith(END) and KEY not in message
    return message


def test_reachable_endpoint_good_key_listed_model_takes_one_request(srv):
    assert preflight(base_url=srv.base_url, api_key=KEY, model=MODEL) == "model listed"
    assert (srv.models_call_count, srv.call_count) == (1, 0)


def test_wrong_key_names_the_key_variable_never_the_key(srv):
    message = _fails(base_url=srv.base_url, api_key="sk-WRONG-key-0123")
    assert "SEGCOPY_LLM_API_KEY" in message and "HTTP 401" in message
    assert "sk-WRONG-key-0123" not in message
    assert srv.call_count == 0  # refused on /models already


def test_unknown_model_on_a_strict_endpoint_names_the_model_variable():
    with FakeOpenAIServer(api_key=KEY, strict_models=True) as srv:
        message = _fails(base_url=srv.base_url, model="gpt-nonexistent")
        assert srv.statuses == {404: 1}  # listed nowhere, confirmed by the one-token probe
    assert "SEGCOPY_LLM_MODEL" in message and "'gpt-nonexistent'" in message
    assert "HTTP 404" in message


def test_unlisted_model_that_answers_passes(srv):
    # some servers list only part of what they serve: the chat probe decides
    assert preflight(base_url=srv.base_url, api_key=KEY, model="served-unlisted") == (
        "model answered"
    )
    assert srv.call_count == 1 and srv.last_request["max_tokens"] == 1


def test_closed_port_names_the_base_url_variable(closed_port):
    url = f"http://127.0.0.1:{closed_port}/v1?api-key={KEY}"
    message = _fails(base_url=url, timeout_s=2)
    assert "SEGCOPY_LLM_BASE_URL" in message and "unreachable" in message
    assert f"http://127.0.0.1:{closed_port} " in message and "api-key" not in message


def test_a_silent_listener_is_unreachable_too():
    """Accepts connections (the kernel's backlog) and never answers: the short timeout ends it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        port = s.getsockname()[1]
        message = _fails(base_url=f"http://127.0.0.1:{port}/v1", timeout_s=0.3)
    assert "no answer within 0.3 s" in message and "SEGCOPY_LLM_BASE_URL" in message


@pytest.mark.parametrize("status", [404, 405])
def test_without_model_list_the_chat_probe_decides(status):
    with FakeOpenAIServer(api_key=KEY, strict_models=True) as srv:
        _without_model_list(srv, status)
        assert preflight(base_url=srv.base_url, api_key=KEY, model=MODEL) == "model answered"
        assert srv.call_count == 1
        message = _fails(base_url=srv.base_url, model="gpt-nonexistent")
        assert "SEGCOPY_LLM_MODEL" in message and "no /models either" in message
        message = _fails(base_url=srv.base_url, api_key="sk-WRONG")
        assert "SEGCOPY_LLM_API_KEY" in message and "HTTP 401" in message


def test_rate_limited_probe_passes_failing_probe_stops(srv):
    srv.fail_next(429, retry_after=0.01, count=2)  # the probe and its one retry
    assert "HTTP 429" in preflight(base_url=srv.base_url, api_key=KEY, model="unlisted")
    srv.fail_next(503, count=2)
    message = _fails(base_url=srv.base_url, model="unlisted")
    assert "is failing (HTTP 503" in message and "SEGCOPY_LLM_BASE_URL" in message
    assert srv.statuses == {429: 2, 503: 2}


def test_fake_serves_one_model_or_404(srv):
    client = openai.OpenAI(base_url=srv.base_url, api_key=KEY, max_retries=0)
    assert client.models.retrieve(MODEL).id == MODEL
    with pytest.raises(openai.NotFoundError) as err:
        client.models.retrieve("gpt-nonexistent")
    assert err.value.code == "model_not_found"
    assert srv.models_call_count == 2


# ------------------------------------------------------------------ the resources and the pipeline


def test_copywriter_preflight_names_the_variables_it_read(srv, monkeypatch, prompts_dir):
    Copywriter(prompts_dir=str(prompts_dir)).preflight()  # offline: no request at all
    assert srv.models_call_count == 0

    monkeypatch.setenv("OPENAI_API_KEY", "sk-WRONG-from-openai-var")
    copywriter = Copywriter(
        backend="openai",
        base_url=srv.base_url,
        api_key=dg.EnvVar("OPENAI_API_KEY"),
        prompts_dir=str(prompts_dir),
    )
    with pytest.raises(GenerationError, match="check OPENAI_API_KEY;") as err:
        copywriter.preflight()
    assert "sk-WRONG" not in str(err.value) and str(err.value).startswith("copywriter endpoint")

    srv.strict_models, srv.models = True, ["another-model"]
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with pytest.raises(GenerationError) as err:  # the model of prompts/config.toml
        copywriter.preflight()
    assert "check SEGCOPY_LLM_MODEL (not set: the model is [model] name in" in str(err.value)
    assert str(prompts_dir / "config.toml") in str(err.value)
    with pytest.raises(
        GenerationError, match=r"model 'gpt-x' \(HTTP 404\): check SEGCOPY_LLM_MODEL;"
    ):
        copywriter.model_copy(update={"model": "gpt-x"}).preflight()


def test_judge_preflight_names_the_copywriter_variables_it_falls_back_to(
    srv, closed_port, monkeypatch
):
    assert not Judge(prompts_dir=".").enabled
    Judge(prompts_dir=".").preflight()  # off: no request

    monkeypatch.setenv("SEGCOPY_JUDGE_MODEL", MODEL)
    monkeypatch.setenv("SEGCOPY_LLM_BASE_URL", srv.base_url)
    monkeypatch.setenv("SEGCOPY_LLM_API_KEY", "sk-WRONG-llm-key")
    with pytest.raises(GenerationError, match="LLM judge endpoint .*check SEGCOPY_LLM_API_KEY;"):
        judge_from_env().preflight()
    monkeypatch.setenv("SEGCOPY_JUDGE_API_KEY", KEY)
    judge_from_env().preflight()
    monkeypatch.setenv("SEGCOPY_LLM_BASE_URL", f"http://127.0.0.1:{closed_port}/v1")
    with pytest.raises(GenerationError, match="unreachable .*check SEGCOPY_LLM_BASE_URL;"):
        judge_from_env().preflight()
    monkeypatch.setenv("SEGCOPY_JUDGE_BASE_URL", f"http://127.0.0.1:{closed_port}/v1")
    with pytest.raises(GenerationError, match="check SEGCOPY_JUDGE_BASE_URL;"):
        judge_from_env().preflight()
    monkeypatch.setenv("SEGCOPY_JUDGE_BASE_URL", srv.base_url)
    monkeypatch.setenv("SEGCOPY_JUDGE_MODEL", "gpt-nonexistent")
    srv.strict_models = True
    with pytest.raises(GenerationError, match="check SEGCOPY_JUDGE_MODEL;"):
        judge_from_env().preflight()


def test_pipeline_preflight_stops_on_a_closed_port(
    tmp_path, sample_tables, make_resources, prompts_dir, closed_port
):
    copywriter = Copywriter(
        backend="openai",
        base_url=f"http://127.0.0.1:{closed_port}/v1",
        api_key=KEY,
        prompts_dir=str(prompts_dir),
    )
    resources = make_resources(tmp_path, sample_tables, copywriter=copywriter)
    with pytest.raises(PipelineFailed, match="check SEGCOPY_LLM_BASE_URL;") as err:
        pipeline_preflight(resources)
    assert KEY not in str(err.value)
    assert not (tmp_path / "warehouse").exists() or not any((tmp_path / "warehouse").iterdir())
