"""Schema and content checks for the CDP customer table and the product repository.

Checks run lazily (one pass per check over the columns they need) so they stay cheap on
10-million-row shares, and every failure names the table, the column and an example row.
"""

from collections.abc import Iterable

import polars as pl

from segcopy_assets.errors import InputValidationError

STRING_TYPES = (pl.String, pl.Categorical, pl.Enum)

CUSTOMER_COLUMNS: dict[str, str] = {
    "customer_id": "string",
    "predicted_clv_tier": "string",
    "predicted_clv_365d": "numeric",
    "lifecycle_status": "string",
    "preferred_category": "string",
    "preferred_subcategory": "string",
    "price_preference": "string",
    "discount_sensitivity": "string",
    "region": "string",
    "state": "string",
    "city": "string",
}

PRODUCT_COLUMNS: dict[str, str] = {
    "product_id": "string",
    "name": "string",
    "category": "string",
    "subcategory": "string",
    "price": "numeric",
    "description": "string",
}


def _kind_matches(dtype: pl.DataType, kind: str) -> bool:
    if kind == "string":
        return isinstance(dtype, STRING_TYPES) or dtype == pl.String
    if kind == "numeric":
        return dtype.is_numeric()
    raise ValueError(kind)


def check_columns(schema: pl.Schema, required: dict[str, str], table: str) -> None:
    """Required columns are present and of the right kind (string or numeric)."""
    missing = [c for c in required if c not in schema]
    if missing:
        raise InputValidationError(
            table,
            missing[0],
            f"required column missing (missing: {', '.join(missing)}; "
            f"present: {', '.join(schema.names())})",
        )
    for column, kind in required.items():
        if not _kind_matches(schema[column], kind):
            raise InputValidationError(
                table, column, f"expected a {kind} column, found type {schema[column]}"
            )


def _example_row(lf: pl.LazyFrame, condition: pl.Expr, id_column: str, column: str) -> dict:
    row = (
        lf.with_row_index("row")
        .filter(condition)
        .select("row", *dict.fromkeys([id_column, column]))
        .head(1)
        .collect()
        .row(0, named=True)
    )
    return row


def check_no_nulls(lf: pl.LazyFrame, columns: Iterable[str], table: str, id_column: str) -> None:
    columns = list(columns)
    counts = lf.select(pl.col(columns).null_count()).collect().row(0, named=True)
    for column in columns:
        if counts[column]:
            row = _example_row(lf, pl.col(column).is_null(), id_column, column)
            raise InputValidationError(
                table,
                column,
                f"{counts[column]} null value(s); ids and segment keys must be set",
                row,
            )


def check_unique(lf: pl.LazyFrame, column: str, table: str) -> None:
    dupes = (
        lf.select(column)
        .group_by(column)
        .agg(pl.len().alias("copies"))
        .filter(pl.col("copies") > 1)
        .sort(column)
        .collect()
    )
    if dupes.height:
        first = dupes.row(0, named=True)
        row = _example_row(lf, pl.col(column) == first[column], column, column)
        raise InputValidationError(
            table,
            column,
            f"{dupes.height} duplicated value(s); {first[column]!r} appears {first['copies']} times",
            row,
        )


def check_allowed_values(
    lf: pl.LazyFrame, column: str, allowed: Iterable[str], table: str, id_column: str
) -> None:
    allowed = list(allowed)
    bad = lf.filter(~pl.col(column).cast(pl.String).is_in(allowed) & pl.col(column).is_not_null())
    n_bad = bad.select(pl.len()).collect().item()
    if n_bad:
        row = _example_row(
            lf,
            ~pl.col(column).cast(pl.String).is_in(allowed) & pl.col(column).is_not_null(),
            id_column,
            column,
        )
        raise InputValidationError(
            table,
            column,
            f"{n_bad} row(s) with a value outside {allowed}",
            row,
        )


def validate_customers(
    lf: pl.LazyFrame, *, table: str, segment_key_columns: Iterable[str], tiers: Iterable[str]
) -> None:
    """The CDP table has the Amperity-shaped columns, known tiers, unique ids, no null keys."""
    check_columns(lf.collect_schema(), CUSTOMER_COLUMNS, table)
    if lf.select(pl.len()).collect().item() == 0:
        raise InputValidationError(table, None, "the table has no rows: no customers to segment")
    keys = ["customer_id", *[c for c in segment_key_columns if c != "customer_id"]]
    check_no_nulls(lf, keys, table, "customer_id")
    check_allowed_values(lf, "predicted_clv_tier", tiers, table, "customer_id")
    check_unique(lf, "customer_id", table)


def validate_products(lf: pl.LazyFrame, *, table: str, max_description_chars: int) -> None:
    """Products have the content-repository columns, unique ids and usable descriptions."""
    check_columns(lf.collect_schema(), PRODUCT_COLUMNS, table)
    check_no_nulls(lf, ["product_id"], table, "product_id")
    check_unique(lf, "product_id", table)
    empty = pl.col("description").is_null() | (pl.col("description").str.strip_chars() == "")
    if lf.filter(empty).select(pl.len()).collect().item():
        row = _example_row(lf, empty, "product_id", "description")
        raise InputValidationError(table, "description", "empty product description", row)
    control = pl.col("description").str.contains(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
    n_control = lf.filter(control).select(pl.len()).collect().item()
    if n_control:
        row = _example_row(lf, control, "product_id", "description")
        row["description"] = row["description"][:60].encode("unicode_escape").decode() + "…"
        raise InputValidationError(
            table, "description", f"{n_control} description(s) contain control characters", row
        )
    too_long = pl.col("description").str.len_chars() > max_description_chars
    n_long = lf.filter(too_long).select(pl.len()).collect().item()
    if n_long:
        row = _example_row(lf, too_long, "product_id", "description")
        row["description"] = row["description"][:60] + "…"
        raise InputValidationError(
            table,
            "description",
            f"{n_long} description(s) longer than {max_description_chars} characters "
            "(raise max_description_chars if intended)",
            row,
        )
