import dagster as dg

from segcopy_assets.defs.publishing.assets import customer_segments, published_variants
from segcopy_assets.defs.publishing.sensors import publishing_sensor

defs = dg.Definitions(
    assets=[published_variants, customer_segments],
    sensors=[publishing_sensor],
)
