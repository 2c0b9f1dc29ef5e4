"""One variants asset per channel of ``prompts/channels/`` (``<channel>_variants``), made by one
factory, partitioned by segment like ``description_variants``; and a check of each.

Which channels get an asset is ``SEGCOPY_CHANNELS`` (default: every folder of
``prompts/channels/``). ``web_description`` is ``description_variants`` itself; the other channels are generated,
cached by input hash, journalled, judged by their channel checks and reported here, and
published per pair x arm by ``<channel>_published`` (``defs/channels/publishing``). A separate asset per channel rather than one asset
partitioned by channel × segment: each channel keeps its own code version (its prompt hash: a
tweak to the SMS prompt marks only the SMS partitions stale), its own table and its own check,
and the segments partitions stay the one dynamic dimension the sensors add to.
"""

from datetime import UTC, datetime

import dagster as dg
import polars as pl
from pydantic import Field

from segcopy_assets.core.continuity import CHANNEL_SLOT
from segcopy_assets.defs.cdp.assets import segment_definitions
from segcopy_assets.defs.cdp.partitions import segments_partitions
from segcopy_assets.defs.channels.batching import channel_batch_round
from segcopy_assets.defs.failures import reported_as_failure
from segcopy_assets.defs.generation.batching import batch_metadata, waiting_observation
from segcopy_assets.defs.generation.partition_metadata import partition_metadata, run_totals
from segcopy_assets.defs.generation.repairs import repair_metadata
from segcopy_assets.defs.generation.run_guards import read_run_segments, require_summaries_landed
from segcopy_assets.defs.generation.run_support import carry_approvals
from segcopy_assets.defs.metadata import cost_value, markdown_table
from segcopy_assets.errors import SegcopyError
from segcopy_assets.generation import journal as generation_journal
from segcopy_assets.generation.channel_runs import (
    ChannelPaths,
    plan_channel,
    run_channel,
)
from segcopy_assets.quality.channel_checks import CHANNEL_CHECKS
from segcopy_assets.resources import Copywriter, Warehouse, copywriter_from_env
from segcopy_assets.storage import variant_store
from segcopy_assets.storage.tables import (
    CHANNEL_VARIANT_SCHEMA,
    VERDICT_SCHEMA,
    channel_reviews_table,
    channel_tables,
)

GROUP = "channels"


def channel_paths(warehouse: Warehouse, channel: str) -> ChannelPaths:
    return ChannelPaths.of(warehouse, channel)


def _code_version(channel: str) -> str | None:
    try:
        return copywriter_from_env().channel(channel).hash
    except SegcopyError:
        return None  # a broken channel prompt fails the run with its error


def _preview(rows: pl.DataFrame) -> str:
    sample = rows.filter(pl.col("status") == "ok").head(4)
    return markdown_table(
        sample.select("segment_id", "product_id", "variant_text", "rationale"),
        max_rows=4,
        max_chars=300,
    )


def failing_counts(verdicts: pl.DataFrame) -> dict[str, int]:
    failing = verdicts.filter(~pl.col("passed"))
    return {check: int((failing["check"] == check).sum()) for check in CHANNEL_CHECKS}


#: The sensor that requests a channel's collect runs (defs/channels/sensors.py).
BATCH_SENSOR = "channel_batch_sensor"


def _batch_metadata(mode: str, rows, previous, spec, stats) -> dict:
    """Batch counts and costs of a run in batch or auto mode (none online)."""
    if mode == "online":
        return {}
    written = set(previous.filter(pl.col("status") == "ok")["input_hash"].to_list())
    online = (stats.prompt_tokens, stats.completion_tokens)
    return batch_metadata(rows, written, spec.prompt_set, online, mode)


class ChannelVariantsConfig(dg.Config):
    force_regenerate: bool = Field(
        default=False, description="Call the model even where an identical generation exists."
    )


