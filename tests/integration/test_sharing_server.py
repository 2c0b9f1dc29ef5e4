"""The Delta Sharing server (segcopy_assets.devtools.sharing_server, in a thread on 127.0.0.1)
against the official delta-sharing connector 1.4.2. Its pure parts are in
tests/unit/test_sharing_server.py; `serve` in its own process in tests/e2e/test_sharing_serve.py.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from datetime import datetime
from pathlib import Path

import delta_sharing
import deltalake
import pandas as pd
import polars as pl
import pytest
import requests
from delta_sharing.reader import DeltaSharingReader

from segcopy_assets.devtools import sharing_server as ss
from segcopy_assets.devtools.sharing_server import api as ss_api

CUSTOMERS = pl.DataFrame(
    {
        "customer_id": ["c1", "c2", "c3", "c4"],
        "tier": ["Gold", "Silver", None, "Gold"],
        "clv": [120.5, 80.0, None, 300.25],
        "orders": [3, 1, 0, 7],
        "active": [True, False, True, True],
    }
)
MORE = pl.DataFrame(
    {
        "customer_id": ["c5", "c6"],
        "tier": ["Bronze", "Gold"],
        "clv": [10.0, 55.5],
        "orders": [1, 2],
        "active": [False, True],
    }
)


def local_rows(path: Path, version: int | None = None) -> pd.DataFrame:
    return deltalake.DeltaTable(str(path), version=version).to_pandas()


def assert_same_rows(got: pd.DataFrame, want: pd.DataFrame, key: str = "customer_id") -> None:
    def norm(df: pd.DataFrame) -> pd.DataFrame:
        df = df[sorted(df.columns)].sort_values(key).reset_index(drop=True).astype(object)
        return df.where(pd.notna(df), None)

    assert len(got) == len(want)
    pd.testing.assert_frame_equal(norm(got), norm(want), check_dtype=False)


class Share:
    """A running server over one table, a profile file and the connector's table URL."""

    def __init__(self, tmp_path: Path, table_path: Path, token: str, endpoint: str):
        self.table_path, self.token, self.endpoint = table_path, token, endpoint
        self.profile = ss.write_profile(tmp_path / "profile.share", endpoint, token)
        self.url = f"{self.profile}#segcopy.cdp.customers"
        self.table_api = f"{endpoint}/shares/segcopy/schemas/cdp/tables/customers"
        self.auth = {"Authorization": f"Bearer {token}"}

    def query(self, body: dict | None = None, **headers: str) -> requests.Response:
        return requests.post(
            self.table_api + "/query", json=body or {}, headers={**self.auth, **headers}, timeout=10
        )


@pytest.fixture
def table_path(tmp_path: Path) -> Path:
    path = tmp_path / "customers"
    CUSTOMERS.write_delta(path)
    return path


@pytest.fixture
def share(tmp_path: Path, table_path: Path):
    token = secrets.token_urlsafe(24)
    tables = [ss.SharedTable("segcopy", "cdp", "customers", table_path)]
    with ss.running_server(tables, token) as endpoint:
        yield Share(tmp_path, table_path, token, endpoint)


def test_connector_lists_the_table(share):
    client = delta_sharing.SharingClient(share.profile)
    assert client.list_all_tables() == [
        delta_sharing.Table(name="customers", share="segcopy", schema="cdp")
    ]
    assert [s.name for s in client.list_shares()] == ["segcopy"]
    assert [s.name for s in client.list_schemas(delta_sharing.Share("segcopy"))] == ["cdp"]
    assert [t.name for t in client.list_tables(delta_sharing.Schema("cdp", "segcopy"))] == [
        "customers"
    ]
    got = requests.get(
        f"{share.endpoint}/shares/SEGCOPY", headers=share.auth, timeout=5
    )  # case-insensitive
    assert got.status_code == 200 and got.json()["share"]["name"] == "segcopy"


