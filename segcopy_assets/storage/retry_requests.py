"""``generation_retries``: an append-only Delta table of requests to send parked pairs again.

A parked pair (``generation.failures``) is generated again once a request for it is newer than
its last attempt; the table keeps who asked and when.
"""

from datetime import UTC, datetime

import polars as pl
from deltalake import write_deltalake

from segcopy_assets.core.user_names import normalise_name
from segcopy_assets.errors import InputValidationError
from segcopy_assets.storage.delta import table_exists
from segcopy_assets.storage.delta_commits import retry_refused_commits
from segcopy_assets.storage.tables import GENERATION_RETRIES, RETRY_SCHEMA


def read_requests(path: str, segment_ids: list[str] | None = None) -> pl.DataFrame:
    if not table_exists(path):
        return RETRY_SCHEMA.to_frame()
    lf = pl.scan_delta(path).select(list(RETRY_SCHEMA))
    if segment_ids is not None:
        lf = lf.filter(pl.col("segment_id").is_in(segment_ids))
    return lf.collect()


@retry_refused_commits(attempts=8, max_wait_s=2)
def request_retries(path: str, pairs: pl.DataFrame, requested_by: str) -> int:
    """Append one request per pair (``segment_id, product_id, input_hash``) in one commit;
    returns how many."""
    if not requested_by.strip():
        raise InputValidationError(GENERATION_RETRIES, "requested_by", "a retry needs a name")
    if pairs.is_empty():
        return 0
    frame = pairs.select("segment_id", "product_id", "input_hash").with_columns(
        pl.lit(normalise_name(requested_by)).alias("requested_by"),
        pl.lit(datetime.now(UTC)).cast(RETRY_SCHEMA["requested_at"]).alias("requested_at"),
    )
    write_deltalake(path, frame.select(list(RETRY_SCHEMA)).to_arrow(), mode="append")
    return frame.height
