"""The whole asset graph in process: what ``segcopy run`` does (and the end-to-end tests).

Upstream assets run first; the segments they define become ``segments`` partitions; then every
segment's variants are generated in ONE run over the partition range, so calls are concurrent
across all segments and no process is started per segment.
"""

from dataclasses import dataclass

import dagster as dg
import polars as pl

from segcopy_assets.definitions import ALL_ASSETS, ALL_CHECKS
from segcopy_assets.defs.cdp.assets import cdp_customers, segment_summaries
from segcopy_assets.defs.cdp.partitions import SEGMENTS, sync_segment_partitions
from segcopy_assets.defs.content.assets import products
from segcopy_assets.defs.generation.assets import description_variants
from segcopy_assets.defs.publishing.assets import customer_variant_assignments, published_variants
from segcopy_assets.errors import SegcopyError
from segcopy_assets.storage.tables import SEGMENT_SUMMARIES

CDP_ASSETS = [cdp_customers.key, segment_summaries.key]
PUBLISHING = [published_variants.key, customer_variant_assignments.key]


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
    result = dg.materialize(
        [*ALL_ASSETS, *ALL_CHECKS],
        selection=selection,
        resources=resources,
        instance=instance,
        raise_on_error=False,
        run_config=run_config,
        **kwargs,
    )
    if not result.success:
        raise PipelineFailed(_failure_message(result))
    return result


def preflight(resources: dict) -> None:
    """Check the cheap inputs (products, prompts, copywriter settings) before any table is
    written, so bad input there fails the run with every table as it was."""
    try:
        resources["product_repository"].load()
        copywriter = resources["copywriter"]
        copywriter.writer(copywriter.prompt_set())
    except SegcopyError as exc:
        raise PipelineFailed(str(exc)) from None


def run_pipeline(
    instance: dg.DagsterInstance, resources: dict, *, force_regenerate: bool = False
) -> PipelineReport:
    preflight(resources)
    # The CDP first and products after, in separate runs: Dagster runs independent steps of a
    # run even when one fails, which would rewrite products after a bad CDP table.
    _materialize(CDP_ASSETS, resources, instance)
    _materialize([products.key], resources, instance)

    summaries_path = resources["warehouse"].table_path(SEGMENT_SUMMARIES)
    segment_ids = pl.read_delta(summaries_path, columns=["segment_id"])["segment_id"].to_list()
    added, removed = sync_segment_partitions(instance, segment_ids)
    keys = instance.get_dynamic_partitions(SEGMENTS)
    if not keys:
        raise PipelineFailed("segment_summaries produced no segments: nothing to generate")

    run_config = {
        "ops": {description_variants.op.name: {"config": {"force_regenerate": force_regenerate}}}
    }
    result = _materialize(
        [description_variants.key],
        resources,
        instance,
        run_config=run_config,
        tags={
            "dagster/asset_partition_range_start": keys[0],
            "dagster/asset_partition_range_end": keys[-1],
        },
    )
    materializations = result.asset_materializations_for_node(description_variants.key.path[-1])
    metadata = (
        {k: v.value for k, v in materializations[0].metadata.items()} if materializations else {}
    )
    check_results: dict[str, bool] = {}  # a check passed if it passed on every partition
    for event in result.all_events:
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            evaluation = event.asset_check_evaluation_data
            check_results[evaluation.check_name] = (
                check_results.get(evaluation.check_name, True) and evaluation.passed
            )

    published = _materialize(PUBLISHING, resources, instance)
    pub_meta = published.asset_materializations_for_node(published_variants.key.path[-1])[
        0
    ].metadata
    return PipelineReport(
        added,
        removed,
        metadata,
        check_results,
        published=pub_meta["published"].value,
        withheld=pub_meta["withheld"].value,
    )
