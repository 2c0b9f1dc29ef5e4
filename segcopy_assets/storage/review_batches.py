"""The acceptance-sampling batches: an append-only Delta table, one row per drawn batch.

A batch's id is a hash of its segment, prompt hash and members, so drawing the same batch again
finds the row that is there (the same sample) instead of adding one.
"""

from datetime import UTC, datetime

import polars as pl
from deltalake import write_deltalake

from segcopy_assets.storage.delta import table_exists
from segcopy_assets.storage.delta_commits import retry_refused_commits
from segcopy_assets.storage.tables import REVIEW_BATCH_SCHEMA


def read_batches(path: str) -> pl.DataFrame:
    if not table_exists(path):
        return REVIEW_BATCH_SCHEMA.to_frame()
    return pl.read_delta(path).select(list(REVIEW_BATCH_SCHEMA)).unique("batch_id", keep="first")


@retry_refused_commits(attempts=8, max_wait_s=2)
def add_batches(path: str, batches: list[dict], created_by: str) -> int:
    """Append the batches not in the table yet (one commit); returns how many were new."""
    known = set(read_batches(path)["batch_id"].to_list())
    new = [b for b in batches if b["batch_id"] not in known]
    if new:
        now = datetime.now(UTC)
        rows = [{**b, "created_at": now, "created_by": created_by} for b in new]
        frame = pl.DataFrame(rows, schema=REVIEW_BATCH_SCHEMA)
        write_deltalake(path, frame.to_arrow(), mode="append")
    return len(new)
