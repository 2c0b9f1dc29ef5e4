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

import contextlib
import json
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import polars as pl
import pytest

from tests.e2e.browser import assert_png, chromium_page

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]

VARIANTS = {"path": ["description_variants"]}
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
DONE = {"SUCCESS", "FAILURE", "CANCELED"}

# Shared between the tests of this module (they run in file order on one server).
STATE: dict = {}

# --- GraphQL documents --------------------------------------------------------------------

OVERVIEW = """
query Overview {
  assetNodes {
    assetKey { path }
    jobNames
    isPartitioned
    partitionDefinition { name type }
    partitionKeys
    repository { name location { name } }
    assetChecksOrError {
      __typename
      ... on AssetChecks { checks { name jobNames blocking } }
    }
  }
}
"""

SENSORS_QUERY = """
query Sensors($repositorySelector: RepositorySelector!, $ticks: Int!) {
  sensorsOrError(repositorySelector: $repositorySelector) {
    __typename
    ... on Sensors {
      results {
        name
        sensorState {
          id
          status
          ticks(limit: $ticks) { timestamp status skipReason error { message } runIds }
        }
      }
    }
    ... on PythonError { message }
  }
}
"""

SCHEDULES_QUERY = """
query Schedules($repositorySelector: RepositorySelector!) {
  schedulesOrError(repositorySelector: $repositorySelector) {
    __typename
    ... on Schedules { results { name cronSchedule scheduleState { status } } }
    ... on PythonError { message }
  }
}
"""

# The UI's sensor toggle (ui-core/src/sensors/SensorMutations.tsx) and the asset page's
# stale badges and "why" popover (staleStatusByPartition / staleCausesByPartition).
STOP_SENSOR = """
mutation StopRunningSensor($id: String!) {
  stopSensor(id: $id) {
    __typename
    ... on StopSensorMutationResult { instigationState { id status } }
    ... on PythonError { message }
  }
}
"""
START_SENSOR = """
mutation StartSensor($sensorSelector: SensorSelector!) {
  startSensor(sensorSelector: $sensorSelector) {
    __typename
    ... on Sensor { id sensorState { id status } }
    ... on PythonError { message }
  }
}
"""
STALENESS = """
query Staleness($assetKeys: [AssetKeyInput!]!, $partitions: [String!]!) {
  assetNodes(assetKeys: $assetKeys) {
    staleStatusByPartition(partitions: $partitions)
    staleCausesByPartition(partitions: $partitions) {
      key { path } partitionKey category reason dependency { path } dependencyPartitionKey
    }
  }
}
"""

# What the UI's Materialize button does for a partitioned asset (dagster-webserver 1.13.27,
# ui-core/src/assets/LaunchAssetExecutionButton.tsx + LaunchAssetChoosePartitionsDialog.tsx):
# LaunchAssetLoaderQuery → ConfigPartitionForAssetJobQuery → LaunchPipelineExecution with
# executionParamsForAssetJob(repoAddress, jobName, assets, tags) and the partition's run config.
LAUNCH_ASSET_LOADER = """
query LaunchAssetLoaderQuery($assetKeys: [AssetKeyInput!]!) {
  assetNodes(assetKeys: $assetKeys) {
    id
    assetKey { path }
    jobNames
    isPartitioned
    repository { name location { name } }
    assetChecksOrError { __typename ... on AssetChecks { checks { name jobNames } } }
  }
}
"""

CONFIG_PARTITION_FOR_ASSET_JOB = """
query ConfigPartitionForAssetJobQuery($repositoryName: String!, $repositoryLocationName: String!,
    $jobName: String!, $partitionName: String!, $assetKeys: [AssetKeyInput!]!) {
  pipelineOrError(params: {pipelineName: $jobName, repositoryName: $repositoryName,
                           repositoryLocationName: $repositoryLocationName}) {
    __typename
    ... on Pipeline {
      id
      partition(partitionName: $partitionName, selectedAssetKeys: $assetKeys) {
        name
        runConfigOrError { __typename ... on PartitionRunConfig { yaml } ... on PythonError { message } }
        tagsOrError { __typename ... on PartitionTags { results { key value } } ... on PythonError { message } }
      }
    }
  }
}
"""

LAUNCH_PIPELINE_EXECUTION = """
mutation LaunchPipelineExecution($executionParams: ExecutionParams!) {
  launchPipelineExecution(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { id pipelineName } }
    ... on PipelineNotFoundError { message }
    ... on InvalidSubsetError { message }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on PythonError { message stack }
  }
}
"""

