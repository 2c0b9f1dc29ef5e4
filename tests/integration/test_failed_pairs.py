"""Issue 21 in process against the fake endpoint: a failed generation is a state of its pair.
The last good row stays current, a mid-run outage writes failures but loses nothing, one bad
answer never blocks the others' publication, retries stop at the ceiling (parked) until a
person asks, and retry_sensor sends what failed."""

import dagster as dg
import polars as pl
import pytest

from segcopy_assets.defs.generation.retry_sensor import retry_sensor
from segcopy_assets.devtools.fake_openai import FakeOpenAIServer, default_reply
from segcopy_assets.pipeline import run_pipeline
from segcopy_assets.resources import Copywriter
from segcopy_assets.review.retries import failing_pairs, retry_parked
from segcopy_assets.review.service import ReviewTables, review_queue
from segcopy_assets.storage import review_log
from segcopy_assets.storage.delta import table_version
from segcopy_assets.storage.tables import (
    DESCRIPTION_VARIANTS,
    PUBLISHED_VARIANTS,
    VARIANT_REVIEWS,
)
from tests.integration.sensor_ticks import tick

KEY = "sk-failed-pairs"
# a product and words of one segment's description (the segment is hiking-footwear--core)
BAD_PAIR = ("Ridgeline 130 Trail Bike", "Hiking Footwear and whose predicted value group is core")


@pytest.fixture
def fake():
    with FakeOpenAIServer(api_key=KEY) as srv:
        yield srv


@pytest.fixture
def build(tmp_path, sample_tables, make_resources, prompts_dir, fake):
    def make(**fields) -> dict:
        settings = dict(
            backend="openai",
            base_url=fake.base_url,
            api_key=KEY,
            prompts_dir=str(prompts_dir),
            max_retries=0,
        )
        settings.update(fields)
        return make_resources(tmp_path, sample_tables, copywriter=Copywriter(**settings))

    return make


def table(resources, name) -> pl.DataFrame:
    return pl.read_delta(resources["warehouse"].table_path(name))


def approve_everything(resources) -> None:
    tables = ReviewTables.for_warehouse(resources["warehouse"])
    queue = review_queue(tables).filter(pl.col("status") == "ok")
    review_log.append_reviews(
        tables.reviews,
        [
            review_log.make_decision(s, p, h, "approve", reviewer="ana")
            for s, p, h in queue.select("segment_id", "product_id", "input_hash").iter_rows()
        ],
    )


def test_a_mid_run_outage_keeps_every_ok_row_and_the_published_copy(build, fake, instance):
    resources = build()
    run_pipeline(instance, resources)
    approve_everything(resources)
    assert run_pipeline(instance, resources).published == 196
    before = table(resources, DESCRIPTION_VARIANTS)

    def down(body):  # the endpoint answers its model list, then fails every call (HTTP 500)
        raise RuntimeError("overloaded")

    fake.responder = down
    switched = build(model="gpt-4o")  # a new model: every pair is regenerated, and fails
    report = run_pipeline(instance, switched)
    after = table(resources, DESCRIPTION_VARIANTS)
    assert after.height == 196 and (after["status"] == "ok").all()
    key = ["segment_id", "product_id"]
    assert after.sort(key)["input_hash"].to_list() == before.sort(key)["input_hash"].to_list()
    assert after.sort(key)["variant_text"].to_list() == before.sort(key)["variant_text"].to_list()
    assert after["attempted_hash"].is_not_null().all()
    assert (after["attempts"] == 0).all()  # an endpoint that fails says nothing about a pair
    assert report.failing.height == 196 and report.failing["last_good_kept"].all()
    assert set(report.failing["state"]) == {"retrying"}
    assert report.check_results["coverage"] is False  # reported, not blocking
    published = table(resources, PUBLISHED_VARIANTS)
    assert published.height == 196 and set(published["state"]) == {"superseded"}

    fake.responder = None  # back again: the next run regenerates and the copy waits for review
    again = run_pipeline(instance, switched)
    assert again.failing.is_empty()
    fresh = table(resources, DESCRIPTION_VARIANTS)
    assert fresh["attempted_hash"].is_null().all() and (fresh["input_hash"] != "").all()
    assert set(fresh["input_hash"]).isdisjoint(set(before["input_hash"]))