def build_channel_variants(channel: str) -> dg.AssetsDefinition:
    variants_table = channel_tables(channel)[0]

    @dg.asset(
        name=variants_table,
        partitions_def=segments_partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        group_name=GROUP,
        kinds={"openai", "deltalake", "polars"},
        code_version=_code_version(channel),
        op_tags={"dagster/priority": "-1"},  # after segment_summaries (run_guards)
        pool="llm",
        deps=[segment_definitions],
        # in batch mode a run that submitted (or waits on) a provider batch writes nothing
        output_required=False,
        description=f"Copy of the {channel} channel (prompts/channels/{channel}/) for every "
        "product and segment, with a Rationale; cached by input hash, journalled, judged by the "
        f"channel's checks (verdicts in {channel_tables(channel)[1]}). A pair whose generation "
        "fails keeps its last good row. In batch mode (SEGCOPY_LLM_MODE) a run submits to the "
        "provider's Batch API; channel_batch_sensor requests the run that collects it.",
    )
    def _asset(
        context: dg.AssetExecutionContext,
        config: ChannelVariantsConfig,
        copywriter: Copywriter,
        warehouse: Warehouse,
        products: pl.DataFrame,
    ):
        segment_ids = list(context.partition_keys)
        run_started = datetime.now(UTC)
        require_summaries_landed(context)
        segments = read_run_segments(warehouse, segment_ids)
        paths = channel_paths(warehouse, channel)
        with reported_as_failure():
            spec = copywriter.channel(channel)
            writer = copywriter.writer(spec.prompt_set, spec)
            k = copywriter.variants_per_pair
            previous = variant_store.read_channel_rows(paths.variants, segment_ids)
            plan = plan_channel(
                spec,
                segments,
                products,
                paths,
                max_attempts=copywriter.max_attempts,
                variants_per_pair=k,
            )
            mode, round_ = copywriter.batch_policy().mode, None
            if mode != "online":  # --force-regenerate in batch mode: online, as asked
                round_ = (
                    None
                    if config.force_regenerate
                    else (channel_batch_round(context, copywriter, spec, paths, plan))
                )
                if round_ is not None and round_.must_wait:
                    context.log_event(
                        waiting_observation(
                            context, round_, paths.batches, len(plan.hashes), BATCH_SENSOR
                        )
                    )
                    return
            done = run_channel(
                spec,
                segments,
                products,
                writer,
                paths,
                max_attempts=copywriter.max_attempts,
                variants_per_pair=k,
                force_regenerate=config.force_regenerate,
                on_progress=lambda n, total: context.log.info(f"{channel}: generated {n}/{total}"),
                # an unreachable endpoint: one line, nothing written
                before_calls=copywriter.preflight,
                plan=plan,
                repair_attempts=copywriter.repair_attempts,
            )
        rows, verdicts, stats = done.rows, done.verdicts, done.stats
        if stats.calls == 0 and variant_store.unchanged(paths.variants, rows, segment_ids):
            version: int | None = None
        else:
            version = variant_store.replace_segments(
                paths.variants, rows, segment_ids, schema=CHANNEL_VARIANT_SCHEMA
            )
        if not variant_store.unchanged(
            paths.checks, verdicts, segment_ids, key=list(VERDICT_SCHEMA)
        ):
            variant_store.replace_segments(
                paths.checks, verdicts, segment_ids, schema=VERDICT_SCHEMA
            )
        harvested = round_.harvested.height if round_ is not None else 0
        if stats.calls or done.recovered or harvested:
            generation_journal.forget_segments(paths.journal, segment_ids)
        # a prompt tweak that leaves an arm's text as it was keeps its approval (and its copy live)
        carried = carry_approvals(
            context, warehouse, previous, rows, channel_reviews_table(channel), CHANNEL_SLOT
        )
        counts = failing_counts(verdicts)
        if any(counts.values()):
            context.log.warning(
                f"{channel}: failing verdicts "
                + ", ".join(f"{c}={n}" for c, n in counts.items() if n)
            )
        context.log.info(
            f"{channel}: {len(segment_ids)} segment(s), {rows.height} variants ({k} arm(s)); "
            f"{stats.calls} call(s), {stats.reused} reused, {stats.failed} failed"
        )
        metadata = {
            "channel": channel,
            "channel_hash": spec.hash,
            "segments": dg.MetadataValue.int(len(segment_ids)),
            "pairs": dg.MetadataValue.int(rows.height // max(k, 1)),
            "arms": dg.MetadataValue.int(k),
            "variants": dg.MetadataValue.int(rows.height),
            "calls_made": dg.MetadataValue.int(stats.calls),
            "reused": dg.MetadataValue.int(stats.reused - harvested),
            "failed": dg.MetadataValue.int(stats.failed),
            "recovered_from_journal": dg.MetadataValue.int(done.recovered),
            "parked": dg.MetadataValue.int(done.parked),
            "approvals_carried": dg.MetadataValue.int(carried),
            "prompt_tokens": dg.MetadataValue.int(stats.prompt_tokens),
            "completion_tokens": dg.MetadataValue.int(stats.completion_tokens),
            "estimated_cost_usd": cost_value(
                stats.cost_usd(spec.prompt_set.price_per_1m()), spec.prompt_set.params.name
            ),
            # batch answers at the batch price (overrides the estimate above)
            **_batch_metadata(mode, rows, previous, spec, stats),
            **repair_metadata(stats, spec.prompt_set, copywriter.repair_attempts),
            **{f"failing_{c}": dg.MetadataValue.int(n) for c, n in counts.items()},
            "table_uri": paths.variants,
            "table_version": dg.MetadataValue.int(version)
            if version is not None
            else dg.MetadataValue.text("unchanged"),
            "preview": dg.MetadataValue.md(_preview(rows)),
        }
        # a range run: each partition's own figures, the run's as run_* (as the description)
        per_segment = partition_metadata(
            rows,
            rows,
            segment_ids,
            run_started,
            spec.prompt_set.price_per_1m(),
            spec.prompt_set.params.name,
            _preview,
            arms=k,
        )
        if per_segment:
            metadata.update(run_totals(metadata))
        for segment, values in per_segment.items():
            context.add_asset_metadata(values, partition_key=segment)
        yield dg.MaterializeResult(metadata=metadata)

    return _asset


def build_channel_check(channel: str, asset: dg.AssetsDefinition) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=asset,
        name="channel_rules",
        blocking=False,
        description=f"Every {channel} variant of the materialized segments passes the channel's "
        "ERROR rules (limits, required text, content); WARN rules are reported, not failed.",
    )
    def _check(context: dg.AssetCheckExecutionContext, warehouse: Warehouse) -> dg.AssetCheckResult:
        paths = channel_paths(warehouse, channel)
        verdicts = variant_store.read_segments(paths.checks, None, schema=VERDICT_SCHEMA)
        rows = variant_store.read_segments(paths.variants, None)
        failing = verdicts.filter(~pl.col("passed"))
        errors = failing.filter(pl.col("severity") == "ERROR")
        not_ok = rows.filter(pl.col("status") != "ok")
        return dg.AssetCheckResult(
            passed=errors.is_empty() and not_ok.is_empty(),
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "variants": dg.MetadataValue.int(rows.height),
                "failed_generations": dg.MetadataValue.int(not_ok.height),
                **{
                    f"failing_{c}": dg.MetadataValue.int(n)
                    for c, n in failing_counts(verdicts).items()
                },
                "failing": dg.MetadataValue.md(
                    markdown_table(
                        failing.select("segment_id", "product_id", "check", "severity", "reason"),
                        max_rows=30,
                        max_chars=200,
                    )
                    if failing.height
                    else "none"
                ),
            },
        )

    return _check
