import dagster as dg

from segcopy_assets.defs.content.assets import products
from segcopy_assets.defs.content.sensors import product_change_sensor

defs = dg.Definitions(assets=[products], sensors=[product_change_sensor])
