"""``product_change_sensor``: the content repository changed → reload ``products``."""

import dagster as dg

from segcopy_assets.defs.content.assets import products
from segcopy_assets.defs.jobs import REFRESH_JOB
from segcopy_assets.defs.sensor_support import RUNNING, interval, latest_metadata
from segcopy_assets.errors import SegcopyError
from segcopy_assets.resources import ProductRepository


@dg.sensor(
    name="product_change_sensor",
    minimum_interval_seconds=interval(60),
    default_status=RUNNING,
    job_name=REFRESH_JOB,
    description="Reloads products when the content repository's Delta version or file changes.",
)
def product_change_sensor(
    context: dg.SensorEvaluationContext, product_repository: ProductRepository
):
    try:
        version = product_repository.current_version()
    except SegcopyError as exc:
        return dg.SkipReason(f"product repository unavailable, will retry: {exc}")
    seen = (
        latest_metadata(context.instance, products, "source"),
        latest_metadata(context.instance, products, "source_version"),
    )
    if seen == (product_repository.path, version):
        return dg.SkipReason(f"{product_repository.path} unchanged ({version})")
    return dg.RunRequest(
        run_key=f"products:{product_repository.path}:{version}", asset_selection=[products.key]
    )
