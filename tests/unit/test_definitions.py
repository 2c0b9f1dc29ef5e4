"""The code location loads in process, and its asset graph is the one reviewed.

``snapshots/asset_graph.json`` is the graph: asset keys, their deps, partitions, kinds and
groups, the asset checks (with severity-relevant blocking), the sensors and what they target.
An intended change to the graph is made by regenerating it
(``SEGCOPY_UPDATE_SNAPSHOTS=1 pytest tests/unit/test_definitions.py``) and reviewing the diff.
"""

import json
import os
from pathlib import Path

import dagster as dg

SNAPSHOT = Path(__file__).parent / "snapshots" / "asset_graph.json"
# Read at import: the isolated_env fixture clears SEGCOPY_* variables before each test.
UPDATE = bool(os.environ.get("SEGCOPY_UPDATE_SNAPSHOTS"))


def asset_graph_snapshot(defs: dg.Definitions) -> dict:
    repo = defs.get_repository_def()
    graph = repo.asset_graph
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        partitions = node.partitions_def
        assets[key.to_user_string()] = {
            "deps": sorted(p.to_user_string() for p in node.parent_keys),
            "partitions": None
            if partitions is None
            else f"{type(partitions).__name__}:{getattr(partitions, 'name', '')}",
            "materializable": node.is_materializable,
            "group": node.group_name,
            "kinds": sorted(node.kinds),
        }
    checks = {}
    for check_key in sorted(graph.asset_check_keys, key=lambda k: k.to_user_string()):
        spec = graph.get_check_spec(check_key)
        checks[check_key.to_user_string()] = {"blocking": spec.blocking}
    sensors = {}
    for sensor in sorted(repo.sensor_defs, key=lambda s: s.name):
        selection = sensor.asset_selection
        targets = selection.resolve(graph) if selection is not None else set()
        sensors[sensor.name] = {
            "targets": sorted(k.to_user_string() for k in targets),
            "jobs": sorted(t.job_name for t in sensor.targets if t.job_name),
            "default_status": sensor.default_status.value,
        }
    return {"assets": assets, "asset_checks": checks, "sensors": sensors}


def test_definitions_load_in_process():
    from segcopy_assets.definitions import defs

    repo = defs.get_repository_def()
    assert repo.asset_graph.get_all_asset_keys()
    for key in ("cdp", "product_repository", "copywriter", "warehouse", "warehouse_io_manager"):
        assert key in repo.get_top_level_resources()


def test_asset_graph_matches_the_reviewed_snapshot():
    from segcopy_assets.definitions import defs

    current = asset_graph_snapshot(defs)
    if UPDATE:
        SNAPSHOT.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")
    expected = json.loads(SNAPSHOT.read_text())
    assert current == expected, (
        "the asset graph changed; if intended, regenerate the snapshot with "
        "SEGCOPY_UPDATE_SNAPSHOTS=1 and review its diff"
    )
