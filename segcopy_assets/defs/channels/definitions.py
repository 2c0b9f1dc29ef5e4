import dagster as dg

from segcopy_assets.defs.channels.assets import build_channel_check, build_channel_variants
from segcopy_assets.defs.channels.sensors import build_channel_sensor
from segcopy_assets.generation.channels import generated_channels

CHANNEL_ASSETS = {name: build_channel_variants(name) for name in generated_channels()}

defs = dg.Definitions(
    assets=list(CHANNEL_ASSETS.values()),
    asset_checks=[build_channel_check(name, asset) for name, asset in CHANNEL_ASSETS.items()],
    sensors=[build_channel_sensor(CHANNEL_ASSETS)] if CHANNEL_ASSETS else [],
)
