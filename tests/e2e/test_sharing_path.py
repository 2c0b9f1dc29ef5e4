"""CDP customers over Delta Sharing, end to end: `segcopy share serve` + the official connector."""

import json
import shutil
import signal
import subprocess
import time
from contextlib import contextmanager

import dagster as dg
import polars as pl
import pytest

from segcopy_assets.core.cdp_source import sharing_table_version
from segcopy_assets.definitions import ALL_ASSETS
from segcopy_assets.devtools.sample_churn import write_churn
from segcopy_assets.errors import SourceUnavailableError
from segcopy_assets.resources import CdpSource

pytestmark = pytest.mark.slow


@contextmanager
def serving(table, tmp_path, port, repo_root, segcopy_exe):
    """`segcopy share serve` for ``table`` on ``port``, until the block ends."""
    profile = tmp_path / "profile.share"
    proc = subprocess.Popen(
        [
            segcopy_exe,
            "share",
            "serve",
            "--table",
            str(table),
            "--port",
            str(port),
            "--profile",
            str(profile),
        ],
        cwd=repo_root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"{profile}#segcopy.cdp.customers"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if profile.exists():
                    sharing_table_version(url, timeout_s=1)
                    break
            except SourceUnavailableError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "share server did not start"
            time.sleep(0.2)
        yield {"url": url, "profile": profile, "table": table, "port": port, "proc": proc}
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            out, _ = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        token = json.loads(profile.read_text())["bearerToken"] if profile.exists() else None
        assert token is None or token not in out, "the bearer token was printed"


@pytest.fixture
def shared_table(tmp_path, sample_tables, free_port, repo_root, segcopy_exe):
    """A copy of the sample CDP table served by `segcopy share serve` on a free port, WITHOUT a
    change data feed (a share that was not shared with history)."""
    table = tmp_path / "cdp_customers"
    pl.read_delta(sample_tables["customers"]).write_delta(table)
    with serving(table, tmp_path, free_port(), repo_root, segcopy_exe) as shared:
        yield shared


@pytest.fixture
def shared_table_with_feed(tmp_path, sample_tables, free_port, repo_root, segcopy_exe):
    """The sample CDP table (it has a change data feed) served the same way."""
    table = tmp_path / "cdp_customers"
    shutil.copytree(sample_tables["customers"], table)
    with serving(table, tmp_path, free_port(), repo_root, segcopy_exe) as shared:
        yield shared


def test_profile_and_server_are_local_and_private(shared_table):
    profile = json.loads(shared_table["profile"].read_text())
    assert profile["endpoint"].startswith(f"http://127.0.0.1:{shared_table['port']}/")
    assert oct(shared_table["profile"].stat().st_mode & 0o777) == "0o600"


def test_cdp_customers_through_the_connector_equals_local(
    tmp_path, shared_table, sample_tables, make_resources, memory_instance
):
    with memory_instance() as instance:
        resources = make_resources(tmp_path, sample_tables, share_url=shared_table["url"])
        result = dg.materialize(
            ALL_ASSETS, selection=["cdp_customers"], resources=resources, instance=instance
        )
        assert result.success
        meta = result.asset_materializations_for_node("cdp_customers")[0].metadata
    shared = pl.read_delta(resources["warehouse"].table_path("cdp_customers")).sort("customer_id")
    local = pl.read_delta(sample_tables["customers"]).sort("customer_id")
    assert shared.height == 20_000
    assert shared.select(local.columns).equals(local)
    assert meta["source"].value.startswith(
        "delta-sharing segcopy.cdp.customers at http://127.0.0.1"
    )
    token = json.loads(shared_table["profile"].read_text())["bearerToken"]
    assert token not in str(meta) and meta["source_table_version"].value == 0


def test_wrong_token_fails_quickly_and_clearly(tmp_path, shared_table):
    profile = json.loads(shared_table["profile"].read_text())
    bad = tmp_path / "bad.share"
    bad.write_text(json.dumps({**profile, "bearerToken": "not-the-token"}))
    source = CdpSource(share_url=f"{bad}#segcopy.cdp.customers")
    started = time.perf_counter()
    with pytest.raises(
        SourceUnavailableError, match=r"rejected the bearer token .* \(HTTP 401\)"
    ) as err:
        source.current_version()
    assert time.perf_counter() - started < 5
    assert "not-the-token" not in str(err.value)


def test_version_endpoint_reflects_a_new_commit(shared_table):
    url = shared_table["url"]
    assert sharing_table_version(url) == 0
    extra = (
        pl.read_delta(str(shared_table["table"]))
        .head(3)
        .with_columns((pl.col("customer_id") + "-new").alias("customer_id"))
    )
    extra.write_delta(shared_table["table"], mode="append")
    assert sharing_table_version(url) == 1
    assert CdpSource(share_url=url).read(1).select(pl.len()).collect().item() == 20_003
    assert CdpSource(share_url=url).read(0).select(pl.len()).collect().item() == 20_000


def test_unreachable_or_unknown_source_is_named(tmp_path, shared_table, free_port):
    profile = json.loads(shared_table["profile"].read_text())
    with pytest.raises(SourceUnavailableError, match="segcopy.cdp.nope .*does not exist"):
        sharing_table_version(f"{shared_table['profile']}#segcopy.cdp.nope")
    down = tmp_path / "down.share"
    down.write_text(
        json.dumps({**profile, "endpoint": f"http://127.0.0.1:{free_port()}/delta-sharing"})
    )
    started = time.perf_counter()
    with pytest.raises(SourceUnavailableError, match="unreachable"):
        sharing_table_version(f"{down}#segcopy.cdp.customers", timeout_s=1)
    assert time.perf_counter() - started < 5
    with pytest.raises(SourceUnavailableError, match="not a Delta Sharing table URL"):
        sharing_table_version("no-hash-here")


def _refresh(resources, instance) -> dict:
    result = dg.materialize(
        ALL_ASSETS,
        selection=["cdp_customers", "segment_summaries", "customer_segments"],
        resources=resources,
        instance=instance,
    )
    assert result.success
    return {
        k: v.value
        for k, v in result.asset_materializations_for_node("cdp_customers")[0].metadata.items()
    }


def test_cdp_customers_reads_only_the_changes_over_the_share(
    tmp_path, shared_table_with_feed, sample_tables, make_resources, memory_instance
):
    shared = shared_table_with_feed
    resources = make_resources(tmp_path, sample_tables, share_url=shared["url"])
    with memory_instance() as instance:
        assert _refresh(resources, instance)["refresh"] == "full: first ingestion"
        churn = write_churn(str(shared["table"]), 300, seed=4)
        meta = _refresh(resources, instance)
    assert meta["refresh"] == "incremental"  # through the server's /changes
    assert (meta["changes_from_version"], meta["source_table_version"]) == (1, churn.version)
    assert (meta["customers_inserted"], meta["customers_updated"], meta["customers_deleted"]) == (
        churn.inserted,
        churn.updated,
        churn.deleted,
    )
    ingested = pl.read_delta(resources["warehouse"].table_path("cdp_customers"))
    local = pl.read_delta(str(shared["table"]))
    assert ingested.sort("customer_id").equals(local.select(ingested.columns).sort("customer_id"))


def test_a_share_without_history_is_read_in_full_with_the_reason(
    tmp_path, shared_table, sample_tables, make_resources, memory_instance
):
    resources = make_resources(tmp_path, sample_tables, share_url=shared_table["url"])
    more = (
        pl.read_delta(str(shared_table["table"]))
        .head(3)
        .with_columns((pl.col("customer_id") + "-new").alias("customer_id"))
    )
    with memory_instance() as instance:
        _refresh(resources, instance)
        more.write_delta(shared_table["table"], mode="append")
        meta = _refresh(resources, instance)
    assert meta["refresh"] == (
        "full: the shared table has no change data feed (its metadata has no "
        "enableChangeDataFeed: share it WITH HISTORY and set delta.enableChangeDataFeed)"
    )
    assert meta["row_count"] == 20_003
