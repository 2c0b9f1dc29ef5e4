"""``publishing_sensor``: variants, their verdicts or review decisions changed → publish again."""

import dagster as dg

from segcopy_assets.core.hashing import digest
from segcopy_assets.defs.publishing.assets import published_variants
from segcopy_assets.defs.sensor_support import RUNNING, interval
from segcopy_assets.resources import Warehouse
from segcopy_assets.storage import delta
from segcopy_assets.storage.tables import (
    DESCRIPTION_VARIANTS,
    REVIEW_BATCHES,
    VARIANT_CHECKS,
    VARIANT_REVIEWS,
)


@dg.sensor(
    name="publishing_sensor",
    minimum_interval_seconds=interval(30),
    default_status=RUNNING,
    asset_selection=[published_variants],
    description="Publishes again when variants, their verdicts, review decisions or sampling "
    "batches change.",
)
def publishing_sensor(context: dg.SensorEvaluationContext, warehouse: Warehouse):
    versions = {
        t: delta.table_version(warehouse.table_path(t))
        for t in (DESCRIPTION_VARIANTS, VARIANT_CHECKS, VARIANT_REVIEWS, REVIEW_BATCHES)
    }
    if versions[DESCRIPTION_VARIANTS] is None:
        return dg.SkipReason("no variants yet")
    state = digest(versions)
    if context.cursor == state:
        return dg.SkipReason("no new variants or decisions")
    context.update_cursor(state)
    return dg.RunRequest(
        run_key=f"publish:{state}",
        asset_selection=[published_variants.key],
    )
