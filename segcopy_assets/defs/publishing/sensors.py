"""``publishing_sensor``: variants, their verdicts or review decisions changed, or superseded
copy passed its grace period → publish again."""

from datetime import timedelta

import dagster as dg

from segcopy_assets.core.hashing import digest
from segcopy_assets.defs.jobs import REFRESH_JOB
from segcopy_assets.defs.publishing.assets import (
    PublishingConfig,
    published_variants,
    publishing_inputs,
)
from segcopy_assets.defs.sensor_support import RUNNING, interval, latest_metadata
from segcopy_assets.resources import Copywriter, Publication, QualityRules, Warehouse
from segcopy_assets.review.publication_state import superseded_due
from segcopy_assets.storage import delta
from segcopy_assets.storage.tables import (
    DESCRIPTION_VARIANTS,
    PUBLISHED_VARIANTS,
    REVIEW_BATCHES,
    VARIANT_CHECKS,
    VARIANT_REVIEWS,
)


@dg.sensor(
    name="publishing_sensor",
    minimum_interval_seconds=interval(30),
    default_status=RUNNING,
    job_name=REFRESH_JOB,
    description="Publishes again when variants, their verdicts, review decisions or sampling "
    "batches change, or when superseded copy passed its grace period.",
)
def publishing_sensor(
    context: dg.SensorEvaluationContext,
    warehouse: Warehouse,
    publication: Publication,
    quality_rules: QualityRules,
    copywriter: Copywriter,
):
    versions: dict[str, int | None] = {
        t: delta.table_version(warehouse.table_path(t))
        for t in (DESCRIPTION_VARIANTS, VARIANT_CHECKS, VARIANT_REVIEWS, REVIEW_BATCHES)
    }
    grace = timedelta(days=publication.superseded_grace_days)
    due = superseded_due(warehouse.table_path(PUBLISHED_VARIANTS), grace)
    if due:  # withdraw them; the state stays the same until the next change
        versions["superseded_due"] = delta.table_version(warehouse.table_path(PUBLISHED_VARIANTS))
    if versions[DESCRIPTION_VARIANTS] is None:
        return dg.SkipReason("no variants yet")
    state = digest(versions)
    if context.cursor == state:
        return dg.SkipReason("no new variants or decisions")
    context.update_cursor(state)
    # the last publication (this sensor's run or `segcopy run`'s) read these very inputs with the
    # config a sensor run has: a run now would publish the same rows (the daemon's first tick)
    current = publishing_inputs(
        warehouse, PublishingConfig(), quality_rules, copywriter, publication
    )
    if latest_metadata(context.instance, published_variants, "inputs_fingerprint") == current:
        return dg.SkipReason("the published copy is current: every table it reads is unchanged")
    return dg.RunRequest(
        run_key=f"publish:{state}",
        asset_selection=[published_variants.key],
    )