@pytest.mark.parametrize("use_delta_format", [None, False], ids=["default-delta-kernel", "parquet"])
def test_load_as_pandas_matches_local_read(share, use_delta_format, monkeypatch):
    MORE.write_delta(share.table_path, mode="append")  # two files, version 1
    if (
        use_delta_format is None
    ):  # the default must take the delta-kernel path, not the parquet reader

        def parquet_reader_used(*args, **kwargs):
            raise AssertionError("the connector fell back to the parquet path")

        monkeypatch.setattr(DeltaSharingReader, "_to_pandas", staticmethod(parquet_reader_used))
    got = delta_sharing.load_as_pandas(share.url, use_delta_format=use_delta_format)
    assert_same_rows(got, local_rows(share.table_path))
    assert len(got) == 6


def test_response_format_follows_client_capabilities(share):
    delta = share.query(
        **{"delta-sharing-capabilities": "responseformat=delta,parquet;readerfeatures=x"}
    )
    assert (
        delta.status_code == 200
        and delta.headers["delta-sharing-capabilities"] == "responseformat=delta"
    )
    lines = [json.loads(line) for line in delta.text.splitlines()]
    assert "deltaProtocol" in lines[0]["protocol"] and "deltaMetadata" in lines[1]["metaData"]
    add = lines[2]["file"]["deltaSingleAction"]["add"]
    assert add["path"].startswith(share.endpoint) and "X-Amz-Signature=" in add["path"]
    assert json.loads(add["stats"])["numRecords"] == 4

    parquet = share.query()
    assert parquet.status_code == 200 and "delta-sharing-capabilities" not in parquet.headers
    assert parquet.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in parquet.text.splitlines()]
    assert lines[0] == {"protocol": {"minReaderVersion": 1}}
    assert lines[1]["metaData"]["partitionColumns"] == [] and "schemaString" in lines[1]["metaData"]
    stats = json.loads(lines[2]["file"]["stats"])
    assert (
        stats["numRecords"] == 4
        and stats["nullCount"]["tier"] == 1
        and stats["maxValues"]["orders"] == 7
    )
    for endpoint in ("/version", "/metadata"):
        assert (
            requests.get(share.table_api + endpoint, headers=share.auth).headers[
                "delta-table-version"
            ]
            == "0"
        )
    head = requests.head(share.table_api + "/version", headers=share.auth, timeout=5)
    assert head.status_code == 200 and head.headers["delta-table-version"] == "0"


def test_time_travel_by_version_and_timestamp(share):
    url = share.url
    assert delta_sharing.get_table_version(url) == 0
    time.sleep(0.05)
    between = datetime.now().strftime("%Y-%m-%d %H:%M:%S.%f")
    time.sleep(0.05)
    MORE.write_delta(share.table_path, mode="append")
    assert delta_sharing.get_table_version(url) == 1
    assert delta_sharing.get_table_version(url, starting_timestamp=between) == 1
    assert delta_sharing.get_table_version(url, starting_timestamp="2000-01-01 00:00:00") == 0
    pl.DataFrame({**MORE.to_dict(), "customer_id": ["z1", "z2"]}).write_delta(
        share.table_path, mode="overwrite"
    )
    assert delta_sharing.get_table_version(url) == 2
    v0 = local_rows(share.table_path, 0)
    for fmt in (None, False):
        assert_same_rows(delta_sharing.load_as_pandas(url, version=0, use_delta_format=fmt), v0)
        assert_same_rows(
            delta_sharing.load_as_pandas(url, timestamp=between, use_delta_format=fmt), v0
        )
        v1 = delta_sharing.load_as_pandas(url, version=1, use_delta_format=fmt)
        assert_same_rows(v1, local_rows(share.table_path, 1))
        assert sorted(delta_sharing.load_as_pandas(url, use_delta_format=fmt)["customer_id"]) == [
            "z1",
            "z2",
        ]
    assert share.query({"version": 0}).headers["delta-table-version"] == "0"


def test_limit(share):
    for _ in range(3):
        MORE.write_delta(share.table_path, mode="append")
    for fmt in (None, False):
        assert len(delta_sharing.load_as_pandas(share.url, limit=2, use_delta_format=fmt)) == 2
        assert len(delta_sharing.load_as_pandas(share.url, limit=0, use_delta_format=fmt)) == 0
    all_files = share.query().text.splitlines()[2:]
    hinted = share.query({"limitHint": 1}).text.splitlines()[2:]
    assert (
        len(all_files) == 4 and len(hinted) == 1
    )  # the server trims files by their numRecords stats


