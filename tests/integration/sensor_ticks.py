"""One sensor tick in process, against the whole code location's definitions (the asset
selections of the sensors resolve against them), as the daemon would evaluate it."""

import dagster as dg


def tick(sensor, instance, resources, cursor=None):
    """``(result, cursor after)`` of one evaluation of ``sensor``."""
    from segcopy_assets.dagster_compat import partition_loading_context
    from segcopy_assets.definitions import ALL_ASSETS, ALL_CHECKS, ALL_SENSORS, REFRESH_JOBS

    defs = dg.Definitions(
        assets=ALL_ASSETS,
        asset_checks=ALL_CHECKS,
        sensors=ALL_SENSORS,
        jobs=REFRESH_JOBS,  # the sensors target the named jobs
        resources=resources,
    )
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources=resources, definitions=defs
    )
    # The daemon resolves partition keys against the instance; the test harness needs telling.
    with partition_loading_context(dynamic_partitions_store=instance):
        result = sensor.evaluate_tick(context)
    return result, context.cursor
