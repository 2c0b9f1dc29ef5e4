"""Judging a variants run: the deterministic checks, then the optional LLM judge, and what it
cost (asset metadata)."""

import dagster as dg
import polars as pl

from segcopy_assets.defs.metadata import cost_value
from segcopy_assets.generation.freshness import current_rules_hash
from segcopy_assets.quality.judge import CHECKS, judge_partition
from segcopy_assets.quality.llm_judge import JudgeStats, LlmJudgeRun, llm_judge_rows
from segcopy_assets.resources import Copywriter, Judge, QualityRules, Warehouse
from segcopy_assets.storage import variant_store
from segcopy_assets.storage.tables import JUDGE_ANSWERS, VARIANT_CHECKS, VERDICT_SCHEMA


def _stored_verdicts(warehouse: Warehouse, segment_ids: list[str], rules: str) -> pl.DataFrame:
    """The per-variant verdicts already judged under these rules (coverage and well_formed are
    recomputed every run: they are about the partition, and cost nothing)."""
    stored = variant_store.read_segments(
        warehouse.table_path(VARIANT_CHECKS), segment_ids, schema=VERDICT_SCHEMA
    )
    content = stored.filter(~pl.col("check").is_in(["coverage", "well_formed"]))
    # a variant is reused whole or judged whole: one verdict of other rules, or an LLM judge
    # call that failed (no rules hash), and all of its checks run again
    key = ["segment_id", "product_id", "input_hash", "variant_hash"]
    incomplete = content.filter(pl.col("rules_hash").ne_missing(rules)).select(key)
    return content.join(incomplete, on=key, how="anti", nulls_equal=True)


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
    precomputed: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, JudgeStats | None, int]:
    """Every verdict of the run's variants: the deterministic checks, then the LLM judge if on.

    A variant whose verdicts are stored under the current rules hash (same variant text, same
    inputs, same rules) is not judged again; returns the verdicts, the judge's stats and how
    many variants were judged anew. ``precomputed``: content verdicts of this run's new
    variants, judged under the same rules while they were generated (``JudgePool``)."""
    originals = dict(zip(products["product_id"], products["description"]))
    by_segment = {s["segment_id"]: s for s in segments.to_dicts()}
    settings = quality_rules.settings(copywriter.prompts_dir)
    judge_prompt = judge.prompt(quality_rules.place_share_threshold) if judge.enabled else None
    rules = current_rules_hash(copywriter, quality_rules, judge)
    stored = _stored_verdicts(warehouse, list(by_segment), rules)
    pooled = 0
    if precomputed is not None and precomputed.height:
        pooled = precomputed.select(
            "segment_id", "product_id", "input_hash", "variant_hash"
        ).n_unique()
        stored = pl.concat([precomputed.select(list(VERDICT_SCHEMA)), stored])
    key = ["segment_id", "product_id", "input_hash", "variant_hash"]
    judged = set(stored.select(key).unique().iter_rows())
    verdicts = judge_partition(
        rows,
        [(s["segment_id"], p["product_id"]) for s, p in pairs],
        originals,
        by_segment,
        settings,
        rules_hash=rules,
        judged=judged,
    )
    # variants judge_partition judged itself (those not under ``judged``)
    judged_here = (
        verdicts.filter(~pl.col("check").is_in(["coverage", "well_formed"])).select(key).n_unique()
    )
    current = verdicts.filter(pl.col("check") == "well_formed").select(key)
    reused = stored.join(current, on=key, how="semi")
    fresh_rows = rows.join(
        current.join(reused.select(key).unique(), on=key, how="anti"),
        on=["segment_id", "product_id", "input_hash"],
        how="semi",
    )
    stats = None
    if judge_prompt is not None:
        run = LlmJudgeRun(
            prompt=judge_prompt,
            client=judge.client(),
            cache_path=warehouse.table_path(JUDGE_ANSWERS),
        )
        answers, stats = llm_judge_rows(
            run,
            fresh_rows,
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
        if answers:
            extra = (
                pl.DataFrame(answers)
                .join(current, on=["segment_id", "product_id", "input_hash"], how="left")
                .with_columns(
                    # a failed call carries no rules hash: the segment stays stale, asked again
                    pl.when(pl.col("judged")).then(pl.lit(rules)).alias("rules_hash")
                )
                .select([pl.col(c).cast(t) for c, t in VERDICT_SCHEMA.items()])
            )
            verdicts = pl.concat([verdicts, extra])
    order = {check: k for k, check in enumerate(CHECKS)}
    verdicts = (
        pl.concat([verdicts, reused.select(list(VERDICT_SCHEMA))])
        .with_columns(pl.col("check").replace_strict(order, return_dtype=pl.Int64).alias("_order"))
        .sort("segment_id", "product_id", "_order", maintain_order=True, nulls_last=True)
        .drop("_order")
    )
    fresh = judged_here + pooled
    if reused.height:
        context.log.info(
            f"verdicts of {rows.height - fresh} unchanged variant(s) reused (rules hash {rules}); "
            f"{fresh} judged ({pooled} while generating)"
        )
    return verdicts, stats, fresh


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
