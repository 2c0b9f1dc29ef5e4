"""`serve` (the Delta Sharing server behind `segcopy share serve`) in its own process: it writes a
private profile, serves the table to the official connector, and keeps the token off the console.
"""

import json
import os
import secrets
import stat
import subprocess
import sys
import time
from pathlib import Path

import delta_sharing
import polars as pl
import pytest


@pytest.fixture
def table_path(tmp_path: Path) -> Path:
    """A four-row customers table."""
    path = tmp_path / "customers"
    pl.DataFrame(
        {
            "customer_id": ["c1", "c2", "c3", "c4"],
            "tier": ["Gold", "Silver", None, "Gold"],
            "clv": [120.5, 80.0, None, 300.25],
            "orders": [3, 1, 0, 7],
            "active": [True, False, True, True],
        }
    ).write_delta(path)
    return path


@pytest.mark.slow
def test_serve_writes_profile_and_keeps_token_off_the_console(tmp_path, table_path, repo_root):
    token, profile = secrets.token_urlsafe(32), tmp_path / "served.share"
    code = (
        f"from segcopy_assets.devtools.sharing_server import serve; "
        f"serve({str(table_path)!r}, token={token!r}, profile_path={str(profile)!r})"
    )
    env = {**os.environ, "PYTHONPATH": str(repo_root)}
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    try:
        deadline = time.monotonic() + 30
        while not (profile.exists() and profile.stat().st_size) and proc.poll() is None:
            assert time.monotonic() < deadline, "serve did not write its profile"
            time.sleep(0.05)
        assert stat.S_IMODE(profile.stat().st_mode) == 0o600
        endpoint = json.loads(profile.read_text())["endpoint"]
        assert endpoint.startswith("http://127.0.0.1:")
        assert delta_sharing.get_table_version(f"{profile}#segcopy.cdp.customers") == 0
        assert len(delta_sharing.load_as_pandas(f"{profile}#segcopy.cdp.customers")) == 4
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=15)
    assert f"{profile}#segcopy.cdp.customers" in out.decode() and endpoint in out.decode()
    assert token not in out.decode() and token not in err.decode()