RUN_QUERY = """
query Run($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run {
      id status creationTime startTime endTime
      tags { key value }
      assetSelection { path }
      stepStats { stepKey status startTime endTime }
    }
    ... on RunNotFoundError { message }
  }
}
"""

RUNS_QUERY = """
query Runs($limit: Int!) {
  runsOrError(limit: $limit) {
    __typename
    ... on Runs {
      results {
        id status creationTime startTime endTime pipelineName
        tags { key value }
        assetSelection { path }
      }
    }
    ... on PythonError { message }
  }
}
"""

RUN_ERRORS = """
query RunErrors($runId: ID!) {
  logsForRun(runId: $runId) {
    __typename
    ... on EventConnection { events { __typename ... on MessageEvent { level stepKey message } } }
  }
}
"""

MATERIALIZATIONS = """
query Materializations($assetKey: AssetKeyInput!) {
  assetOrError(assetKey: $assetKey) {
    __typename
    ... on Asset {
      assetMaterializations(limit: 10000) {
        partition runId timestamp
        metadataEntries {
          label
          ... on IntMetadataEntry { intValue }
          ... on TextMetadataEntry { text }
        }
      }
    }
  }
}
"""

CHECK_EXECUTIONS = """
query CheckExecutions($assetKey: AssetKeyInput!, $checkName: String!, $partition: String) {
  assetCheckExecutions(assetKey: $assetKey, checkName: $checkName, partition: $partition, limit: 20) {
    runId status partition
    evaluation {
      success partition severity
      metadataEntries {
        label
        ... on IntMetadataEntry { intValue }
        ... on TextMetadataEntry { text }
      }
    }
  }
}
"""

LATEST_CHECK = """
query LatestCheck($assetKey: AssetKeyInput!, $checkName: String!) {
  assetCheckExecutions(assetKey: $assetKey, checkName: $checkName, limit: 1) {
    runId status evaluation { description severity }
  }
}
"""

# --- the server ---------------------------------------------------------------------------


