"""``description_variants``: one tailored description per product for each segment partition."""

import asyncio
from datetime import UTC, datetime

import dagster as dg
import polars as pl
from pydantic import Field

from segcopy_assets.defs.cdp.assets import segment_definitions
from segcopy_assets.defs.cdp.partitions import segments_partitions
from segcopy_assets.defs.failures import reported_as_failure
from segcopy_assets.defs.generation.batching import (
    batch_metadata,
    batch_round,
    waiting_observation,
)
from segcopy_assets.defs.generation.judging import judge_metadata, judge_run
from segcopy_assets.defs.generation.partition_metadata import partition_metadata, run_totals
from segcopy_assets.defs.generation.repairs import description_rules, repair_metadata
from segcopy_assets.defs.generation.run_guards import read_run_segments, require_summaries_landed
from segcopy_assets.defs.generation.run_support import (
    carry_approvals,
    failure_metadata,
    failure_report,
    judge_pool,
)
from segcopy_assets.defs.metadata import cost_value, markdown_table
from segcopy_assets.errors import SegcopyError
from segcopy_assets.generation import failures
from segcopy_assets.generation import journal as generation_journal
from segcopy_assets.generation.failures import attempt_plan
from segcopy_assets.generation.freshness import FRESHNESS_SCHEMA
from segcopy_assets.generation.variants import PAIRINGS, generate_variants, input_hash, plan_pairs
from segcopy_assets.quality.judge import CHECKS
from segcopy_assets.resources import Copywriter, Judge, QualityRules, Warehouse, copywriter_from_env
from segcopy_assets.storage import retry_requests, variant_store
from segcopy_assets.storage.tables import (
    DESCRIPTION_VARIANTS,
    GENERATION_BATCHES,
    GENERATION_JOURNAL,
    GENERATION_RETRIES,
    VARIANT_CHECKS,
    VARIANT_SCHEMA,
    VERDICT_SCHEMA,
)

#: What a run needs of the table's earlier rows of its segments: what staleness and parking are
#: decided from, and the text (carried approvals compare it).
PREVIOUS_SCHEMA = pl.Schema({**FRESHNESS_SCHEMA, "variant_text": VARIANT_SCHEMA["variant_text"]})


def _prompt_code_version() -> str | None:
    """The prompt hash as the asset's code version (None while the prompts are broken: the
    asset then fails with the prompt error when it runs)."""
    try:
        return copywriter_from_env().prompt_set().hash
    except SegcopyError:
        return None


class VariantsConfig(dg.Config):
    pairing: str = Field(
        default="all",
        description="'all' products for every segment (the walkthrough's way) or 'own_category'.",
    )
    force_regenerate: bool = Field(
        default=False, description="Call the model even where an identical generation exists."
    )


def _preview(rows: pl.DataFrame, products: pl.DataFrame, n: int = 4) -> str:
    sample = (
        rows.filter(pl.col("status") == "ok")
        .head(n)
        .join(
            products.select("product_id", pl.col("description").alias("original")), on="product_id"
        )
        .select("segment_id", "product_id", "original", "variant_text", "rationale")
    )
    return markdown_table(sample, max_rows=n, max_chars=400)


def verdict_summary(verdicts: pl.DataFrame) -> tuple[dict, pl.DataFrame]:
    """Failing-verdict counts per check, and the failing (segment, product, check, reason) rows."""
    failing = verdicts.filter(~pl.col("passed"))
    counts = {check: int((failing["check"] == check).sum()) for check in CHECKS}
    return counts, failing.select("segment_id", "product_id", "check", "severity", "reason").sort(
        "segment_id", "product_id", "check"
    )


def _warn_failing(context: dg.AssetExecutionContext, verdicts: pl.DataFrame) -> None:
    total, _ = verdict_summary(verdicts)
    if any(total.values()):
        context.log.warning(
            "failing check verdicts: " + ", ".join(f"{c}={n}" for c, n in total.items() if n)
        )


