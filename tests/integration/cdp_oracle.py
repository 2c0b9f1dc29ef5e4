"""The reference the incremental CDP refresh is compared with: a full recompute of the summaries
and the activation table from the source's customers, by the plain functions of ``core``."""

from dataclasses import replace
from datetime import UTC, datetime

import polars as pl

from segcopy_assets.core import activation
from segcopy_assets.core.segments import SegmentationSpec, compute_segment_summaries

STAMP = datetime(2026, 1, 1, tzinfo=UTC)


def full_recompute(customers: pl.DataFrame, spec: SegmentationSpec) -> dict[str, pl.DataFrame]:
    """``cdp_customers``, ``summaries`` and ``activation`` as a full refresh makes them."""
    everything = compute_segment_summaries(customers.lazy(), replace(spec, min_segment_size=1))
    summaries = everything.filter(pl.col("customer_count") >= spec.min_segment_size)
    assigned = activation.assign_customer_segments(
        customers.lazy(),
        summaries,
        spec,
        assigned_at=STAMP,
        definitions=activation.definitions_hash(summaries, spec),
    ).collect()
    return {"cdp_customers": customers, "summaries": summaries, "activation": assigned}
