import dagster as dg

from segcopy_assets.defs.generation.assets import description_variants
from segcopy_assets.defs.generation.batch_sensor import batch_sensor
from segcopy_assets.defs.generation.checks import description_variants_checks
from segcopy_assets.defs.generation.retry_sensor import retry_sensor
from segcopy_assets.defs.generation.sensors import (
    product_variants_sensor,
    prompt_sensor,
    segment_sensor,
)
from segcopy_assets.defs.generation.staleness import inputs_current, staleness_sensor

defs = dg.Definitions(
    assets=[description_variants],
    asset_checks=[*description_variants_checks, inputs_current],
    sensors=[
        segment_sensor,
        prompt_sensor,
        product_variants_sensor,
        batch_sensor,
        retry_sensor,
        staleness_sensor,
    ],
)
