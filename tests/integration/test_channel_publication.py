"""A channel's review and publication (issue 24: every channel gets the description's review,
sampling and publishing): decisions per pair x arm in the channel's own review log, edits
judged by the channel's checks, one published row per pair x arm, a rerun that publishes
nothing new, approvals carried over a prompt tweak that leaves the text as it was."""

import shutil

import polars as pl
import pytest

from segcopy_assets.errors import InputValidationError
from segcopy_assets.pipeline import run_pipeline
from segcopy_assets.resources import Copywriter
from segcopy_assets.review.edit_rules import EditRefused
from segcopy_assets.review.service import ReviewTables, decide, review_queue
from segcopy_assets.storage.delta import table_version

SEGMENT, PRODUCT = "tents--core", "TN-100"


@pytest.fixture(autouse=True)
def sms_only(monkeypatch, tmp_path, prompts_dir):
    """The SMS channel alone, on a copy of the prompts the review commands read too."""
    prompts = tmp_path / "prompts"
    shutil.copytree(prompts_dir, prompts)
    monkeypatch.setenv("SEGCOPY_CHANNELS", "sms")
    monkeypatch.setenv("SEGCOPY_PROMPTS_DIR", str(prompts))
    return prompts


def published(resources) -> pl.DataFrame:
    path = resources["warehouse"].table_path("sms_published")
    return pl.read_delta(path).sort("segment_id", "product_id", "variant_index")


def test_channel_decisions_per_arm_are_published_and_survive_a_prompt_tweak(
    tmp_path, sample_tables, make_resources, instance, sms_only
):
    resources = make_resources(tmp_path, sample_tables)
    resources["copywriter"] = Copywriter(
        backend="offline", prompts_dir=str(sms_only), variants_per_pair=2
    )
    first = run_pipeline(instance, resources)
    sms = first.channels["sms"]
    assert (sms["published"], sms["withheld"], sms["published_run"]) == (0, 392, True)

    tables = ReviewTables.for_warehouse(resources["warehouse"], "sms")
    queue = review_queue(tables).filter(
        (pl.col("segment_id") == SEGMENT) & (pl.col("product_id") == PRODUCT)
    )
    assert queue["variant_index"].to_list() == [0, 1]
    assert set(queue["review_status"]) == {"pending"}
    with pytest.raises(InputValidationError, match="--arm"):
        decide(tables, SEGMENT, PRODUCT, "approve", reviewer="ana")
    with pytest.raises(InputValidationError, match="no arm 2"):
        decide(tables, SEGMENT, PRODUCT, "approve", reviewer="ana", arm=2)

    decide(tables, SEGMENT, PRODUCT, "approve", reviewer="ana", arm=0)
    arm1 = queue.row(1, named=True)["variant_text"]
    # an SMS without its opt-out line fails the channel's rule (not a description rule)
    # ... and a number the product does not say fails the channel's content rules
    for text, why in (
        (arm1.replace(" Reply STOP to opt out", ""), "opt"),
        (arm1.replace("1.6 kg", "1.9 kg"), "1.9 kg"),
    ):
        with pytest.raises(EditRefused, match=why):
            decide(tables, SEGMENT, PRODUCT, "edit", reviewer="ana", arm=1, edited_text=text)
    edited = arm1.replace("dependable on every outing", "ready for every weekend")
    assert edited != arm1
    decide(tables, SEGMENT, PRODUCT, "edit", reviewer="ana", arm=1, edited_text=edited)

    second = run_pipeline(instance, resources).channels["sms"]
    assert (second["published"], second["withheld"], second["published_run"]) == (2, 390, True)
    rows = published(resources)
    assert rows.select("variant_index", "angle", "approval").rows() == [
        (0, "performance", "approve"),
        (1, "dependability", "edit"),
    ]
    assert rows["published_text"][1] == edited.strip()
    version = table_version(resources["warehouse"].table_path("sms_published"))

    third = run_pipeline(instance, resources).channels["sms"]
    assert (third["published"], third["published_run"]) == (2, False)  # nothing moved
    assert table_version(resources["warehouse"].table_path("sms_published")) == version

    # a prompt tweak: new input hashes, the same text: both decisions carry over, copy stays live
    config = sms_only / "channels/sms/config.toml"
    config.write_text(config.read_text().replace("temperature = 0.4", "temperature = 0.5"))
    tweaked = run_pipeline(instance, resources).channels["sms"]
    assert tweaked["calls_made"] == 392 and tweaked["published"] == 2
    after = published(resources)
    assert after["state"].to_list() == ["current", "current"]
    assert set(after["input_hash"]).isdisjoint(rows["input_hash"])
    assert after["published_text"].to_list() == rows["published_text"].to_list()

    decide(tables, SEGMENT, PRODUCT, "reject", reviewer="ben", arm=0)
    auto = run_pipeline(instance, resources, auto_approve_passing_checks=True).channels["sms"]
    assert (auto["published"], auto["withheld"]) == (391, 1)
    rejected = published(resources).filter(
        (pl.col("segment_id") == SEGMENT) & (pl.col("product_id") == PRODUCT)
    )
    assert rejected["variant_index"].to_list() == [1]


