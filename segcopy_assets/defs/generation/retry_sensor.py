"""``retry_sensor``: pairs whose generation failed are sent again, parked ones once asked.

A counted failure (an unusable answer) changes the pair's attempt count, so the next tick sends
it again, until it is parked (``generation.failures``); a failure that was not counted (the
endpoint was unreachable or overloaded) leaves the state as it was, and the same state is asked
again at most every ``RETRY_AFTER_S``. ``segcopy retry`` (or the review page's Retry button)
un-parks pairs: they are sent at the next tick.
"""

import json
import time

import dagster as dg
import polars as pl

from segcopy_assets.core.hashing import digest
from segcopy_assets.defs.cdp.partitions import SEGMENTS
from segcopy_assets.defs.generation.sensors import variant_run_requests
from segcopy_assets.defs.jobs import VARIANTS_JOB
from segcopy_assets.defs.sensor_support import RUNNING, interval
from segcopy_assets.errors import SegcopyError
from segcopy_assets.generation.freshness import pending_failures
from segcopy_assets.resources import Copywriter, Warehouse
from segcopy_assets.storage import delta
from segcopy_assets.storage.tables import DESCRIPTION_VARIANTS, PRODUCTS, SEGMENT_SUMMARIES

#: The same failures (no new attempt counted) are sent again after this long: an outage is not
#: retried every tick.
RETRY_AFTER_S = 3600


@dg.sensor(
    name="retry_sensor",
    minimum_interval_seconds=interval(60),
    default_status=RUNNING,
    job_name=VARIANTS_JOB,
    description="Sends pairs whose generation failed again (until they are parked after "
    "SEGCOPY_MAX_ATTEMPTS failures with the same inputs), and parked pairs a person asked to "
    "retry (`segcopy retry`, the review page).",
)
def retry_sensor(context: dg.SensorEvaluationContext, warehouse: Warehouse, copywriter: Copywriter):
    for table in (DESCRIPTION_VARIANTS, SEGMENT_SUMMARIES, PRODUCTS):
        if not delta.table_exists(warehouse.table_path(table)):
            return dg.SkipReason(f"{table} not materialized yet")
    try:
        failing = pending_failures(warehouse, copywriter)
    except SegcopyError as exc:
        return dg.SkipReason(f"cannot tell which pairs failed: {exc}")
    retrying = failing.filter(pl.col("state") == "retrying")
    if retrying.is_empty():
        parked = failing.height
        return dg.SkipReason(f"no pair to retry ({parked} parked)" if parked else "no failures")
    state = digest(retrying.select("segment_id", "product_id", "attempted_hash", "attempts").rows())
    cursor = json.loads(context.cursor) if context.cursor else {}
    now = time.time()
    if cursor.get("state") == state and now - float(cursor.get("at", 0)) < RETRY_AFTER_S:
        return dg.SkipReason(
            f"{retrying.height} failed pair(s) already sent again with nothing new since; "
            f"again after {RETRY_AFTER_S // 60} min"
        )
    context.update_cursor(json.dumps({"state": state, "at": now}))
    partitions = list(context.instance.get_dynamic_partitions(SEGMENTS))
    segments = sorted(set(retrying["segment_id"].to_list()) & set(partitions))
    context.log.info(f"retrying {retrying.height} pair(s) in {len(segments)} segment(s)")
    return variant_run_requests(partitions, segments, "retry", [state, int(now)])
