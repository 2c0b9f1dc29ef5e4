"""A running ``segcopy dev`` for the Dagster UI tests (``test_dagster_ui.py``): the GraphQL
documents the UI sends, the server's lifecycle in its own session, and readers of what the
GraphQL answers hold."""

import contextlib
import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

from tests.e2e.dagster_ui_graphql import (
    LATEST_CHECK,
    MATERIALIZATIONS,
    RUN_ERRORS,
    RUN_QUERY,
    RUNS_QUERY,
    SCHEDULES_QUERY,
    SENSORS_QUERY,
    STALENESS,
    START_SENSOR,
    STOP_SENSOR,
)

VARIANTS = {"path": ["description_variants"]}
DONE = {"SUCCESS", "FAILURE", "CANCELED"}

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
