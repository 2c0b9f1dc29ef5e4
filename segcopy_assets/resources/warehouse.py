"""Where segcopy's own tables live."""

import os

import dagster as dg
from pydantic import Field

from segcopy_assets import settings


class Warehouse(dg.ConfigurableResource):
    """Where segcopy's own Delta tables live: ``<root>/segcopy/<table>``."""

    root: str = Field(description="Warehouse root directory ($SEGCOPY_HOME/warehouse by default).")

    def table_path(self, table: str) -> str:
        return os.path.join(self.root, settings.WAREHOUSE_SCHEMA, table)
