"""Publishing: approved copy per (segment, product), and the activation table (customer →
segment) a reader joins it to."""

from datetime import UTC, datetime, timedelta

import dagster as dg
import polars as pl
from pydantic import Field

from segcopy_assets.defs.cdp.activation_refresh import refresh_activation
from segcopy_assets.defs.failures import reported_as_failure
from segcopy_assets.defs.generation.assets import description_variants
from segcopy_assets.defs.metadata import markdown_table
from segcopy_assets.quality.fingerprint import rules_hash
from segcopy_assets.resources import (
    Copywriter,
    Publication,
    QualityRules,
    Segmentation,
    Warehouse,
)
from segcopy_assets.review.publication_state import compute_publication, superseded_due
from segcopy_assets.review.service import ReviewTables
from segcopy_assets.storage.tables import (
    CDP_CUSTOMERS,
    CUSTOMER_SEGMENTS,
    DESCRIPTION_VARIANTS,
    PRODUCTS,
    PUBLISHED_VARIANTS,
    REVIEW_BATCHES,
    SEGMENT_SUMMARIES,
    VARIANT_CHECKS,
    VARIANT_REVIEWS,
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


def _grace(publication: Publication) -> timedelta:
    return timedelta(days=publication.superseded_grace_days)


def publishing_inputs(
    warehouse: Warehouse,
    config: PublishingConfig,
    quality_rules: QualityRules,
    copywriter: Copywriter,
    publication: Publication,
) -> str:
    """The versions of every table published_variants reads, its config, the rules, the prompt
    hash (which variants are current) and how much superseded copy is past its grace period:
    equal fingerprints mean a new run would publish the same rows (``segcopy run`` then skips
    it)."""
    settings = {
        "auto_approve_passing_checks": config.auto_approve_passing_checks,
        "rules": rules_hash(quality_rules.settings(copywriter.prompts_dir)),
        "prompt_hash": copywriter.prompt_set().hash,
        "grace_days": publication.superseded_grace_days,
        "superseded_due": superseded_due(
            warehouse.table_path(PUBLISHED_VARIANTS), _grace(publication)
        ),
    }
    return tables_fingerprint(warehouse, PUBLISHING_INPUTS, settings)


def _withheld_metadata(withheld: pl.DataFrame) -> dict:
    """Counts per reason and the pairs withheld (all of them when few, else a pointer)."""
    reasons = (
        withheld.group_by(
            pl.col("reason").str.split(":").list.first().str.slice(0, 60).alias("why"),
            "superseded_live",
        )
        .len()
        .sort("len", descending=True)
    )
    shown = withheld.select("segment_id", "product_id", "superseded_live", "reason")
    listing = markdown_table(shown, max_rows=200, max_chars=300) if withheld.height else "none"
    if withheld.height > 200:
        listing += (
            f"\n\n{withheld.height} in all: `segcopy review list --withheld` lists every one "
            "with its reason"
        )
    return {
        "withheld_by_reason": dg.MetadataValue.md(markdown_table(reasons, max_rows=50)),
        "withheld_pairs": dg.MetadataValue.md(listing),
    }


@dg.asset(
    group_name="publishing",
    kinds={"deltalake", "polars"},
    io_manager_key="warehouse_io_manager",
    # the table's columns grow with the platform (acceptance sampling added four)
    metadata={"overwrite_schema": True},
    deps=[description_variants],
    description="For each current segment × product: the approved (or edited) text of the "
    "current variant, never one that fails an ERROR check, was rejected or is unreviewed. When "
    "a pair's variant was replaced and the new one is not approved yet, the approved copy of the "
    "old one stays (state superseded) for SEGCOPY_SUPERSEDED_GRACE_DAYS, unless its product "
    "changed.",
)
def published_variants(
    context: dg.AssetExecutionContext,
    config: PublishingConfig,
    warehouse: Warehouse,
    quality_rules: QualityRules,
    copywriter: Copywriter,
    publication: Publication,
    segment_summaries: pl.DataFrame,
    products: pl.DataFrame,
) -> dg.Output[pl.DataFrame]:
    inputs = publishing_inputs(warehouse, config, quality_rules, copywriter, publication)
    with reported_as_failure():
        state = compute_publication(
            ReviewTables.for_warehouse(warehouse),
            prompt_hash=copywriter.prompt_set().hash,
            settings=quality_rules.settings(copywriter.prompts_dir),
            grace=_grace(publication),
            auto_approve_passing_checks=config.auto_approve_passing_checks,
            summaries=segment_summaries,
            products=products,
        )
    published, withheld = state.published, state.withheld
    superseded = int((published["state"] == "superseded").sum())
    context.log.info(
        f"{published.height} variant(s) published ({superseded} superseded, waiting for their "
        f"new variant's review), {withheld.height} variant(s) withheld"
    )
    return dg.Output(
        published,
        metadata={
            "dagster/row_count": dg.MetadataValue.int(published.height),
            "inputs_fingerprint": inputs,
            "published": dg.MetadataValue.int(published.height),
            "superseded": dg.MetadataValue.int(superseded),
            "withheld": dg.MetadataValue.int(withheld.height),
            "withheld_without_copy": dg.MetadataValue.int(
                int((~withheld["superseded_live"]).sum())
            ),
            **_withheld_metadata(withheld),
            "reviews_in_log": dg.MetadataValue.int(state.reviews_in_log),
            "published_by_sample": dg.MetadataValue.int(
                int((published["approval"] == "sample").sum())
            ),
            "accepted_batches": dg.MetadataValue.int(state.accepted_batches),
            "auto_approve_passing_checks": config.auto_approve_passing_checks,
            "superseded_grace_days": dg.MetadataValue.float(publication.superseded_grace_days),
            "preview": dg.MetadataValue.md(
                markdown_table(
                    published.select(
                        "segment_id", "product_id", "approval", "state", "published_text"
                    ),
                    max_rows=10,
                )
            ),
        },
    )


@dg.asset(
    group_name="publishing",
    kinds={"deltalake", "polars"},
    deps=[CDP_CUSTOMERS],
    description="The activation table: one row per customer of a summarised segment, "
    "customer_id → segment_id with the segment's summary_hash, the segmentation's "
    "definitions_hash and assigned_at. A website, an app or the CDP gets each customer's copy "
    "by joining it to published_variants on segment_id (docs/activation.md). Only the customers "
    "that changed since the last run are MERGEd (refresh: incremental) while no segment's "
    "definition moved; otherwise every row is rewritten (refresh: full, with the reason).",
)
def customer_segments(
    context: dg.AssetExecutionContext,
    segmentation: Segmentation,
    warehouse: Warehouse,
    segment_summaries: pl.DataFrame,
):
    # Writes its table itself, in ONE commit (a streamed rewrite or a MERGE), after checking the
    # sizes per segment against the summaries: a reader never sees half a table or an
    # assignment from another version of the CDP, and a failure writes nothing.
    with reported_as_failure():
        done = refresh_activation(
            warehouse.table_path(CDP_CUSTOMERS),
            warehouse.table_path(CUSTOMER_SEGMENTS),
            segment_summaries,
            segmentation.spec(),
            assigned_at=datetime.now(UTC),
        )
    rows = int(done.sizes["customers"].sum())
    context.log.info(
        f"{rows:,} customers assigned to {done.sizes.height} segments (definitions "
        f"{done.definitions}; refresh {done.refresh}, {done.changed_customers:,} changed)"
    )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": dg.MetadataValue.int(rows),
            "num_rows": dg.MetadataValue.int(rows),
            "customers": dg.MetadataValue.int(rows),
            "segments": dg.MetadataValue.int(done.sizes.height),
            "definitions_hash": done.definitions,
            "refresh": done.refresh,
            "customers_changed": dg.MetadataValue.int(done.changed_customers),
            # physical rows: a MERGE rewrites whole files, copying their unchanged rows
            "rows_written": dg.MetadataValue.int(done.rows_written),
            "cdp_customers_version": dg.MetadataValue.int(done.cdp_version),
            "dagster/table_name": f"segcopy.{CUSTOMER_SEGMENTS}",
            "customers_per_segment": dg.MetadataValue.md(markdown_table(done.sizes, max_rows=50)),
        },
    )
