"""Batch generation end to end in process (issue 16): ``run_pipeline`` against the fake
endpoint's Files and Batches API, the state table, re-attaching after a crash, fallbacks, cost."""

import shutil

import dagster as dg
import polars as pl
import pytest

from segcopy_assets.devtools.fake_openai import FakeOpenAIServer
from segcopy_assets.pipeline import PipelineFailed, run_pipeline
from segcopy_assets.resources import Copywriter
from segcopy_assets.storage import batch_store
from segcopy_assets.storage.tables import (
    DESCRIPTION_VARIANTS,
    GENERATION_BATCHES,
    GENERATION_JOURNAL,
)

KEY = "sk-batch-test"
PAIRS = 196


@pytest.fixture
def fake():
    with FakeOpenAIServer(api_key=KEY, batch_polls=2) as srv:
        yield srv


@pytest.fixture
def build(tmp_path, sample_tables, make_resources, prompts_dir, fake):
    """``build(name, **copywriter_fields)`` → resources on their own warehouse and CDP copy."""

    def make(name: str = "w", **fields) -> dict:
        root = tmp_path / name
        customers, products = root / "cdp_customers", root / "products"
        if not customers.exists():
            shutil.copytree(sample_tables["customers"], customers)
            shutil.copytree(sample_tables["products"], products)
        settings = dict(
            backend="openai",
            base_url=fake.base_url,
            api_key=KEY,
            prompts_dir=str(prompts_dir),
            mode="batch",
            batch_poll_s=1,
            max_retries=0,
        )
        settings.update(fields)
        tables = {"customers": str(customers), "products": str(products)}
        return make_resources(root, tables, copywriter=Copywriter(**settings))

    return make


def variants(resources) -> pl.DataFrame:
    return pl.read_delta(resources["warehouse"].table_path(DESCRIPTION_VARIANTS))


def batches(resources) -> pl.DataFrame:
    return batch_store.current(resources["warehouse"].table_path(GENERATION_BATCHES))


def no_sleep(_seconds: float) -> None:
    """--wait without waiting: the fake advances a batch on every retrieve."""


@pytest.fixture(autouse=True)
def _fast_wait(monkeypatch):
    import segcopy_assets.batch_waiting as waiting

    monkeypatch.setattr(waiting.time, "sleep", no_sleep)


def test_one_batch_submitted_then_collected_and_a_rerun_pays_nothing(build, fake, instance):
    resources = build()
    report = run_pipeline(instance, resources)  # submits, does not wait
    assert report.variant_metadata["segments_waiting_on_batches"] == 14
    assert report.variant_metadata["pairs_waiting_on_batches"] == PAIRS
    assert report.variant_metadata["reused"] == 0
    assert fake.batch_create_count == 1 and fake.call_count == 0
    [batch] = batches(resources).iter_rows(named=True)
    assert batch["state"] in batch_store.OPEN and batch["requests"] == PAIRS
    assert len(batch["segment_ids"]) == 14
    # the waiting run recorded an observation, no materialization
    assert not instance.fetch_materializations(dg.AssetKey(DESCRIPTION_VARIANTS), limit=5).records

    report = run_pipeline(instance, resources, wait=True)
    rows = variants(resources)
    assert rows.height == PAIRS and (rows["status"] == "ok").all()
    assert rows["batch_id"].unique().to_list() == [batch["batch_id"]]
    m = report.variant_metadata
    assert (m["batch_generated"], m["calls_made"], m["failed"]) == (PAIRS, 0, 0)
    assert fake.batch_create_count == 1 and fake.call_count == 0
    assert fake.batch_lines_executed == PAIRS
    assert batches(resources)["state"].to_list() == ["collected"]
    assert report.published == 0 and report.check_results["coverage"]
    # the answers went through the journal, which the written segments left empty
    journal = resources["warehouse"].table_path(GENERATION_JOURNAL)
    assert pl.read_delta(journal).height == 0

    run_pipeline(instance, resources, wait=True)  # nothing stale: no request of any kind
    assert (fake.batch_create_count, fake.call_count, fake.batch_lines_executed) == (1, 0, PAIRS)


