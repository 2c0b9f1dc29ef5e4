"""Deciding what went stale: pure functions the sensors call (no Dagster, no I/O).

A variant row records the hashes it was generated from (prompt, segment summary, product
content). Comparing them with the current ones says exactly which segments need a run.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class SegmentPlan:
    added: list[str]  # new segments: become partitions and get a run
    removed: list[str]  # vanished segments: partitions deleted (rows stay in history)
    changed: list[str]  # summary moved since their variants were generated: a run
    unchanged: list[str]  # nothing to do

    @property
    def to_run(self) -> list[str]:
        return sorted({*self.added, *self.changed})


def plan_segment_refresh(
    current: Mapping[str, str],
    partitions: Iterable[str],
    generated_from: Mapping[str, set[str]],
) -> SegmentPlan:
    """``current``: segment_id → summary_hash now; ``partitions``: the ``segments`` partitions;
    ``generated_from``: segment_id → summary hashes its current variant rows were made from."""
    partitions = list(partitions)
    known = set(partitions)
    added = sorted(s for s in current if s not in known)
    removed = sorted(s for s in known if s not in current)
    changed, unchanged = [], []
    for segment in sorted(s for s in current if s in known):
        if generated_from.get(segment) == {current[segment]}:
            unchanged.append(segment)
        else:
            changed.append(segment)
    return SegmentPlan(added, removed, changed, unchanged)


def summary_changes(before: Mapping[str, str], after: Mapping[str, str]) -> dict[str, list[str]]:
    """Segments new, changed (summary_hash moved) and removed between two summaries tables."""
    return {
        "new": sorted(s for s in after if s not in before),
        "changed": sorted(s for s in after if s in before and before[s] != after[s]),
        "removed": sorted(s for s in before if s not in after),
    }


def contiguous_blocks(ordered_keys: list[str], wanted: Iterable[str]) -> list[list[str]]:
    """Split ``wanted`` into runs of neighbours in partition order, so each block can be ONE
    run over a partition range without touching the segments between blocks."""
    wanted = set(wanted)
    blocks, block = [], []
    for key in ordered_keys:
        if key in wanted:
            block.append(key)
        elif block:
            blocks.append(block)
            block = []
    if block:
        blocks.append(block)
    return blocks


def stale_by_hash(
    expected: str | set[str], generated: Mapping[str, set[str]], segments: Iterable[str]
) -> list[str]:
    """Segments whose variant rows were not all generated from ``expected`` (one hash, e.g. the
    prompt hash, or the set of current product content hashes)."""
    want = {expected} if isinstance(expected, str) else set(expected)
    return sorted(s for s in segments if generated.get(s) != want)
