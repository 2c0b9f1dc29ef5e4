"""Each partition's own figures when one run materializes several segments (a range run).

Dagster records one materialization per partition of a range run, each with the run's metadata:
a partition said "segments 14, pairs 196" and previewed another segment's rows. Here every
partition gets its own counts, tokens, cost and preview (``add_asset_metadata`` with the
partition key overrides the run's values for that partition); the run's totals stay under
``run_*`` keys.
"""

from datetime import datetime

import dagster as dg
import polars as pl

from segcopy_assets.defs.metadata import cost_value
from segcopy_assets.generation.prompts import cost_usd

#: the run-wide figures each partition of a range run also shows, renamed ``run_<key>``
RUN_TOTALS = (
    "segments",
    "pairs",
    "calls_made",
    "reused",
    "failed",
    "prompt_tokens",
    "completion_tokens",
    "estimated_cost_usd",
    "dagster/row_count",
)
_PREFIX = "run_"


def partition_metadata(
    rows: pl.DataFrame,
    generated: pl.DataFrame,
    segment_ids: list[str],
    run_started: datetime,
    price: tuple[float, float] | None,
    model: str,
    preview,
    arms: int = 1,
) -> dict[str, dict[str, dg.MetadataValue]]:
    """Per segment of the run: its rows, the pairs this run generated anew for it (answers
    written since ``run_started``; the others are reused), its failures, tokens, cost and a
    preview of its own rows (``preview``: rows → markdown); a channel's rows are pairs × ``arms``.
    Empty for a one-segment run."""
    if len(segment_ids) < 2:
        return {}
    fresh = generated.filter(pl.col("generated_at") >= run_started)
    out = {}
    for segment in segment_ids:
        own = rows.filter(pl.col("segment_id") == segment)
        new = fresh.filter(pl.col("segment_id") == segment)
        failed = generated.filter(
            (pl.col("segment_id") == segment) & (pl.col("status") != "ok")
        ).height
        prompt = int(new["prompt_tokens"].fill_null(0).sum())
        completion = int(new["completion_tokens"].fill_null(0).sum())
        out[segment] = {
            "segments": dg.MetadataValue.int(1),
            "pairs": dg.MetadataValue.int(own.height // max(arms, 1)),
            "dagster/row_count": dg.MetadataValue.int(own.height),
            "calls_made": dg.MetadataValue.int(new.height),
            "reused": dg.MetadataValue.int(max(own.height - new.height, 0)),
            "failed": dg.MetadataValue.int(failed),
            "prompt_tokens": dg.MetadataValue.int(prompt),
            "completion_tokens": dg.MetadataValue.int(completion),
            "estimated_cost_usd": cost_value(cost_usd(prompt, completion, price), model),
            "preview": dg.MetadataValue.md(preview(own)),
        }
    return out


def _run_key(key: str) -> str:
    return _PREFIX + key.replace("dagster/", "")


def run_totals(metadata: dict) -> dict:
    """The run-wide figures under ``run_*`` names (shown on every partition of a range run)."""
    return {_run_key(key): metadata[key] for key in RUN_TOTALS if key in metadata}


def run_view(metadata: dict) -> dict:
    """A partition's metadata as the whole run's: its ``run_*`` figures under their own names
    (what ``segcopy run`` reports of a range run)."""
    return {
        **metadata,
        **{key: metadata[_run_key(key)] for key in RUN_TOTALS if _run_key(key) in metadata},
    }
