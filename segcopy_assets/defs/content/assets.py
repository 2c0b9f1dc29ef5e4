"""Content assets: the standard product descriptions from the content repository."""

import dagster as dg
import polars as pl

from segcopy_assets.core.hashing import combined_hash
from segcopy_assets.defs.failures import reported_as_failure
from segcopy_assets.defs.metadata import markdown_table
from segcopy_assets.resources import ProductRepository


@dg.asset(
    group_name="content",
    kinds={"deltalake", "polars"},
    io_manager_key="warehouse_io_manager",
    description="Standard product descriptions from the content repository, validated, with a "
    "content_hash per product.",
)
def products(
    context: dg.AssetExecutionContext, product_repository: ProductRepository
) -> dg.Output[pl.DataFrame]:
    with reported_as_failure():
        source_version = product_repository.current_version()
        df = product_repository.load()
    context.log.info(f"{df.height} products loaded from {product_repository.path}")
    return dg.Output(
        df,
        metadata={
            "row_count": dg.MetadataValue.int(df.height),
            "dagster/row_count": dg.MetadataValue.int(df.height),
            "source": product_repository.path,
            "source_version": source_version,
            "subcategories": dg.MetadataValue.int(df["subcategory"].n_unique()),
            "preview": dg.MetadataValue.md(markdown_table(df.drop("content_hash"), max_rows=20)),
        },
        data_version=dg.DataVersion(combined_hash(df["content_hash"].to_list())),
    )
