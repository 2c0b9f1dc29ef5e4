"""Judging a variants run: the deterministic checks, then the optional LLM judge, and what it
cost (asset metadata)."""

import dagster as dg
import polars as pl

from segcopy_assets.defs.metadata import cost_value
from segcopy_assets.quality.judge import judge_partition
from segcopy_assets.quality.llm_judge import JudgeStats, LlmJudgeRun, llm_judge_rows
from segcopy_assets.resources import Copywriter, Judge, QualityRules, Warehouse
from segcopy_assets.storage.tables import JUDGE_ANSWERS, VERDICT_SCHEMA


def judge_run(
    context: dg.AssetExecutionContext,
    rows: pl.DataFrame,
    pairs: list[tuple[dict, dict]],
    products: pl.DataFrame,
    segments: pl.DataFrame,
    copywriter: Copywriter,
    quality_rules: QualityRules,
    judge: Judge,
    warehouse: Warehouse,
) -> tuple[pl.DataFrame, JudgeStats | None]:
    """Every verdict of the run's variants: the deterministic checks, then the LLM judge if on."""
    originals = dict(zip(products["product_id"], products["description"]))
    by_segment = {s["segment_id"]: s for s in segments.to_dicts()}
    verdicts = judge_partition(
        rows,
        [(s["segment_id"], p["product_id"]) for s, p in pairs],
        originals,
        by_segment,
        quality_rules.settings(copywriter.prompts_dir),
    )
    if not judge.enabled:
        return verdicts, None
    run = LlmJudgeRun(
        prompt=judge.prompt(quality_rules.place_share_threshold),
        client=judge.client(),
        cache_path=warehouse.table_path(JUDGE_ANSWERS),
    )
    judged, stats = llm_judge_rows(
        run,
        rows,
        originals,
        by_segment,
        on_progress=lambda done, total: (
            context.log.info(f"judged {done}/{total}")
            if done == total or done % max(1, total // 10) == 0
            else None
        ),
    )
    context.log.info(
        f"LLM judge {judge.model}: {stats.calls} call(s), {stats.reused} reused, "
        f"{stats.failed} failed"
    )
    if judged:
        extra = pl.DataFrame(judged, schema=VERDICT_SCHEMA)
        verdicts = pl.concat([verdicts, extra]).sort(
            "segment_id", "product_id", maintain_order=True, nulls_last=True
        )
    return verdicts, stats


def judge_metadata(judge: Judge, stats: JudgeStats | None) -> dict:
    if stats is None:
        return {"llm_judge": "off (set SEGCOPY_JUDGE_MODEL to turn it on)"}
    cost = stats.cost_usd(judge.price_per_1m())
    return {
        "llm_judge": str(judge.model),
        "judge_calls": dg.MetadataValue.int(stats.calls),
        "judge_reused": dg.MetadataValue.int(stats.reused),
        "judge_failed": dg.MetadataValue.int(stats.failed),
        "judge_prompt_tokens": dg.MetadataValue.int(stats.prompt_tokens),
        "judge_completion_tokens": dg.MetadataValue.int(stats.completion_tokens),
        "judge_estimated_cost_usd": cost_value(cost, str(judge.model)),
    }
