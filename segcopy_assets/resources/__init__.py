"""Dagster resources: the configurable edges of segcopy, validated by pydantic.

Each resource is thin; the reading and writing live in plain modules (``core``, ``generation``,
``quality``, ``storage``). ``resources_from_env`` builds them all from the environment.
"""

from segcopy_assets.resources.env import (
    cdp_source_from_env,
    copywriter_from_env,
    judge_from_env,
    product_repository_from_env,
    publication_from_env,
    quality_rules_from_env,
    resources_from_env,
    segmentation_from_env,
    warehouse_from_env,
)
from segcopy_assets.resources.maintenance import Maintenance, maintenance_from_env
from segcopy_assets.resources.models import Copywriter, Judge
from segcopy_assets.resources.rules import Publication, QualityRules, Segmentation
from segcopy_assets.resources.sources import CdpSource, ProductRepository
from segcopy_assets.resources.warehouse import Warehouse

__all__ = [
    "CdpSource",
    "Copywriter",
    "Judge",
    "Maintenance",
    "ProductRepository",
    "Publication",
    "QualityRules",
    "Segmentation",
    "Warehouse",
    "cdp_source_from_env",
    "copywriter_from_env",
    "judge_from_env",
    "maintenance_from_env",
    "product_repository_from_env",
    "publication_from_env",
    "quality_rules_from_env",
    "resources_from_env",
    "segmentation_from_env",
    "warehouse_from_env",
]