def test_partitioned_table_with_special_characters(tmp_path):
    path = tmp_path / "segments"
    df = pl.DataFrame(
        {
            "id": [1, 2, 3, 4, 5, 6],
            "segment": ["weekend hikers", "a/b%c", "x=y&z", "ünï côdé", None, "weekend hikers"],
            "score": [1.0, 2.0, 3.0, 4.0, 5.0, None],
        }
    )
    df.write_delta(path, delta_write_options={"partition_by": ["segment"]})
    assert any(
        "%" in p.name for p in path.iterdir()
    )  # partition folders really are percent-encoded
    token = secrets.token_urlsafe(16)
    with ss.running_server(
        [ss.SharedTable("segcopy", "cdp", "customers", path)], token
    ) as endpoint:
        url = f"{ss.write_profile(tmp_path / 'p.share', endpoint, token)}#segcopy.cdp.customers"
        for fmt in (None, False):
            assert_same_rows(
                delta_sharing.load_as_pandas(url, use_delta_format=fmt), local_rows(path), key="id"
            )
        meta = delta_sharing.get_table_metadata(url)
        assert meta.partition_columns == ["segment"]


def test_wrong_or_missing_token_is_rejected_quickly(share, tmp_path):
    wrong = ss.write_profile(tmp_path / "wrong.share", share.endpoint, "not-the-token")
    started = time.monotonic()
    with pytest.raises(requests.HTTPError) as err:
        delta_sharing.load_as_pandas(f"{wrong}#segcopy.cdp.customers")
    assert time.monotonic() - started < 10
    assert "401" in str(err.value) and "UNAUTHENTICATED" in str(err.value)
    assert share.token not in str(err.value)
    for headers in ({"Authorization": "Bearer nope"}, {}, {"Authorization": share.token}):
        r = requests.get(share.table_api + "/version", headers=headers, timeout=5)
        assert r.status_code == 401 and r.json()["errorCode"] == "UNAUTHENTICATED"
        assert share.token not in r.text
    assert (
        requests.get(share.table_api + "/version", headers=share.auth, timeout=5).status_code == 200
    )


def test_client_mistakes_get_4xx_json(share, tmp_path):
    api, auth = share.table_api, share.auth
    missing = [
        f"{share.endpoint}/shares/nope",
        f"{share.endpoint}/shares/segcopy/schemas/nope/tables",
        api.replace("customers", "nope") + "/version",
        f"{share.endpoint}/nothing/here",
    ]
    for url in missing:
        r = requests.get(url, headers=auth, timeout=5)
        assert r.status_code == 404 and r.json()["errorCode"] == "RESOURCE_DOES_NOT_EXIST", url
    bad = [
        share.query({"version": -1}),
        share.query({"version": 99}),
        share.query({"timestamp": "yesterday"}),
        share.query({"timestamp": "1990-01-01 00:00:00"}),
        share.query({"limitHint": "many"}),
        requests.post(api + "/query", data="{not json", headers=auth, timeout=5),
        requests.get(
            api + "/version", params={"startingTimestamp": "2999-01-01 00:00:00"}, headers=auth
        ),
        requests.get(
            api + "/changes", params={"startingVersion": 0}, headers=auth
        ),  # CDF not enabled
        requests.get(f"{share.endpoint}/shares", params={"maxResults": "x"}, headers=auth),
    ]
    for r in bad:
        assert r.status_code == 400 and r.json()["errorCode"] == "INVALID_PARAMETER_VALUE", r.text
    assert requests.get(api + "/query", headers=auth, timeout=5).status_code == 405
    # A shared table that has not been written yet is a 404, not a 5xx the connector would retry.
    token = secrets.token_urlsafe(16)
    with ss.running_server(
        [ss.SharedTable("s", "c", "t", tmp_path / "not-yet")], token
    ) as endpoint:
        auth = {"Authorization": f"Bearer {token}"}
        r = requests.get(f"{endpoint}/shares/s/schemas/c/tables/t/version", headers=auth, timeout=5)
        assert r.status_code == 404


