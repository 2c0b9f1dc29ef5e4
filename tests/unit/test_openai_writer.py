"""``ChatCompletionsWriter``'s settings, without an endpoint. Against the fake endpoint:
tests/integration/test_generation.py and tests/integration/test_request_pacing.py."""

import pytest

from segcopy_assets.generation.openai_writer import ChatCompletionsWriter


def test_max_rps_is_optional_and_must_be_positive():
    assert (
        ChatCompletionsWriter(
            base_url=None, api_key="k", model="m", temperature=0, max_tokens=10
        ).max_rps
        is None
    )
    for bad in (0, -1.0):
        with pytest.raises(ValueError, match="max_rps"):
            ChatCompletionsWriter(
                base_url=None, api_key="k", model="m", temperature=0, max_tokens=10, max_rps=bad
            )