def test_batch_cost_is_half_the_online_cost_of_the_same_pairs(build, fake, instance):
    online = run_pipeline(instance, build("online", mode="online")).variant_metadata
    batch = run_pipeline(instance, build("batch"), wait=True).variant_metadata
    assert online["calls_made"] == PAIRS and batch["batch_generated"] == PAIRS
    assert online["estimated_cost_usd"] > 0
    assert batch["estimated_cost_usd"] == pytest.approx(
        online["estimated_cost_usd"] / 2, abs=2e-6
    )  # 6 decimals
    assert batch["online_equivalent_cost_usd"] == pytest.approx(online["estimated_cost_usd"])


@pytest.mark.parametrize("fallback", ["online", "next_batch"])
def test_line_errors_and_an_expiry_lose_nothing(build, fake, instance, fallback):
    fake.batch_line_error_rate = 0.1
    fake.expire_next_batch(completed_fraction=0.5)
    resources = build(batch_fallback=fallback)
    report = run_pipeline(instance, resources, wait=True)
    rows = variants(resources)
    assert rows.height == PAIRS and rows.select("segment_id", "product_id").is_unique().all()
    from_batch = rows.filter(pl.col("batch_id").is_not_null()).height
    current = batches(resources)
    assert current["state"].to_list() == ["collected"] * current.height
    first = current.row(0, named=True)
    assert first["completed"] + first["failed"] == PAIRS and first["failed"] >= PAIRS // 2
    if fallback == "online":  # the lines without copy were written online by the collect run
        assert fake.batch_create_count == 1
        assert fake.call_count == first["failed"] == PAIRS - from_batch
        assert report.variant_metadata["calls_made"] == first["failed"]
    else:  # sent again in the next batch(es); the fake draws a line's error anew each time
        assert fake.batch_create_count >= 2
        errors = [e["input_hash"] for b in current["line_errors"].to_list() for e in b or []]
        thrice = {h for h in errors if errors.count(h) >= 3}  # then online (max_attempts)
        assert fake.call_count == len(thrice) == PAIRS - from_batch
    ok = rows.filter(pl.col("status") == "ok").height
    failed = rows.filter(pl.col("status") == "failed").height
    assert ok + failed == PAIRS


def test_a_crash_between_create_and_the_state_write_re_attaches(build, fake, instance):
    resources = build(timeout_s=0.5)
    fake.hang_next_batch_create(5, after_create=True)
    with pytest.raises(PipelineFailed):
        run_pipeline(instance, resources)
    assert len(fake.batches) == 1
    assert batches(resources)["state"].to_list() == ["intent"]  # no batch id recorded
    run_pipeline(instance, resources, wait=True)
    assert fake.batch_create_count == 1 and len(fake.batches) == 1
    assert variants(resources).height == PAIRS and fake.batch_lines_executed == PAIRS


def test_a_crash_between_upload_and_create_reuses_the_file(build, fake, instance):
    resources = build(timeout_s=0.5)
    fake.hang_next_batch_create(5, after_create=False)
    with pytest.raises(PipelineFailed):
        run_pipeline(instance, resources)
    assert len(fake.batches) == 0 and len(fake.files) == 1
    run_pipeline(instance, resources, wait=True)
    assert len(fake.batches) == 1 and len(fake.files) == 2  # the request file + the output file
    assert variants(resources).height == PAIRS


def test_auto_mode_goes_online_below_the_threshold_and_batch_mode_needs_an_endpoint(
    build, fake, instance, prompts_dir
):
    resources = build(mode="auto", batch_min_pairs=PAIRS)  # 196 is not more than 196
    report = run_pipeline(instance, resources)
    assert report.variant_metadata["calls_made"] == PAIRS and fake.batch_create_count == 0
    offline = build("offline", backend="offline", base_url=None, api_key=None)
    with pytest.raises(PipelineFailed, match="SEGCOPY_LLM_MODE=batch needs the openai backend"):
        run_pipeline(instance, offline)


