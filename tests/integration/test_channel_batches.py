"""A channel in batch mode (issue 24: every channel gets the description's batch path): its
pairs go to the provider's Batch API in the channel's own state table, the run waits writing
nothing, channel_batch_sensor requests the collect run when the batch ends, the answers land
with their batch id at the batch price, and a rerun pays nothing."""

import shutil

import dagster as dg
import polars as pl
import pytest

from segcopy_assets.definitions import ALL_SENSORS
from segcopy_assets.devtools.fake_openai import FakeOpenAIServer
from segcopy_assets.pipeline import run_pipeline
from segcopy_assets.resources import Copywriter
from segcopy_assets.storage import batch_store
from tests.integration.sensor_ticks import tick

KEY = "sk-channel-batch"
PAIRS = 196


@pytest.fixture(autouse=True)
def sms_only(monkeypatch):
    monkeypatch.setenv("SEGCOPY_CHANNELS", "sms")


@pytest.fixture(autouse=True)
def _fast_wait(monkeypatch):
    import segcopy_assets.batch_waiting as waiting

    monkeypatch.setattr(waiting.time, "sleep", lambda _s: None)


def resources_for(tmp_path, sample_tables, make_resources, prompts_dir, fake, name, mode):
    root = tmp_path / name
    shutil.copytree(sample_tables["customers"], root / "cdp_customers")
    shutil.copytree(sample_tables["products"], root / "products")
    tables = {"customers": str(root / "cdp_customers"), "products": str(root / "products")}
    copywriter = Copywriter(
        backend="openai",
        base_url=fake.base_url,
        api_key=KEY,
        prompts_dir=str(prompts_dir),
        mode=mode,
        batch_poll_s=1,
        max_retries=0,
    )
    return make_resources(root, tables, copywriter=copywriter)


def test_a_channel_in_batch_mode_is_submitted_collected_and_not_paid_twice(
    tmp_path, sample_tables, make_resources, prompts_dir, instance
):
    with FakeOpenAIServer(api_key=KEY, batch_polls=2) as fake:
        resources = resources_for(
            tmp_path, sample_tables, make_resources, prompts_dir, fake, "w", "batch"
        )
        first = run_pipeline(instance, resources)  # submits, does not wait
        sms = first.channels["sms"]
        assert sms["segments_waiting_on_batches"] == 14 and sms["variants"] == 0
        assert fake.call_count == 0 and fake.batch_create_count == 2  # description + sms
        path = resources["warehouse"].table_path("sms_batches")
        [batch] = batch_store.current(path).iter_rows(named=True)
        assert batch["requests"] == PAIRS and len(batch["segment_ids"]) == 14
        assert not instance.fetch_materializations(dg.AssetKey("sms_variants"), limit=1).records

        # the sensor polls the channel's batches and asks for the collect run once they end
        (sensor,) = [s for s in ALL_SENSORS if s.name == "channel_batch_sensor"]
        for _ in range(5):  # the fake moves a batch on every retrieve (batch_polls=2)
            result, _ = tick(sensor, instance, resources)
            if result.run_requests:
                break
            assert "sms: " in result.skip_message and "still open" in result.skip_message
        assert {r.asset_selection[0] for r in result.run_requests} == {dg.AssetKey("sms_variants")}

        second = run_pipeline(instance, resources, wait=True)
        sms = second.channels["sms"]
        assert (sms["variants"], sms["batch_generated"], sms["calls_made"]) == (PAIRS, PAIRS, 0)
        assert sms["failing_error"] == 0 and sms["segments_waiting_on_batches"] == 0
        rows = pl.read_delta(resources["warehouse"].table_path("sms_variants"))
        assert rows["batch_id"].unique().to_list() == [batch["batch_id"]]
        assert rows["variant_text"].str.ends_with("Reply STOP to opt out").all()
        assert batch_store.current(path)["state"].to_list() == ["collected"]
        assert pl.read_delta(resources["warehouse"].table_path("sms_journal")).height == 0
        batch_cost = sms["estimated_cost_usd"]

        calls, created = fake.call_count, fake.batch_create_count
        third = run_pipeline(instance, resources, wait=True)
        assert third.channels["sms"]["segments_run"] == 0
        assert (fake.call_count, fake.batch_create_count) == (calls, created)

        online = resources_for(
            tmp_path, sample_tables, make_resources, prompts_dir, fake, "o", "online"
        )
        online_cost = run_pipeline(instance, online).channels["sms"]["estimated_cost_usd"]
    assert online_cost > 0 and batch_cost == pytest.approx(online_cost / 2, abs=2e-6)


