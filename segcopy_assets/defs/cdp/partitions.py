"""The ``segments`` dynamic partitions: one per segment_id in ``segment_summaries``."""

import dagster as dg

SEGMENTS = "segments"
segments_partitions = dg.DynamicPartitionsDefinition(name=SEGMENTS)


def sync_segment_partitions(
    instance: dg.DagsterInstance, segment_ids: list[str]
) -> tuple[list[str], list[str]]:
    """Make the partitions match ``segment_ids``; returns (added, removed)."""
    current = set(instance.get_dynamic_partitions(SEGMENTS))
    wanted = list(dict.fromkeys(segment_ids))
    added = [s for s in wanted if s not in current]
    removed = sorted(current - set(wanted))
    if added:
        instance.add_dynamic_partitions(SEGMENTS, added)
    for key in removed:
        instance.delete_dynamic_partition(SEGMENTS, key)
    return added, removed
