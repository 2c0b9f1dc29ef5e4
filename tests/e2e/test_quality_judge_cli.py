"""``segcopy run`` with the LLM judge on (SEGCOPY_JUDGE_MODEL), against the fake endpoint: the
newcomer's command with one more variable, and a rerun that asks the judge nothing."""

import subprocess

import pytest

from segcopy_assets.devtools.fake_openai import FakeOpenAIServer


@pytest.mark.slow
def test_segcopy_run_with_the_judge_then_a_rerun_that_calls_nothing(
    tmp_path, segcopy_exe, segcopy_env
):
    with FakeOpenAIServer(api_key="sk-judge-secret-42") as srv:
        env = segcopy_env(
            tmp_path / "home",
            SEGCOPY_JUDGE_MODEL="gpt-4o-mini",
            SEGCOPY_JUDGE_BASE_URL=srv.base_url,
            SEGCOPY_JUDGE_API_KEY="sk-judge-secret-42",
        )
        first = subprocess.run(
            [segcopy_exe, "run"], env=env, capture_output=True, text=True, timeout=600
        )
        assert first.returncode == 0, first.stderr[-3000:]
        assert "LLM judge gpt-4o-mini: 196 call(s), 0 reused, 0 failed" in first.stdout
        assert "Checks: 12/12 passed" in first.stdout  # the fake judge passes the offline copy
        calls = srv.success_count
        second = subprocess.run(
            [segcopy_exe, "run"], env=env, capture_output=True, text=True, timeout=600
        )
        assert second.returncode == 0, second.stderr[-3000:]
        # nothing moved: no variant run, no verdict judged again, the judge not asked
        assert "Stale segments: 0 of 14" in second.stdout
        assert "LLM judge gpt-4o-mini: 0 call(s)" in second.stdout
        assert srv.success_count == calls
    assert calls == 196
    assert "sk-judge-secret-42" not in first.stdout + first.stderr + second.stdout + second.stderr
