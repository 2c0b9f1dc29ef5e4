"""The Delta Sharing server's pure parts: the file route never leaves the table's directory
(the handler called directly), the profile file is private, and the token is never printed.
The server on a port: tests/integration/test_sharing_server.py."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import stat
import time
from pathlib import Path

import polars as pl
import pytest
from starlette.requests import Request

from segcopy_assets.devtools import sharing_server as ss
from segcopy_assets.devtools.sharing_server import api as ss_api
from segcopy_assets.devtools.sharing_server import server as ss_server


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


def test_file_route_never_leaves_the_table_directory(tmp_path, table_path):
    (tmp_path / "secret.txt").write_text("do not serve")
    api = ss_api._Api([ss.SharedTable("s", "c", "t", table_path)], "tok")
    for rel in ("../secret.txt", "/etc/passwd", "_delta_log/../../secret.txt"):
        key = base64.urlsafe_b64encode(rel.encode()).decode().rstrip("=")
        expires = str(int(time.time()) + 60)
        scope = {
            "type": "http",
            "method": "GET",
            "path": "/",
            "headers": [],
            "path_params": {"idx": "0", "key": key},
            "query_string": f"X-Amz-Expires={expires}&X-Amz-Signature={api._sign(0, key, expires)}".encode(),
        }
        with pytest.raises(ss.ApiError) as err:
            asyncio.run(api.serve_file(Request(scope)))
        assert err.value.status == 404


def test_write_profile_is_private(tmp_path):
    path = tmp_path / "sub" / "p.share"
    path.parent.mkdir()
    path.write_text("old")
    path.chmod(0o644)
    ss.write_profile(path, "http://127.0.0.1:1/delta-sharing", "tok")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text()) == {
        "shareCredentialsVersion": 1,
        "endpoint": "http://127.0.0.1:1/delta-sharing",
        "bearerToken": "tok",
    }


def test_announce_never_prints_the_token(capsys, tmp_path):
    token = secrets.token_urlsafe(32)
    ss_server._announce(
        tmp_path / "p.share", "segcopy", "cdp", "customers", "http://127.0.0.1:9/delta-sharing"
    )
    out, err = capsys.readouterr()
    assert (
        f"{tmp_path / 'p.share'}#segcopy.cdp.customers" in out
        and "http://127.0.0.1:9/delta-sharing" in out
    )
    assert token not in out + err
