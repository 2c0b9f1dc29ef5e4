"""``cdp_change_sensor``: the CDP table's version moved → ingest it (only the changes, over the
source's change data feed, when it has one), re-summarise the segments they touched and
re-assign the changed customers (the activation table ``customer_segments``)."""

import dagster as dg

from segcopy_assets.defs.cdp.assets import cdp_customers, segment_summaries
from segcopy_assets.defs.jobs import REFRESH_JOB
from segcopy_assets.defs.sensor_support import RUNNING, interval, latest_metadata
from segcopy_assets.errors import SegcopyError
from segcopy_assets.resources import CdpSource
from segcopy_assets.storage.tables import CUSTOMER_SEGMENTS

# customer_segments is a publishing asset (the activation table): named by key, not imported,
# so the CDP domain does not depend on the publishing one.
REFRESHED = [cdp_customers.key, segment_summaries.key, dg.AssetKey(CUSTOMER_SEGMENTS)]


@dg.sensor(
    name="cdp_change_sensor",
    minimum_interval_seconds=interval(60),
    default_status=RUNNING,
    job_name=REFRESH_JOB,
    description="Polls the CDP table's version (one short HTTP request for a share) and re-ingests when it moves.",
)
def cdp_change_sensor(context: dg.SensorEvaluationContext, cdp: CdpSource):
    try:
        source, version = cdp.describe(), cdp.current_version()
    except SegcopyError as exc:
        return dg.SkipReason(f"CDP source unavailable, will retry: {exc}")
    seen_source = latest_metadata(context.instance, cdp_customers, "source")
    seen_version = latest_metadata(context.instance, cdp_customers, "source_table_version")
    if (seen_source, seen_version) == (source, str(version)):
        return dg.SkipReason(f"{source} is still at version {version}, already ingested")
    return dg.RunRequest(
        run_key=f"cdp:{source}@{version}",
        asset_selection=REFRESHED,
        tags={"segcopy/reason": f"CDP version {version}"},
    )