def test_a_cancelled_batch_keeps_what_it_finished_and_the_rest_goes_online(build, fake, instance):
    from segcopy_assets.generation import batch_flow

    fake.batch_cancel_completed_fraction = 0.25
    resources = build()
    run_pipeline(instance, resources)
    [batch] = batches(resources).iter_rows(named=True)
    path = resources["warehouse"].table_path(GENERATION_BATCHES)
    with resources["copywriter"].batch_client() as client:
        assert batch_flow.cancel(path, client, batch)["state"] == "cancelling"
    report = run_pipeline(instance, resources, wait=True)
    rows = variants(resources)
    assert rows.height == PAIRS and (rows["status"] == "ok").all()
    from_batch = rows.filter(pl.col("batch_id").is_not_null()).height
    assert from_batch == round(PAIRS * 0.25)
    assert fake.call_count == report.variant_metadata["calls_made"] == PAIRS - from_batch
    assert batches(resources)["state"].to_list() == ["collected"]


def test_a_split_submission_is_several_batches_each_collected_once(
    build, fake, instance, monkeypatch
):
    from segcopy_assets.generation import batch_flow

    policy = batch_flow.BatchPolicy
    monkeypatch.setattr(batch_flow, "BatchPolicy", lambda **kw: policy(**{**kw, "max_lines": 50}))
    resources = build()
    run_pipeline(instance, resources, wait=True)
    current = batches(resources)
    assert current.height == 4 and current["requests"].to_list() == [50, 50, 50, 46]
    assert current["state"].to_list() == ["collected"] * 4 and len(fake.batches) == 4
    rows = variants(resources)
    assert rows.height == PAIRS and rows["batch_id"].n_unique() == 4


def test_a_segment_that_moves_again_while_its_batch_runs(build, fake, instance):
    resources = build()
    run_pipeline(instance, resources, wait=True)  # batch 1: every pair, collected
    customers = resources["cdp"].delta_path
    moved = (pl.col("preferred_subcategory") == "E-Bikes") & (pl.col("predicted_clv_tier") == "Low")

    def move(region: str) -> None:
        pl.read_delta(customers).with_columns(
            pl.when(moved).then(pl.lit(region)).otherwise(pl.col("region")).alias("region")
        ).write_delta(customers, mode="overwrite")

    move("Mountain West")
    run_pipeline(instance, resources)  # batch 2: the moved segment's 14 new pairs
    move("Pacific Northwest")
    run_pipeline(instance, resources)  # batch 3: moved again; batch 2's answers are unwanted
    assert fake.batch_create_count == 3
    second, third = fake.batches[1]["id"], fake.batches[2]["id"]
    assert len(fake.batch_requests(third)) == 14
    run_pipeline(instance, resources, wait=True)
    # batch 2 is collected too (it ended, for a segment of the run): nothing stays open
    assert batches(resources)["state"].to_list() == ["collected"] * 3
    rows = variants(resources)
    assert rows.height == PAIRS and (rows["status"] == "ok").all()
    moved_rows = rows.filter(pl.col("segment_id") == "e-bikes--core")
    assert moved_rows["batch_id"].unique().to_list() == [third]
    assert second not in rows["batch_id"].to_list() and fake.call_count == 0


def test_batch_sensor_requests_one_collect_run_per_ended_batch(build, fake, instance):
    from segcopy_assets.dagster_compat import partition_loading_context
    from segcopy_assets.definitions import ALL_ASSETS, ALL_CHECKS, ALL_SENSORS, REFRESH_JOBS
    from segcopy_assets.defs.generation.batch_sensor import batch_sensor

    resources = build()
    defs = dg.Definitions(
        assets=ALL_ASSETS,
        asset_checks=ALL_CHECKS,
        sensors=ALL_SENSORS,
        jobs=REFRESH_JOBS,  # the sensors target the named jobs
        resources=resources,
    )

    def tick():
        context = dg.build_sensor_context(instance=instance, resources=resources, definitions=defs)
        with partition_loading_context(dynamic_partitions_store=instance):
            return batch_sensor.evaluate_tick(context)

    assert "no batch submitted yet" in tick().skip_message
    run_pipeline(instance, resources)  # submits
    first = tick()  # retrieve 1 of 2: in progress
    assert not first.run_requests and "in_progress 0/196 still open" in first.skip_message
    ended = tick()  # retrieve 2: completed -> one range run over the batch's 14 segments
    [request] = ended.run_requests
    assert request.tags["dagster/asset_partition_range_start"] == "cycling-apparel--core"
    assert request.tags["dagster/asset_partition_range_end"] == "tents--high-value"
    assert request.tags["segcopy/reason"] == f"batch-{fake.batches[0]['id']}"
    again = tick()  # not collected yet: the same run key, which the daemon runs once
    assert [r.run_key for r in again.run_requests] == [request.run_key]
    states = batches(resources)["state"].to_list()
    assert states == ["completed"]
    run_pipeline(instance, resources)  # the collect run (what the daemon would launch)
    assert "no open batch" in tick().skip_message


