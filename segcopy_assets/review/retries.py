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
            known = _known(warehouse, column)
            if value not in known:
                shown = ", ".join(sorted(known)[:20]) + (" …" if len(known) > 20 else "")
                raise InputValidationError(
                    "description_variants", column, f"no {column} {value!r}; known: {shown}"
                )
            failing = failing.filter(pl.col(column) == value)
    return failing


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
