"""``segcopy run --wait``: poll the open provider batches in the foreground until they end.

The pipeline then runs the waiting segments again; those runs collect the ended batches.
"""

import time
from collections.abc import Callable

import polars as pl

from segcopy_assets.generation import batch_flow
from segcopy_assets.storage import batch_store
from segcopy_assets.storage.tables import GENERATION_BATCHES


def open_batches(store_path: str) -> pl.DataFrame:
    """Submitted batches that have not ended (intents without an id are a run's to resolve)."""
    batches = batch_store.current(store_path)
    return batches.filter(
        pl.col("state").is_in(batch_store.OPEN) & pl.col("batch_id").is_not_null()
    )


def wait_for_batches(
    resources: dict,
    log: Callable[[str], None] = print,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Poll every ``batch_poll_s`` seconds (SEGCOPY_BATCH_POLL_S) until no batch is open."""
    copywriter = resources["copywriter"]
    path = resources["warehouse"].table_path(GENERATION_BATCHES)
    with copywriter.batch_client() as client:
        while True:
            batch_flow.poll_open(path, client, log)
            still_open = open_batches(path)
            if still_open.is_empty():
                return
            log(f"waiting {copywriter.batch_poll_s:g} s on {batch_store.summary(still_open)}")
            sleep(copywriter.batch_poll_s)
