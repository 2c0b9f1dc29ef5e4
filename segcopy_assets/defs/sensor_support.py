"""What every segcopy sensor shares: its interval, and what the last materialization recorded.

Sensors decide by comparing hashes each variant row records with the current ones
(``core.refresh_planning``), so a restarted daemon or a missed tick never loses a refresh.
"""

import os

import dagster as dg

RUNNING = dg.DefaultSensorStatus.RUNNING


def interval(default: int) -> int:
    """Minimum seconds between ticks; SEGCOPY_SENSOR_INTERVAL_S overrides every sensor's."""
    value = os.environ.get("SEGCOPY_SENSOR_INTERVAL_S")
    return int(value) if value else default


def latest_metadata(
    instance: dg.DagsterInstance, asset: dg.AssetsDefinition, key: str
) -> str | None:
    """``key`` of the asset's latest materialization metadata, as text (None if absent)."""
    event = instance.get_latest_materialization_event(asset.key)
    if event is None or event.asset_materialization is None:
        return None
    value = event.asset_materialization.metadata.get(key)
    return None if value is None else str(value.value)
