"""``<channel>_published``: a channel's approved copy, one row per pair x arm, by the rules of
``published_variants`` (``review.channel_review``): approved, edited (judged by the channel's
checks), sampled or, with the config, auto-approved copy of current variants; approved copy of a
replaced variant stays live as superseded for the grace period."""

from datetime import timedelta

import dagster as dg
import polars as pl

from segcopy_assets.defs.failures import reported_as_failure
from segcopy_assets.defs.metadata import markdown_table
from segcopy_assets.defs.publishing.assets import PublishingConfig
from segcopy_assets.resources import Copywriter, Publication, QualityRules, Warehouse
from segcopy_assets.review.publication_state import compute_publication, superseded_due
from segcopy_assets.review.service import ReviewTables
from segcopy_assets.storage.tables import (
    PRODUCTS,
    SEGMENT_SUMMARIES,
    channel_checks_table,
    channel_published_table,
    channel_review_batches_table,
    channel_reviews_table,
    channel_variants_table,
)
from segcopy_assets.storage.versions import tables_fingerprint

GROUP = "channels"


def decision_tables(channel: str) -> tuple[str, str, str, str]:
    """The channel's tables a new version of which changes what it publishes: variants,
    verdicts, decisions, sampling batches."""
    return (
        channel_variants_table(channel),
        channel_checks_table(channel),
        channel_reviews_table(channel),
        channel_review_batches_table(channel),
    )


def channel_publishing_inputs(
    channel: str,
    warehouse: Warehouse,
    config: PublishingConfig,
    copywriter: Copywriter,
    publication: Publication,
) -> str:
    """The versions of every table ``<channel>_published`` reads, its config, the channel's
    hash (its checks and which variants are current), the arms and superseded copy past its
    grace period: equal fingerprints mean a run now would publish the same rows."""
    tables = (*decision_tables(channel), SEGMENT_SUMMARIES, PRODUCTS)
    grace = timedelta(days=publication.superseded_grace_days)
    settings = {
        "auto_approve_passing_checks": config.auto_approve_passing_checks,
        "channel_hash": copywriter.channel(channel).hash,
        "arms": copywriter.variants_per_pair,
        "grace_days": publication.superseded_grace_days,
        "superseded_due": superseded_due(
            warehouse.table_path(channel_published_table(channel)), grace
        ),
    }
    return tables_fingerprint(warehouse, tables, settings)


def build_channel_published(channel: str, variants: dg.AssetsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        name=channel_published_table(channel),
        group_name=GROUP,
        kinds={"deltalake", "polars"},
        io_manager_key="warehouse_io_manager",
        metadata={"overwrite_schema": True},
        deps=[variants],
        description=f"The {channel} copy customers may see: per segment x product x arm, the "
        "approved (or edited, sampled) text of the current variant, never one that fails an "
        "ERROR check of the channel, was rejected or is unreviewed; approved copy of a "
        "replaced variant stays (state superseded) for SEGCOPY_SUPERSEDED_GRACE_DAYS. "
        f"Decisions: `segcopy review approve --channel {channel} ...`.",
    )
    def _asset(
        context: dg.AssetExecutionContext,
        config: PublishingConfig,
        warehouse: Warehouse,
        quality_rules: QualityRules,
        copywriter: Copywriter,
        publication: Publication,
        segment_summaries: pl.DataFrame,
        products: pl.DataFrame,
    ) -> dg.Output[pl.DataFrame]:
        inputs = channel_publishing_inputs(channel, warehouse, config, copywriter, publication)
        with reported_as_failure():
            spec = copywriter.channel(channel)
            state = compute_publication(
                ReviewTables.for_warehouse(warehouse, channel),
                prompt_hash=spec.hash,
                settings=quality_rules.settings(copywriter.prompts_dir),
                grace=timedelta(days=publication.superseded_grace_days),
                auto_approve_passing_checks=config.auto_approve_passing_checks,
                summaries=segment_summaries,
                products=products,
                channel=spec,
                variants_per_pair=copywriter.variants_per_pair,
            )
        published, withheld = state.published, state.withheld
        superseded = int((published["state"] == "superseded").sum())
        context.log.info(
            f"{channel}: {published.height} variant(s) published ({superseded} superseded), "
            f"{withheld.height} withheld"
        )
        reasons = withheld.group_by(
            pl.col("reason").str.split(":").list.first().str.slice(0, 60).alias("why")
        ).len()
        return dg.Output(
            published,
            metadata={
                "dagster/row_count": dg.MetadataValue.int(published.height),
                "inputs_fingerprint": inputs,
                "channel": channel,
                "published": dg.MetadataValue.int(published.height),
                "superseded": dg.MetadataValue.int(superseded),
                "withheld": dg.MetadataValue.int(withheld.height),
                "withheld_by_reason": dg.MetadataValue.md(
                    markdown_table(reasons.sort("len", descending=True), max_rows=20)
                ),
                "reviews_in_log": dg.MetadataValue.int(state.reviews_in_log),
                "auto_approve_passing_checks": config.auto_approve_passing_checks,
                "preview": dg.MetadataValue.md(
                    markdown_table(
                        published.select(
                            "segment_id", "product_id", "angle", "approval", "published_text"
                        ),
                        max_rows=10,
                        max_chars=200,
                    )
                ),
            },
        )

    return _asset
