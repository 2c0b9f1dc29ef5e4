"""The Dagster UI and daemon, for real (issue 5).

One ``segcopy dev`` server (webserver + daemon + code server) runs for the whole module on a
fresh SEGCOPY_HOME that ``segcopy run`` filled first. The tests talk to it the way the UI does,
over ``POST /graphql``:

1. the asset graph, the 2 checks on ``description_variants`` and the 8 sensors (RUNNING by
   default) are served; one segment partition is materialized through the mutation the UI's
   Materialize button sends, and its check results are recorded for that partition;
2. a change to ONE segment in the sample CDP table flows through the real daemon:
   ``cdp_change_sensor`` re-ingests, ``segment_sensor`` regenerates that segment only;
3. the views issue 26 fixed, opened in headless Chromium and screenshotted: each partition's own
   metadata, the named jobs of the runs (re-executable), the proofread descriptions, and
   staleness on the asset (the ``inputs_current`` check on the lineage node, WARN while the
   changed segment waits, green after its refresh);
4. SIGTERM stops the whole process tree (nothing is left in the server's session).
"""

import re
import subprocess
import time
from collections import Counter
from pathlib import Path

import polars as pl
import pytest

from tests.e2e.browser import assert_png, chromium_page
from tests.e2e.dagster_ui_graphql import (
    CHECK_EXECUTIONS,
    CONFIG_PARTITION_FOR_ASSET_JOB,
    LAUNCH_ASSET_LOADER,
    LAUNCH_PIPELINE_EXECUTION,
    OVERVIEW,
)
from tests.e2e.dagster_ui_server import (
    VARIANTS,
    DevServer,
    metadata,
    run_assets,
    run_partitions,
    run_tags,
    session_members,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]

ASSETS = {
    "cdp_customers",
    "segment_summaries",
    "segment_definitions",
    "products",
    "description_variants",
    "published_variants",
    "customer_segments",
}
CHECKS = {"well_formed", "copy_quality"}  # each reports its rules (quality.judge.CHECKS)
STALENESS_CHECK = "inputs_current"  # staleness on the asset (defs/generation/staleness.py)
SENSORS = {
    "cdp_change_sensor",
    "product_change_sensor",
    "segment_sensor",
    "prompt_sensor",
    "product_variants_sensor",
    "publishing_sensor",
    "batch_sensor",
    "retry_sensor",
    "staleness_sensor",
}
UI_PARTITION = "tents--core"
RANGE_PARTITION = "tents--high-value"  # last materialized by `segcopy run`'s range run
CHANGED_SEGMENT = "e-bikes--core"  # E-Bikes × (Low tier → "core" value group)

# Shared between the tests of this module (they run in file order on one server).
STATE: dict = {}


@pytest.fixture(scope="module")
def dev_server(tmp_path_factory, repo_root, free_port, segcopy_exe, segcopy_env):
    """`segcopy run` once, then `segcopy dev --port <free>` in its own session."""
    root = tmp_path_factory.mktemp("dagster_ui")
    home = root / "home"
    env = segcopy_env(home, SEGCOPY_SENSOR_INTERVAL_S="5")

    started = time.monotonic()
    first = subprocess.run(
        [segcopy_exe, "run"], cwd=repo_root, env=env, capture_output=True, text=True, timeout=240
    )
    assert first.returncode == 0, first.stderr[-3000:]
    assert "Segments: 14 added" in first.stdout, first.stdout[-2000:]
    run_s = time.monotonic() - started

    port, log_path = free_port(), root / "segcopy-dev.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [segcopy_exe, "dev", "--port", str(port)],
            cwd=repo_root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = DevServer(home, port, proc, log_path)
    try:
        ready_s = server.wait_ready(timeout=90)
        print(
            f"\n[dagster-ui] segcopy run {run_s:.1f} s; segcopy dev ready after {ready_s:.1f} s (port {port})"
        )
        yield server
    finally:
        # The last test stops the server itself and asserts a clean exit (stop() is idempotent).
        # Here, after a failure, runs may still be in flight: whatever outlives the server is
        # killed by PID so nothing leaks, and said so.
        stopped = server.stop()
        if stopped["leftovers"]:
            print(
                f"[dagster-ui] killed processes left in the server's session: {stopped['leftovers']}"
            )


