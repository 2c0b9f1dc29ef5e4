"""Small Delta Lake helpers shared by the stores (local paths and object-store URIs alike)."""

from deltalake import DeltaTable


def table_exists(path: str, storage_options: dict[str, str] | None = None) -> bool:
    """Whether a Delta table is at ``path`` (``DeltaTable.is_deltatable``: works on object stores).

    A path that is a file (a CSV product repository, say) holds no table."""
    try:
        return DeltaTable.is_deltatable(str(path), storage_options=storage_options)
    except OSError:  # delta-rs: "Not a directory" when the path is a file
        return False


def table_version(path: str, storage_options: dict[str, str] | None = None) -> int | None:
    """The table's current version, or None where there is no table."""
    if not table_exists(path, storage_options):
        return None
    return DeltaTable(str(path), storage_options=storage_options).version()


def sql_list(values: list[str]) -> str:
    """Strings as a SQL list for a Delta predicate: ``'a', 'b'`` (quotes doubled)."""
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)