@dg.asset(
    partitions_def=segments_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="generation",
    kinds={"openai", "deltalake", "polars"},
    code_version=_prompt_code_version(),
    # Lowest priority: in a run that also writes segment_summaries, Dagster cannot see that this
    # step reads it (see run_guards.require_summaries_landed); the priority makes it go after.
    op_tags={"dagster/priority": "-1"},
    # the model-calling runs: deploy/dagster.yaml bounds how many run at once
    pool="llm",
    # Per-segment lineage: the segment_summaries table is read through the warehouse, so a
    # partition goes stale on ITS segment's definition, not on any change to the table.
    deps=[segment_definitions],
    # in batch mode a run that submitted (or waits on) a provider batch writes nothing
    output_required=False,
    description="A tailored variant of every product description for each segment, with a "
    "Rationale for the reviewer. Written straight to Delta, one commit per run, replacing "
    "exactly the segments of the run; each variant's check verdicts go to variant_checks. A "
    "pair whose generation fails keeps its last good variant, with the failure recorded beside "
    "it; it is retried by the next run and parked after SEGCOPY_MAX_ATTEMPTS failures with the "
    "same inputs. In batch mode (SEGCOPY_LLM_MODE) a run submits to the provider's Batch API; "
    "when the batch ends, batch_sensor requests the run that collects it.",
)
def description_variants(
    context: dg.AssetExecutionContext,
    config: VariantsConfig,
    copywriter: Copywriter,
    quality_rules: QualityRules,
    judge: Judge,
    warehouse: Warehouse,
    products: pl.DataFrame,
):
    segment_ids = list(context.partition_keys)
    run_started = datetime.now(UTC)
    path = warehouse.table_path(DESCRIPTION_VARIANTS)
    require_summaries_landed(context)
    if config.pairing not in PAIRINGS:
        raise dg.Failure(f"pairing must be one of {PAIRINGS}, not {config.pairing!r}")
    segments = read_run_segments(warehouse, segment_ids)

    with reported_as_failure():
        prompt_set = copywriter.prompt_set()
        if judge.enabled:  # a broken judge prompt fails before any call is paid for
            judge.prompt(quality_rules.place_share_threshold)
        pairs = plan_pairs(segments, products, config.pairing)
        hashes = [
            input_hash(prompt_set.hash, s["summary_hash"], p["content_hash"]) for s, p in pairs
        ]
        # the table's rows of these segments: the last good variants, and the failures so far
        # the table's rows of these segments, slim: keys, text, the failures so far (the full
        # rows are read only for the pairs that keep theirs: failed or parked)
        previous = variant_store.read_segments(path, segment_ids, schema=PREVIOUS_SCHEMA)
        plan = attempt_plan(
            pairs,
            hashes,
            previous,
            retry_requests.read_requests(warehouse.table_path(GENERATION_RETRIES), segment_ids),
            copywriter.max_attempts,
        )
        if plan.parked:
            context.log.warning(
                f"{len(plan.parked)} parked pair(s) not sent (failed {copywriter.max_attempts} "
                "runs in a row with these inputs; `segcopy retry` sends them again)"
            )
        journal_path = warehouse.table_path(GENERATION_JOURNAL)
        journaled = generation_journal.read_journal(journal_path, plan.hashes)
        if journaled.height:
            context.log.info(f"{journaled.height} generation(s) recovered from an interrupted run")
        written = variant_store.read_reusable(path, plan.hashes)
        harvested = journaled.clear()  # answers a batch returned to this run
        policy = copywriter.batch_policy()
        force = config.force_regenerate
        repairer = copywriter.repairer(
            prompt_set, description_rules(quality_rules.settings(copywriter.prompts_dir))
        )
        if policy.mode != "online":  # forcing in batch mode: this refresh's answers only
            base = journaled if force else pl.concat([written, journaled])
            round_ = batch_round(
                context,
                copywriter,
                policy,
                warehouse,
                prompt_set,
                plan.pairs,
                plan.hashes,
                base,
                repairer,
            )
            if round_ is not None and round_.must_wait:
                context.log_event(
                    waiting_observation(
                        context, round_, warehouse.table_path(GENERATION_BATCHES), len(pairs)
                    )
                )
                return
            if round_ is not None:
                harvested = round_.harvested
            reusable, force = pl.concat([base, harvested]), False
        else:
            reusable = pl.concat([written, journaled])
        calls = len(plan.pairs) if force else len(set(plan.hashes) - set(reusable["input_hash"]))
        if calls:  # an unreachable endpoint, a bad key or model: stop before anything is written
            copywriter.preflight()
        writer = copywriter.writer(prompt_set)
        context.log.info(
            f"{len(segment_ids)} segment(s), {len(pairs)} pairs; backend {copywriter.describe()}, "
            f"model {prompt_set.params.name}, prompt hash {prompt_set.hash}"
        )

        # a batch's answers are new variants too: judged by the pool with the online ones
        harvested = harvested.filter(pl.col("input_hash").is_in(plan.hashes))
        pool = judge_pool(
            context,
            calls + harvested.height,
            products,
            segments,
            copywriter,
            quality_rules,
            judge,
        )
        if pool is not None:
            for row in harvested.iter_rows(named=True):
                pool.add(row)

        async def run(journal):
            def on_generated(row: dict) -> None:
                journal.add(row)
                if pool is not None:
                    pool.add(row)

            async with writer:
                return await generate_variants(
                    plan.pairs,
                    prompt_set,
                    writer,
                    reusable=reusable,
                    force_regenerate=force,
                    on_progress=lambda done, total: context.log.info(f"generated {done}/{total}"),
                    on_generated=on_generated,
                    repairer=repairer,
                )

        try:
            with generation_journal.GenerationJournal(journal_path) as journal:
                generated, stats = asyncio.run(run(journal))
            precomputed = pool.verdicts() if pool is not None else None
        finally:
            if pool is not None:
                pool.close()
        if journal.errors:
            context.log.warning(
                f"generation journal could not be written ({journal.errors[0]}); "
                "a crash now would lose this run's calls"
            )
        # a failed pair keeps its last good row; parked pairs keep theirs as they are
        kept = pl.concat(
            [
                generated.filter(pl.col("status") != "ok").select("segment_id", "product_id"),
                pl.DataFrame(
                    list(plan.parked),
                    schema=dict.fromkeys(["segment_id", "product_id"], pl.String),
                    orient="row",
                ),
            ]
        )
        full = variant_store.read_pairs(path, segment_ids, kept)
        rows = pl.concat([failures.settle(generated, full), plan.held(full)]).sort(
            "segment_id", "product_id"
        )

    with reported_as_failure():
        verdicts, judge_stats, judged_anew = judge_run(
            context,
            rows,
            pairs,
            products,
            segments,
            copywriter,
            quality_rules,
            judge,
            warehouse,
            precomputed,
        )

    if stats.calls == 0 and stats.failed == 0 and variant_store.unchanged(path, rows, segment_ids):
        context.log.info("nothing changed: the table already holds these variants; no write")
        table_version = None
    else:
        table_version = variant_store.replace_segments(path, rows, segment_ids)
        context.log.info(
            f"replaced {len(segment_ids)} segment(s) in {path} (version {table_version})"
        )
    carried = carry_approvals(context, warehouse, previous, rows)
    if stats.calls or journaled.height or harvested.height:
        try:
            generation_journal.forget_segments(journal_path, segment_ids)
        except Exception as exc:  # the variants are written; stale journal rows only cost disk
            context.log.warning(
                f"could not trim the generation journal ({type(exc).__name__}); "
                "its rows stay valid as cache and are trimmed by a later run"
            )
    failing = failure_report(rows, plan, copywriter.max_attempts)
    if failing.height:
        context.log.warning(
            f"{failing.height} pair(s) without a current variant:\n"
            + markdown_table(failing, max_rows=50, max_chars=300)
        )

    checks_path = warehouse.table_path(VARIANT_CHECKS)
    if not variant_store.unchanged(checks_path, verdicts, segment_ids, key=list(VERDICT_SCHEMA)):
        variant_store.replace_segments(checks_path, verdicts, segment_ids, schema=VERDICT_SCHEMA)
    _warn_failing(context, verdicts)

    cost = stats.cost_usd(prompt_set.price_per_1m())
    batch_meta = (
        batch_metadata(
            generated,
            set(written["input_hash"]),
            prompt_set,
            (stats.prompt_tokens, stats.completion_tokens),
            policy.mode,
        )
        if policy.mode != "online"
        else {}
    )
    # a batch's answers reach generate_variants through the cache: they are not reuse
    batch_generated = int(batch_meta["batch_generated"].value) if batch_meta else 0
    p50, p95 = stats.latency_percentile(50), stats.latency_percentile(95)
    metadata = {
        "segments": dg.MetadataValue.int(len(segment_ids)),
        "pairs": dg.MetadataValue.int(len(pairs)),
        "calls_made": dg.MetadataValue.int(stats.calls),
        "reused": dg.MetadataValue.int(stats.reused - batch_generated),
        "failed": dg.MetadataValue.int(stats.failed),
        **failure_metadata(failing),
        "approvals_carried": dg.MetadataValue.int(carried),
        "dagster/row_count": dg.MetadataValue.int(rows.height),
        "prompt_tokens": dg.MetadataValue.int(stats.prompt_tokens),
        "completion_tokens": dg.MetadataValue.int(stats.completion_tokens),
        "estimated_cost_usd": cost_value(cost, prompt_set.params.name),
        "latency_p50_ms": dg.MetadataValue.float(round(p50, 1))
        if p50 is not None
        else dg.MetadataValue.text("n/a"),
        "latency_p95_ms": dg.MetadataValue.float(round(p95, 1))
        if p95 is not None
        else dg.MetadataValue.text("n/a"),
        "generation_wall_s": dg.MetadataValue.float(round(stats.wall_s, 3)),
        "backend": prompt_set.backend,
        "model": prompt_set.params.name,
        "prompt_hash": prompt_set.hash,
        "table_uri": path,
        "table_version": dg.MetadataValue.int(table_version)
        if table_version is not None
        else dg.MetadataValue.text("unchanged"),
        "variants_judged": dg.MetadataValue.int(judged_anew),
        "preview": dg.MetadataValue.md(_preview(rows, products)),
        **judge_metadata(judge, judge_stats),
        **batch_meta,
        **repair_metadata(stats, prompt_set, copywriter.repair_attempts),
    }
    # a range run: each partition's own figures (issue 26), the run's as run_*
    per_segment = partition_metadata(
        rows,
        generated,
        segment_ids,
        run_started,
        prompt_set.price_per_1m(),
        prompt_set.params.name,
        lambda own: _preview(own, products),
    )
    if per_segment:
        metadata.update(run_totals(metadata))
    for segment, values in per_segment.items():
        context.add_asset_metadata(values, partition_key=segment)
    yield dg.MaterializeResult(metadata=metadata)
