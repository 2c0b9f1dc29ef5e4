"""The channel assets in process (issue 24): every channel of prompts/channels/ is generated for
the sample's 14 x 14 pairs by the offline writer, judged by its checks, and not paid for again;
an unusable answer keeps the last good copy; SEGCOPY_CHANNELS selects the channels."""

import shutil

import dagster as dg
import polars as pl
import pytest

from segcopy_assets.core import sms
from segcopy_assets.definitions import ALL_SENSORS
from segcopy_assets.devtools.fake_openai import FakeOpenAIServer
from segcopy_assets.errors import InputValidationError
from segcopy_assets.generation.channels import generated_channels
from segcopy_assets.pipeline import run_pipeline
from segcopy_assets.resources import Copywriter
from segcopy_assets.review.retries import channel_failing_arms, retry_channel_parked
from segcopy_assets.storage.delta import table_version
from tests.integration.sensor_ticks import tick

CHANNELS = {"email_subject", "push", "sms"}
KEY = "sk-channels"


@pytest.fixture(autouse=True)
def every_channel(monkeypatch):
    """SEGCOPY_CHANNELS unset here: every channel (the suite defaults to the description)."""
    monkeypatch.delenv("SEGCOPY_CHANNELS", raising=False)


def test_every_channel_written_judged_and_reused(tmp_path, sample_tables, make_resources, instance):
    resources = make_resources(tmp_path, sample_tables)
    report = run_pipeline(instance, resources)
    assert set(report.channels) == CHANNELS
    warehouse = resources["warehouse"]
    versions = {}
    for name, summary in report.channels.items():
        assert summary["variants"] == 196 and summary["calls_made"] == 196, name
        assert summary["failing_error"] == 0 and summary["failing_warn"] == 0, name
        assert summary["failing_pairs"] == 0, name
        path = warehouse.table_path(f"{name}_variants")
        rows = pl.read_delta(path)
        assert rows.height == 196 and rows["status"].eq("ok").all()
        assert rows["prompt_hash"].unique().to_list() == [summary["channel_hash"]]
        verdicts = pl.read_delta(warehouse.table_path(f"{name}_checks"))
        assert verdicts.height == 196 * 11 and verdicts["passed"].all()
        versions[name] = table_version(path)
    messages = pl.read_delta(warehouse.table_path("sms_variants"))["variant_text"].to_list()
    assert all(m.endswith("Reply STOP to opt out") for m in messages)
    assert all(m.startswith("Ridgeline Cycle & Camp") for m in messages)
    assert {sms.count(m).segments for m in messages} == {1}
    subjects = pl.read_delta(warehouse.table_path("email_subject_variants"))["variant_text"]
    assert all(s.startswith("Subject: ") and "\nPreheader: " in s for s in subjects)

    again = run_pipeline(instance, resources)
    for name, summary in again.channels.items():
        assert (summary["segments_run"], summary["calls_made"]) == (0, 0), name
        assert table_version(warehouse.table_path(f"{name}_variants")) == versions[name]

    forced = run_pipeline(instance, resources, force_regenerate=True)  # --force-regenerate
    assert {n: s["calls_made"] for n, s in forced.channels.items()} == dict.fromkeys(CHANNELS, 196)


