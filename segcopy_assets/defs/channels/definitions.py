import dagster as dg

from segcopy_assets.defs.channels.assets import build_channel_check, build_channel_variants
from segcopy_assets.defs.channels.publishing import build_channel_published
from segcopy_assets.defs.channels.sensors import build_channel_sensors
from segcopy_assets.defs.channels.staleness import build_channel_staleness_check
from segcopy_assets.generation.channels import generated_channels

CHANNEL_ASSETS = {name: build_channel_variants(name) for name in generated_channels()}
CHANNEL_PUBLISHED = {
    name: build_channel_published(name, asset) for name, asset in CHANNEL_ASSETS.items()
}

defs = dg.Definitions(
    assets=[*CHANNEL_ASSETS.values(), *CHANNEL_PUBLISHED.values()],
    asset_checks=[
        build(name, asset)
        for name, asset in CHANNEL_ASSETS.items()
        for build in (build_channel_check, build_channel_staleness_check)
    ],
    sensors=build_channel_sensors(CHANNEL_ASSETS, CHANNEL_PUBLISHED) if CHANNEL_ASSETS else [],
)
