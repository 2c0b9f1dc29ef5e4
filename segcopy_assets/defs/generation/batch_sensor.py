"""``batch_sensor``: polls the open provider batches and requests the collect runs.

Every tick (no faster than SEGCOPY_BATCH_POLL_S, default 30 s) retrieves each open batch once,
records a moved state in ``generation_batches``, and for every batch that ended requests
``description_variants`` runs over its segments (contiguous ranges, one run key per batch and
range, so a batch is collected once however often the sensor ticks). Those runs find the batch
ended, collect its answers and write the segments (``defs/generation/batching.py``).
"""

import dagster as dg
import polars as pl

from segcopy_assets.defs.cdp.partitions import SEGMENTS
from segcopy_assets.defs.generation.assets import description_variants
from segcopy_assets.defs.generation.sensors import variant_run_requests
from segcopy_assets.defs.jobs import VARIANTS_JOB
from segcopy_assets.defs.sensor_support import RUNNING
from segcopy_assets.errors import SegcopyError
from segcopy_assets.generation import batch_flow
from segcopy_assets.resources import Copywriter, Warehouse, copywriter_from_env
from segcopy_assets.storage import batch_store, delta
from segcopy_assets.storage.tables import GENERATION_BATCHES


def poll_interval() -> int:
    """SEGCOPY_BATCH_POLL_S (default 30 s); a bad value fails when the resources are built."""
    try:
        return max(1, round(copywriter_from_env().batch_poll_s))
    except SegcopyError:
        return 30


@dg.sensor(
    name="batch_sensor",
    minimum_interval_seconds=poll_interval(),
    default_status=RUNNING,
    job_name=VARIANTS_JOB,
    description="Polls the open Batch API batches (SEGCOPY_LLM_MODE=batch|auto) and, when one "
    "ends, requests the runs that collect its answers into its segments' variants.",
)
def batch_sensor(context: dg.SensorEvaluationContext, copywriter: Copywriter, warehouse: Warehouse):
    requests, still_open = collect_requests(
        context, copywriter, warehouse.table_path(GENERATION_BATCHES), description_variants.key
    )
    if isinstance(requests, dg.SkipReason):
        return requests
    if not requests:
        return dg.SkipReason(batch_store.summary(still_open) + " still open")
    context.log.info(f"{len(requests)} collect run(s) requested")
    return dg.SensorResult(run_requests=requests)


def collect_requests(
    context: dg.SensorEvaluationContext,
    copywriter: Copywriter,
    path: str,
    asset_key: dg.AssetKey,
    reason: str = "batch",
) -> tuple[list[dg.RunRequest] | dg.SkipReason, pl.DataFrame]:
    """Poll the open batches of the state table at ``path`` once; the runs of ``asset_key``
    over the segments of every batch that ended (a SkipReason when there is nothing to poll),
    and the batches still open."""
    none = pl.DataFrame()
    if not delta.table_exists(path):
        return dg.SkipReason("no batch submitted yet"), none
    batches = batch_store.current(path)
    pending = batches.filter(
        pl.col("batch_id").is_not_null()
        & pl.col("state").is_in([*batch_store.OPEN, *batch_store.ENDED])
    )
    if pending.is_empty():
        return dg.SkipReason("no open batch"), none
    try:
        with copywriter.batch_client() as client:
            polled = batch_flow.poll_open(path, client, context.log.info)
    except SegcopyError as exc:
        return dg.SkipReason(f"could not poll the batches: {exc}"), none
    ended = polled.filter(pl.col("state").is_in(batch_store.ENDED))
    partitions = list(context.instance.get_dynamic_partitions(SEGMENTS))
    known = set(partitions)
    requests = []
    for batch in ended.iter_rows(named=True):
        segments = [s for s in batch["segment_ids"] or [] if s in known]
        requests += variant_run_requests(
            partitions, segments, f"{reason}-{batch['batch_id']}", batch["batch_id"], asset_key
        )
    return requests, polled.filter(pl.col("state").is_in(batch_store.OPEN))
