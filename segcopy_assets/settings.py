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
    """The local warehouse folder (the default location of the warehouse)."""
    return segcopy_home() / "warehouse"


WAREHOUSE_URI_ENV = "SEGCOPY_WAREHOUSE_URI"


def warehouse_uri() -> str:
    """Where the warehouse is: ``$SEGCOPY_WAREHOUSE_URI`` (an object store: ``s3://bucket/prefix``,
    ``az://container/prefix``, ``abfss://container@account.dfs.core.windows.net/prefix``,
    ``gs://bucket/prefix``; or a local folder), else ``$SEGCOPY_HOME/warehouse``."""
    from segcopy_assets.errors import SettingsError
    from segcopy_assets.storage.delta import OBJECT_STORE_SCHEMES, scheme

    configured = (os.environ.get(WAREHOUSE_URI_ENV) or "").strip()
    if not configured:
        return str(warehouse_root())
    found = scheme(configured)
    if found is None:
        return str(Path(configured.removeprefix("file://")).expanduser().resolve())
    if found not in OBJECT_STORE_SCHEMES or not configured.split("://", 1)[1].strip("/"):
        raise SettingsError(
            f"{WAREHOUSE_URI_ENV}={configured!r}: give s3://BUCKET/PREFIX, az://CONTAINER/PREFIX, "
            "abfss://CONTAINER@ACCOUNT.dfs.core.windows.net/PREFIX, gs://BUCKET/PREFIX or a folder"
        )
    return configured.rstrip("/")


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
