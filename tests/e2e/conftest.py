"""Fixtures of the end-to-end tests: the ``segcopy`` command as a user runs it."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests


@pytest.fixture(scope="session")
def segcopy_exe() -> str:
    """The ``segcopy`` console script of this virtualenv."""
    return str(Path(sys.executable).parent / "segcopy")


@pytest.fixture(scope="session")
def segcopy_env():
    """``segcopy_env(home, **extra)`` → an environment for a ``segcopy`` process: this one without
    any SEGCOPY_* setting, DAGSTER_HOME or OPENAI_API_KEY, then SEGCOPY_HOME=home, the
    description alone as the channel (SEGCOPY_CHANNELS=web_description, as in process; a test of
    the channels sets it) and ``extra``.
    (Session and module fixtures start before ``isolated_env`` cleans this process's own.)"""

    def build(home, **extra: str) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("SEGCOPY_") and k not in ("DAGSTER_HOME", "OPENAI_API_KEY")
        }
        env.update({"SEGCOPY_HOME": str(home), "SEGCOPY_CHANNELS": "web_description", **extra})
        return env

    return build


@pytest.fixture
def segcopy(segcopy_exe, segcopy_env, repo_root):
    """``segcopy(*args, home=..., env_extra=None)`` → the finished ``segcopy`` process."""

    def run(*args, home, timeout=300, env_extra=None):
        return subprocess.run(
            [segcopy_exe, *args],
            cwd=repo_root,
            env=segcopy_env(home, **(env_extra or {})),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    return run


@pytest.fixture
def start_review_server(segcopy_exe):
    """``start_review_server(env, port, *args)`` → a running ``segcopy review serve --port PORT
    ARGS`` process (it answers); the test stops it."""

    def start(env: dict, port: int, *args: str) -> subprocess.Popen:
        proc = subprocess.Popen(
            [segcopy_exe, "review", "serve", "--port", str(port), *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "segcopy review serve did not start"
            try:
                # public with or without sign-in: answers once the server is up
                if requests.get(f"http://127.0.0.1:{port}/favicon.ico", timeout=2).ok:
                    return proc
            except requests.ConnectionError:
                pass
            time.sleep(0.1)

    return start
