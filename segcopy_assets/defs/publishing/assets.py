"""Publishing: approved copy per (segment, product), and the activation table (customer →
segment) a reader joins it to."""

from datetime import UTC, datetime

import dagster as dg
import polars as pl
from pydantic import Field

from segcopy_assets.core import activation
from segcopy_assets.core.publication import select_published
from segcopy_assets.core.sampling import accepted_members
from segcopy_assets.defs.failures import reported_as_failure
from segcopy_assets.defs.generation.assets import description_variants
from segcopy_assets.defs.metadata import markdown_table
from segcopy_assets.errors import InputValidationError
from segcopy_assets.quality.fingerprint import rules_hash
from segcopy_assets.resources import Copywriter, QualityRules, Segmentation, Warehouse
from segcopy_assets.storage import review_log, variant_store
from segcopy_assets.storage.review_batches import read_batches
from segcopy_assets.storage.tables import (
    CDP_CUSTOMERS,
    DESCRIPTION_VARIANTS,
    PRODUCTS,
    REVIEW_BATCHES,
    SEGMENT_SUMMARIES,
    VARIANT_CHECKS,
    VARIANT_REVIEWS,
    VERDICT_SCHEMA,
)
from segcopy_assets.storage.versions import tables_fingerprint


class PublishingConfig(dg.Config):
    auto_approve_passing_checks: bool = Field(
        default=False,
        description="Publish unreviewed variants that pass every ERROR check (default: only approved copy).",
    )


#: What published_variants reads (with its config and the rules edited text is judged by).
PUBLISHING_INPUTS = (
    DESCRIPTION_VARIANTS,
    VARIANT_CHECKS,
    VARIANT_REVIEWS,
    REVIEW_BATCHES,
    SEGMENT_SUMMARIES,
    PRODUCTS,
)


def publishing_inputs(
    warehouse: Warehouse,
    config: PublishingConfig,
    quality_rules: QualityRules,
    copywriter: Copywriter,
) -> str:
    """The versions of every table published_variants reads, its config and the rules: equal
    fingerprints mean a new run would publish the same rows (``segcopy run`` then skips it)."""
    settings = {
        "auto_approve_passing_checks": config.auto_approve_passing_checks,
        "rules": rules_hash(quality_rules.settings(copywriter.prompts_dir)),
    }
    return tables_fingerprint(warehouse, PUBLISHING_INPUTS, settings)


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
    inputs = publishing_inputs(warehouse, config, quality_rules, copywriter)
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
            "inputs_fingerprint": inputs,
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
    metadata={"overwrite_schema": True},
    description="The activation table: one row per customer of a summarised segment, "
    "customer_id → segment_id with the segment's summary_hash, the segmentation's "
    "definitions_hash and assigned_at. A website, an app or the CDP gets each customer's copy "
    "by joining it to published_variants on segment_id (docs/activation.md).",
)
def customer_segments(
    context: dg.AssetExecutionContext,
    segmentation: Segmentation,
    cdp_customers: pl.LazyFrame,
    segment_summaries: pl.DataFrame,
) -> dg.Output[pl.LazyFrame]:
    spec = segmentation.spec()
    # Everything is checked before the table is touched: the IO manager then streams the
    # assignment into ONE commit (a reader never sees half a table; a failure writes nothing).
    with reported_as_failure():
        activation.check_summaries(segment_summaries, spec, SEGMENT_SUMMARIES)
        definitions = activation.definitions_hash(segment_summaries, spec)
        assigned = activation.assign_customer_segments(
            cdp_customers,
            segment_summaries,
            spec,
            assigned_at=datetime.now(UTC),
            definitions=definitions,
        )
        sizes = activation.segment_sizes(assigned)
        mismatched = activation.size_mismatches(sizes, segment_summaries)
        if mismatched.height:
            raise InputValidationError(
                SEGMENT_SUMMARIES,
                "customer_count",
                f"{mismatched.height} segment(s) do not match the customers they would be "
                f"assigned ({CDP_CUSTOMERS} changed since the summaries were computed?): "
                "materialize segment_summaries again",
                mismatched.row(0, named=True),
            )
    rows = int(sizes["customers"].sum())
    context.log.info(
        f"{rows:,} customers assigned to {sizes.height} segments (definitions {definitions})"
    )
    return dg.Output(
        assigned,
        metadata={
            "dagster/row_count": dg.MetadataValue.int(rows),
            "customers": dg.MetadataValue.int(rows),
            "segments": dg.MetadataValue.int(sizes.height),
            "definitions_hash": definitions,
            "customers_per_segment": dg.MetadataValue.md(markdown_table(sizes, max_rows=50)),
        },
    )
