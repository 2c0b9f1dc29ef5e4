"""The whole asset graph in process: what ``segcopy run`` does (and the end-to-end tests).

Upstream assets run first; the segments they define become ``segments`` partitions; then the
tables' hashes say which segments are stale (a moved summary, product or prompt, a failed call,
verdicts of other rules) and only those are materialized, in as few range runs as their order
allows (one when contiguous), so calls are concurrent across segments and a run with nothing
to do writes no variant events at all.
"""

import os
from collections.abc import Callable
from dataclasses import dataclass, field

import dagster as dg
import polars as pl

from segcopy_assets import batch_waiting, run_plan, settings
from segcopy_assets.core.refresh_planning import MAX_RANGE_RUNS, contiguous_blocks, merge_blocks
from segcopy_assets.definitions import ALL_ASSETS, ALL_CHECKS, REFRESH_JOBS
from segcopy_assets.defs.cdp.assets import cdp_customers, segment_summaries
from segcopy_assets.defs.cdp.partitions import SEGMENTS, sync_segment_partitions
from segcopy_assets.defs.content.assets import products
from segcopy_assets.defs.generation.assets import description_variants
from segcopy_assets.defs.generation.judging import judge_metadata
from segcopy_assets.defs.jobs import job_for
from segcopy_assets.defs.publishing.assets import (
    PublishingConfig,
    customer_segments,
    published_variants,
)
from segcopy_assets.errors import SegcopyError
from segcopy_assets.generation.channels import WEB_DESCRIPTION, selected_channels
from segcopy_assets.generation.freshness import (
    FAILING_SCHEMA,
    expected_pair_count,
    pending_failures,
)
from segcopy_assets.pipeline_channels import RUN_COUNTS, range_run, run_channels
from segcopy_assets.quality.judge import CHECKS
from segcopy_assets.storage import delta, variant_store
from segcopy_assets.storage.tables import (
    SEGMENT_SUMMARIES,
    VARIANT_CHECKS,
    VERDICT_SCHEMA,
)

#: The CDP's assets; the activation table (customer → segment) needs nothing else, so it is
#: refreshed with them and skipped with them when the CDP is unchanged.
CDP_ASSETS = [cdp_customers.key, segment_summaries.key, customer_segments.key]


class PipelineFailed(SegcopyError):
    pass


@dataclass
class PipelineReport:
    segments_added: list[str]
    segments_removed: list[str]
    variant_metadata: dict
    check_results: dict[str, bool]
    published: int
    withheld: int
    segment_ids: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # steps left out: nothing they read moved
    # pairs whose latest generation failed (generation.freshness.FAILING_SCHEMA)
    failing: pl.DataFrame = field(default_factory=FAILING_SCHEMA.to_frame)
    superseded: int = 0  # published copy of replaced variants, waiting for the new one's review
    # each channel of defs/channels (SEGCOPY_CHANNELS): its runs' summed metadata
    channels: dict[str, dict] = field(default_factory=dict)


def _failure_message(result: dg.ExecuteInProcessResult) -> str:
    messages = []
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data.error is not None:
            error = event.step_failure_data.error
            cause = error
            while cause.cause is not None and cause.message.startswith("dagster._core.errors"):
                cause = cause.cause
            messages.append(f"{event.step_key}: {cause.message.strip()}")
    return "\n".join(messages) or "run failed"


def _materialize(
    selection: list[dg.AssetKey],
    resources: dict,
    instance: dg.DagsterInstance,
    run_config: dict | None = None,
    log_level: str = "INFO",
    **kwargs,
):
    run_config = {
        **(run_config or {}),
        "loggers": {"console": {"config": {"log_level": log_level}}},
    }
    # as a named job (segcopy_refresh / variants_refresh), not dg.materialize's ephemeral one
    defs = dg.Definitions(
        assets=[*ALL_ASSETS, *ALL_CHECKS],
        resources=resources,
        jobs=REFRESH_JOBS,
        executor=dg.in_process_executor,
    )
    job = defs.resolve_job_def(job_for(selection, ALL_ASSETS))
    result = job.execute_in_process(
        run_config=run_config,
        instance=instance,
        asset_selection=selection,
        raise_on_error=False,
        **kwargs,
    )
    if not result.success:
        raise PipelineFailed(_failure_message(result))
    return result


