"""The review page at scale: drawing batches and walking a sample, bulk decisions behind a
confirmation, the quality dashboard with its chart (the app on real pipeline tables)."""

import re

import polars as pl
import pytest
from starlette.testclient import TestClient

from segcopy_assets.pipeline import run_pipeline
from segcopy_assets.review.service import ReviewTables
from segcopy_assets.review.web.app import create_app


@pytest.fixture
def pipeline_tables(tmp_path, sample_tables, make_resources, instance):
    resources = make_resources(tmp_path, sample_tables)
    run_pipeline(instance, resources)
    return ReviewTables.under(resources["warehouse"].table_path("x").rsplit("/", 1)[0])


def client_for(tables):
    app = create_app(tables, "ana")
    return TestClient(
        app, base_url="http://127.0.0.1", follow_redirects=False
    ), app.state.csrf_token


def test_draw_batches_and_walk_a_sample_to_acceptance(pipeline_tables):
    client, token = client_for(pipeline_tables)
    with client:
        assert "No batches drawn yet" in client.get("/batches").text
        drawn = client.post("/batches/draw", data={"csrf_token": token, "p": "0.2", "c": "0.9"})
        assert drawn.status_code == 303
        page = client.get("/batches").text
        assert page.count('<tr data-batch="') == 14 and "zero rejections in n = 59" in page
        assert page.count("<td>14</td>\n      <td>11</td>") == 14  # 14 variants, a sample of 11
        batch = re.search(r'data-batch="(\w+)"', page).group(1)
        sample = client.get(f"/queue?batch={batch}").text
        links = re.findall(r'href="(/variant/[^"]+)"', sample)
        assert len(set(links)) == 11  # the queue shows the batch's sample
        for link in sorted(set(links)):
            path = link.split("?")[0]
            form = client.get(link).text
            input_hash = re.search(r'name="input_hash" value="(\w+)"', form).group(1)
            done = client.post(f"{path}/decide", data={"csrf_token": token, "decision": "approve",
                                                       "input_hash": input_hash})  # fmt: skip
            assert done.status_code == 303, done.text
        after = client.get("/batches").text
        assert re.search(
            rf'data-batch="{batch}">\s*<td>[\w-]+</td>\s*<td><span class="badge accepted">accepted',
            after,
        )
        assert (
            client.post("/batches/draw", data={"p": "0.2", "c": "0.9"}).status_code == 403
        )  # no CSRF token


def test_batches_of_regenerated_variants_are_listed_apart_and_closed(pipeline_tables):
    """A batch whose variants were regenerated since the draw is no longer offered for review
    (issue 26: stale batches had live "Review sample" links); current batches come sorted."""
    from segcopy_assets.storage import variant_store

    client, token = client_for(pipeline_tables)
    with client:
        client.post("/batches/draw", data={"csrf_token": token, "p": "0.2", "c": "0.9"})
        path = pipeline_tables.variants
        rows = variant_store.read_segments(path, ["tents--core"])
        regenerated = rows.with_columns(  # TN-100 regenerated: a new input hash
            pl.when(pl.col("product_id") == "TN-100")
            .then(pl.lit("f" * 64))
            .otherwise(pl.col("input_hash"))
            .alias("input_hash")
        )
        variant_store.replace_segments(path, regenerated, ["tents--core"])
        page = client.get("/batches").text
    current, _, closed = page.partition('id="stale-batches"')
    assert current.count('<tr data-batch="') == 13 and "tents--core" not in current
    segments = re.findall(r'data-batch="\w+">\s*<td>([\w-]+)</td>', current)
    assert segments == sorted(segments)
    assert "1 closed batch(es)" in closed and "tents--core" in closed
    assert "Review sample" not in closed and "/queue?batch=" not in closed


def test_bulk_decisions_need_a_confirmation_and_record_each_variant(pipeline_tables):
    client, token = client_for(pipeline_tables)
    with client:
        queue = client.get("/queue?segment=tents--core").text
        assert 'href="/bulk?' in queue  # the queue offers bulk decisions on what it shows
        confirm = client.get("/bulk?decision=approve&segment=tents--core&checks=passing")
        assert confirm.status_code == 200 and "Approve 14 variants?" in confirm.text
        assert "tents--core" in confirm.text
        stale = client.post("/bulk/apply", data={"csrf_token": token, "decision": "approve",
                                                 "segment": "tents--core", "expected": "13"})  # fmt: skip
        assert stale.status_code == 409  # the selection changed since the confirmation
        done = client.post("/bulk/apply", data={"csrf_token": token, "decision": "approve",
                                                "segment": "tents--core", "checks": "passing",
                                                "expected": "14", "note": "bulk"})  # fmt: skip
        assert done.status_code == 303
    log = pl.read_delta(pipeline_tables.reviews)
    assert (
        log.height == 14 and set(log["decision"]) == {"approve"} and set(log["reviewer"]) == {"ana"}
    )
    assert set(log["note"]) == {"bulk"}


def test_dashboard_renders_its_chart_and_tables(pipeline_tables):
    client, token = client_for(pipeline_tables)
    with client:
        client.post("/batches/draw", data={"csrf_token": token})
        page = client.get("/dashboard")
    assert page.status_code == 200
    assert '<svg id="pass-rate-chart"' in page.text and page.text.count('class="bar') >= 9
    assert page.text.count("<tr><td>") >= 14  # a row per segment and prompt
    assert "Sampled batches" in page.text and "Checks vs reviewers" in page.text
    assert "<script" not in page.text.split("<main>")[1]  # server-rendered, no script
