"""The warehouse IO manager: dagster-deltalake (polars) with its table-stats step repaired.

dagster-deltalake 0.29.27 computes ``num_rows``/``size_bytes`` from ``get_add_actions()``
expecting a pyarrow RecordBatch and un-prefixed partition columns; deltalake 1.x returns an
arro3 table with ``partition.<col>`` names, so every write logged "error while computing
table stats" and recorded no counts. ``table_stats`` below is the replacement, installed once.
"""

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc
from dagster_deltalake import LocalConfig
from dagster_deltalake_polars import DeltaLakePolarsIOManager
from deltalake import DeltaTable

from segcopy_assets import settings
from segcopy_assets.dagster_compat import replace_deltalake_partition_stats


def table_stats(dt: DeltaTable, table_slice=None):
    """``(add-actions table, {"num_rows", "size_bytes"})`` for the slice's partitions."""
    actions = pa.table(dt.get_add_actions(flatten=True))
    for dimension in (table_slice.partition_dimensions or []) if table_slice is not None else []:
        column = f"partition.{dimension.partition_expr}"
        if column in actions.column_names:
            values = pa.array([str(p) for p in dimension.partitions])
            actions = actions.filter(pc.is_in(actions[column].cast(pa.string()), value_set=values))
    stats = {
        "size_bytes": dg.MetadataValue.int(int(pc.sum(actions["size_bytes"]).as_py() or 0)),
        "num_rows": dg.MetadataValue.int(int(pc.sum(actions["num_records"]).as_py() or 0)),
    }
    return actions, stats


replace_deltalake_partition_stats(table_stats)


def warehouse_io_manager(root: str) -> DeltaLakePolarsIOManager:
    """Polars frames stored as Delta tables at ``<root>/segcopy/<asset>``."""
    return DeltaLakePolarsIOManager(
        root_uri=root, storage_options=LocalConfig(), schema=settings.WAREHOUSE_SCHEMA
    )