# --- 1. the UI, for real --------------------------------------------------------------------


def test_ui_serves_assets_checks_sensors_and_materializes_one_partition(dev_server):
    server = dev_server
    # issue 26: no "Use 'dg dev' instead" supersession warning (dg is not installed here)
    assert "superseded" not in server.log_path.read_text(errors="replace")
    nodes = {"/".join(n["assetKey"]["path"]): n for n in server.gql(OVERVIEW)["assetNodes"]}
    assert set(nodes) == ASSETS

    variants = nodes["description_variants"]
    assert variants["isPartitioned"] and variants["partitionDefinition"]["type"] == "DYNAMIC"
    assert variants["partitionDefinition"]["name"] == "segments"
    assert len(variants["partitionKeys"]) == 14 and {UI_PARTITION, CHANGED_SEGMENT} <= set(
        variants["partitionKeys"]
    )
    checks = variants["assetChecksOrError"]
    assert checks["__typename"] == "AssetChecks", checks
    assert {c["name"] for c in checks["checks"]} == CHECKS | {STALENESS_CHECK}
    assert [c["name"] for c in checks["checks"] if c["blocking"]] == ["well_formed"]

    sensors = {s["name"]: s["sensorState"]["status"] for s in server.sensors()}
    assert sensors == {name: "RUNNING" for name in SENSORS}, sensors
    # the nightly table maintenance (issue 23), on from the start like the sensors
    assert server.schedules() == {"table_maintenance_schedule": ("0 3 * * *", "RUNNING")}

    # `segcopy run` generated every segment in one run over the range: each partition's check
    # tab still shows that run's result for that partition.
    range_runs = set()
    for check in sorted(CHECKS):
        executions = server.gql(
            CHECK_EXECUTIONS,
            {
                "assetKey": VARIANTS,
                "checkName": check,
                "partition": CHANGED_SEGMENT,
            },
        )["assetCheckExecutions"]
        assert executions and executions[0]["status"] == "SUCCEEDED", (check, executions)
        assert executions[0]["evaluation"]["partition"] == CHANGED_SEGMENT, (check, executions[0])
        assert (
            metadata(executions[0]["evaluation"]["metadataEntries"])["segments"] == CHANGED_SEGMENT
        )
        range_runs.add(executions[0]["runId"])
    assert len(range_runs) == 1, range_runs
    # ... and each partition's materialization from that range run carries its own figures
    # (issue 26), read back through GraphQL as the UI reads them
    (range_run,) = range_runs
    own = {
        m["partition"]: metadata(m["metadataEntries"])
        for m in server.materializations()
        if m["runId"] == range_run
    }
    assert len(own) == 14, sorted(own)
    for meta in own.values():
        assert (meta["segments"], meta["pairs"], meta["run_segments"]) == (1, 14, 14), meta
        assert (meta["calls_made"], meta["run_calls_made"]) == (14, 196), meta

    # The Materialize button, step by step, as the UI sends it.
    before = server.materialization_counts()
    started = time.monotonic()
    [asset] = server.gql(LAUNCH_ASSET_LOADER, {"assetKeys": [VARIANTS]})["assetNodes"]
    job_name = asset["jobNames"][0]
    assert job_name == "__ASSET_JOB", asset["jobNames"]
    repo = {
        "repositoryName": asset["repository"]["name"],
        "repositoryLocationName": asset["repository"]["location"]["name"],
    }
    config = server.gql(
        CONFIG_PARTITION_FOR_ASSET_JOB,
        {
            **repo,
            "jobName": job_name,
            "partitionName": UI_PARTITION,
            "assetKeys": [VARIANTS],
        },
    )["pipelineOrError"]
    assert config["__typename"] == "Pipeline", config
    partition = config["partition"]
    assert partition["tagsOrError"]["__typename"] == "PartitionTags", partition
    tags = [{"key": t["key"], "value": t["value"]} for t in partition["tagsOrError"]["results"]]
    assert {"key": "dagster/partition", "value": UI_PARTITION} in tags
    check_selection = [
        {"name": c["name"], "assetKey": {"path": asset["assetKey"]["path"]}}
        for c in asset["assetChecksOrError"]["checks"]
        if not c["jobNames"] or job_name in c["jobNames"]
    ]
    execution_params = {
        "mode": "default",
        "executionMetadata": {"tags": tags},
        "runConfigData": partition["runConfigOrError"]["yaml"],
        "selector": {
            **repo,
            "pipelineName": job_name,
            "assetSelection": [{"path": asset["assetKey"]["path"]}],
            "assetCheckSelection": check_selection,
        },
    }
    launched = server.gql(LAUNCH_PIPELINE_EXECUTION, {"executionParams": execution_params})
    result = launched["launchPipelineExecution"]
    assert result["__typename"] == "LaunchRunSuccess", result
    run_id = result["run"]["id"]

    run = server.wait_run(run_id, timeout=240)
    print(
        f"[dagster-ui] UI-launched run of {UI_PARTITION}: SUCCESS {time.monotonic() - started:.1f} s after "
        f"launch; steps: {[s['stepKey'] for s in run['stepStats']]}"
    )
    assert run_tags(run)["dagster/partition"] == UI_PARTITION
    assert run_assets(run) == {"description_variants"}
    assert {s["stepKey"] for s in run["stepStats"]} >= {"description_variants"}

    # exactly that partition got a new materialization, from that run, with nothing re-bought
    after = server.materialization_counts()
    assert after - before == Counter({UI_PARTITION: 1}), (before, after)
    [mat] = [m for m in server.materializations() if m["runId"] == run_id]
    meta = metadata(mat["metadataEntries"])
    assert mat["partition"] == UI_PARTITION
    assert (
        meta["segments"] == 1
        and meta["pairs"] == 14
        and meta["calls_made"] == 0
        and meta["reused"] == 14
    ), meta

    # every check ran in that run, passed, and is recorded for that partition
    for check in sorted(CHECKS):
        executions = server.gql(
            CHECK_EXECUTIONS,
            {
                "assetKey": VARIANTS,
                "checkName": check,
                "partition": UI_PARTITION,
            },
        )["assetCheckExecutions"]
        mine = [e for e in executions if e["runId"] == run_id]
        assert len(mine) == 1, (check, executions)
        execution = mine[0]
        assert execution["status"] == "SUCCEEDED", (check, execution)
        assert execution["partition"] == UI_PARTITION, (check, execution)
        evaluation = execution["evaluation"]
        assert evaluation["success"] is True and evaluation["partition"] == UI_PARTITION, (
            check,
            evaluation,
        )
        check_meta = metadata(evaluation["metadataEntries"])
        assert check_meta["segments"] == UI_PARTITION and check_meta["failing"] == 0, (
            check,
            check_meta,
        )
        assert check_meta["evaluated"] > 0, (check, check_meta)


