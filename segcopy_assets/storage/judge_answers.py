"""The LLM judge's answer cache: an append-only Delta table keyed by ``judge_key``.

A key is a hash of everything the judge saw (prompt, model, copy, original, segment), so an
answer once paid for is reused by every later run, whatever segment partition asks.
"""

import polars as pl
from deltalake import write_deltalake

from segcopy_assets.storage.delta import table_exists
from segcopy_assets.storage.delta_commits import retry_refused_commits
from segcopy_assets.storage.tables import JUDGE_ANSWER_SCHEMA


def read_answers(path: str, keys: list[str]) -> dict[str, dict]:
    """The latest answer row per judge key among ``keys``."""
    if not keys or not table_exists(path):
        return {}
    rows = (
        pl.scan_delta(path)
        .filter(pl.col("judge_key").is_in(keys))
        .select(list(JUDGE_ANSWER_SCHEMA))
        .sort("judged_at")
        .collect()
    )
    return {row["judge_key"]: row for row in rows.iter_rows(named=True)}


@retry_refused_commits(attempts=6, max_wait_s=1)
def append_answers(path: str, rows: list[dict]) -> None:
    """Append new answers in one commit (concurrent runs may both append: keys only repeat)."""
    if rows:
        frame = pl.DataFrame(rows, schema=JUDGE_ANSWER_SCHEMA)
        write_deltalake(path, frame.to_arrow(), mode="append")
