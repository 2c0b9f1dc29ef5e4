"""``segcopy run``'s runs of the channel assets (``defs/channels``): after the descriptions, for
each channel, only the segments whose rows are not current (``channel_runs.stale_segments``),
in contiguous range runs, then its publication (``<channel>_published``) when a table it reads
moved; a channel with nothing stale and nothing to publish gets no run (a rerun writes no
events)."""

from collections.abc import Callable

import dagster as dg
import polars as pl

from segcopy_assets import batch_waiting
from segcopy_assets.core.refresh_planning import MAX_RANGE_RUNS, contiguous_blocks, merge_blocks
from segcopy_assets.defs.channels.assets import channel_paths
from segcopy_assets.defs.channels.definitions import CHANNEL_ASSETS, CHANNEL_PUBLISHED
from segcopy_assets.defs.channels.publishing import channel_publishing_inputs
from segcopy_assets.defs.generation.partition_metadata import run_view
from segcopy_assets.defs.publishing.assets import PublishingConfig
from segcopy_assets.generation.channel_runs import stale_segments
from segcopy_assets.generation.channels import generated_channels
from segcopy_assets.storage import variant_store
from segcopy_assets.storage.tables import PRODUCTS, SEGMENT_SUMMARIES, VERDICT_SCHEMA

#: Metadata of a variants run (a channel's or the description's) that add up over range runs.
RUN_COUNTS = (
    "segments",
    "pairs",
    "calls_made",
    "reused",
    "failed",
    "prompt_tokens",
    "completion_tokens",
    "repair_calls",
    "repaired",
)


def run_channels(
    resources: dict,
    keys: list[str],
    materialize: Callable[..., dg.ExecuteInProcessResult],
    *,
    instance: dg.DagsterInstance,
    force: bool = False,
    auto_approve_passing_checks: bool = False,
    wait: bool = False,
    log: Callable[[str], None] = print,
) -> dict[str, dict[str, object]]:
    """Each channel's summed run metadata (``segments_run`` 0 when nothing was stale;
    ``segments_waiting_on_batches``: segments whose run waits on a provider batch, in batch
    mode) and its publication's (``published``, ``withheld``, ``superseded``): the channels
    ``SEGCOPY_CHANNELS`` selects now, among those the code location defined. ``wait``: poll a
    channel's open batches until they end, then run its waiting segments again to collect."""
    warehouse, copywriter = resources["warehouse"], resources["copywriter"]
    selected = set(generated_channels())
    summaries = pl.read_delta(warehouse.table_path(SEGMENT_SUMMARIES))
    products = pl.read_delta(warehouse.table_path(PRODUCTS))
    out: dict[str, dict[str, object]] = {}
    for name, asset in CHANNEL_ASSETS.items():
        if name not in selected:
            continue
        channel = copywriter.channel(name)
        paths = channel_paths(warehouse, name)
        stale = (
            keys
            if force
            else stale_segments(
                channel,
                summaries,
                products,
                paths,
                copywriter.max_attempts,
                copywriter.variants_per_pair,
            )
        )
        runs: list[dict[str, object]] = []
        todo, forced = stale, force
        while True:
            waiting = _runs(asset, keys, todo, forced, materialize, runs)
            if not waiting or not wait:
                break
            batch_waiting.wait_for_batches(resources, log=log, path=paths.batches)
            todo, forced = waiting, False  # the collect runs
        summary: dict[str, object] = {
            key: sum(int(str(m.get(key) or 0)) for m in runs) for key in RUN_COUNTS
        }
        verdicts = variant_store.read_segments(paths.checks, keys, schema=VERDICT_SCHEMA)
        failing = verdicts.filter(~pl.col("passed"))
        rows = variant_store.read_segments(paths.variants, keys)
        summary.update(
            segments_run=len(stale),
            segments_waiting_on_batches=len(waiting),
            channel_hash=channel.hash,
            range_runs=len(runs),
            variants=rows.height,
            # pairs whose latest generation failed (the last good copy, if any, kept)
            failing_pairs=rows.filter(
                (pl.col("status") != "ok") | pl.col("last_error").is_not_null()
            ).height,
            failing_error=int((failing["severity"] == "ERROR").sum()),
            failing_warn=int((failing["severity"] == "WARN").sum()),
            table=paths.variants,
            batch_generated=sum(int(str(m.get("batch_generated") or 0)) for m in runs),
            estimated_cost_usd=round(
                sum(float(str(m.get("estimated_cost_usd") or 0)) for m in runs), 6
            ),
        )
        summary.update(
            _publish(name, resources, materialize, instance, force, auto_approve_passing_checks)
        )
        out[name] = summary
    return out