def test_bad_answers_never_block_publication_and_are_parked_at_the_ceiling(build, fake, instance):
    def sloppy(body):
        messages = body["messages"]
        if BAD_PAIR[0] in messages[-1]["content"] and BAD_PAIR[1] in _segment_line(messages):
            return default_reply(body, "none")  # no Rationale, every time
        return default_reply(body)

    fake.responder = sloppy
    resources = build()
    first = run_pipeline(instance, resources)  # the blocking check does not fail the run
    assert first.failing["product_id"].to_list() == ["MB-100"]
    assert first.failing.row(0, named=True)["attempts"] == 1
    approve_everything(resources)
    published = run_pipeline(instance, resources)
    assert published.published == 195  # every other pair, approved and passing, is live
    assert fake.call_count == 196 + 1  # the failed pair was sent again by the second run

    calls = fake.call_count
    third = run_pipeline(instance, resources)
    assert fake.call_count == calls + 1 and third.failing.row(0, named=True)["state"] == "parked"
    parked_calls = fake.call_count
    fourth = run_pipeline(instance, resources)
    assert fake.call_count == parked_calls  # parked: not sent again
    assert fourth.variant_metadata["segments_run"] == 0

    warehouse, copywriter = resources["warehouse"], resources["copywriter"]
    assert failing_pairs(warehouse, copywriter)["state"].to_list() == ["parked"]
    asked = retry_parked(warehouse, copywriter, requested_by="ana", segment="hiking-footwear--core")
    assert asked["product_id"].to_list() == ["MB-100"]
    run_pipeline(instance, resources)
    assert fake.call_count == parked_calls + 1  # sent once more, then parked again
    row = failing_pairs(warehouse, copywriter).row(0, named=True)
    assert (row["state"], row["attempts"]) == ("parked", 4)


def _segment_line(messages) -> str:
    return next(m["content"] for m in messages if m["role"] == "system")


def test_retry_sensor_sends_the_failed_pairs_once_per_new_attempt(build, fake, instance):
    def first_answer_bad(body, seen=set()):  # noqa: B006 - remembers what it answered
        key = body["messages"][-1]["content"] + _segment_line(body["messages"])
        if BAD_PAIR[0] in body["messages"][-1]["content"] and key not in seen:
            seen.add(key)
            return "I'm sorry, I can't."
        return default_reply(body)

    fake.responder = first_answer_bad
    resources = build()
    report = run_pipeline(instance, resources)
    assert report.failing.height == 14  # MB-100 in every segment, once
    result, cursor = tick(retry_sensor, instance, resources)
    # the 14 segments are contiguous: one range run over all of them
    [request] = result.run_requests
    assert request.tags["dagster/asset_partition_range_start"] == "cycling-apparel--core"
    assert request.tags["dagster/asset_partition_range_end"] == "tents--high-value"
    again, _ = tick(retry_sensor, instance, resources, cursor)
    assert isinstance(again, dg.SkipReason) or not again.run_requests  # same state: asked once
    run_pipeline(instance, resources)  # what the requested runs do
    assert failing_pairs(resources["warehouse"], resources["copywriter"]).is_empty()
    done, _ = tick(retry_sensor, instance, resources, cursor)
    assert isinstance(done, dg.SkipReason) or not done.run_requests


def test_the_review_log_keeps_working_for_a_log_written_before_its_new_columns(tmp_path):
    """A log from before carried_from / edit_failed_checks reads them as null and takes new
    rows (schema merge on append)."""
    import deltalake

    path = str(tmp_path / VARIANT_REVIEWS)
    old = pl.DataFrame([review_log.make_decision("s", "p", "h", "approve", reviewer="ana")]).drop(
        "carried_from", "edit_failed_checks"
    )
    deltalake.write_deltalake(path, old.to_arrow())
    assert review_log.read_reviews(path)["carried_from"].to_list() == [None]
    review_log.append_reviews(
        path, [review_log.make_decision("s", "p", "h2", "reject", reviewer="bo")]
    )
    log = review_log.read_reviews(path)
    assert log.height == 2 and table_version(path) == 2  # the append-only property, the row
    assert deltalake.DeltaTable(path).metadata().configuration["delta.appendOnly"] == "true"


def test_an_outage_stops_only_runs_that_would_call_the_model(
    tmp_path, sample_tables, make_resources, prompts_dir, instance
):
    from segcopy_assets.pipeline import PipelineFailed

    def copywriter(base_url, **fields):
        return Copywriter(backend="openai", base_url=base_url, api_key=KEY,
                          prompts_dir=str(prompts_dir), max_retries=0, **fields)  # fmt: skip

    with FakeOpenAIServer(api_key=KEY) as fake:
        resources = make_resources(tmp_path, sample_tables, copywriter=copywriter(fake.base_url))
        run_pipeline(instance, resources)
        down = fake.base_url
    approve_everything(resources)  # decided while the endpoint is down
    offline = {**resources, "copywriter": copywriter(down)}
    assert run_pipeline(instance, offline).published == 196  # nothing to generate: published
    versions = {t: table_version(resources["warehouse"].table_path(t)) for t in
                (DESCRIPTION_VARIANTS, PUBLISHED_VARIANTS, VARIANT_REVIEWS)}  # fmt: skip
    with pytest.raises(PipelineFailed, match="SEGCOPY_LLM_BASE_URL"):
        run_pipeline(instance, {**offline, "copywriter": copywriter(down, model="gpt-4o")})
    after = {t: table_version(resources["warehouse"].table_path(t)) for t in versions}
    assert after == versions  # a run that would generate stops before writing anything
