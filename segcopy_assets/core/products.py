"""The content repository: standard product descriptions, read from Delta, CSV or Parquet."""

import hashlib
import json
from pathlib import Path

import polars as pl

from segcopy_assets.core.validation import PRODUCT_COLUMNS, validate_products
from segcopy_assets.errors import SourceUnavailableError

CONTENT_COLUMNS = list(PRODUCT_COLUMNS)


def scan_products(path: str, storage_options: dict | None = None) -> pl.LazyFrame:
    """A lazy frame over the repository at ``path``: ``.csv`` and ``.parquet`` files by their
    suffix, anything else as a Delta table (local path or object-store URI)."""
    suffix = Path(path).suffix.lower()
    if "://" not in str(path) and not Path(path).exists():
        raise SourceUnavailableError(
            f"product repository not found: no file or folder {path} (SEGCOPY_PRODUCTS_PATH)"
        )
    try:
        if suffix == ".csv":
            return pl.scan_csv(path, infer_schema_length=10_000)
        if suffix in (".parquet", ".pq"):
            return pl.scan_parquet(path, storage_options=storage_options)
        return pl.scan_delta(path, storage_options=storage_options)
    except FileNotFoundError as exc:
        raise SourceUnavailableError(f"product repository not found at {path}: {exc}") from exc
    except Exception as exc:  # deltalake raises its own TableNotFoundError
        raise SourceUnavailableError(f"cannot open product repository at {path}: {exc}") from exc


def content_hash_expr() -> pl.Expr:
    """Per-product hash of everything the copywriter reads about the product."""
    return pl.struct(CONTENT_COLUMNS).map_elements(
        lambda r: hashlib.sha256(json.dumps(r, sort_keys=True, default=str).encode()).hexdigest()[
            :16
        ],
        return_dtype=pl.String,
    )


def load_products(
    path: str, *, max_description_chars: int = 2000, table: str | None = None
) -> pl.DataFrame:
    """Validated products with a ``content_hash`` column, sorted by product_id."""
    lf = scan_products(path)
    validate_products(lf, table=table or path, max_description_chars=max_description_chars)
    df = lf.select(CONTENT_COLUMNS).collect()
    df = df.with_columns(
        pl.col("product_id").cast(pl.String),
        pl.col("price").cast(pl.Float64),
        pl.col("description").str.strip_chars(),
    )
    return df.with_columns(content_hash_expr().alias("content_hash")).sort("product_id")
