"""Read-only access to a local Delta table's ``_delta_log``: versions, commit times, snapshots.

A snapshot replays the JSON commits after the newest complete classic checkpoint (single or
multi-part parquet). Commits are cached by path and mtime, checkpoints by their file list.
"""

from __future__ import annotations

import functools
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import _bad, _missing

_COMMIT_RE = re.compile(r"^(\d{20})\.json$")
_CHECKPOINT_RE = re.compile(r"^(\d{20})\.checkpoint(?:\.\d{10}\.(\d{10}))?\.parquet$")
_MAP_FIELDS = {"partitionValues", "tags", "options", "configuration"}


def _clean(obj: Any) -> Any:
    """Drop null struct fields; map fields (pyarrow gives lists of pairs) become dicts, nulls kept."""
    if isinstance(obj, dict):
        return {
            k: dict(v) if k in _MAP_FIELDS else _clean(v) for k, v in obj.items() if v is not None
        }
    return obj


@functools.lru_cache(maxsize=8192)
def _read_commit(path: str, mtime_ns: int) -> tuple[dict, ...]:
    with open(path, encoding="utf-8") as f:
        return tuple(_clean(json.loads(line)) for line in f if line.strip())


@functools.lru_cache(maxsize=4)
def _read_checkpoint(paths: tuple[str, ...]) -> tuple[dict, ...]:
    import pyarrow.parquet as pq

    cols = ["protocol", "metaData", "add"]
    rows = (row for p in paths for row in pq.read_table(p, columns=cols).to_pylist())
    return tuple({k: _clean(row[k])} for row in rows for k in cols if row[k] is not None)


@dataclass
class Snapshot:
    version: int
    protocol: dict
    metadata: dict
    files: dict[str, dict]  # add actions by their (percent-encoded) log path


class DeltaLog:
    """Read-only view of one table's ``_delta_log``."""

    def __init__(self, root: Path):
        self.root, self.log_dir = root, root / "_delta_log"

    def listing(self) -> tuple[dict[int, Path], dict[int, list[Path]]]:
        try:
            names = os.listdir(self.log_dir)
        except (FileNotFoundError, NotADirectoryError):
            names = []
        commits: dict[int, Path] = {}
        parts: dict[int, list[tuple[Path, int]]] = {}
        for name in names:
            if m := _COMMIT_RE.match(name):
                commits[int(m.group(1))] = self.log_dir / name
            elif m := _CHECKPOINT_RE.match(name):
                parts.setdefault(int(m.group(1)), []).append(
                    (self.log_dir / name, int(m.group(2) or 1))
                )
        checkpoints = {
            v: sorted(p for p, _ in ps) for v, ps in parts.items() if len(ps) == ps[0][1]
        }
        if not commits and not checkpoints:
            raise _missing("The table has no data yet.")
        return commits, checkpoints

    def latest_version(self) -> int:
        commits, checkpoints = self.listing()
        return max([*commits, *checkpoints])

    def commit(self, version: int) -> tuple[dict, ...]:
        path = self.log_dir / f"{version:020d}.json"
        try:
            return _read_commit(str(path), path.stat().st_mtime_ns)  # commits are immutable
        except FileNotFoundError:
            raise _bad(f"Version {version} is no longer available in the table history.") from None

    def timestamps(self) -> dict[int, int]:
        """Commit times in ms: ``inCommitTimestamp`` if recorded, else the commit file's mtime."""
        out = {}
        for v, path in self.listing()[0].items():
            info: dict[str, Any] = next(
                (a["commitInfo"] for a in self.commit(v) if "commitInfo" in a), {}
            )
            out[v] = int(info.get("inCommitTimestamp") or path.stat().st_mtime_ns // 1_000_000)
        return out

    def version_at(self, ms: int, *, at_or_after: bool) -> int:
        stamps = self.timestamps().items()
        if at_or_after:  # earliest version committed at or after ms
            found = [v for v, t in stamps if t >= ms]
            if not found:
                raise _bad("The timestamp is after the latest table version.")
            return min(found)
        found = [v for v, t in stamps if t <= ms]  # the version current at ms
        if not found:
            raise _bad("The timestamp is before the earliest available table version.")
        return max(found)

    def snapshot(self, version: int | None = None) -> Snapshot:
        commits, checkpoints = self.listing()
        latest = max([*commits, *checkpoints])
        version = latest if version is None else version
        if version > latest:
            raise _bad(f"Version {version} does not exist (latest is {latest}).")
        cp = max((c for c in checkpoints if c <= version), default=None)
        if cp is not None and all(v in commits for v in range(cp + 1, version + 1)):
            actions, start = list(_read_checkpoint(tuple(map(str, checkpoints[cp])))), cp + 1
        else:
            actions, start = [], 0
        for v in range(start, version + 1):
            actions.extend(self.commit(v))
        snap = Snapshot(version, {}, {}, {})
        for action in actions:
            if "protocol" in action:
                snap.protocol = action["protocol"]
            elif "metaData" in action:
                snap.metadata = action["metaData"]
            elif "add" in action:
                snap.files[action["add"]["path"]] = action["add"]
            elif "remove" in action:
                snap.files.pop(action["remove"]["path"], None)
        return snap
