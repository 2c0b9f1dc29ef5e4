"""``channel_sensor``: regenerates exactly the channel partitions that went stale;
``channel_publishing_sensor``: publishes a channel again when its variants, verdicts, decisions
or batches changed, or its superseded copy passed its grace period.

A channel's row is current when its input hash (the channel's prompt hash, the segment's
summary hash, the product's content hash) has an ``ok`` row and verdicts in the channel's
tables (``channel_runs.stale_segments``): one comparison covers a prompt or limit edit, a moved
segment and a changed product. Runs cover contiguous partition ranges, one run each.
"""

import json
from datetime import timedelta

import dagster as dg
import polars as pl

from segcopy_assets.core.hashing import digest
from segcopy_assets.defs.cdp.partitions import SEGMENTS
from segcopy_assets.defs.channels.assets import BATCH_SENSOR
from segcopy_assets.defs.channels.publishing import channel_publishing_inputs, decision_tables
from segcopy_assets.defs.channels.staleness import channel_stale
from segcopy_assets.defs.generation.batch_sensor import collect_requests, poll_interval
from segcopy_assets.defs.generation.sensors import variant_run_requests
from segcopy_assets.defs.generation.staleness import describe, evaluation, recorded, unmeasured
from segcopy_assets.defs.jobs import REFRESH_JOB, VARIANTS_JOB
from segcopy_assets.defs.publishing.assets import PublishingConfig
from segcopy_assets.defs.sensor_support import RUNNING, interval, latest_metadata
from segcopy_assets.errors import SegcopyError
from segcopy_assets.resources import Copywriter, Publication, Warehouse
from segcopy_assets.review.publication_state import superseded_due
from segcopy_assets.storage import batch_store, delta
from segcopy_assets.storage.tables import (
    PRODUCTS,
    SEGMENT_SUMMARIES,
    channel_batches_table,
    channel_published_table,
    channel_variants_table,
)


def build_channel_sensors(
    assets: dict[str, dg.AssetsDefinition], published: dict[str, dg.AssetsDefinition]
) -> list[dg.SensorDefinition]:
    return [
        build_channel_sensor(assets),
        build_channel_batch_sensor(assets),
        build_channel_publishing_sensor(published),
    ]


def build_channel_batch_sensor(assets: dict[str, dg.AssetsDefinition]) -> dg.SensorDefinition:
    @dg.sensor(
        name=BATCH_SENSOR,
        minimum_interval_seconds=poll_interval(),
        default_status=RUNNING,
        job_name=VARIANTS_JOB,
        description="Polls each channel's open Batch API batches (SEGCOPY_LLM_MODE=batch|auto) "
        "and, when one ends, requests the runs that collect its answers into the channel.",
    )
    def channel_batch_sensor(
        context: dg.SensorEvaluationContext, copywriter: Copywriter, warehouse: Warehouse
    ):
        requests: list[dg.RunRequest] = []
        still_open = []
        for name, asset in assets.items():
            path = warehouse.table_path(channel_batches_table(name))
            found, open_ = collect_requests(context, copywriter, path, asset.key, f"{name}-batch")
            if isinstance(found, dg.SkipReason):
                continue
            requests += found
            if open_.height:
                still_open.append(f"{name}: {batch_store.summary(open_)}")
        if not requests:
            return dg.SkipReason(
                "; ".join(still_open) + " still open" if still_open else "no open batch"
            )
        context.log.info(f"{len(requests)} channel collect run(s) requested")
        return dg.SensorResult(run_requests=requests)

    return channel_batch_sensor


