"""Small Delta Lake helpers shared by the stores (local paths and object-store URIs alike).

A table's location is a local path or an object-store URI (``s3://bucket/prefix/…``,
``az://container/…`` / ``abfss://container@account.dfs.core.windows.net/…``, ``gs://…``). The
credentials and endpoints of a store are not passed around: delta-rs's object_store reads them
from the environment under their own names (``AWS_ENDPOINT_URL``, ``AWS_REGION``,
``AWS_ACCESS_KEY_ID``, ``AZURE_STORAGE_ACCOUNT_NAME``, ``GOOGLE_SERVICE_ACCOUNT``, …), so every
read and commit of every table uses the same ones. Never ``os.path``/``pathlib`` on a location:
:func:`join` and :func:`parent`.
"""

import os
import re

from deltalake import DeltaTable

#: Object stores segcopy's tables may live on (delta-rs / object_store schemes).
OBJECT_STORE_SCHEMES = ("s3", "s3a", "az", "adl", "azure", "abfs", "abfss", "gs", "gcs")


def scheme(location: str) -> str | None:
    """``"s3"`` for ``s3://…``; ``None`` for a local path (or ``file://``)."""
    head, sep, _ = str(location).partition("://")
    return head.lower() if sep and head.lower() != "file" else None


def join(root: str, *parts: str) -> str:
    """``root/part/…``: ``/`` for a URI, the OS's way for a local path."""
    if scheme(root) is None:
        return os.path.join(root, *parts)
    return "/".join([str(root).rstrip("/"), *(p.strip("/") for p in parts)])


def parent(location: str) -> str:
    """The location one level up (the directory of a table)."""
    if scheme(location) is None:
        return os.path.dirname(location)
    return str(location).rstrip("/").rsplit("/", 1)[0]


def basename(location: str) -> str:
    """The last part of a location (a table's name)."""
    return str(location).rstrip("/").rsplit("/", 1)[-1].rsplit(os.sep, 1)[-1]


def table_exists(path: str, storage_options: dict[str, str] | None = None) -> bool:
    """Whether a Delta table is at ``path`` (``DeltaTable.is_deltatable``: works on object stores).

    A local path that is a file (a CSV product repository, say) holds no table; an object store
    that cannot be reached (no such bucket, refused credentials, no answer) raises ``OSError``:
    it never passes for a missing table (a run would then start a new one)."""
    try:
        return DeltaTable.is_deltatable(str(path), storage_options=storage_options)
    except OSError:  # delta-rs: "Not a directory" when the local path is a file
        if scheme(str(path)) is not None:
            raise
        return False


def check_reachable(root: str) -> None:
    """Raise ``SettingsError`` (one line naming the variables to check) if the store of a
    warehouse ``root`` cannot be listed: no such bucket or container, refused credentials, no
    answer. Seconds, before any run writes anything."""
    from segcopy_assets.errors import SettingsError

    if scheme(root) is None:
        return
    try:
        DeltaTable.is_deltatable(join(root, "segcopy", "description_variants"))
    except OSError as exc:
        text = str(exc)
        code = re.search(r"<Code>(.*?)</Code>.*?<Message>(.*?)</Message>", text, re.DOTALL)
        if code:  # the store's own error (S3, Azure): "NoSuchBucket: The specified bucket ..."
            detail = f"{code.group(1)}: {code.group(2)}"
        else:
            lines = [re.sub(r"\x1b\[[0-9;]*m|↳", "", line).strip() for line in text.splitlines()]
            detail = "; ".join(line for line in lines if line)[-300:]
        store = (
            "AWS_*"
            if scheme(root) in ("s3", "s3a")
            else "AZURE_*"
            if scheme(root) in ("az", "adl", "azure", "abfs", "abfss")
            else "GOOGLE_*"
        )
        raise SettingsError(
            f"the warehouse {root} cannot be reached (check SEGCOPY_WAREHOUSE_URI and the "
            f"store's {store} settings): {detail}"
        ) from None


def table_version(path: str, storage_options: dict[str, str] | None = None) -> int | None:
    """The table's current version, or None where there is no table."""
    if not table_exists(path, storage_options):
        return None
    return DeltaTable(str(path), storage_options=storage_options).version()


def sql_list(values: list[str]) -> str:
    """Strings as a SQL list for a Delta predicate: ``'a', 'b'`` (quotes doubled)."""
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)