def test_a_channel_batch_accepted_by_its_sample_publishes_its_members(
    tmp_path, sample_tables, make_resources, instance, sms_only
):
    """Acceptance sampling on the channel's own batches table: one batch across every segment,
    its sample approved, every member published (the reviewed ones as approved, the rest as
    sampled), and nothing of the description's batches or log involved."""
    from segcopy_assets.core.sampling import SamplingPlan
    from segcopy_assets.review.batches import draw_batches
    from segcopy_assets.review.bulk import decide_all

    resources = make_resources(tmp_path, sample_tables)
    resources["copywriter"] = Copywriter(backend="offline", prompts_dir=str(sms_only))
    run_pipeline(instance, resources)
    tables = ReviewTables.for_warehouse(resources["warehouse"], "sms")
    (batch,) = draw_batches(tables, SamplingPlan(0.05, 0.95), reviewer="ana", all_segments=True)
    assert len(batch.members) == 196 and len(batch.sample) == 59
    queue = review_queue(tables)
    decide_all(
        tables, queue.filter(pl.col("input_hash").is_in(batch.sample)), "approve", reviewer="ana"
    )

    sms = run_pipeline(instance, resources).channels["sms"]
    assert (sms["published"], sms["withheld"]) == (196, 0)
    approvals = published(resources)["approval"].value_counts().sort("approval").rows()
    assert approvals == [("approve", 59), ("sample", 137)]
    warehouse = resources["warehouse"]
    assert table_version(warehouse.table_path("review_batches")) is None
    assert table_version(warehouse.table_path("variant_reviews")) is None


def test_channel_publishing_sensor_publishes_a_channel_again_after_a_decision(
    tmp_path, sample_tables, make_resources, instance, sms_only
):
    import dagster as dg

    from segcopy_assets.definitions import ALL_SENSORS
    from tests.integration.sensor_ticks import tick

    resources = make_resources(tmp_path, sample_tables)
    resources["copywriter"] = Copywriter(backend="offline", prompts_dir=str(sms_only))
    run_pipeline(instance, resources)
    (sensor,) = [s for s in ALL_SENSORS if s.name == "channel_publishing_sensor"]
    # `segcopy run` published the channel: the daemon's first tick launches no run (issue 26)
    first, cursor = tick(sensor, instance, resources)
    assert not first.run_requests and "no new channel variants" in first.skip_message
    quiet, cursor = tick(sensor, instance, resources, cursor)
    assert not quiet.run_requests and "no new channel variants" in quiet.skip_message

    tables = ReviewTables.for_warehouse(resources["warehouse"], "sms")
    decide(tables, SEGMENT, PRODUCT, "approve", reviewer="ana")
    after, cursor = tick(sensor, instance, resources, cursor)
    assert [r.asset_selection for r in after.run_requests] == [[dg.AssetKey("sms_published")]]