def test_an_unusable_answer_keeps_the_last_good_copy(
    tmp_path, sample_tables, make_resources, prompts_dir, instance
):
    resources = make_resources(tmp_path, sample_tables)
    run_pipeline(instance, resources)
    path = resources["warehouse"].table_path("email_subject_variants")
    before = pl.read_delta(path).sort("segment_id", "product_id")

    # a model that answers every prompt with a description: no Subject or Preheader line
    def description_only(body):
        return "A tent for two, light and quick to pitch.\n\n**Rationale:** Light gear first."

    with FakeOpenAIServer(api_key=KEY, responder=description_only) as fake:
        resources["copywriter"] = Copywriter(
            backend="openai",
            base_url=fake.base_url,
            api_key=KEY,
            prompts_dir=str(prompts_dir),
            max_attempts=2,
        )
        report = run_pipeline(instance, resources)
        # a second failed run with the same inputs parks the pairs: the third sends nothing
        second = run_pipeline(instance, resources)
        calls = fake.call_count
        third = run_pipeline(instance, resources)
        assert fake.call_count == calls
        # `segcopy retry --channel email_subject --segment tents--core`: its 14 parked pairs
        # go out again with the next run, and only they
        warehouse, copywriter = resources["warehouse"], resources["copywriter"]
        listed = channel_failing_arms(warehouse, copywriter, "email_subject")
        assert listed.height == 196 and set(listed["state"]) == {"parked"}
        assert listed["last_good_kept"].all() and set(listed["variant_index"]) == {0}
        sent = retry_channel_parked(
            warehouse, copywriter, "email_subject", requested_by="ana", segment="tents--core"
        )
        assert sent.height == 14
        with pytest.raises(InputValidationError, match="no segment_id 'nope'"):
            retry_channel_parked(
                warehouse, copywriter, "email_subject", requested_by="ana", segment="nope"
            )
        fourth = run_pipeline(instance, resources)
        assert fake.call_count == calls + 14
        assert fourth.channels["email_subject"]["calls_made"] == 14
        assert fourth.channels["sms"]["calls_made"] == 0  # its pairs stay parked
    assert second.channels["email_subject"]["failed"] == 196
    assert third.channels["email_subject"]["segments_run"] == 0
    attempts = pl.read_delta(path)["attempts"].value_counts().sort("attempts").rows()
    assert attempts == [(2, 182), (3, 14)]  # the 14 retried pairs failed once more
    summary = report.channels["email_subject"]
    assert summary["calls_made"] == 196 and summary["failed"] == 196
    assert summary["failing_pairs"] == 196  # segcopy run exits PARTIAL on it
    after = pl.read_delta(path).sort("segment_id", "product_id")
    assert after["variant_text"].to_list() == before["variant_text"].to_list()
    assert after["status"].eq("ok").all()
    assert after["last_error"].unique().to_list() == ["the answer has no Subject, Preheader line"]
    # the SMS answer has its one field, so it is judged: no brand name, no opt-out
    verdicts = pl.read_delta(resources["warehouse"].table_path("sms_checks"))
    failing = set(verdicts.filter(~pl.col("passed"))["check"].to_list())
    assert failing == {"required_text"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, sorted(CHANNELS)),
        ("web_description", []),
        ("sms, web_description", ["sms"]),
        ("sms,nope", []),  # a bad value defines none; the run's preflight names it
    ],
)
def test_segcopy_channels_selects(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv("SEGCOPY_CHANNELS", raising=False)
    else:
        monkeypatch.setenv("SEGCOPY_CHANNELS", value)
    assert generated_channels() == expected


def test_a_bad_channel_setting_fails_the_run_before_any_table(
    tmp_path, sample_tables, make_resources, instance, monkeypatch
):
    from segcopy_assets.pipeline import PipelineFailed

    monkeypatch.setenv("SEGCOPY_CHANNELS", "sms,mms")
    resources = make_resources(tmp_path, sample_tables)
    with pytest.raises(PipelineFailed, match="SEGCOPY_CHANNELS: unknown channel.*mms"):
        run_pipeline(instance, resources)
    assert not (tmp_path / "warehouse").exists()
    monkeypatch.setenv("SEGCOPY_CHANNELS", "sms")
    resources["copywriter"] = Copywriter(
        backend="offline", prompts_dir=resources["copywriter"].prompts_dir, variants_per_pair=4
    )
    with pytest.raises(PipelineFailed, match="SEGCOPY_VARIANTS_PER_PAIR=4, but channel 'sms'"):
        run_pipeline(instance, resources)
    assert not (tmp_path / "warehouse").exists()


def test_channel_sensor_regenerates_only_the_edited_channel(
    tmp_path, sample_tables, make_resources, prompts_dir, instance
):
    prompts = tmp_path / "prompts"
    shutil.copytree(prompts_dir, prompts)
    resources = make_resources(tmp_path, sample_tables)
    resources["copywriter"] = Copywriter(backend="offline", prompts_dir=str(prompts))
    run_pipeline(instance, resources)
    (sensor,) = [s for s in ALL_SENSORS if s.name == "channel_sensor"]
    result, cursor = tick(sensor, instance, resources)
    assert not result.run_requests  # everything current
    # ... and each channel's inputs_current check, which the runs recorded, says so: nothing new
    # to record (issue 26)
    assert not result.asset_events
    for c in CHANNELS:
        latest = instance.get_latest_asset_check_evaluation_record(
            dg.AssetCheckKey(dg.AssetKey(f"{c}_variants"), "inputs_current")
        )
        assert latest is not None and latest.status.value == "SUCCEEDED", (c, latest)

    config = prompts / "channels/sms/config.toml"
    config.write_text(config.read_text().replace("temperature = 0.4", "temperature = 0.5"))
    result, cursor = tick(sensor, instance, resources, cursor)
    assert [r.asset_selection for r in result.run_requests] == [[dg.AssetKey("sms_variants")]]
    (warning,) = result.asset_events  # only the edited channel's staleness changed
    assert warning.asset_key == dg.AssetKey("sms_variants") and not warning.passed
    assert warning.severity == dg.AssetCheckSeverity.WARN
    assert warning.description.startswith("14 segment(s) wait for regeneration: ")
    instance.report_runless_asset_event(warning)  # what the daemon does with a tick's events
    (request,) = result.run_requests
    keys = sorted(instance.get_dynamic_partitions("segments"))
    ends = (
        request.tags["dagster/asset_partition_range_start"],
        request.tags["dagster/asset_partition_range_end"],
    )
    assert ends == (keys[0], keys[-1])
    again, _ = tick(sensor, instance, resources, cursor)
    assert not again.run_requests  # already requested
    assert not again.asset_events  # and the warning recorded: once, not every tick

    # in batch mode the sensor asks for the same runs: they submit to the Batch API
    # (tests/integration/test_channel_batches.py), channel_batch_sensor asks for the collect runs
    resources["copywriter"] = Copywriter(
        backend="openai",
        base_url="http://127.0.0.1:9/v1",
        api_key=KEY,
        prompts_dir=str(prompts),
        mode="batch",
    )
    batch, _ = tick(sensor, instance, resources)
    requested = {r.asset_selection[0] for r in batch.run_requests}  # the model is in every hash
    assert requested == {dg.AssetKey(f"{c}_variants") for c in CHANNELS}


def test_channels_through_an_openai_compatible_endpoint(
    tmp_path, sample_tables, make_resources, prompts_dir, instance
):
    """The real writer over HTTP: the fake endpoint answers each channel's prompt in its format
    and limits; every answer parses, passes the checks, costs tokens, and is not bought twice."""
    with FakeOpenAIServer(api_key=KEY) as fake:
        resources = make_resources(tmp_path, sample_tables)
        resources["copywriter"] = Copywriter(
            backend="openai", base_url=fake.base_url, api_key=KEY, prompts_dir=str(prompts_dir)
        )
        report = run_pipeline(instance, resources)
        calls = fake.call_count
        again = run_pipeline(instance, resources)
        assert fake.call_count == calls  # nothing bought twice
    for name, summary in report.channels.items():
        assert summary["calls_made"] == 196 and summary["failed"] == 0, name
        assert summary["prompt_tokens"] > 0 and summary["completion_tokens"] > 0, name
        assert summary["failing_error"] == 0, name
    assert all(s["calls_made"] == 0 for s in again.channels.values())
    messages = pl.read_delta(resources["warehouse"].table_path("sms_variants"))["variant_text"]
    assert all(sms.count(m).segments == 1 and m.endswith("Reply STOP to opt out") for m in messages)


def test_arms_are_generated_judged_and_previewed_side_by_side(
    tmp_path, sample_tables, make_resources, prompts_dir, instance
):
    """SEGCOPY_VARIANTS_PER_PAIR=2: every pair of every channel gets two variants, one per angle
    the channel names, each with its own input hash and verdicts; a rerun buys nothing; the
    preview shows the two side by side; going back to one arm drops the second."""
    from starlette.testclient import TestClient

    from segcopy_assets.review.service import ReviewTables
    from segcopy_assets.review.web.app import create_app

    resources = make_resources(tmp_path, sample_tables)
    resources["copywriter"] = Copywriter(
        backend="offline", prompts_dir=str(prompts_dir), variants_per_pair=2
    )
    report = run_pipeline(instance, resources)
    warehouse = resources["warehouse"]
    for name, summary in report.channels.items():
        assert summary["variants"] == 392 and summary["calls_made"] == 392, name
        assert summary["failing_error"] == 0 and summary["failing_warn"] == 0, name
        rows = pl.read_delta(warehouse.table_path(f"{name}_variants"))
        arms = rows.group_by("variant_index", "angle").len().sort("variant_index")
        assert arms.rows() == [(0, "performance", 196), (1, "dependability", 196)]
        assert rows["input_hash"].n_unique() == 392
        verdicts = pl.read_delta(warehouse.table_path(f"{name}_checks"))
        assert verdicts["input_hash"].n_unique() == 392
    again = run_pipeline(instance, resources)
    assert all(s["calls_made"] == 0 and s["segments_run"] == 0 for s in again.channels.values())

    root = str(warehouse.table_path("sms_variants")).rsplit("/", 1)[0]
    app = create_app(ReviewTables.under(root), "ana")
    with TestClient(app, base_url="http://127.0.0.1") as client:
        page = client.get("/channels/sms?segment=tents--core").text
    assert page.count('class="preview"') == 14 and page.count('class="arm"') == 28
    assert "Arm 1 · performance" in page and "Arm 2 · dependability" in page

    resources["copywriter"] = Copywriter(backend="offline", prompts_dir=str(prompts_dir))
    back = run_pipeline(instance, resources)
    for name in CHANNELS:
        rows = pl.read_delta(warehouse.table_path(f"{name}_variants"))
        assert rows.height == 196 and rows["angle"].is_null().all(), name
        assert back.channels[name]["calls_made"] == 196  # one arm: the prompt without an angle


def test_an_unreachable_endpoint_fails_a_channel_run_before_anything_is_written(
    tmp_path, sample_tables, make_resources, prompts_dir, instance, free_port
):
    """A channel partition materialized on its own (the UI, channel_sensor) with calls to make
    and no endpoint: the run fails on the preflight, naming the setting; its table and journal
    are as they were."""
    from segcopy_assets.definitions import ALL_ASSETS, ALL_CHECKS

    resources = make_resources(tmp_path, sample_tables)
    run_pipeline(instance, resources)
    path = resources["warehouse"].table_path("sms_variants")
    before = table_version(path)
    resources["copywriter"] = Copywriter(
        backend="openai",
        base_url=f"http://127.0.0.1:{free_port()}/v1",
        api_key=KEY,
        prompts_dir=str(prompts_dir),
    )
    result = dg.materialize(
        [*ALL_ASSETS, *ALL_CHECKS],
        selection=[dg.AssetKey("sms_variants")],
        partition_key="tents--core",
        resources=resources,
        instance=instance,
        raise_on_error=False,
    )
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert "SEGCOPY_LLM_BASE_URL" in failure.step_failure_data.error.message
    assert table_version(path) == before
    journal = resources["warehouse"].table_path("sms_journal")
    assert pl.read_delta(journal).height == 0
