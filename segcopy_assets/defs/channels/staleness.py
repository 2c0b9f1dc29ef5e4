"""Staleness of each channel on its asset, where the Dagster UI shows it (issue 26): the
``inputs_current`` check of the description (``defs/generation/staleness.py``) for every
channel asset.

``channel_sensor`` records it whenever a channel's result differs from the latest one recorded
(it computes the stale segments anyway to request the regeneration; a channel whose prompts do
not load gets a warning saying so); the check is also executable and runs in every run of the
channel's variants, after the write.
"""

import dagster as dg
import polars as pl

from segcopy_assets.defs.cdp.partitions import SEGMENTS
from segcopy_assets.defs.channels.assets import channel_paths
from segcopy_assets.defs.generation.staleness import (
    CHECK,
    check_result,
    describe,
    not_ready,
    unmeasured,
)
from segcopy_assets.errors import SegcopyError
from segcopy_assets.generation.channel_runs import stale_segments
from segcopy_assets.generation.channels import Channel
from segcopy_assets.resources import Copywriter, Warehouse
from segcopy_assets.storage.tables import PRODUCTS, SEGMENT_SUMMARIES


def channel_stale(
    channel: Channel,
    copywriter: Copywriter,
    warehouse: Warehouse,
    partitions: list[str],
    summaries: pl.DataFrame | None = None,
    products: pl.DataFrame | None = None,
) -> list[str]:
    """The segment partitions whose rows of ``channel`` (as loaded by the caller) are not
    current (what ``channel_sensor`` regenerates); ``summaries`` / ``products``: the tables as
    the caller read them (read here when not given; they must exist)."""
    if summaries is None:
        summaries = pl.read_delta(warehouse.table_path(SEGMENT_SUMMARIES))
    if products is None:
        products = pl.read_delta(warehouse.table_path(PRODUCTS))
    return stale_segments(
        channel,
        summaries.filter(pl.col("segment_id").is_in(partitions)),
        products,
        channel_paths(warehouse, channel.name),
        copywriter.max_attempts,
        copywriter.variants_per_pair,
    )


def build_channel_staleness_check(
    channel: str, asset: dg.AssetsDefinition
) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=asset,
        name=CHECK,
        blocking=False,
        description=f"Every segment's {channel} variants are current: generated from the "
        "channel's current prompt, the segment's summary and the products, and judged (WARN "
        "while a segment waits for regeneration; channel_sensor requests it).",
    )
    def _check(
        context: dg.AssetCheckExecutionContext, copywriter: Copywriter, warehouse: Warehouse
    ) -> dg.AssetCheckResult:
        partitions = list(context.instance.get_dynamic_partitions(SEGMENTS))
        try:
            outcome = not_ready(warehouse) or describe(
                channel_stale(copywriter.channel(channel), copywriter, warehouse, partitions)
            )
        except SegcopyError as exc:  # the channel's prompts do not load: say so, as a warning
            outcome = unmeasured(str(exc))
        return check_result(outcome)

    return _check
