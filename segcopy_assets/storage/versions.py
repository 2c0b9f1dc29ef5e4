"""A fingerprint of the warehouse tables an asset reads: their Delta versions (and settings).

An asset records it in its materialization's metadata; ``segcopy run`` computes it again before
starting a run and skips the run when nothing it reads has a new version.
"""

from segcopy_assets.core.hashing import digest
from segcopy_assets.resources import Warehouse
from segcopy_assets.storage.delta import table_version


def tables_fingerprint(warehouse: Warehouse, tables: tuple[str, ...], settings: object) -> str:
    versions = {name: table_version(warehouse.table_path(name)) for name in tables}
    return digest({"tables": versions, "settings": settings})
