"""The pure parts of the endpoint preflight: the URL shown, the variable named, the messages."""

import dagster as dg
import httpx2
import openai
import pytest

from segcopy_assets.generation.openai_writer import (
    NOTHING_DONE,
    EndpointSettings,
    _Preflight,
    env_source,
    shown_url,
)

KEY = "sk-unit-SECRET-4242"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://127.0.0.1:9/v1", "http://127.0.0.1:9"),
        ("https://api.openai.com/v1/", "https://api.openai.com:443"),
        ("http://llm.internal/v1", "http://llm.internal:80"),
        (f"https://user:{KEY}@Host.Example:8443/v1?api-key={KEY}#x", "https://host.example:8443"),
        ("http://[::1]:8000/v1", "http://[::1]:8000"),
        ("localhost:8000/v1", "<not a scheme://host URL>"),
        ("http://host:99999999/v1", "<an unparsable URL>"),
    ],
)
def test_shown_url_is_scheme_host_port_only(url, shown):
    assert shown_url(url) == shown
    assert KEY not in shown_url(url)


def test_env_source_names_the_variable_never_the_value(monkeypatch):
    assert env_source(dg.EnvVar("OPENAI_API_KEY"), ("SEGCOPY_LLM_API_KEY",)) == "OPENAI_API_KEY"
    # a value resolved inside a run: the variable holding it
    monkeypatch.setenv("SEGCOPY_LLM_API_KEY", KEY)
    candidates = ("SEGCOPY_JUDGE_API_KEY", "SEGCOPY_LLM_API_KEY", "OPENAI_API_KEY")
    assert env_source(KEY, candidates) == "SEGCOPY_LLM_API_KEY"
    # a value set directly (no variable holds it): the first candidate, not the value
    assert env_source("sk-other", candidates) == "SEGCOPY_JUDGE_API_KEY"
    assert env_source(None, candidates) == "SEGCOPY_JUDGE_API_KEY (not set)"


def _check(**names) -> _Preflight:
    return _Preflight(
        EndpointSettings(who="copywriter endpoint", **names), "http://h:1", "gpt-x", 2.5
    )


def test_messages_name_the_variable_and_say_nothing_was_done():
    request = httpx2.Request("GET", "http://h:1/v1/models")  # the openai client's httpx
    refused = openai.APIConnectionError(request=request)
    timed_out = openai.APITimeoutError(request=request)
    check = _check(api_key_var="OPENAI_API_KEY")
    assert str(check.unreachable(refused)) == (
        "copywriter endpoint http://h:1 is unreachable (connection failed): "
        f"check SEGCOPY_LLM_BASE_URL; {NOTHING_DONE}"
    )
    assert "no answer within 2.5 s" in str(check.unreachable(timed_out))
    assert str(check.bad_key(401)) == (
        "copywriter endpoint http://h:1 refused the API key (HTTP 401): "
        f"check OPENAI_API_KEY; {NOTHING_DONE}"
    )
    assert str(check.unknown_model(404, no_model_list=False)) == (
        "copywriter endpoint http://h:1 does not serve model 'gpt-x' (HTTP 404): "
        f"check SEGCOPY_LLM_MODEL; {NOTHING_DONE}"
    )
    assert "or the path of SEGCOPY_LLM_BASE_URL (it has no /models either)" in str(
        check.unknown_model(404, no_model_list=True)
    )
    assert str(check.failing(503)).startswith(
        "copywriter endpoint http://h:1 is failing (HTTP 503, also when retried): "
        "check SEGCOPY_LLM_BASE_URL"
    )
    for error in (check.unreachable(refused), check.bad_key(403), check.failing(500)):
        assert "\n" not in str(error) and str(error).endswith("nothing was run or written")
