"""The segcopy code location: ``dagster dev -w workspace.yaml`` loads ``defs`` from here."""

import dagster as dg

from segcopy_assets.assets.cdp import cdp_customers, products, segment_summaries
from segcopy_assets.assets.variants import description_variants
from segcopy_assets.resources import (
    copywriter_from_env,
    cdp_source_from_env,
    product_repository_from_env,
    segmentation_from_env,
    warehouse_from_env,
)

from segcopy_assets.warehouse_io import warehouse_io_manager

ALL_ASSETS = [cdp_customers, segment_summaries, products, description_variants]


def build_resources() -> dict:
    """Resources configured from the environment (see README, "Configuration")."""
    warehouse = warehouse_from_env()
    return {
        "cdp": cdp_source_from_env(),
        "product_repository": product_repository_from_env(),
        "segmentation": segmentation_from_env(),
        "copywriter": copywriter_from_env(),
        "warehouse": warehouse,
        "warehouse_io_manager": warehouse_io_manager(warehouse.root),
    }


defs = dg.Definitions(assets=ALL_ASSETS, resources=build_resources())
