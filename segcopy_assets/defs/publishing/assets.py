"""Publishing: approved copy per (segment, product), and the activation table per customer."""

import dagster as dg
import polars as pl
from pydantic import Field

from segcopy_assets.core.publication import select_published
from segcopy_assets.core.sampling import accepted_members
from segcopy_assets.core.segments import assign_segments
from segcopy_assets.defs.generation.assets import description_variants
from segcopy_assets.defs.metadata import markdown_table
from segcopy_assets.resources import Copywriter, QualityRules, Segmentation, Warehouse
from segcopy_assets.storage import review_log, variant_store
from segcopy_assets.storage.review_batches import read_batches
from segcopy_assets.storage.tables import (
    DESCRIPTION_VARIANTS,
    REVIEW_BATCHES,
    VARIANT_CHECKS,
    VARIANT_REVIEWS,
    VERDICT_SCHEMA,
)


class PublishingConfig(dg.Config):
    auto_approve_passing_checks: bool = Field(
        default=False,
        description="Publish unreviewed variants that pass every ERROR check (default: only approved copy).",
    )


@dg.asset(
    group_name="publishing",
    kinds={"deltalake", "polars"},
    io_manager_key="warehouse_io_manager",
    # the table's columns grow with the platform (acceptance sampling added four)
    metadata={"overwrite_schema": True},
    deps=[description_variants],
    description="For each current segment × product: the approved (or edited) text of the current "
    "variant, never one that fails an ERROR check, was rejected or is unreviewed.",
)
def published_variants(
    context: dg.AssetExecutionContext,
    config: PublishingConfig,
    warehouse: Warehouse,
    quality_rules: QualityRules,
    copywriter: Copywriter,
    segment_summaries: pl.DataFrame,
    products: pl.DataFrame,
) -> dg.Output[pl.DataFrame]:
    variants = variant_store.read_segments(warehouse.table_path(DESCRIPTION_VARIANTS))
    verdicts = variant_store.read_segments(
        warehouse.table_path(VARIANT_CHECKS), schema=VERDICT_SCHEMA
    )
    decisions = review_log.read_reviews(warehouse.table_path(VARIANT_REVIEWS))
    batches = read_batches(warehouse.table_path(REVIEW_BATCHES))
    latest = review_log.latest_decisions(decisions)
    accepted = accepted_members(
        batches.to_dicts(), dict(zip(latest["input_hash"], latest["decision"]))
    )
    published, withheld = select_published(
        variants,
        verdicts,
        decisions,
        segments={s["segment_id"]: s for s in segment_summaries.to_dicts()},
        originals=dict(zip(products["product_id"], products["description"])),
        settings=quality_rules.settings(copywriter.prompts_dir),
        auto_approve_passing_checks=config.auto_approve_passing_checks,
        accepted=accepted,
    )
    context.log.info(f"{published.height} variant(s) published, {withheld.height} withheld")
    reasons = withheld.group_by(pl.col("reason").str.split(" ").list.first().alias("why")).len()
    return dg.Output(
        published,
        metadata={
            "dagster/row_count": dg.MetadataValue.int(published.height),
            "published": dg.MetadataValue.int(published.height),
            "withheld": dg.MetadataValue.int(withheld.height),
            "withheld_by_reason": dg.MetadataValue.md(markdown_table(reasons)),
            "withheld_pairs": dg.MetadataValue.md(
                markdown_table(withheld, max_rows=50, max_chars=300)
            ),
            "reviews_in_log": dg.MetadataValue.int(decisions.height),
            "published_by_sample": dg.MetadataValue.int(
                int((published["approval"] == "sample").sum())
            ),
            "accepted_batches": dg.MetadataValue.int(len({a.batch_id for a in accepted.values()})),
            "auto_approve_passing_checks": config.auto_approve_passing_checks,
            "preview": dg.MetadataValue.md(
                markdown_table(
                    published.select("segment_id", "product_id", "approval", "published_text"),
                    max_rows=10,
                )
            ),
        },
    )


@dg.asset(
    group_name="publishing",
    kinds={"deltalake", "polars"},
    io_manager_key="warehouse_io_manager",
    description="The activation table: customer_id → segment_id → product_id → published text, "
    "for a website, an app or the CDP to read back.",
)
def customer_variant_assignments(
    context: dg.AssetExecutionContext,
    segmentation: Segmentation,
    cdp_customers: pl.LazyFrame,
    segment_summaries: pl.DataFrame,
    published_variants: pl.DataFrame,
) -> dg.Output[pl.DataFrame]:
    assigned = assign_segments(cdp_customers, segment_summaries, segmentation.spec())
    table = (
        assigned.join(
            published_variants.lazy().select(
                "segment_id", "product_id", "published_text", "input_hash"
            ),
            on="segment_id",
            how="inner",
        )
        .sort("customer_id", "product_id")
        .collect()
    )
    context.log.info(f"{table.height:,} customer × product assignments")
    return dg.Output(
        table,
        metadata={
            "dagster/row_count": dg.MetadataValue.int(table.height),
            "customers": dg.MetadataValue.int(table["customer_id"].n_unique()),
            "published_pairs": dg.MetadataValue.int(published_variants.height),
            "preview": dg.MetadataValue.md(markdown_table(table.head(5), max_chars=120)),
        },
    )
