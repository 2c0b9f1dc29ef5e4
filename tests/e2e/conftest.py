"""Fixtures of the end-to-end tests: the ``segcopy`` command as a user runs it."""

import os
import sys
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def segcopy_exe() -> str:
    """The ``segcopy`` console script of this virtualenv."""
    return str(Path(sys.executable).parent / "segcopy")


@pytest.fixture(scope="session")
def segcopy_env():
    """``segcopy_env(home, **extra)`` → an environment for a ``segcopy`` process: this one without
    any SEGCOPY_* setting, DAGSTER_HOME or OPENAI_API_KEY, then SEGCOPY_HOME=home and ``extra``.
    (Session and module fixtures start before ``isolated_env`` cleans this process's own.)"""

    def build(home, **extra: str) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("SEGCOPY_") and k not in ("DAGSTER_HOME", "OPENAI_API_KEY")
        }
        env.update({"SEGCOPY_HOME": str(home), **extra})
        return env

    return build
