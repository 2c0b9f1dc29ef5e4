"""The segcopy code location: ``dagster dev -w workspace.yaml`` loads ``defs`` from here."""

import dagster as dg

from segcopy_assets.assets.cdp import cdp_customers, products, segment_definitions, segment_summaries
from segcopy_assets.assets.publishing import customer_variant_assignments, published_variants
from segcopy_assets.assets.quality import variant_checks
from segcopy_assets.assets.variants import description_variants
from segcopy_assets.sensors import ALL_SENSORS
from segcopy_assets.resources import (
    copywriter_from_env,
    cdp_source_from_env,
    product_repository_from_env,
    quality_rules_from_env,
    segmentation_from_env,
    warehouse_from_env,
)

from segcopy_assets.warehouse_io import warehouse_io_manager

ALL_ASSETS = [
    cdp_customers,
    segment_summaries,
    segment_definitions,
    products,
    description_variants,
    published_variants,
    customer_variant_assignments,
]
ALL_CHECKS = variant_checks


def build_resources() -> dict:
    """Resources configured from the environment (see README, "Configuration")."""
    warehouse = warehouse_from_env()
    return {
        "cdp": cdp_source_from_env(),
        "product_repository": product_repository_from_env(),
        "segmentation": segmentation_from_env(),
        "copywriter": copywriter_from_env(),
        "quality_rules": quality_rules_from_env(),
        "warehouse": warehouse,
        "warehouse_io_manager": warehouse_io_manager(warehouse.root),
    }


# In-process executor: a variants run has ten steps (the asset and nine checks) that each compute
# for well under a second; a process per step (the default) costs ~3 s of imports each.
defs = dg.Definitions(
    assets=ALL_ASSETS,
    asset_checks=ALL_CHECKS,
    sensors=ALL_SENSORS,
    resources=build_resources(),
    executor=dg.in_process_executor,
)
