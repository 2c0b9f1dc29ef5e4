"""Where segcopy's own tables live."""

import dagster as dg
from pydantic import Field

from segcopy_assets import settings
from segcopy_assets.storage.delta import join


class Warehouse(dg.ConfigurableResource):
    """Where segcopy's own Delta tables live: ``<root>/segcopy/<table>``, a local folder or an
    object store (``storage.delta``: the store's credentials come from the environment)."""

    root: str = Field(
        description="Warehouse root: a directory ($SEGCOPY_HOME/warehouse by default) or an "
        "object-store URI (SEGCOPY_WAREHOUSE_URI: s3://bucket/prefix, az://container/prefix, "
        "abfss://container@account.dfs.core.windows.net/prefix, gs://bucket/prefix)."
    )

    def table_path(self, table: str) -> str:
        return join(self.root, settings.WAREHOUSE_SCHEMA, table)
