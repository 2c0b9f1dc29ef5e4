"""``segcopy run --wait``: poll the open provider batches in the foreground until they end.

The pipeline then runs the waiting segments again; those runs collect the ended batches.
"""

import time
from collections.abc import Callable

from segcopy_assets.generation import batch_flow
from segcopy_assets.storage import batch_store
from segcopy_assets.storage.tables import GENERATION_BATCHES


def wait_for_batches(
    resources: dict,
    log: Callable[[str], None] = print,
    sleep: Callable[[float], None] = time.sleep,
    path: str | None = None,
) -> None:
    """Poll every ``batch_poll_s`` seconds (SEGCOPY_BATCH_POLL_S) until no batch of the state
    table at ``path`` (default: the description's ``generation_batches``) is open."""
    copywriter = resources["copywriter"]
    path = path or resources["warehouse"].table_path(GENERATION_BATCHES)
    with copywriter.batch_client() as client:
        while True:
            still_open = batch_store.submitted_open(batch_flow.poll_open(path, client, log))
            if still_open.is_empty():
                return
            log(f"waiting {copywriter.batch_poll_s:g} s on {batch_store.summary(still_open)}")
            sleep(copywriter.batch_poll_s)