def preflight(resources: dict, reach_endpoints: bool = True) -> None:
    """Check the cheap inputs (products, prompts, copywriter settings) and, when the run may call
    a model, reach its endpoints (one cheap request each: unreachable, bad key, unknown model)
    before any table is written, so bad input there fails the run with every table as it was."""
    try:
        delta.check_reachable(resources["warehouse"].root)  # also for callers of preflight alone
        resources["cdp"].check_local()
        resources["product_repository"].load()
        copywriter = resources["copywriter"]
        copywriter.writer(copywriter.prompt_set())
        for name in selected_channels(os.environ.get("SEGCOPY_CHANNELS"), settings.prompts_dir()):
            # a broken channel folder, or more arms than it names (the description has one):
            # before any table is written
            channel = copywriter.channel(name)
            if name != WEB_DESCRIPTION:
                channel.arms(copywriter.variants_per_pair)
        copywriter.batch_policy()  # batch mode without an endpoint that has a Batch API
        if not reach_endpoints:
            return
        copywriter.preflight()
        judge = resources.get("judge")
        if judge is not None and judge.enabled:
            judge.preflight()
    except SegcopyError as exc:
        raise PipelineFailed(str(exc)) from None


def _may_call_a_model(instance: dg.DagsterInstance, resources: dict, force: bool) -> bool:
    """Whether this run may call a model: not when the CDP and the products are as the last run
    left them and no segment is stale (then an endpoint outage does not stop publishing the
    decisions made meanwhile, nor withdrawing copy whose grace period ended)."""
    if force:
        return True
    try:
        if not (
            run_plan.cdp_unchanged(instance, resources)
            and run_plan.products_unchanged(instance, resources)
        ):
            return True
        keys = list(instance.get_dynamic_partitions(SEGMENTS))
        return not keys or bool(run_plan.stale_partitions(instance, resources, keys))
    except SegcopyError:
        return True  # the run itself says what is wrong


#: Metadata of description_variants that add up over several range runs.
_SUMMED = (
    *RUN_COUNTS,
    "variants_judged",
    "approvals_carried",
    "batch_generated",
    "batch_prompt_tokens",
    "batch_completion_tokens",
    "judge_calls",
    "judge_reused",
    "judge_failed",
    "judge_prompt_tokens",
    "judge_completion_tokens",
    "repair_prompt_tokens",
    "repair_completion_tokens",
)
_COSTS = (
    "estimated_cost_usd",
    "judge_estimated_cost_usd",
    "online_equivalent_cost_usd",
    "repair_cost_usd",
)


def _variant_summary(resources: dict, runs: list[dict], pairs: int, waiting: int = 0) -> dict:
    """What ``segcopy run`` reports of the variants: the last run's metadata, with the counts
    and costs of all runs added up; the pairs of the segments that needed no run count as
    reused."""
    prompt_set = resources["copywriter"].prompt_set()
    judge = resources["judge"]
    summary: dict = {**(runs[-1] if runs else {})}
    for key in _SUMMED:
        if key.startswith("judge_") and not judge.enabled:
            continue
        summary[key] = sum(int(m.get(key) or 0) for m in runs)
    for key in _COSTS:
        costs = [m[key] for m in runs if key in m]
        if key == "online_equivalent_cost_usd" and not costs:  # no batch in these runs
            continue
        unknown = [c for c in costs if isinstance(c, str)]  # no price for the model
        summary[key] = unknown[0] if unknown else round(sum(costs), 6)
    if not judge.enabled:
        summary.pop("judge_estimated_cost_usd")
    # the pairs of segments that needed no run were reused; those of runs that wait, not yet
    summary["reused"] += pairs - summary["pairs"] - waiting
    summary["pairs_waiting_on_batches"] = waiting
    summary["pairs"] = pairs
    summary.update(
        backend=prompt_set.backend,
        model=prompt_set.params.name,
        prompt_hash=prompt_set.hash,
        llm_judge=str(judge.model) if judge.enabled else judge_metadata(judge, None)["llm_judge"],
    )
    return summary


def table_check_results(resources: dict, segment_ids: list[str]) -> dict[str, bool]:
    """Each check passed if no variant of the current segments fails it (variant_checks)."""
    verdicts = variant_store.read_segments(
        resources["warehouse"].table_path(VARIANT_CHECKS), segment_ids, schema=VERDICT_SCHEMA
    )
    failing = set(verdicts.filter(~pl.col("passed"))["check"].unique().to_list())
    # the checks that ran: llm_judge only when the judge is on (the review page counts so too)
    ran = [c for c in CHECKS if c != "llm_judge" or resources["judge"].enabled]
    return {check: check not in failing for check in ran}


def _variant_runs(
    blocks: list[list[str]],
    resources: dict,
    instance: dg.DagsterInstance,
    run_config: dict,
    runs: list[dict],
) -> tuple[list[list[str]], int]:
    """One description_variants run per block; their metadata appended to ``runs``. Returns
    the blocks whose run wrote nothing because it waits on a provider batch, and their pairs."""
    waiting, waiting_pairs = [], 0
    for block in blocks:
        metadata, observed = range_run(
            lambda selection, **kw: _materialize(selection, resources, instance, **kw),
            description_variants.key,
            block,
            run_config,
        )
        if metadata is not None:
            runs.append(metadata)
        else:
            waiting.append(block)
            waiting_pairs += int(observed.get("pairs") or 0)
    return waiting, waiting_pairs


