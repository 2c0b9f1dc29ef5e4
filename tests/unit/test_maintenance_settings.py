"""The maintenance's settings: the retention (never shorter than a run can last), the schedule's
cron, and what the job and schedule are."""

from datetime import UTC, datetime

import dagster as dg
import pytest
from pydantic import ValidationError

from segcopy_assets.errors import SettingsError
from segcopy_assets.resources.maintenance import Maintenance, maintenance_from_env
from segcopy_assets.storage.maintenance import _interval_hours, check_retention, retention_hours


def test_the_retention_defaults_to_seven_days():
    assert maintenance_from_env().retention_days == 7
    assert Maintenance().retention_days == 7
    assert retention_hours(7) == 168


@pytest.mark.parametrize(("value", "days"), [("1", 1.0), ("2.5", 2.5), (" 30 ", 30.0)])
def test_the_retention_comes_from_the_environment(monkeypatch, value, days):
    monkeypatch.setenv("SEGCOPY_MAINTENANCE_RETENTION_DAYS", value)
    assert maintenance_from_env().retention_days == days


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("0.5", "must be at least 1 day"),
        ("0", "must be at least 1 day"),
        ("-3", "must be at least 1 day"),
        ("inf", "must be at least 1 day"),
        ("nan", "must be at least 1 day"),
        ("seven", "must be a number of days, not 'seven'"),
    ],
)
def test_a_retention_under_a_day_is_refused_naming_the_variable(monkeypatch, value, says):
    monkeypatch.setenv("SEGCOPY_MAINTENANCE_RETENTION_DAYS", value)
    with pytest.raises(SettingsError) as error:
        maintenance_from_env()
    message = str(error.value)
    assert message.startswith("SEGCOPY_MAINTENANCE_RETENTION_DAYS " + says)
    assert "\n" not in message
    if "at least" in says:
        assert "never shorter than a run can last" in message


def test_the_resource_refuses_a_short_retention_too():
    with pytest.raises(ValidationError, match="never shorter than a run can last"):
        Maintenance(retention_days=0.5)
    with pytest.raises(SettingsError, match="--retention-days must be at least 1 day"):
        check_retention(0.99, "--retention-days")


def test_vacuum_hours_round_up():
    assert retention_hours(1) == 24
    assert retention_hours(1.01) == 25  # never shorter than asked


@pytest.mark.parametrize(
    ("value", "hours"),
    [
        (None, 99.0),
        ("interval 7 days", 168.0),
        ("interval 1 week", 168.0),
        ("interval 36 hours", 36.0),
        ("30 days", 720.0),
        ("interval 90 minutes", 1.5),
        ("whenever", None),
        ("interval 3 fortnights", None),
    ],
)
def test_delta_interval_properties_are_read_in_hours(value, hours):
    assert _interval_hours(value, 99.0) == hours


def test_the_job_and_its_nightly_schedule_are_defined():
    from segcopy_assets.defs.maintenance.definitions import defs
    from segcopy_assets.defs.maintenance.jobs import table_maintenance_schedule

    schedule = table_maintenance_schedule
    assert schedule.cron_schedule == "0 3 * * *"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    assert schedule.job_name == "table_maintenance"
    assert [s.name for s in defs.schedules or []] == ["table_maintenance_schedule"]
    assert [j.name for j in defs.jobs or []] == ["table_maintenance"]

    tick = datetime(2026, 12, 8, 3, 0, tzinfo=UTC)
    data = schedule.evaluate_tick(dg.build_schedule_context(scheduled_execution_time=tick))
    assert [r.job_name or schedule.job_name for r in data.run_requests or []] == [
        "table_maintenance"
    ]


def test_the_schedule_takes_its_cron_from_the_environment(monkeypatch):
    from segcopy_assets.defs.maintenance.jobs import maintenance_cron, maintenance_schedule

    monkeypatch.setenv("SEGCOPY_MAINTENANCE_CRON", "30 1 * * 0")
    assert maintenance_schedule(maintenance_cron()).cron_schedule == "30 1 * * 0"
    monkeypatch.setenv("SEGCOPY_MAINTENANCE_CRON", "nightly")
    with pytest.raises(SettingsError, match="SEGCOPY_MAINTENANCE_CRON must be a cron expression"):
        maintenance_schedule(maintenance_cron())