# --- 2. a sensor-triggered refresh, for real ------------------------------------------------


def _variant_rows(home: Path) -> pl.DataFrame:
    path = home / "warehouse" / "segcopy" / "description_variants"
    return pl.read_delta(
        str(path), columns=["segment_id", "product_id", "summary_hash", "generated_at"]
    )


def _wait_for_sensor_runs(server: DevServer, since: float, sensors: list[str], timeout: float):
    """Runs created since ``since``: wait until each of ``sensors`` has launched one and all of
    theirs succeeded; returns (runs by sensor name, every new run)."""
    deadline = time.monotonic() + timeout
    while True:
        new = [r for r in server.runs(50) if r["creationTime"] >= since]
        by_sensor: dict[str, list[dict]] = {}
        for run in new:
            by_sensor.setdefault(run_tags(run).get("dagster/sensor_name"), []).append(run)
        for run in new:
            if run["status"] in ("FAILURE", "CANCELED"):
                pytest.fail(
                    f"run {run['id']} ({run_tags(run).get('dagster/sensor_name')}) ended "
                    f"{run['status']}: {server.run_errors(run['id'])}\n{server.diagnostics()}"
                )
        theirs = [r for name in sensors for r in by_sensor.get(name, [])]
        if all(by_sensor.get(name) for name in sensors) and all(
            r["status"] == "SUCCESS" for r in theirs
        ):
            return by_sensor, new
        if time.monotonic() > deadline:
            pytest.fail(
                f"no successful runs from {sensors} within {timeout:.0f} s "
                f"({ {n: [r['status'] for r in by_sensor.get(n, [])] for n in sensors} })\n"
                f"{server.diagnostics()}"
            )
        time.sleep(2)