def build_channel_sensor(assets: dict[str, dg.AssetsDefinition]) -> dg.SensorDefinition:
    @dg.sensor(
        name="channel_sensor",
        minimum_interval_seconds=interval(30),
        default_status=RUNNING,
        job_name=VARIANTS_JOB,
        description="Regenerates the segments of each channel (email subject, SMS, push, ...) "
        "whose rows are not current for the channel's prompt, the segment's summary and the "
        "products; the cache makes only the changed pairs cost a call.",
    )
    def channel_sensor(
        context: dg.SensorEvaluationContext, copywriter: Copywriter, warehouse: Warehouse
    ):
        try:
            copywriter.batch_policy()
        except SegcopyError as exc:
            return dg.SkipReason(f"copywriter settings unusable: {exc}")
        for table in (SEGMENT_SUMMARIES, PRODUCTS):
            if not delta.table_exists(warehouse.table_path(table)):
                return dg.SkipReason(f"{table} not materialized yet")
        summaries = pl.read_delta(warehouse.table_path(SEGMENT_SUMMARIES))
        products = pl.read_delta(warehouse.table_path(PRODUCTS))
        partitions = list(context.instance.get_dynamic_partitions(SEGMENTS))
        hashes = dict(summaries.select("segment_id", "summary_hash").iter_rows())
        requests, states, skipped, results = [], {}, [], {}
        for name, asset in assets.items():
            try:
                channel = copywriter.channel(name)
                stale = channel_stale(
                    channel, copywriter, warehouse, partitions, summaries, products
                )
            except SegcopyError as exc:
                skipped.append(f"{name}: {exc}")
                results[name] = unmeasured(str(exc))
                continue
            results[name] = describe(stale)
            if not stale:
                continue
            state = [channel.hash, {s: hashes[s] for s in stale}, sorted(products["content_hash"])]
            states[name] = digest(state)
            requests += variant_run_requests(partitions, stale, f"channel-{name}", state, asset.key)
        for reason in skipped:
            context.log.warning(f"channel prompts unusable, nothing requested: {reason}")
        # each channel's inputs_current check, recorded when its result differs from the latest
        # one the instance holds (issue 26)
        events = [
            evaluation(assets[name].key, result)
            for name, result in results.items()
            if recorded(context.instance, assets[name].key) != result[1]
        ]
        cursor = digest(states)
        send = requests if requests and context.cursor != cursor else []
        if send:
            context.update_cursor(cursor)
        if not send and not events:
            if requests:
                return dg.SkipReason("these channel refreshes were already requested")
            return dg.SkipReason("every channel is up to date")
        return dg.SensorResult(run_requests=send, asset_events=events)

    return channel_sensor


def build_channel_publishing_sensor(
    published: dict[str, dg.AssetsDefinition],
) -> dg.SensorDefinition:
    @dg.sensor(
        name="channel_publishing_sensor",
        minimum_interval_seconds=interval(30),
        default_status=RUNNING,
        job_name=REFRESH_JOB,
        description="Publishes a channel again when its variants, verdicts, review decisions or "
        "sampling batches change, or when its superseded copy passed its grace period.",
    )
    def channel_publishing_sensor(
        context: dg.SensorEvaluationContext,
        warehouse: Warehouse,
        publication: Publication,
        copywriter: Copywriter,
    ):
        grace = timedelta(days=publication.superseded_grace_days)
        states, selection = {}, []
        for name, asset in published.items():
            versions = {
                t: delta.table_version(warehouse.table_path(t)) for t in decision_tables(name)
            }
            if versions[channel_variants_table(name)] is None:
                continue
            path = warehouse.table_path(channel_published_table(name))
            if superseded_due(path, grace):
                versions["superseded_due"] = delta.table_version(path)
            states[name] = digest(versions)
            if _changed(context.cursor, name, states) and not _published_current(
                context, name, asset, warehouse, copywriter, publication
            ):
                selection.append(asset.key)
        if not states:
            return dg.SkipReason("no channel variants yet")
        context.update_cursor(json.dumps(states, sort_keys=True))
        if not selection:
            return dg.SkipReason("no new channel variants or decisions")
        return dg.RunRequest(
            run_key=f"publish-channels:{digest(states)}", asset_selection=selection
        )

    return channel_publishing_sensor


def _published_current(context, name, asset, warehouse, copywriter, publication) -> bool:
    """Whether the channel's last publication read the inputs a run now would (the daemon's
    first tick after ``segcopy run`` published them)."""
    current = channel_publishing_inputs(
        name, warehouse, PublishingConfig(), copywriter, publication
    )
    return latest_metadata(context.instance, asset, "inputs_fingerprint") == current


def _changed(cursor: str | None, name: str, states: dict[str, str]) -> bool:
    """Whether channel ``name``'s state differs from the one the cursor recorded."""
    try:
        before = json.loads(cursor) if cursor else {}
    except ValueError:
        before = {}
    return not isinstance(before, dict) or before.get(name) != states[name]
