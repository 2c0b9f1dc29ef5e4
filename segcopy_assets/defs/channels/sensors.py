"""``channel_sensor``: regenerates exactly the channel partitions that went stale.

A channel's row is current when its input hash (the channel's prompt hash, the segment's
summary hash, the product's content hash) has an ``ok`` row and verdicts in the channel's
tables (``channel_runs.stale_segments``): one comparison covers a prompt or limit edit, a moved
segment and a changed product. Runs cover contiguous partition ranges, one run each.
"""

import dagster as dg
import polars as pl

from segcopy_assets.core.hashing import digest
from segcopy_assets.defs.cdp.partitions import SEGMENTS
from segcopy_assets.defs.channels.assets import channel_paths
from segcopy_assets.defs.generation.sensors import variant_run_requests
from segcopy_assets.defs.sensor_support import RUNNING, interval
from segcopy_assets.errors import SegcopyError
from segcopy_assets.generation.channel_runs import stale_segments
from segcopy_assets.resources import Copywriter, Warehouse
from segcopy_assets.storage import delta
from segcopy_assets.storage.tables import PRODUCTS, SEGMENT_SUMMARIES


def build_channel_sensor(assets: dict[str, dg.AssetsDefinition]) -> dg.SensorDefinition:
    @dg.sensor(
        name="channel_sensor",
        minimum_interval_seconds=interval(30),
        default_status=RUNNING,
        asset_selection=list(assets.values()),
        description="Regenerates the segments of each channel (email subject, SMS, push, ...) "
        "whose rows are not current for the channel's prompt, the segment's summary and the "
        "products; the cache makes only the changed pairs cost a call.",
    )
    def channel_sensor(
        context: dg.SensorEvaluationContext, copywriter: Copywriter, warehouse: Warehouse
    ):
        try:
            if copywriter.batch_policy().mode != "online":
                return dg.SkipReason("batch mode: channels have no batch path yet")
        except SegcopyError as exc:
            return dg.SkipReason(f"copywriter settings unusable: {exc}")
        for table in (SEGMENT_SUMMARIES, PRODUCTS):
            if not delta.table_exists(warehouse.table_path(table)):
                return dg.SkipReason(f"{table} not materialized yet")
        summaries = pl.read_delta(warehouse.table_path(SEGMENT_SUMMARIES))
        products = pl.read_delta(warehouse.table_path(PRODUCTS))
        partitions = list(context.instance.get_dynamic_partitions(SEGMENTS))
        summaries = summaries.filter(pl.col("segment_id").is_in(partitions))
        requests, states, skipped = [], {}, []
        for name, asset in assets.items():
            try:
                channel = copywriter.channel(name)
            except SegcopyError as exc:
                skipped.append(f"{name}: {exc}")
                continue
            stale = stale_segments(
                channel,
                summaries,
                products,
                channel_paths(warehouse, name),
                copywriter.max_attempts,
            )
            if not stale:
                continue
            hashes = dict(summaries.select("segment_id", "summary_hash").iter_rows())
            state = [channel.hash, {s: hashes[s] for s in stale}, sorted(products["content_hash"])]
            states[name] = digest(state)
            requests += variant_run_requests(partitions, stale, f"channel-{name}", state, asset.key)
        for reason in skipped:
            context.log.warning(f"channel prompts unusable, nothing requested: {reason}")
        if not requests:
            return dg.SkipReason("every channel is up to date")
        cursor = digest(states)
        if context.cursor == cursor:
            return dg.SkipReason("these channel refreshes were already requested")
        context.update_cursor(cursor)
        return requests

    return channel_sensor
