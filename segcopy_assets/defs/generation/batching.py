"""The Batch API path of ``description_variants`` (SEGCOPY_LLM_MODE=batch|auto).

Before a run makes calls, ``batch_round`` hands the pairs the cache does not hold to
``generation.batch_flow.prepare``: ended batches are collected into the journal, new pairs are
submitted when the policy says batch. While a batch the run needs is still open the run writes
no variants (an observation records the batches); the collect run that ``batch_sensor`` (or
``segcopy run --wait``) requests then finds every answer in the cache.
"""

import dagster as dg
import polars as pl

from segcopy_assets.defs.metadata import cost_value
from segcopy_assets.generation import batch_flow
from segcopy_assets.generation.prompts import PromptSet, cost_usd
from segcopy_assets.generation.repair import Repairer
from segcopy_assets.resources import Copywriter, Warehouse
from segcopy_assets.storage import batch_store
from segcopy_assets.storage.tables import GENERATION_BATCHES, GENERATION_JOURNAL


def batch_round(
    context: dg.AssetExecutionContext,
    copywriter: Copywriter,
    policy: batch_flow.BatchPolicy,
    warehouse: Warehouse,
    prompt_set: PromptSet,
    pairs: list[tuple[dict, dict]],
    hashes: list[str],
    reusable: pl.DataFrame,
    repairer: Repairer | None = None,
) -> batch_flow.BatchRound | None:
    """Collect, wait or submit for the pairs ``reusable`` does not hold (None: it holds all);
    answers that fail an ERROR rule go back in a repair submission (``repairer``)."""
    held = set(reusable["input_hash"])
    todo = {h: pair for pair, h in zip(pairs, hashes, strict=True) if h not in held}
    store_path = warehouse.table_path(GENERATION_BATCHES)
    if not todo:
        return None
    with copywriter.batch_client() as client:
        return batch_flow.prepare(
            store_path=store_path,
            journal_path=warehouse.table_path(GENERATION_JOURNAL),
            client=client,
            policy=policy,
            todo=todo,
            prompt_set=prompt_set,
            segment_ids=list(context.partition_keys),
            log=context.log.info,
            repairer=repairer,
        )


def waiting_observation(
    context: dg.AssetExecutionContext,
    round_: batch_flow.BatchRound,
    store_uri: str,
    pairs: int,
    sensor: str = "batch_sensor",
) -> dg.AssetObservation:
    """What a run that has to wait records instead of a materialization (``store_uri``: the
    batch state table; ``sensor``: the one that requests the collect run)."""
    waiting = round_.waiting
    text = batch_store.summary(waiting)
    context.log.info(
        f"waiting on {text} for {round_.waiting_pairs} pair(s); no variants written. "
        f"{sensor} requests the collect run when they end (or run `segcopy run --wait`)"
    )
    return dg.AssetObservation(
        asset_key=context.asset_key,
        metadata={
            "llm_mode": "batch",
            "batch_state": text,
            "batch_ids": ", ".join(b or "" for b in waiting["batch_id"].to_list()),
            "batches_submitted": dg.MetadataValue.int(len(round_.submitted)),
            "batches_collected": dg.MetadataValue.int(len(round_.collected)),
            "pairs_waiting": dg.MetadataValue.int(round_.waiting_pairs),
            "pairs": dg.MetadataValue.int(pairs),
            "segments": dg.MetadataValue.int(len(context.partition_keys)),
            "generation_batches_uri": store_uri,
        },
    )


def batch_metadata(
    rows: pl.DataFrame,
    already_written: set[str],
    prompt_set: PromptSet,
    online_tokens: tuple[int, int],
    mode: str,
) -> dict:
    """Counts and costs of the variants of this run that a batch wrote (not yet in the table),
    their repairs apart (``batch_repair_*``, included in the totals): the estimated cost adds the online calls at the online price and the batch answers at the
    batch price; ``online_equivalent_cost_usd`` is what all of them would cost online."""
    fresh = rows.filter(
        pl.col("batch_id").is_not_null() & ~pl.col("input_hash").is_in(list(already_written))
    )
    repaired = fresh.filter(pl.col("repair_attempts").fill_null(0) > 0)
    repair_tokens = (
        int(repaired["repair_prompt_tokens"].sum() or 0),
        int(repaired["repair_completion_tokens"].sum() or 0),
    )
    batch_tokens = (
        int(fresh["prompt_tokens"].sum() or 0) + repair_tokens[0],
        int(fresh["completion_tokens"].sum() or 0) + repair_tokens[1],
    )
    model = prompt_set.params.name
    online_cost = cost_usd(*online_tokens, prompt_set.price_per_1m())
    batch_cost = cost_usd(*batch_tokens, prompt_set.price_per_1m(batch=True))
    repair_cost = cost_usd(*repair_tokens, prompt_set.price_per_1m(batch=True))
    equivalent = cost_usd(
        online_tokens[0] + batch_tokens[0],
        online_tokens[1] + batch_tokens[1],
        prompt_set.price_per_1m(),
    )
    total = None if online_cost is None or batch_cost is None else online_cost + batch_cost
    return {
        "llm_mode": mode,
        "batch_generated": dg.MetadataValue.int(fresh.height),
        "batch_prompt_tokens": dg.MetadataValue.int(batch_tokens[0]),
        "batch_completion_tokens": dg.MetadataValue.int(batch_tokens[1]),
        "batch_ids": ", ".join(sorted(set(fresh["batch_id"].to_list()))) or "none",
        # repairs of batch answers (generation.batch_repairs), apart; included in the totals
        "batch_repair_requests": dg.MetadataValue.int(int(repaired["repair_attempts"].sum() or 0)),
        "batch_repaired_pairs": dg.MetadataValue.int(repaired.height),
        "batch_repair_prompt_tokens": dg.MetadataValue.int(repair_tokens[0]),
        "batch_repair_completion_tokens": dg.MetadataValue.int(repair_tokens[1]),
        "batch_repair_cost_usd": cost_value(repair_cost, model),
        "estimated_cost_usd": cost_value(total, model),
        "online_equivalent_cost_usd": cost_value(equivalent, model),
    }