def session_members(sid: int) -> list[tuple[int, str, str]]:
    """Live (non-zombie) processes whose session id is ``sid``: (pid, state, command line)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            # fields after "(comm)": state ppid pgrp session ...
            state, _ppid, _pgrp, session = stat[stat.rindex(")") + 2 :].split()[:4]
            if int(session) != sid or state == "Z":
                continue
            cmd = (
                Path(f"/proc/{entry}/cmdline")
                .read_bytes()
                .replace(b"\0", b" ")
                .decode(errors="replace")
            )
        except (OSError, ValueError):
            continue  # gone meanwhile
        found.append((int(entry), state, cmd[:160]))
    return found


class DevServer:
    """A running ``segcopy dev`` (its own session) and a GraphQL client for it."""

    def __init__(self, home: Path, port: int, proc: subprocess.Popen, log_path: Path):
        self.home, self.port, self.proc, self.log_path = home, port, proc, log_path
        self.url = f"http://127.0.0.1:{port}"
        self.stopped: dict | None = None

    # GraphQL ----------------------------------------------------------------------------
    def gql(self, query: str, variables: dict | None = None, timeout: float = 60) -> dict:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(
            f"{self.url}/graphql", data=body, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                payload = json.load(response)
        except urllib.error.HTTPError as exc:  # GraphQL validation errors come back as 400
            payload = {
                "errors": [
                    {"message": f"HTTP {exc.code}: {exc.read().decode(errors='replace')[:2000]}"}
                ]
            }
        if payload.get("errors"):
            raise AssertionError(f"GraphQL errors: {json.dumps(payload['errors'])[:3000]}")
        return payload["data"]

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_bytes()[-chars:].decode(errors="replace")
        except OSError as exc:
            return f"(no log: {exc})"

    # lifecycle --------------------------------------------------------------------------
    def wait_ready(self, timeout: float = 90) -> float:
        """Wait for /server_info, then for the code location's assets; returns seconds taken."""
        start = time.monotonic()
        deadline = start + timeout
        while True:
            if self.proc.poll() is not None:
                pytest.fail(f"segcopy dev exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/server_info", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"/server_info did not answer within {timeout:.0f} s:\n{self.log_tail()}"
                )
            time.sleep(0.5)
        while True:
            try:
                nodes = self.gql("{ assetNodes { assetKey { path } } }")["assetNodes"]
                if any(n["assetKey"] == VARIANTS for n in nodes):
                    return time.monotonic() - start
                error = f"{len(nodes)} asset nodes"
            except (AssertionError, OSError) as exc:
                error = str(exc)
            if time.monotonic() > deadline:
                pytest.fail(
                    f"code location not loaded within {timeout:.0f} s ({error}):\n{self.log_tail()}"
                )
            time.sleep(1)

    def stop(self, grace: float = 30, settle: float = 10) -> dict:
        """SIGTERM the server by PID; SIGKILL its process group after ``grace`` s. Give its
        children ``settle`` s to follow, then kill (each by PID) whatever is still in its
        session and report it."""
        if self.stopped is not None:
            return self.stopped
        pid, start = self.proc.pid, time.monotonic()
        how = "already exited"
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(grace)
                how = "SIGTERM"
            except subprocess.TimeoutExpired:
                os.killpg(pid, signal.SIGKILL)  # the group is the server's own (start_new_session)
                self.proc.wait(10)
                how = "SIGKILL after SIGTERM was ignored"
        exited_after = time.monotonic() - start
        settle_until = time.monotonic() + settle  # children may need a moment after their parent
        while session_members(pid) and time.monotonic() < settle_until:
            time.sleep(0.5)
        leftovers = session_members(pid)
        for child, _state, _cmd in leftovers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)
        self.stopped = {"how": how, "exited_after_s": exited_after, "leftovers": leftovers}
        return self.stopped

    # diagnostics ------------------------------------------------------------------------
    def repository_selector(self) -> dict:
        node = self.gql("{ assetNodes { repository { name location { name } } } }")["assetNodes"][0]
        return {
            "repositoryName": node["repository"]["name"],
            "repositoryLocationName": node["repository"]["location"]["name"],
        }

    def sensors(self, ticks: int = 1) -> list[dict]:
        data = self.gql(
            SENSORS_QUERY, {"repositorySelector": self.repository_selector(), "ticks": ticks}
        )
        result = data["sensorsOrError"]
        assert result["__typename"] == "Sensors", result
        return result["results"]

    def schedules(self) -> dict[str, tuple[str, str]]:
        """Each schedule's cron and status, as the UI's schedules page lists them."""
        data = self.gql(SCHEDULES_QUERY, {"repositorySelector": self.repository_selector()})
        result = data["schedulesOrError"]
        assert result["__typename"] == "Schedules", result
        return {
            s["name"]: (s["cronSchedule"], s["scheduleState"]["status"]) for s in result["results"]
        }

    def set_sensor(self, name: str, running: bool) -> str:
        """Turn a sensor on or off the way the UI's toggle does; returns its new status."""
        if running:
            result = self.gql(
                START_SENSOR, {"sensorSelector": {**self.repository_selector(), "sensorName": name}}
            )
            result = result["startSensor"]
            assert result["__typename"] == "Sensor", result
            return result["sensorState"]["status"]
        [state_id] = [s["sensorState"]["id"] for s in self.sensors() if s["name"] == name]
        result = self.gql(STOP_SENSOR, {"id": state_id})["stopSensor"]
        assert result["__typename"] == "StopSensorMutationResult", result
        return result["instigationState"]["status"]

    def staleness(self, partitions: list[str]) -> dict[str, tuple[str, list[dict]]]:
        """partition → (stale status, root causes) of description_variants, as the asset page shows."""
        [node] = self.gql(STALENESS, {"assetKeys": [VARIANTS], "partitions": partitions})[
            "assetNodes"
        ]
        return dict(
            zip(partitions, zip(node["staleStatusByPartition"], node["staleCausesByPartition"]))
        )

    def runs(self, limit: int = 50) -> list[dict]:
        result = self.gql(RUNS_QUERY, {"limit": limit})["runsOrError"]
        assert result["__typename"] == "Runs", result
        return result["results"]

    def run_errors(self, run_id: str) -> list[str]:
        logs = self.gql(RUN_ERRORS, {"runId": run_id})["logsForRun"]
        events = logs.get("events") or []
        return [
            f"[{e.get('stepKey')}] {e['message'][:600]}"
            for e in events
            if e.get("level") in ("ERROR", "CRITICAL")
        ]

    def diagnostics(self) -> str:
        lines = []
        try:
            for run in self.runs(20):
                tags = {
                    t["key"]: t["value"]
                    for t in run["tags"]
                    if not t["key"].startswith("dagster/code")
                }
                assets = [a["path"][-1] for a in run["assetSelection"] or []]
                lines.append(f"run {run['id'][:8]} {run['status']:<9} {assets} {tags}")
                if run["status"] == "FAILURE":
                    lines += [f"    {e}" for e in self.run_errors(run["id"])[:5]]
            for sensor in self.sensors(ticks=3):
                state = sensor["sensorState"]
                ticks = [
                    (
                        t["status"],
                        t["skipReason"],
                        (t["error"] or {}).get("message", "")[:400],
                        t["runIds"],
                    )
                    for t in state["ticks"]
                ]
                lines.append(f"sensor {sensor['name']} {state['status']}: {ticks}")
        except Exception as exc:  # diagnostics must not hide the original failure
            lines.append(f"(GraphQL diagnostics failed: {exc})")
        lines.append(f"--- segcopy dev log tail ---\n{self.log_tail()}")
        return "\n".join(lines)

    def wait_quiet(self, quiet_s: float = 8, timeout: float = 150) -> float:
        """Wait until no run is queued or in flight for ``quiet_s`` (more than a sensor
        interval, so no sensor is about to launch one); returns seconds waited."""
        start = time.monotonic()
        quiet_since = None
        while True:
            active = [r for r in self.runs(20) if r["status"] not in DONE]
            now = time.monotonic()
            if active:
                quiet_since = None
            elif quiet_since is None:
                quiet_since = now
            elif now - quiet_since >= quiet_s:
                return now - start
            if now - start > timeout:
                pytest.fail(
                    f"runs still in flight after {timeout:.0f} s: "
                    f"{[(r['id'][:8], r['status']) for r in active]}\n{self.diagnostics()}"
                )
            time.sleep(1)

    def wait_run(self, run_id: str, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            run = self.gql(RUN_QUERY, {"runId": run_id})["runOrError"]
            assert run["__typename"] == "Run", run
            if run["status"] in DONE:
                if run["status"] != "SUCCESS":
                    pytest.fail(
                        f"run {run_id} ended {run['status']}: {self.run_errors(run_id)}\n"
                        f"{run['stepStats']}\n{self.diagnostics()}"
                    )
                return run
            if time.monotonic() > deadline:
                pytest.fail(
                    f"run {run_id} still {run['status']} after {timeout:.0f} s: "
                    f"{run['stepStats']}\n{self.diagnostics()}"
                )
            time.sleep(1)

    # data -------------------------------------------------------------------------------
    def wait_check(self, check: str, status: str, timeout: float = 120) -> dict:
        """The latest execution of ``check`` on the variants once it has ``status``."""
        deadline = time.monotonic() + timeout
        while True:
            latest = self.gql(LATEST_CHECK, {"assetKey": VARIANTS, "checkName": check})[
                "assetCheckExecutions"
            ]
            if latest and latest[0]["status"] == status:
                return latest[0]
            if time.monotonic() > deadline:
                pytest.fail(f"{check} not {status} within {timeout:.0f} s: {latest}")
            time.sleep(1)

    def materializations(self) -> list[dict]:
        asset = self.gql(MATERIALIZATIONS, {"assetKey": VARIANTS})["assetOrError"]
        assert asset["__typename"] == "Asset", asset
        return asset["assetMaterializations"]

    def materialization_counts(self) -> Counter:
        return Counter(m["partition"] for m in self.materializations())


def metadata(entries: list[dict]) -> dict:
    return {e["label"]: e.get("intValue", e.get("text")) for e in entries}


def run_tags(run: dict) -> dict:
    return {t["key"]: t["value"] for t in run["tags"]}


def run_assets(run: dict) -> set[str]:
    return {"/".join(a["path"]) for a in run["assetSelection"] or []}


def run_partitions(run: dict) -> tuple[str, str] | None:
    """(first, last) partition a run targets: its partition tag or its range tags."""
    tags = run_tags(run)
    if "dagster/partition" in tags:
        return tags["dagster/partition"], tags["dagster/partition"]
    if "dagster/asset_partition_range_start" in tags:
        return tags["dagster/asset_partition_range_start"], tags[
            "dagster/asset_partition_range_end"
        ]
    return None


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