@pytest.mark.parametrize("after_store", [False, True])
def test_a_crash_during_the_upload_uploads_once_more_at_most(build, fake, instance, after_store):
    resources = build(timeout_s=0.5)
    fake.hang_next_file_upload(5, after_store=after_store)
    with pytest.raises(PipelineFailed):
        run_pipeline(instance, resources)
    assert fake.batches == []
    run_pipeline(instance, resources, wait=True)
    # a stored file is found by its name and used; a lost upload is made again (one the
    # endpoint was still storing when the rerun looked may then exist twice: files cost nothing,
    # batches do, and there is one)
    request_files = [f for f in fake.files if f["purpose"] == "batch"]
    assert len(request_files) == 1 if after_store else len(request_files) <= 2
    assert len(fake.batches) == 1 and fake.batch_lines_executed == PAIRS
    assert variants(resources).height == PAIRS


def test_a_batch_s_answers_are_judged_in_the_worker_pool(build, fake, instance, monkeypatch, capfd):
    import segcopy_assets.defs.generation.run_support as run_support
    from segcopy_assets.storage.tables import VARIANT_CHECKS

    monkeypatch.setattr(run_support, "JUDGE_POOL_MIN_CALLS", 1)  # 196 answers: use the pool
    resources = build()
    report = run_pipeline(instance, resources, wait=True)
    assert report.variant_metadata["batch_generated"] == PAIRS
    assert report.variant_metadata["variants_judged"] == PAIRS
    assert "196 judged (196 while generating)" in capfd.readouterr().err
    verdicts = pl.read_delta(resources["warehouse"].table_path(VARIANT_CHECKS))
    per_variant = verdicts.group_by("segment_id", "product_id").len()
    assert per_variant.height == PAIRS and per_variant["len"].n_unique() == 1


def test_next_batch_sends_a_request_the_provider_keeps_refusing_online_after_three_batches(
    build, fake, instance
):
    resources = build(batch_fallback="next_batch")
    run_pipeline(instance, resources)
    [first] = fake.batches
    refused = fake.batch_requests(first["id"])[0]["custom_id"]
    fake.fail_lines([refused], status=400)  # every batch refuses this one request
    run_pipeline(instance, resources, wait=True)  # returns: no endless resubmission
    assert len(fake.batches) == 1 + 2  # the first, then two more with the refused request only
    assert [len(fake.batch_requests(b["id"])) for b in fake.batches[1:]] == [1, 1]
    assert fake.call_count == 1  # then online, where it is written
    rows = variants(resources)
    assert rows.height == PAIRS and (rows["status"] == "ok").all()
    assert rows.filter(pl.col("input_hash") == refused)["batch_id"].to_list() == [None]


def test_an_output_file_the_provider_no_longer_has_falls_back_online(build, fake, instance):
    import openai

    resources = build()
    run_pipeline(instance, resources)
    client = openai.OpenAI(base_url=fake.base_url, api_key=KEY)
    client.batches.retrieve(fake.batches[0]["id"])
    ended = client.batches.retrieve(fake.batches[0]["id"])  # the second retrieve ends it
    assert ended.status == "completed" and ended.output_file_id
    client.files.delete(ended.output_file_id)  # outputs expire at the provider
    run_pipeline(instance, resources, wait=True)
    [batch] = batches(resources).iter_rows(named=True)
    assert batch["state"] == "collected" and batch["failed"] == PAIRS
    assert "missing from the completed batch's output" in batch["line_errors"][0]["error"]
    assert fake.call_count == PAIRS and variants(resources).height == PAIRS
