"""Each partition of a range run shows its own figures (issue 26: a partition of `segcopy run`'s
range run said "segments 14, pairs 196" and previewed another segment's rows)."""

import dagster as dg

from segcopy_assets.defs.generation.assets import description_variants
from segcopy_assets.pipeline import run_pipeline


def latest_metadata(instance, partition: str) -> dict:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=description_variants.key, asset_partitions=[partition]),
        limit=1,
    ).records
    event = records[0].asset_materialization
    return {k: v.value for k, v in event.metadata.items()}


def test_each_partition_of_a_range_run_carries_its_own_figures(
    tmp_path, sample_tables, make_resources, instance
):
    resources = make_resources(tmp_path, sample_tables)
    report = run_pipeline(instance, resources)
    assert report.variant_metadata["range_runs"] == 1  # one run over the 14 segments
    assert report.variant_metadata["calls_made"] == 196  # the run's totals, as reported

    partitions = instance.get_dynamic_partitions("segments")
    assert len(partitions) == 14
    for segment in partitions:
        own = latest_metadata(instance, segment)
        assert (own["segments"], own["pairs"], own["dagster/row_count"]) == (1, 14, 14), segment
        assert (own["calls_made"], own["reused"], own["failed"]) == (14, 0, 0), segment
        # the preview quotes this segment's rows only
        assert segment in own["preview"]
        assert not any(other in own["preview"] for other in partitions if other != segment)
        # the run's totals, named as such
        assert (own["run_segments"], own["run_pairs"], own["run_calls_made"]) == (14, 196, 196)
        assert own["run_row_count"] == 196

    # segcopy run's runs are named jobs the UI can re-execute, not __ephemeral_asset_job__
    assert {r.job_name for r in instance.get_runs()} == {"segcopy_refresh", "variants_refresh"}

    # a rerun generates nothing: no new materialization, the figures stay each partition's own
    again = run_pipeline(instance, resources)
    assert again.variant_metadata["calls_made"] == 0


def test_a_channels_range_run_partitions_carry_their_own_figures(
    tmp_path, sample_tables, make_resources, instance, monkeypatch
):
    monkeypatch.setenv("SEGCOPY_CHANNELS", "sms")
    resources = make_resources(tmp_path, sample_tables)
    run_pipeline(instance, resources)
    key = dg.AssetKey("sms_variants")
    partitions = instance.get_dynamic_partitions("segments")
    for segment in partitions:
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=key, asset_partitions=[segment]), limit=1
        ).records
        own = {k: v.value for k, v in records[0].asset_materialization.metadata.items()}
        assert (own["segments"], own["pairs"], own["calls_made"]) == (1, 14, 14), own
        assert (own["run_segments"], own["run_pairs"]) == (14, 196), own
        assert segment in own["preview"]
