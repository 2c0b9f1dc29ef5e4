"""Pairs whose generation failed, and a person's request to send parked ones again: what
``segcopy retry`` and the review page's Retry buttons do."""

import polars as pl

from segcopy_assets.errors import InputValidationError
from segcopy_assets.generation.freshness import pending_failures
from segcopy_assets.resources import Copywriter, Warehouse
from segcopy_assets.storage import retry_requests
from segcopy_assets.storage.tables import GENERATION_RETRIES


def failing_pairs(
    warehouse: Warehouse,
    copywriter: Copywriter,
    *,
    segment: str | None = None,
    product: str | None = None,
) -> pl.DataFrame:
    """``generation.freshness.pending_failures``, filtered; an unknown segment or product in a
    filter is an error naming the known ones (a typo must not look like "nothing failed")."""
    failing = pending_failures(warehouse, copywriter)
    for column, value in (("segment_id", segment), ("product_id", product)):
        if value:
            _require_known("description_variants", column, value, _known(warehouse, column))
            failing = failing.filter(pl.col(column) == value)
    return failing


def _require_known(table: str, column: str, value: str, known: set[str]) -> None:
    if value not in known:
        shown = ", ".join(sorted(known)[:20]) + (" …" if len(known) > 20 else "")
        raise InputValidationError(table, column, f"no {column} {value!r}; known: {shown}")


def _known(warehouse: Warehouse, column: str) -> set[str]:
    from segcopy_assets.storage.tables import DESCRIPTION_VARIANTS

    return set(
        pl.scan_delta(warehouse.table_path(DESCRIPTION_VARIANTS))
        .select(pl.col(column).unique())
        .collect()[column]
        .to_list()
    )


def retry_parked(
    warehouse: Warehouse,
    copywriter: Copywriter,
    *,
    requested_by: str,
    segment: str | None = None,
    product: str | None = None,
) -> pl.DataFrame:
    """Ask for the parked pairs the filters select to be sent again by the next run (one row of
    ``generation_retries`` each, in one commit); returns them."""
    parked = failing_pairs(warehouse, copywriter, segment=segment, product=product).filter(
        pl.col("state") == "parked"
    )
    retry_requests.request_retries(
        warehouse.table_path(GENERATION_RETRIES),
        parked.select("segment_id", "product_id", pl.col("attempted_hash").alias("input_hash")),
        requested_by,
    )
    return parked


def channel_failing_arms(
    warehouse: Warehouse,
    copywriter: Copywriter,
    channel: str,
    *,
    segment: str | None = None,
    product: str | None = None,
) -> pl.DataFrame:
    """``channel_runs.failing_arms`` of one channel, filtered (an unknown segment or product in
    a filter: an error naming the known ones)."""
    from segcopy_assets.generation.channel_runs import ChannelPaths, failing_arms
    from segcopy_assets.storage.tables import PRODUCTS, SEGMENT_SUMMARIES

    summaries = pl.read_delta(warehouse.table_path(SEGMENT_SUMMARIES))
    products = pl.read_delta(warehouse.table_path(PRODUCTS))
    failing = failing_arms(
        copywriter.channel(channel),
        summaries,
        products,
        ChannelPaths.of(warehouse, channel),
        copywriter.max_attempts,
        copywriter.variants_per_pair,
    )
    for column, value, known in (
        ("segment_id", segment, summaries["segment_id"]),
        ("product_id", product, products["product_id"]),
    ):
        if value:
            _require_known(f"{channel}_variants", column, value, set(known.to_list()))
            failing = failing.filter(pl.col(column) == value)
    return failing


def retry_channel_parked(
    warehouse: Warehouse,
    copywriter: Copywriter,
    channel: str,
    *,
    requested_by: str,
    segment: str | None = None,
    product: str | None = None,
) -> pl.DataFrame:
    """As ``retry_parked``, for a channel's parked arms (the request is per pair: every parked
    arm of it is sent again)."""
    from segcopy_assets.storage.tables import channel_retries_table

    parked = channel_failing_arms(
        warehouse, copywriter, channel, segment=segment, product=product
    ).filter(pl.col("state") == "parked")
    retry_requests.request_retries(
        warehouse.table_path(channel_retries_table(channel)),
        parked.select("segment_id", "product_id", pl.col("attempted_hash").alias("input_hash")),
        requested_by,
    )
    return parked
