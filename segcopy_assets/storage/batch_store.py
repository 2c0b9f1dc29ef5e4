"""``generation_batches``: what was submitted to the Batch API and how far each batch got.

Append-only, one row per state change, so concurrent writers (a run, the sensor) never
conflict and a crash leaves every earlier row intact. A batch's current view takes, per
``batch_key``, the state of highest rank and, for every other column, its latest non-null value
(the intent row carries the pairs, later rows the ids and counts).
"""

from datetime import UTC, datetime

import polars as pl
from deltalake import write_deltalake

from segcopy_assets.storage.delta import table_exists
from segcopy_assets.storage.delta_commits import retry_refused_commits
from segcopy_assets.storage.tables import GENERATION_BATCH_SCHEMA

#: Provider states (openai Batch.status) plus ours: ``intent`` (written before the upload) and
#: ``collected`` (the answers are in the generation journal). Progress only moves up.
STATE_RANK = {
    "intent": 0,
    "submitted": 1,
    "validating": 2,
    "in_progress": 3,
    "finalizing": 4,
    "cancelling": 4,
    "completed": 5,
    "failed": 5,
    "expired": 5,
    "cancelled": 5,
    "collected": 6,
}
ENDED = ("completed", "failed", "expired", "cancelled")
OPEN = ("intent", "submitted", "validating", "in_progress", "finalizing", "cancelling")


@retry_refused_commits(attempts=6, max_wait_s=1)
def append(path: str, rows: list[dict]) -> None:
    """Append state rows (missing columns null, ``recorded_at`` now unless given)."""
    if not rows:
        return
    now = datetime.now(UTC)
    full = [
        {**{c: None for c in GENERATION_BATCH_SCHEMA}, "recorded_at": now, **row} for row in rows
    ]
    unknown = {row.get("state") for row in rows} - set(STATE_RANK)
    if unknown:
        raise ValueError(f"unknown batch state(s) {sorted(map(str, unknown))}")
    frame = pl.DataFrame(full, schema=GENERATION_BATCH_SCHEMA)
    # schema_mode merge: a table written before a column (purpose) existed gains it
    write_deltalake(path, frame.to_arrow(), mode="append", schema_mode="merge")


def current(path: str) -> pl.DataFrame:
    """One row per batch_key: its highest state and the latest value of every other column."""
    if not table_exists(path):
        return GENERATION_BATCH_SCHEMA.to_frame()
    rows = pl.read_delta(path)
    rows = rows.with_columns(
        *(
            pl.lit(None, dtype).alias(c)
            for c, dtype in GENERATION_BATCH_SCHEMA.items()
            if c not in rows.columns
        ),
        pl.col("state").replace_strict(STATE_RANK, return_dtype=pl.Int64).alias("_rank"),
    )
    others = [c for c in GENERATION_BATCH_SCHEMA if c not in ("batch_key", "state")]
    return (
        rows.sort("_rank", "recorded_at")
        .group_by("batch_key", maintain_order=True)
        .agg(
            pl.col("state").last(),
            *(pl.col(c).drop_nulls().last() for c in others),
        )
        .select(list(GENERATION_BATCH_SCHEMA))
        .sort("recorded_at")
    )


def submitted_open(batches: pl.DataFrame) -> pl.DataFrame:
    """The batches (rows of ``current``) the provider is still working on: an id, not ended.
    (An intent without an id is a run's to resolve, not something to poll.)"""
    return batches.filter(pl.col("state").is_in(OPEN) & pl.col("batch_id").is_not_null())


def covering(batches: pl.DataFrame, input_hashes: set[str]) -> pl.DataFrame:
    """The batches (rows of ``current``) with at least one of these pairs."""
    if batches.is_empty() or not input_hashes:
        return batches.clear()
    hit = (
        batches.select(
            "batch_key", pl.col("pairs").list.eval(pl.element().struct.field("input_hash"))
        )
        .explode("pairs")
        .filter(pl.col("pairs").is_in(list(input_hashes)))
        .get_column("batch_key")
        .unique()
    )
    return batches.filter(pl.col("batch_key").is_in(hit.to_list()))


def pair_hashes(batch: dict) -> list[str]:
    return [p["input_hash"] for p in batch.get("pairs") or []]


def summary(batches: pl.DataFrame) -> str:
    """'2 batch(es): batch_a in_progress 120/196, ...' for logs and metadata."""
    parts = []
    for b in batches.iter_rows(named=True):
        done = b["completed"] if b["completed"] is not None else 0
        parts.append(f"{b['batch_id'] or b['batch_key']} {b['state']} {done}/{b['requests']}")
    return f"{len(parts)} batch(es): " + ", ".join(parts)