def _publish(
    name: str,
    resources: dict,
    materialize: Callable[..., dg.ExecuteInProcessResult],
    instance: dg.DagsterInstance,
    force: bool,
    auto_approve: bool,
) -> dict[str, object]:
    """``<channel>_published``'s metadata: the last run's when every table it reads is at the
    version it read (``published_run`` False), else a new run's."""
    asset = CHANNEL_PUBLISHED[name]
    config = PublishingConfig(auto_approve_passing_checks=auto_approve)
    inputs = channel_publishing_inputs(
        name, resources["warehouse"], config, resources["copywriter"], resources["publication"]
    )
    records = instance.fetch_materializations(asset.key, limit=1).records
    event = records[0].asset_materialization if records else None
    last = {k: v.value for k, v in event.metadata.items()} if event is not None else {}
    ran = force or last.get("inputs_fingerprint") != inputs
    if ran:
        result = materialize(
            [asset.key],
            run_config={"ops": {asset.op.name: {"config": config.model_dump()}}},
        )
        done = result.asset_materializations_for_node(asset.key.path[-1])[0]
        last = {k: v.value for k, v in done.metadata.items()}
    return {
        "published_run": ran,
        **{k: int(str(last.get(k) or 0)) for k in ("published", "withheld", "superseded")},
    }


def _runs(
    asset: dg.AssetsDefinition,
    keys: list[str],
    segments: list[str],
    force: bool,
    materialize: Callable[..., dg.ExecuteInProcessResult],
    runs: list[dict[str, object]],
) -> list[str]:
    """Range runs of a channel's ``segments`` (their metadata appended to ``runs``); returns
    the segments whose run wrote nothing because it waits on a provider batch."""
    waiting: list[str] = []
    run_config = {"ops": {asset.op.name: {"config": {"force_regenerate": force}}}}
    for block in merge_blocks(keys, contiguous_blocks(keys, segments), MAX_RANGE_RUNS):
        metadata, _ = range_run(materialize, asset.key, block, run_config)
        if metadata is None:
            waiting += block
        else:
            runs.append(metadata)
    return waiting


def range_run(
    materialize: Callable[..., dg.ExecuteInProcessResult],
    key: dg.AssetKey,
    block: list[str],
    run_config: dict,
) -> tuple[dict | None, dict]:
    """One run of the variants asset ``key`` over the partitions ``block`` (a range): its
    materialization's metadata (a range run records one per partition, each with the run's
    metadata), or None when it wrote nothing (batch mode: it submitted to, or waits on, the
    provider's Batch API), and then its last observation's metadata."""
    result = materialize(
        [key],
        run_config=run_config,
        tags={
            "dagster/asset_partition_range_start": block[0],
            "dagster/asset_partition_range_end": block[-1],
        },
    )
    node = key.path[-1]
    events = result.asset_materializations_for_node(node)
    if events:  # the run's figures: a range run's partitions each carry their own
        return run_view({k: v.value for k, v in events[0].metadata.items()}), {}
    observed = result.asset_observations_for_node(node)
    return None, ({k: v.value for k, v in observed[-1].metadata.items()} if observed else {})
