"""The sources segcopy reads: the CDP customer table and the content repository."""

import os

import dagster as dg
import polars as pl
from pydantic import Field

from segcopy_assets.core import cdp_source
from segcopy_assets.core.products import load_products
from segcopy_assets.errors import SourceUnavailableError
from segcopy_assets.storage import delta


class CdpSource(dg.ConfigurableResource):
    """The CDP customer table: a Delta Sharing URL or a Delta table path (exactly one)."""

    share_url: str | None = Field(
        default=None, description="Delta Sharing table URL '<profile file>#share.schema.table'."
    )
    delta_path: str | None = Field(
        default=None, description="Local or object-store Delta table path."
    )
    version_timeout_s: float = Field(default=5.0, gt=0, description="Timeout of a version poll.")

    def _check(self) -> None:
        if bool(self.share_url) == bool(self.delta_path):
            raise SourceUnavailableError(
                "configure exactly one CDP source: SEGCOPY_CDP_SHARE_URL or SEGCOPY_CDP_DELTA_PATH"
            )

    def check_local(self) -> None:
        """A local Delta path that does not exist: one error naming the variable (a share or an
        object store says what is wrong when it is read)."""
        self._check()
        path = str(self.delta_path or "")
        if path and "://" not in path and not os.path.exists(path):
            raise SourceUnavailableError(
                f"no CDP table at {path}: no such folder (SEGCOPY_CDP_DELTA_PATH)"
            )

    @property
    def table_name(self) -> str:
        if self.share_url:
            t = cdp_source.parse_sharing_url(self.share_url)
            return f"{t.share}.{t.schema}.{t.table}"
        return str(self.delta_path)

    def describe(self) -> str:
        """Where customers come from, safe for logs and metadata (no token)."""
        self._check()
        if self.share_url:
            return cdp_source.describe_sharing_url(self.share_url)
        return f"delta {self.delta_path}"

    def current_version(self) -> int:
        """The source table's version, cheaply (one HTTP request or one log listing)."""
        self._check()
        if self.share_url:
            return cdp_source.sharing_table_version(self.share_url, self.version_timeout_s)
        return cdp_source.delta_table_version(str(self.delta_path))

    def read(self, version: int | None = None) -> pl.LazyFrame:
        self._check()
        if self.share_url:
            return cdp_source.read_sharing_table(self.share_url, version).lazy()
        return cdp_source.scan_delta_table(str(self.delta_path), version)

    def schema_fingerprint(self) -> str:
        """A short hash of the source table's columns (name, type, nullability) as it describes
        them: a new one means a schema change (the next refresh is a full one)."""
        self._check()
        if self.share_url:
            metadata = cdp_source.sharing_table_metadata(self.share_url, self.version_timeout_s)
            return cdp_source.schema_fingerprint(str(metadata.get("schemaString") or "{}"))
        return cdp_source.delta_schema_fingerprint(str(self.delta_path))

    def change_feed_problem(self, start: int, end: int) -> str | None:
        """Why the changes of versions ``start..end`` cannot be read from the source's change
        data feed (no feed, history not shared, a version no longer kept, a commit that is not a
        change of rows); None when they can."""
        self._check()
        if self.share_url:
            return cdp_source.sharing_change_feed_problem(
                self.share_url, start, end, self.version_timeout_s
            )
        return cdp_source.delta_change_feed_problem(str(self.delta_path), start, end)

    def changes(self, start: int, end: int) -> pl.DataFrame:
        """The change data feed of versions ``start..end``: the table's columns with
        ``_change_type`` and ``_commit_version`` (``core.cdp_changes``)."""
        self._check()
        if self.share_url:
            return cdp_source.read_sharing_changes(self.share_url, start, end)
        return cdp_source.read_delta_changes(str(self.delta_path), start, end)


class ProductRepository(dg.ConfigurableResource):
    """The content repository of standard product descriptions (Delta, CSV or Parquet)."""

    path: str = Field(description="Delta table path, or a .csv / .parquet file.")
    max_description_chars: int = Field(
        default=2000, ge=1, description="Longest description accepted."
    )

    def load(self) -> pl.DataFrame:
        return load_products(self.path, max_description_chars=self.max_description_chars)

    def current_version(self) -> str:
        """Cheap change marker: the Delta version, or a file's size and modification time."""
        if delta.table_exists(self.path):
            return f"delta@{cdp_source.delta_table_version(self.path)}"
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            raise SourceUnavailableError(f"product repository not found at {self.path}") from None
        return f"file@{stat.st_size}:{stat.st_mtime_ns}"
