"""Staleness on the description asset (issue 26): the ``inputs_current`` check that the runs
evaluate and ``staleness_sensor`` records when its result differs from the latest one the
instance holds (sensors ticked against a test instance, no daemon)."""

import shutil

import dagster as dg
import pytest

from segcopy_assets.defs.generation.staleness import CHECK, staleness_sensor
from segcopy_assets.pipeline import run_pipeline
from segcopy_assets.resources import Copywriter
from tests.integration.sensor_ticks import tick

KEY = dg.AssetCheckKey(dg.AssetKey("description_variants"), CHECK)


@pytest.fixture
def world(tmp_path, sample_tables, make_resources, instance, prompts_dir):
    prompts = tmp_path / "prompts"
    shutil.copytree(prompts_dir, prompts)
    resources = make_resources(
        tmp_path, sample_tables, copywriter=Copywriter(backend="offline", prompts_dir=str(prompts))
    )
    run_pipeline(instance, resources)
    return instance, resources, prompts


def latest(instance) -> dg.AssetCheckEvaluation:
    record = instance.get_latest_asset_check_evaluation_record(KEY)
    return record.event.dagster_event.event_specific_data


def test_a_prompt_edit_shows_on_the_asset_until_the_run_that_regenerates(world):
    instance, resources, prompts = world
    # the run evaluated the check after writing: current, so the sensor has nothing to add
    assert latest(instance).passed
    result, _ = tick(staleness_sensor, instance, resources)
    assert not result.asset_events and "unchanged" in result.skip_message

    system = prompts / "system.md.j2"
    system.write_text(system.read_text() + "\nKeep every sentence short.\n")
    result, _ = tick(staleness_sensor, instance, resources)
    (warning,) = result.asset_events
    assert warning.asset_key == KEY.asset_key and warning.check_name == CHECK
    assert not warning.passed and warning.severity == dg.AssetCheckSeverity.WARN
    assert warning.description.startswith("14 segment(s) wait for regeneration: ")
    assert warning.metadata["stale"].value == 14
    instance.report_runless_asset_event(warning)  # what the daemon does with a tick's events
    again, _ = tick(staleness_sensor, instance, resources)
    assert not again.asset_events  # recorded once, not on every tick

    run_pipeline(instance, resources)  # regenerates; the run's own evaluation is green
    assert latest(instance).passed
    after, _ = tick(staleness_sensor, instance, resources)
    assert not after.asset_events


def test_an_older_result_stored_last_is_put_right_and_broken_prompts_warn(world):
    instance, resources, prompts = world
    # a slower run stored a warning after the regeneration: the next tick records the truth
    instance.report_runless_asset_event(
        dg.AssetCheckEvaluation(
            asset_key=KEY.asset_key,
            check_name=CHECK,
            passed=False,
            severity=dg.AssetCheckSeverity.WARN,
            description="1 segment(s) wait for regeneration: tents--core",
        )
    )
    result, _ = tick(staleness_sensor, instance, resources)
    (fixed,) = result.asset_events
    assert fixed.passed and fixed.description == "every segment's variants are current"

    (prompts / "user.md.j2").write_text("{{ no_such_placeholder }}\n")
    result, _ = tick(staleness_sensor, instance, resources)
    (warning,) = result.asset_events
    assert not warning.passed and warning.description.startswith("not measured: ")
    assert "user.md.j2" in warning.description
