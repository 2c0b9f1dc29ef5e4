"""The Batch API path of a channel's variants (SEGCOPY_LLM_MODE=batch|auto), as the
description's (``defs/generation/batching.py``), on the channel's own state table
(``<channel>_batches``) and journal.

Before a run makes calls, each arm's pairs that no answer is held for go to
``generation.batch_flow.prepare``: ended batches are collected into the channel's journal (an
answer without the channel's fields is a line error, as online), new pairs are submitted when
the policy says batch; an answer that fails a channel check goes back in a repair batch
(``generation.batch_repairs``). While a batch the run needs is open, the run writes nothing (an
observation records the batches); ``channel_batch_sensor`` requests the collect run when they
end, and that run finds every answer in the cache.
"""

import dagster as dg
import polars as pl

from segcopy_assets.generation import batch_flow
from segcopy_assets.generation.channel_runs import (
    ChannelPaths,
    ChannelPlan,
    answer_problem,
    channel_failures,
)
from segcopy_assets.generation.channels import Channel
from segcopy_assets.generation.repair import repairer
from segcopy_assets.resources import Copywriter
from segcopy_assets.storage.tables import GENERATION_BATCH_SCHEMA


def channel_batch_round(
    context: dg.AssetExecutionContext,
    copywriter: Copywriter,
    channel: Channel,
    paths: ChannelPaths,
    plan: ChannelPlan,
) -> batch_flow.BatchRound | None:
    """Collect, wait or submit for each arm's pairs ``plan`` holds no answer for (None: it
    holds all). The answers collected now join ``plan``'s reusable rows; the round returned
    sums the arms (``must_wait``: a batch this run needs is still open)."""
    policy = copywriter.batch_policy()
    todo = [(arm_plan, plan.todo(arm_plan)) for arm_plan in plan.arms]
    if not any(pairs for _, pairs in todo):
        return None
    total = batch_flow.BatchRound(waiting=GENERATION_BATCH_SCHEMA.to_frame())
    with copywriter.batch_client() as client:
        for arm_plan, pairs in todo:
            if not pairs:
                continue
            round_ = batch_flow.prepare(
                store_path=paths.batches,
                journal_path=paths.journal,
                client=client,
                policy=policy,
                todo=pairs,
                prompt_set=arm_plan.arm.prompt_set,
                segment_ids=list(context.partition_keys),
                log=context.log.info,
                answer_problem=answer_problem(channel),
                # an answer that fails a channel check goes back in a repair batch
                repairer=repairer(
                    copywriter.repair_attempts,
                    channel_failures(channel),
                    arm_plan.arm.prompt_set.repair_source,
                    arm_plan.arm.prompt_set.brand_name,
                ),
            )
            total.harvested = pl.concat([total.harvested, round_.harvested])
            total.collected += round_.collected
            total.submitted += round_.submitted
            total.online |= round_.online
            total.waiting = pl.concat([total.waiting, round_.waiting])
            total.waiting_pairs += round_.waiting_pairs
    plan.add_reusable(total.harvested)
    return total
