"""Where segcopy keeps its data, resolved from the environment in one place.

Every path a user can move is an environment variable; unset ones fall back to the sample data
under ``$SEGCOPY_HOME`` (default ``./.segcopy``) so a fresh checkout runs with no configuration.
"""

import os
from pathlib import Path

WAREHOUSE_SCHEMA = "segcopy"
#: Events per batch write of a run (Dagster's DAGSTER_EVENT_BATCH_SIZE), set by the CLI.
DAGSTER_EVENT_BATCH_SIZE = 1000


def segcopy_home() -> Path:
    """The directory that holds the warehouse, the sample data and the Dagster instance."""
    return Path(os.environ.get("SEGCOPY_HOME") or ".segcopy").resolve()


def warehouse_root() -> Path:
    return segcopy_home() / "warehouse"


def dagster_home() -> Path:
    return Path(os.environ.get("DAGSTER_HOME") or segcopy_home() / "dagster").resolve()


def sample_dir() -> Path:
    return segcopy_home() / "sample"


def sample_customers_path() -> Path:
    return sample_dir() / "cdp_customers"


def sample_products_path() -> Path:
    return sample_dir() / "products"


def prompts_dir() -> Path:
    """``$SEGCOPY_PROMPTS_DIR``, else the default prompt set: package data that, in a checkout,
    links to the top-level ``prompts/`` folder (so edits there take effect)."""
    configured = os.environ.get("SEGCOPY_PROMPTS_DIR")
    if configured:
        return Path(configured).resolve()
    return (Path(__file__).parent / "default_prompts").resolve()


def cdp_source_configured() -> bool:
    return bool(os.environ.get("SEGCOPY_CDP_SHARE_URL") or os.environ.get("SEGCOPY_CDP_DELTA_PATH"))


def products_source_configured() -> bool:
    return bool(os.environ.get("SEGCOPY_PRODUCTS_PATH"))
