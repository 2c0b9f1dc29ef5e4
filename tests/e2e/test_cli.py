"""The README's main command, as a user runs it: `segcopy run` in a fresh SEGCOPY_HOME."""

import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

TABLES = ["cdp_customers", "segment_summaries", "products", "description_variants"]


@pytest.mark.slow
def test_segcopy_run_end_to_end_then_rerun_calls_nothing(tmp_path, segcopy):
    home = tmp_path / "home"
    every_channel = {"SEGCOPY_CHANNELS": ""}  # the README's command: SEGCOPY_CHANNELS unset
    first = segcopy("run", home=home, env_extra=every_channel)
    assert first.returncode == 0, first.stderr[-3000:]
    warehouse = home / "warehouse" / "segcopy"
    for table in TABLES:
        assert (warehouse / table / "_delta_log").is_dir(), table
        assert f"  {table}" in first.stdout
    assert (home / "dagster" / "dagster.yaml").exists()  # the instance lives under SEGCOPY_HOME
    assert pl.read_delta(str(warehouse / "segment_summaries")).height == 14
    variants = pl.read_delta(str(warehouse / "description_variants"))
    assert variants.height == 14 * 14 and (variants["status"] == "ok").all()
    assert variants["rationale"].str.len_chars().min() > 0
    assert "196 pairs, 196 generated, 0 reused" in first.stdout
    for channel in ("email_subject", "push", "sms"):  # issue 24: every channel, offline
        assert pl.read_delta(str(warehouse / f"{channel}_variants")).height == 196
        assert (
            f"Channel {channel}: 196 variants (14 stale segment(s) run: 196 generated, 0 reused, "
            "0 failed); checks failing: 0 ERROR, 0 WARN" in first.stdout
        )

    second = segcopy("run", home=home, env_extra=every_channel)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "196 pairs, 0 generated, 196 reused" in second.stdout
    assert second.stdout.count("variants (all current, not run); checks failing: 0 ERROR") == 3
    # a channel's copy is reviewed from the command line, in its own log, and published by the
    # next run, which generates nothing
    sms_pair = ("tents--high-value", "TN-100", "--channel", "sms")
    approve = segcopy("review", "approve", *sms_pair, home=home)
    assert approve.returncode == 0, approve.stderr
    assert "recorded approve of sms tents--high-value/TN-100 arm 0" in approve.stdout
    listed = segcopy("review", "list", "--channel", "sms", "--status", "approved", home=home)
    assert "tents--high-value" in listed.stdout and "total: 1 approved" in listed.stdout
    unknown_channel = segcopy("review", "approve", *sms_pair[:2], "--channel", "mms", home=home)
    assert unknown_channel.returncode == 1 and "unknown channel 'mms'" in unknown_channel.stderr
    assert len(unknown_channel.stderr.strip().splitlines()) == 1
    third = segcopy("run", home=home, env_extra=every_channel)
    assert third.returncode == 0, third.stderr[-3000:]
    assert (
        "Channel sms: 196 variants (all current, not run); checks failing: 0 ERROR, 0 WARN; "
        "published 1, 195 withheld" in third.stdout
    )
    assert "published 0, 196 withheld" in third.stdout  # email_subject and push: none approved
    assert pl.read_delta(str(warehouse / "sms_published"))["product_id"].to_list() == ["TN-100"]

    again = pl.read_delta(str(warehouse / "description_variants"))
    key = ["segment_id", "product_id"]
    assert again.sort(key)["generated_at"].to_list() == variants.sort(key)["generated_at"].to_list()

    preview = segcopy("preview", "--segment", "tents--high-value", "--product", "TN-100", home=home)
    assert preview.returncode == 0, preview.stderr
    assert "=== system prompt" in preview.stdout and "=== rationale" in preview.stdout
    assert "Basecamp 2 Backpacking Tent" in preview.stdout

    unknown = segcopy("preview", "--segment", "nope", "--product", "TN-100", home=home)
    assert unknown.returncode == 1 and "unknown segment 'nope'" in unknown.stderr

    # a channel of prompts/channels/: its own prompt, the message with its SMS count, the checks
    pair = ("--segment", "tents--high-value", "--product", "TN-100")
    sms = segcopy("preview", "--channel", "sms", *pair, home=home)
    assert sms.returncode == 0, sms.stderr
    assert "You are a mobile marketer" in sms.stdout  # prompts/channels/sms/system.md.j2
    message = sms.stdout.split("=== sms for tents--high-value\n")[1].splitlines()
    assert message[0].startswith("Message: Ridgeline Cycle & Camp") and message[0].endswith(
        "Reply STOP to opt out"
    )
    assert "GSM-7" in message[1] and "1 SMS message" in message[1]
    assert "=== checks: 11 of 11 pass" in sms.stdout
    wrong = segcopy("preview", "--channel", "mms", *pair, home=home)
    assert wrong.returncode == 1
    assert "unknown channel 'mms'" in wrong.stderr and "email_subject, push, sms" in wrong.stderr


@pytest.mark.slow
def test_segcopy_run_reports_bad_input_in_one_clear_line(tmp_path, segcopy):
    bad = tmp_path / "products.csv"
    pl.DataFrame(
        {
            "product_id": ["A", "A"],
            "name": ["x", "y"],
            "category": ["c", "c"],
            "subcategory": ["s", "s"],
            "price": [1.0, 2.0],
            "description": ["d.", "e."],
        }
    ).write_csv(bad)
    result = segcopy("run", home=tmp_path / "home", env_extra={"SEGCOPY_PRODUCTS_PATH": str(bad)})
    assert result.returncode == 1
    assert "column 'product_id'" in result.stderr and "'A' appears 2 times" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_definitions_validate(repo_root):
    dagster = str(Path(sys.executable).parent / "dagster")
    result = subprocess.run(
        [dagster, "definitions", "validate", "-m", "segcopy_assets.definitions"],
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Validation successful" in result.stderr + result.stdout