def test_cdp_change_refreshes_exactly_the_changed_segment_through_the_sensors(dev_server):
    server = dev_server
    customers_path = str(server.home / "sample" / "cdp_customers")
    before_counts = server.materialization_counts()
    before_rows = _variant_rows(server.home)
    partitions_before = set(before_counts)
    assert len(partitions_before) == 14
    partitions = sorted(partitions_before)
    assert {p: status for p, (status, _) in server.staleness(partitions).items()} == dict.fromkeys(
        partitions, "FRESH"
    )

    # Hold segment_sensor with the UI's toggle, to read the UI between the CDP refresh and the
    # variants refresh.
    assert server.set_sensor("segment_sensor", running=False) == "STOPPED"
    try:
        # Move one segment's customers to another region: a new Delta version of the CDP table.
        customers = pl.read_delta(customers_path)
        moved = (pl.col("preferred_subcategory") == "E-Bikes") & (
            pl.col("predicted_clv_tier") == "Low"
        )
        assert customers.filter(moved & (pl.col("region") != "Mountain West")).height > 100
        since = time.time() - 1
        started = time.monotonic()
        customers.with_columns(
            pl.when(moved).then(pl.lit("Mountain West")).otherwise(pl.col("region")).alias("region")
        ).write_delta(customers_path, mode="overwrite")

        _wait_for_sensor_runs(server, since, ["cdp_change_sensor"], timeout=240)
        cdp_s = time.monotonic() - started

        # The asset page: exactly the moved segment's variants are stale, because of its definition.
        staleness = server.staleness(partitions)
        stale = {p: causes for p, (status, causes) in staleness.items() if status != "FRESH"}
        assert list(stale) == [CHANGED_SEGMENT], staleness
        [cause] = stale[CHANGED_SEGMENT]
        assert (
            cause["key"]["path"] == ["segment_definitions"]
            and cause["partitionKey"] == CHANGED_SEGMENT
        ), cause
        assert cause["category"] == "DATA" and cause["reason"] == "has a new data version", cause

        # ... and on the asset itself (issue 26): the staleness check warns, naming the segment,
        # and the lineage node shows it (Dagster marks partitioned assets stale per partition only)
        waiting = server.wait_check(STALENESS_CHECK, "FAILED")
        assert waiting["evaluation"]["severity"] == "WARN", waiting
        assert waiting["evaluation"]["description"].endswith(f": {CHANGED_SEGMENT}"), waiting
        ui_screenshot(
            server, "/assets/description_variants?view=lineage", "2 / 3 Passed", "stale-lineage"
        )
    finally:  # never leave it off for the tests after this one
        sensor_status = server.set_sensor("segment_sensor", running=True)
    assert sensor_status == "RUNNING"
    by_sensor, new_runs = _wait_for_sensor_runs(
        server, since, ["cdp_change_sensor", "segment_sensor"], timeout=240
    )
    cdp_runs, segment_runs = by_sensor["cdp_change_sensor"], by_sensor["segment_sensor"]
    print(
        f"[dagster-ui] CDP change → cdp_change_sensor run SUCCESS in {cdp_s:.1f} s; segment_sensor "
        f"(turned back on) run SUCCESS {time.monotonic() - started:.1f} s after the change; new runs: "
        f"{[(run_tags(r).get('dagster/sensor_name'), r['status']) for r in new_runs]}"
    )

    [cdp_run] = cdp_runs
    assert run_assets(cdp_run) == {"cdp_customers", "segment_summaries", "customer_segments"}
    # sensor runs are the named, re-executable jobs, not the implicit __ASSET_JOB (issue 26)
    assert cdp_run["pipelineName"] == "segcopy_refresh", cdp_run["pipelineName"]
    assert run_tags(cdp_run)["segcopy/reason"] == "CDP version 1"

    [segment_run] = segment_runs
    assert run_assets(segment_run) == {"description_variants"}
    assert segment_run["pipelineName"] == "variants_refresh", segment_run["pipelineName"]
    assert run_partitions(segment_run) == (CHANGED_SEGMENT, CHANGED_SEGMENT), run_tags(segment_run)
    STATE["segment_run_id"] = segment_run["id"]
    # no other sensor asked for variants (publishing may run: it does not touch them)
    variant_runs = [r for r in new_runs if "description_variants" in run_assets(r)]
    assert [r["id"] for r in variant_runs] == [segment_run["id"]], [
        (run_tags(r).get("dagster/sensor_name"), run_partitions(r)) for r in variant_runs
    ]

    # the instance: one new materialization, of that partition only, with every pair regenerated
    after_counts = server.materialization_counts()
    assert after_counts - before_counts == Counter({CHANGED_SEGMENT: 1}), (
        before_counts,
        after_counts,
    )
    [mat] = [m for m in server.materializations() if m["runId"] == segment_run["id"]]
    meta = metadata(mat["metadataEntries"])
    assert mat["partition"] == CHANGED_SEGMENT
    assert meta["pairs"] == 14 and meta["calls_made"] == 14 and meta["reused"] == 0, meta
    # the partitions themselves did not change (no segment appeared or vanished)
    [variants] = [n for n in server.gql(OVERVIEW)["assetNodes"] if n["assetKey"] == VARIANTS]
    assert set(variants["partitionKeys"]) == partitions_before

    # the table: that segment's rows were regenerated from its new summary, no other row moved
    after_rows = _variant_rows(server.home)
    summaries = pl.read_delta(str(server.home / "warehouse" / "segcopy" / "segment_summaries"))
    new_hash = summaries.filter(pl.col("segment_id") == CHANGED_SEGMENT)["summary_hash"].item()
    key = ["segment_id", "product_id"]
    joined = before_rows.join(after_rows, on=key, suffix="_after", how="full", coalesce=True)
    assert joined.height == before_rows.height == after_rows.height == 196
    changed = joined.filter(pl.col("generated_at") != pl.col("generated_at_after"))
    assert set(changed["segment_id"]) == {CHANGED_SEGMENT} and changed.height == 14
    assert set(changed["summary_hash_after"]) == {new_hash} and new_hash not in set(
        changed["summary_hash"]
    )
    # and the asset page shows every partition fresh again, and the asset's check is green
    assert {p: status for p, (status, _) in server.staleness(partitions).items()} == dict.fromkeys(
        partitions, "FRESH"
    )
    current = server.wait_check(STALENESS_CHECK, "SUCCEEDED")
    assert current["evaluation"]["description"] == "every segment's variants are current"
    ui_screenshot(server, "/assets/description_variants?view=lineage", "3 / 3 Passed", "lineage")