def test_signed_file_urls_range_head_and_tampering(share, monkeypatch):
    file_line = json.loads(share.query().text.splitlines()[2])["file"]
    url, on_disk = file_line["url"], next(share.table_path.glob("*.parquet")).read_bytes()
    assert "Authorization" not in requests.utils.default_headers()
    whole = requests.get(url, timeout=5)
    assert (
        whole.status_code == 200 and whole.content == on_disk and file_line["size"] == len(on_disk)
    )
    head = requests.head(url, timeout=5)
    assert head.status_code == 200 and int(head.headers["content-length"]) == len(on_disk)
    part = requests.get(url, headers={"Range": "bytes=4-11"}, timeout=5)
    assert part.status_code == 206 and part.content == on_disk[4:12]
    assert part.headers["content-range"] == f"bytes 4-11/{len(on_disk)}"
    tail = requests.get(url, headers={"Range": "bytes=-4"}, timeout=5)
    assert tail.status_code == 206 and tail.content == on_disk[-4:] == b"PAR1"

    base, query = url.split("?")
    sig = query.split("X-Amz-Signature=")[1]
    tampered = [
        url.replace(sig, ("0" if sig[0] != "0" else "1") + sig[1:]),
        base,
        url.replace("X-Amz-Expires=", "X-Amz-Expires=1"),
        f"{share.endpoint}/files/0/{base64.urlsafe_b64encode(b'../secret').decode()}?{query}",
    ]
    for bad in tampered:
        r = requests.get(bad, timeout=5)
        assert r.status_code == 403 and r.json()["errorCode"] == "PERMISSION_DENIED", bad
    monkeypatch.setattr(ss_api, "URL_TTL_SECONDS", -5)
    expired = json.loads(share.query().text.splitlines()[2])["file"]["url"]
    assert requests.get(expired, timeout=5).status_code == 403


def test_checkpoint_and_cleaned_up_log(tmp_path, table_path):
    MORE.write_delta(table_path, mode="append")
    deltalake.DeltaTable(str(table_path)).create_checkpoint()  # checkpoint at version 1
    pl.DataFrame({**MORE.to_dict(), "customer_id": ["c7", "c8"]}).write_delta(
        table_path, mode="append"
    )
    (table_path / "_delta_log" / f"{0:020d}.json").unlink()  # as log cleanup would
    token = secrets.token_urlsafe(16)
    with ss.running_server(
        [ss.SharedTable("segcopy", "cdp", "customers", table_path)], token
    ) as endpoint:
        share = Share(tmp_path, table_path, token, endpoint)
        for fmt in (None, False):
            assert_same_rows(
                delta_sharing.load_as_pandas(share.url, use_delta_format=fmt),
                local_rows(table_path),
            )
            assert (
                len(delta_sharing.load_as_pandas(share.url, version=1, use_delta_format=fmt)) == 6
            )
        lines = [json.loads(line) for line in share.query().text.splitlines()]
        assert all("stats" in line["file"] for line in lines[2:]) and len(lines) == 5
        assert share.query({"version": 0}).status_code == 400  # no longer reconstructible


def test_change_data_feed(tmp_path):
    path = tmp_path / "cdf"
    deltalake.write_deltalake(
        str(path), CUSTOMERS.to_arrow(), configuration={"delta.enableChangeDataFeed": "true"}
    )
    deltalake.write_deltalake(str(path), MORE.to_arrow(), mode="append")
    deltalake.DeltaTable(str(path)).delete("customer_id = 'c2'")
    deltalake.DeltaTable(str(path)).update(predicate="customer_id = 'c1'", updates={"orders": "4"})
    token = secrets.token_urlsafe(16)
    with ss.running_server(
        [ss.SharedTable("segcopy", "cdp", "customers", path)], token
    ) as endpoint:
        url = f"{ss.write_profile(tmp_path / 'p.share', endpoint, token)}#segcopy.cdp.customers"
        for fmt in (False, True):
            changes = delta_sharing.load_table_changes_as_pandas(
                url, starting_version=1, use_delta_format=fmt
            )
            got = sorted(
                zip(changes["_commit_version"], changes["_change_type"], changes["customer_id"])
            )
            assert got == [
                (1, "insert", "c5"),
                (1, "insert", "c6"),
                (2, "delete", "c2"),
                (3, "update_postimage", "c1"),
                (3, "update_preimage", "c1"),
            ]
            assert sorted(
                changes.loc[changes["_change_type"].str.startswith("update"), "orders"]
            ) == [3, 4]
