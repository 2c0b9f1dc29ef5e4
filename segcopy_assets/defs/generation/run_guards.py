"""Guards of a variants run that need Dagster's run context.

``description_variants`` reaches ``segment_summaries`` through the observed
``segment_definitions`` (for per-segment staleness), so Dagster does not order the two steps
within one run: the run refuses to read a table its own earlier step has not written.
"""

from collections.abc import Sequence
from collections.abc import Set as AbstractSet

import dagster as dg
import polars as pl

from segcopy_assets.resources import Warehouse
from segcopy_assets.storage import delta
from segcopy_assets.storage.tables import SEGMENT_SUMMARIES


def summaries_pending(
    selected: AbstractSet[dg.AssetKey], steps_to_execute: Sequence[str] | None, written: bool
) -> bool:
    """Whether this run executes the segment_summaries step and has not written the table yet.

    A re-execution from failure keeps the parent run's selection but runs only some steps
    (``steps_to_execute``); the table it reads was then written by the parent run.
    """
    if dg.AssetKey(SEGMENT_SUMMARIES) not in selected:
        return False
    if steps_to_execute is not None and SEGMENT_SUMMARIES not in steps_to_execute:
        return False
    return not written


def require_summaries_landed(context: dg.AssetExecutionContext) -> None:
    """Refuse to read segment_summaries while this same run has yet to write it.

    description_variants reaches segment_summaries through the observed segment_definitions
    (for per-segment staleness), so Dagster does not order the two steps within one run.
    """
    selected = context.run.asset_selection or context.job_def.asset_layer.selected_asset_keys
    written = any(
        entry.dagster_event.asset_key == dg.AssetKey(SEGMENT_SUMMARIES)
        for entry in context.instance.all_logs(
            context.run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
        )
    )
    if summaries_pending(selected, context.run.step_keys_to_execute, written):
        raise dg.Failure(
            f"{SEGMENT_SUMMARIES} is part of this run but this run has not written it (its step failed "
            "or was skipped): description_variants did not run, rather than read the old table. "
            "Materialize description_variants in its own run; with sensors on, segment_sensor does "
            "so for the segments that changed once segment_summaries lands."
        )


def read_run_segments(warehouse: Warehouse, segment_ids: list[str]) -> pl.DataFrame:
    """The summaries of a variants run's segments; ``dg.Failure`` naming what to do when the
    table is missing or a partition is not one of its segments."""
    summaries_path = warehouse.table_path(SEGMENT_SUMMARIES)
    if not delta.table_exists(summaries_path):
        raise dg.Failure(
            f"{SEGMENT_SUMMARIES} is not materialized yet ({summaries_path}): materialize it first"
        )
    segment_summaries = pl.read_delta(summaries_path)
    known = set(segment_summaries["segment_id"].to_list())
    unknown = [s for s in segment_ids if s not in known]
    if unknown:
        raise dg.Failure(
            f"segment partition(s) {', '.join(unknown)} are not in segment_summaries "
            "(the segment definition changed or the segment is below min_segment_size); "
            "remove the partitions or rematerialize segment_summaries"
        )
    return segment_summaries.filter(pl.col("segment_id").is_in(segment_ids))