def run_pipeline(
    instance: dg.DagsterInstance,
    resources: dict,
    *,
    force_regenerate: bool = False,
    auto_approve_passing_checks: bool = False,
    wait: bool = False,
    log: Callable[[str], None] = print,
) -> PipelineReport:
    try:  # an unreachable warehouse store says so before anything else asks it
        delta.check_reachable(resources["warehouse"].root)
    except SegcopyError as exc:
        raise PipelineFailed(str(exc)) from None
    preflight(resources, reach_endpoints=_may_call_a_model(instance, resources, force_regenerate))
    # The CDP first and products after, in separate runs: Dagster runs independent steps of a
    # run even when one fails, which would rewrite products after a bad CDP table. An unchanged
    # CDP table (same version, same segmentation) is not read again.
    skipped = []
    # an unchanged asset whose last run failed runs anyway: the UI shows it red until one succeeds
    if (
        force_regenerate
        or not run_plan.cdp_unchanged(instance, resources)
        or run_plan.last_attempt_failed(instance, *CDP_ASSETS)
    ):
        _materialize(CDP_ASSETS, resources, instance)
    else:
        skipped.append("CDP (same table version and segmentation)")
    if (
        force_regenerate
        or not run_plan.products_unchanged(instance, resources)
        or run_plan.last_attempt_failed(instance, products.key)
    ):
        _materialize([products.key], resources, instance)
    else:
        skipped.append("products (same source version)")

    summaries_path = resources["warehouse"].table_path(SEGMENT_SUMMARIES)
    segment_ids = pl.read_delta(summaries_path, columns=["segment_id"])["segment_id"].to_list()
    added, removed = sync_segment_partitions(instance, segment_ids)
    keys = list(instance.get_dynamic_partitions(SEGMENTS))
    if not keys:
        raise PipelineFailed("segment_summaries produced no segments: nothing to generate")

    # Decide first, from the hashes, which segments need a run: unchanged ones get none.
    try:
        stale = keys if force_regenerate else run_plan.stale_partitions(instance, resources, keys)
    except SegcopyError as exc:
        raise PipelineFailed(str(exc)) from None
    run_config = {
        "ops": {description_variants.op.name: {"config": {"force_regenerate": force_regenerate}}}
    }
    runs: list[dict] = []
    segments_run = range_runs = 0
    while True:
        blocks = merge_blocks(keys, contiguous_blocks(keys, stale), MAX_RANGE_RUNS)
        waiting, waiting_pairs = _variant_runs(blocks, resources, instance, run_config, runs)
        segments_run += sum(len(b) for b in blocks)
        range_runs += len(blocks)
        if not waiting or not wait:
            break
        # --wait: poll the open batches until they end, then run the same segments to collect
        batch_waiting.wait_for_batches(resources, log=log)
        stale = [s for b in waiting for s in b]  # the collect runs (same config: a forced
        # refresh in batch mode keeps only this refresh's answers)
    pairs = expected_pair_count(resources)
    metadata = _variant_summary(resources, runs, pairs, waiting_pairs)
    metadata["segments_run"] = segments_run
    metadata["range_runs"] = range_runs
    metadata["segments_waiting_on_batches"] = sum(len(b) for b in waiting)
    check_results = table_check_results(resources, keys)

    config = PublishingConfig(auto_approve_passing_checks=auto_approve_passing_checks)
    pub_meta = run_plan.published_unchanged(instance, resources, config)
    if pub_meta is not None and run_plan.last_attempt_failed(instance, published_variants.key):
        pub_meta = None  # unchanged, but its last run failed: run it so the UI is not left red
    if pub_meta is not None:
        skipped.append("publishing (every table it reads at the same version)")
    else:  # a table it reads, its config or the rules moved: publish again
        published = _materialize(
            [published_variants.key],
            resources,
            instance,
            run_config={"ops": {published_variants.op.name: {"config": config.model_dump()}}},
        )
        node = published_variants.key.path[-1]
        metadata_values = published.asset_materializations_for_node(node)[0].metadata
        pub_meta = {k: v.value for k, v in metadata_values.items()}
    # after publishing: a channel run that fails (an outage) never holds back published copy
    channels = run_channels(
        resources,
        keys,
        lambda selection, **kw: _materialize(selection, resources, instance, **kw),
        instance=instance,
        force=force_regenerate,
        auto_approve_passing_checks=auto_approve_passing_checks,
        wait=wait,
        log=log,
    )
    return PipelineReport(
        added,
        removed,
        metadata,
        check_results,
        published=int(pub_meta["published"]),
        withheld=int(pub_meta["withheld"]),
        segment_ids=keys,
        skipped=skipped,
        failing=pending_failures(resources["warehouse"], resources["copywriter"]),
        superseded=int(pub_meta.get("superseded") or 0),
        channels=channels,
    )