def test_sensor_refresh_records_the_segments_check_results(dev_server):
    run_id = STATE.get("segment_run_id")
    if run_id is None:
        pytest.skip("the sensor-triggered refresh did not run")
    for check in sorted(CHECKS):
        executions = dev_server.gql(
            CHECK_EXECUTIONS,
            {
                "assetKey": VARIANTS,
                "checkName": check,
                "partition": CHANGED_SEGMENT,
            },
        )["assetCheckExecutions"]
        mine = [e for e in executions if e["runId"] == run_id]
        assert len(mine) == 1, (check, executions)
        assert mine[0]["status"] == "SUCCEEDED", (check, mine[0])
        assert mine[0]["evaluation"]["partition"] == CHANGED_SEGMENT, (check, mine[0])


# --- 3. the fixed views, in Chromium -------------------------------------------------------


def ui_screenshot(
    server: DevServer, path: str, text: str, name: str, enabled_button: str | None = None
) -> str:
    """Open ``path`` of the server's UI in Chromium, wait for ``text`` (and for
    ``enabled_button`` to be enabled), take a screenshot into the module's screenshot folder,
    check it; returns the page's text."""
    from playwright.sync_api import expect

    folder = STATE.setdefault("shots", server.home.parent / "screenshots")
    folder.mkdir(exist_ok=True)
    with chromium_page() as page:
        page.goto(server.url + path)
        skip = page.get_by_role("button", name="Skip")  # Dagster's "Join the community" dialog
        page.get_by_text(text).first.wait_for(timeout=60_000)
        if enabled_button:
            button = page.get_by_role("button", name=enabled_button)
            expect(button).to_be_enabled(timeout=60_000)
        if skip.count():
            skip.click()
        page.wait_for_timeout(1_000)  # let late panels render (the picture only, not a check)
        shot = folder / f"{name}.png"
        page.screenshot(path=str(shot), full_page=True)
        assert_png(shot, min_bytes=20_000)
        body = page.locator("body").inner_text()
    print(f"[dagster-ui] screenshot {shot}")
    return body


