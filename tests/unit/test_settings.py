"""Settings from the environment: a bad value is ONE clear error naming the variable."""

import pytest


@pytest.mark.parametrize(
    "variable, value, expected",
    [
        (
            "SEGCOPY_LLM_MAX_CONCURRENCY",
            "0",
            "SEGCOPY_LLM_MAX_CONCURRENCY: Input should be greater than or equal to 1",
        ),
        ("SEGCOPY_LLM_TIMEOUT_S", "-1", "SEGCOPY_LLM_TIMEOUT_S: Input should be greater than 0"),
        ("SEGCOPY_LLM_TIMEOUT_S", "soon", "SEGCOPY_LLM_TIMEOUT_S must be a number, not 'soon'"),
        (
            "SEGCOPY_LLM_BACKEND",
            "gpt",
            "SEGCOPY_LLM_BACKEND: Input should be 'openai' or 'offline'",
        ),
        (
            "SEGCOPY_MIN_SEGMENT_SIZE",
            "0",
            "SEGCOPY_MIN_SEGMENT_SIZE: Input should be greater than or equal to 1",
        ),
        (
            "SEGCOPY_PLACE_SHARE_THRESHOLD",
            "50",
            "SEGCOPY_PLACE_SHARE_THRESHOLD: Input should be less than or equal to 1",
        ),
        (
            "SEGCOPY_LLM_MODE",
            "nightly",
            "SEGCOPY_LLM_MODE: Input should be 'online', 'batch' or 'auto'",
        ),
        (
            "SEGCOPY_BATCH_FALLBACK",
            "drop",
            "SEGCOPY_BATCH_FALLBACK: Input should be 'online' or 'next_batch'",
        ),
        (
            "SEGCOPY_BATCH_POLL_S",
            "0.1",
            "SEGCOPY_BATCH_POLL_S: Input should be greater than or equal to 1",
        ),
        (
            "SEGCOPY_BATCH_MIN_PAIRS",
            "many",
            "SEGCOPY_BATCH_MIN_PAIRS must be a number, not 'many'",
        ),
        (
            "SEGCOPY_VARIANTS_PER_PAIR",
            "9",
            "SEGCOPY_VARIANTS_PER_PAIR: Input should be less than or equal to 5",
        ),
        (
            "SEGCOPY_VARIANTS_PER_PAIR",
            "two",
            "SEGCOPY_VARIANTS_PER_PAIR must be a number, not 'two'",
        ),
    ],
)
def test_bad_setting_fails_before_anything_runs(variable, value, expected, monkeypatch, free_port):
    """A bad value is refused while the resources are built (before any run, any call, any
    write), with one message naming the variable."""
    from segcopy_assets.errors import SettingsError
    from segcopy_assets.resources import resources_from_env

    monkeypatch.setenv("SEGCOPY_LLM_BASE_URL", f"http://127.0.0.1:{free_port()}/v1")
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as caught:
        resources_from_env()
    assert expected in str(caught.value)