class OfferOnFirstSms:
    """The fake's default answers, except that a channel's first answer for the Tempo road bike
    (RB-100, named in the prompt) adds a shipping offer; a repair (the conversation with that
    answer) gets the clean one. Chosen by content, never by arrival order."""

    def __call__(self, body):
        from segcopy_assets.devtools.fake_openai.replies import default_reply, message_text

        messages = body.get("messages") or []
        clean = default_reply({**body, "messages": messages[:2]})
        is_repair = any(m.get("role") == "assistant" for m in messages)
        product = message_text(messages[1]) if len(messages) > 1 else ""
        if is_repair or "Tempo Endurance Road Bike" not in product or "STOP" not in clean:
            return clean
        return clean.replace("Reply STOP", "Free shipping. Reply STOP", 1)


def test_a_channel_batch_answer_that_fails_a_check_is_repaired_in_the_next_batch(
    tmp_path, sample_tables, make_resources, prompts_dir, instance
):
    with FakeOpenAIServer(api_key=KEY, batch_polls=1, responder=OfferOnFirstSms()) as fake:
        resources = resources_for(
            tmp_path, sample_tables, make_resources, prompts_dir, fake, "w", "batch"
        )
        resources["copywriter"] = resources["copywriter"].model_copy(update={"repair_attempts": 1})
        report = run_pipeline(instance, resources, wait=True)
        sms = report.channels["sms"]
        path = resources["warehouse"].table_path("sms_batches")
        purposes = batch_store.current(path)["purpose"].to_list()
    assert sorted(p or "" for p in purposes) == ["", "repair1"]  # first answers, then repairs
    rows = pl.read_delta(resources["warehouse"].table_path("sms_variants"))
    repaired = rows.filter(pl.col("first_failures").is_not_null())
    assert sorted(repaired["product_id"].unique()) == ["RB-100"] and repaired.height == 14
    assert repaired["first_failures"].str.contains("no_invented_offers").all()
    assert not repaired["variant_text"].str.contains("Free shipping").any()
    assert sms["variants"] == PAIRS and sms["failing_error"] == 0


def test_batch_list_shows_every_channels_batches(
    tmp_path, sample_tables, make_resources, prompts_dir, instance, monkeypatch, capsys
):
    """``segcopy batch list`` reads the description's table and each channel's: a line per
    batch naming its channel; ``--channel`` narrows it; an unknown channel is one error line."""
    from argparse import Namespace

    from segcopy_assets.cli.batch_commands import cmd_batch_list

    with FakeOpenAIServer(api_key=KEY) as fake:
        resources = resources_for(
            tmp_path, sample_tables, make_resources, prompts_dir, fake, "w", "batch"
        )
        run_pipeline(instance, resources)  # submits the description's batch and the SMS batch
        warehouse = resources["warehouse"]
        monkeypatch.setenv("SEGCOPY_WAREHOUSE_URI", warehouse.root)
        monkeypatch.setenv("SEGCOPY_PROMPTS_DIR", str(prompts_dir))
        ids = {
            table: batch_store.current(warehouse.table_path(table))["batch_id"].to_list()
            for table in ("generation_batches", "sms_batches")
        }

        def listing(**flags) -> tuple[int, list[str], str]:
            args = Namespace(**{"all": True, "refresh": False, "channel": None, **flags})
            code = cmd_batch_list(args)
            out, err = capsys.readouterr()
            return code, out.splitlines(), err

        code, lines, _ = listing()
        assert code == 0 and lines[0].split()[:2] == ["channel", "batch"]
        by_channel = {line.split()[0]: line.split()[1] for line in lines[1:]}
        assert by_channel == {
            "web_description": ids["generation_batches"][0],
            "sms": ids["sms_batches"][0],
        }, lines
        assert all(f" {PAIRS}  " in line for line in lines[1:]), lines

        code, lines, _ = listing(channel="sms")
        assert code == 0 and [line.split()[0] for line in lines[1:]] == ["sms"]
        code, lines, err = listing(channel="fax")
        assert code == 1 and lines == []
        assert "no channel 'fax'" in err and "sms" in err, err