def test_the_fixed_views_in_chromium(dev_server):
    server = dev_server
    # a partition of `segcopy run`'s range run shows its own figures beside the run's
    body = ui_screenshot(
        server,
        f"/assets/description_variants?view=partitions&partition={RANGE_PARTITION}",
        "run_segments",
        "partition",
    )
    assert "variants_refresh" in body  # the job of the run that made it
    figures = re.sub(r"\s+", " ", body)
    assert "segments 1 pairs 14" in figures and "run_segments 14" in figures, figures[-3000:]
    # the runs: named jobs, never the ephemeral one, and re-executable
    body = ui_screenshot(server, "/runs", "variants_refresh", "runs")
    assert "segcopy_refresh" in body
    assert "__ephemeral_asset_job__" not in body and "__ASSET_JOB" not in body
    run_id = STATE.get("segment_run_id") or next(
        r["id"] for r in server.runs(50) if r["pipelineName"] == "variants_refresh"
    )
    body = ui_screenshot(server, f"/runs/{run_id}", "Re-execute all", "run", "Re-execute all")
    assert "Run of variants_refresh" in re.sub(r"\s+", " ", body)
    # the descriptions as the UI shows them: the check's rules joined into sentences
    body = ui_screenshot(
        server,
        "/assets/description_variants?view=checks&checkDetail=copy_quality",
        "facts_preserved:",
        "checks",
    )
    assert ".;" not in body
    body = ui_screenshot(server, "/assets/description_variants", "A tailored variant", "asset")
    assert "ends collects" not in body


# --- 4. teardown --------------------------------------------------------------------------


def test_sigterm_stops_the_whole_process_tree(dev_server):
    # A run in flight keeps dagster's code server alive after `dagster dev` exits, until the
    # run ends (graceful by design): let the sensors' runs finish first.
    quiet_s = dev_server.wait_quiet()
    pid = dev_server.proc.pid
    members = session_members(pid)
    assert any("dagster_webserver" in cmd for _, _, cmd in members), members
    assert any("dagster._daemon" in cmd for _, _, cmd in members), members
    stopped = dev_server.stop(grace=30, settle=10)
    print(
        f"[dagster-ui] quiet after {quiet_s:.1f} s; stopped by {stopped['how']} in "
        f"{stopped['exited_after_s']:.1f} s ({len(members)} processes in its session before)"
    )
    assert stopped["how"] == "SIGTERM", stopped
    assert dev_server.proc.returncode is not None
    assert not stopped["leftovers"], f"left running in the server's session: {stopped['leftovers']}"
    assert session_members(pid) == []
