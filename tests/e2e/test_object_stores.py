"""The warehouse on object storage (issue 23), as a user runs segcopy: SEGCOPY_WAREHOUSE_URI on
moto's S3 server and on Azurite, each in its own process. README command 1's pipeline, a rerun
that calls nothing, the review CLI and the review page deciding, publishing, the activation join
read back from the store through the SQL shipped in sql/, and not a file under
$SEGCOPY_HOME/warehouse. (Crash and resume on the stores: test_crash_resume.py; concurrent
writers: tests/integration/test_concurrent_writers.py.)"""

import re

import polars as pl
import pytest
import requests

from segcopy_assets.core.activation import customer_copy
from segcopy_assets.storage.delta import join

BULK_SEGMENT = "tents--high-value"


def _select_of(sql_file) -> str:
    """The SELECT of a shipped SQL file, its Delta table functions swapped for table names."""
    select = re.search(r"(SELECT\b.*?);", sql_file.read_text(), re.S | re.I).group(1)
    select = re.sub(r"delta\.`<warehouse>/(\w+)`", r"\1", select)
    return re.sub(r"delta_scan\('<warehouse>/(\w+)'\)", r"\1", select)


@pytest.mark.slow
def test_the_whole_flow_on_an_object_store(
    object_store, tmp_path, segcopy, segcopy_env, start_review_server, free_port, repo_root
):
    home = tmp_path / "home"
    warehouse = object_store["warehouse"]
    env = {"SEGCOPY_WAREHOUSE_URI": warehouse, **object_store["env"]}

    first = segcopy("run", home=home, env_extra=env)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    assert "196 pairs, 196 generated, 0 reused" in first.stdout
    assert f"{warehouse}/segcopy/description_variants" in first.stdout
    second = segcopy("run", home=home, env_extra=env)
    assert second.returncode == 0 and "196 pairs, 0 generated, 196 reused" in second.stdout

    # the review CLI and the review page decide on the store's review log
    one = segcopy("review", "approve", "tents--core", "TN-100", home=home, env_extra=env)
    assert one.returncode == 0, one.stderr
    bulk = segcopy(
        "review", "bulk", "approve", "--segment", BULK_SEGMENT, "--yes", home=home, env_extra=env
    )
    assert bulk.returncode == 0 and "recorded 14 approve" in bulk.stdout, bulk.stderr
    port = free_port()
    server = start_review_server(segcopy_env(home, **env), port, "--reviewer", "Page-User")
    try:
        base = f"http://127.0.0.1:{port}"
        page = requests.get(f"{base}/variant/e-bikes--core/EB-100", timeout=30).text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)[1]
        ihash = re.search(r'name="input_hash" value="([^"]+)"', page)[1]
        form = {"csrf_token": token, "decision": "approve", "input_hash": ihash}
        answer = requests.post(
            f"{base}/variant/e-bikes--core/EB-100/decide",
            data=form,
            allow_redirects=False,
            timeout=30,
        )
        assert answer.status_code == 303, answer.text[-500:]
    finally:
        server.terminate()
        server.communicate(timeout=20)

    third = segcopy("run", home=home, env_extra=env)
    assert third.returncode == 0 and "Published: 16 variant(s)" in third.stdout, third.stdout

    # read back from the store, in this process (the fixture set the store's variables here)
    tables = join(warehouse, "segcopy")
    log = pl.read_delta(join(tables, "variant_reviews"))
    assert log.height == 16 and set(log["signed_in_via"]) == {"cli", "local"}
    assert "page-user" in set(log["reviewer"])
    published = pl.read_delta(join(tables, "published_variants"))
    assert published.height == 16 and set(published["state"]) == {"current"}
    customers = pl.scan_delta(join(tables, "customer_segments"))
    shipped = pl.SQLContext(customer_segments=customers, published_variants=published.lazy())
    sql_file = repo_root / "sql" / "customer_copy.duckdb.sql"
    from_sql = shipped.execute(_select_of(sql_file), eager=True)
    expected = customer_copy(customers, published.lazy()).collect()
    order = ["customer_id", "product_id"]
    assert from_sql.height > 0 and from_sql.sort(order).equals(expected.sort(order))
    assert set(from_sql["segment_id"]) == {BULK_SEGMENT, "tents--core", "e-bikes--core"}

    assert not (home / "warehouse").exists()  # not a file of the warehouse on this disk
    assert sorted(p.name for p in home.iterdir()) == ["dagster", "sample"]
