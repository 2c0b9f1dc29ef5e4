import dagster as dg

from segcopy_assets.defs.cdp.assets import cdp_customers, segment_definitions, segment_summaries
from segcopy_assets.defs.cdp.sensors import cdp_change_sensor

defs = dg.Definitions(
    assets=[cdp_customers, segment_summaries, segment_definitions],
    sensors=[cdp_change_sensor],
)
