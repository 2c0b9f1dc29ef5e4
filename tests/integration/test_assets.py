"""Asset tests: the real graph through dg.materialize on temp dirs (offline writer)."""

import shutil

import dagster as dg
import polars as pl
import pytest
from deltalake import DeltaTable

from segcopy_assets.dagster_compat import PartitionKeyFilter
from segcopy_assets.definitions import ALL_ASSETS
from segcopy_assets.defs.cdp.partitions import segments_partitions
from segcopy_assets.pipeline import PipelineFailed, run_pipeline
from segcopy_assets.resources import CdpSource, Copywriter, ProductRepository

UPSTREAM = ["cdp_customers", "segment_summaries", "products"]


def materialize(resources, instance, selection, **kwargs):
    return dg.materialize(
        ALL_ASSETS,
        selection=selection,
        resources=resources,
        instance=instance,
        raise_on_error=False,
        **kwargs,
    )


def variants(resources):
    return pl.read_delta(resources["warehouse"].table_path("description_variants"))


def variant_meta(result):
    mats = result.asset_materializations_for_node("description_variants")
    return {k: v.value for k, v in mats[0].metadata.items()}


@pytest.fixture
def resources(tmp_path, sample_tables, make_resources):
    return make_resources(tmp_path, sample_tables)


def test_upstream_assets_write_delta_tables_with_counts(resources, instance):
    result = materialize(resources, instance, UPSTREAM)
    assert result.success
    wh = resources["warehouse"]
    assert pl.read_delta(wh.table_path("cdp_customers")).height == 20_000
    assert pl.read_delta(wh.table_path("segment_summaries")).height == 14
    assert pl.read_delta(wh.table_path("products")).height == 14
    meta = result.asset_materializations_for_node("cdp_customers")[0].metadata
    assert meta["row_count"].value == 20_000
    assert meta["num_rows"].value == 20_000  # the IO manager's own stats, repaired
    assert meta["source_table_version"].value == 0
    summaries_meta = result.asset_materializations_for_node("segment_summaries")[0].metadata
    assert summaries_meta["customers_covered"].value == 20_000


def test_bad_input_fails_clearly_and_leaves_tables_as_they_were(
    tmp_path, resources, instance, sample_tables
):
    assert materialize(resources, instance, UPSTREAM).success
    wh = resources["warehouse"]
    before = {t: DeltaTable(wh.table_path(t)).version() for t in UPSTREAM}
    bad = tmp_path / "bad_products.csv"
    pl.read_delta(sample_tables["products"]).with_columns(
        pl.when(pl.col("product_id") == "TN-100")
        .then(pl.lit(""))
        .otherwise(pl.col("description"))
        .alias("description")
    ).write_csv(bad)
    broken = {**resources, "product_repository": ProductRepository(path=str(bad))}
    result = materialize(broken, instance, UPSTREAM)
    assert not result.success
    failure = [e for e in result.all_events if e.is_step_failure][0]
    message = failure.step_failure_data.error.message
    assert "column 'description'" in message and "TN-100" in message and str(bad) in message
    assert DeltaTable(wh.table_path("products")).version() == before["products"]

    # A null segment key in the CDP: cdp_customers fails, segment_summaries never runs.
    customers = tmp_path / "bad_customers"
    pl.read_delta(sample_tables["customers"]).with_columns(
        pl.when(pl.col("customer_id") == "AMP-0000000042")
        .then(None)
        .otherwise(pl.col("preferred_subcategory"))
        .alias("preferred_subcategory")
    ).write_delta(customers)
    broken = {**resources, "cdp": CdpSource(delta_path=str(customers))}
    before = {t: DeltaTable(wh.table_path(t)).version() for t in UPSTREAM}
    result = materialize(broken, instance, UPSTREAM)
    assert not result.success
    message = [e for e in result.all_events if e.is_step_failure][0].step_failure_data.error.message
    assert "column 'preferred_subcategory'" in message and "AMP-0000000042" in message
    for table in ("cdp_customers", "segment_summaries"):
        assert DeltaTable(wh.table_path(table)).version() == before[table]


def test_full_run_single_range_writes_every_pair_once(resources, instance):
    report = run_pipeline(instance, resources)
    df = variants(resources)
    assert len(report.segments_added) == 14
    assert df.height == 14 * 14
    assert df.select("segment_id", "product_id").n_unique() == 196
    assert (df["status"] == "ok").all()
    assert df["rationale"].str.len_chars().min() > 0
    assert report.variant_metadata["calls_made"] == 196
    # one Delta commit for the whole range, one materialization per partition
    assert DeltaTable(resources["warehouse"].table_path("description_variants")).version() == 0
    records = instance.fetch_materializations(
        dg.AssetKey("description_variants"), limit=100
    ).records
    assert sorted(r.partition_key for r in records) == sorted(
        instance.get_dynamic_partitions("segments")
    )


@pytest.mark.postgres
def test_rerun_calls_nothing_and_keeps_generated_at(resources, dagster_instance):
    instance = dagster_instance  # SQLite, and PostgreSQL
    run_pipeline(instance, resources)
    first = variants(resources).sort("segment_id", "product_id")
    path = resources["warehouse"].table_path("description_variants")
    version = DeltaTable(path).version()
    report = run_pipeline(instance, resources)
    assert report.variant_metadata["calls_made"] == 0
    assert report.variant_metadata["reused"] == 196
    assert report.variant_metadata["range_runs"] == 0  # nothing stale: no variants run at all
    assert DeltaTable(path).version() == version
    again = variants(resources).sort("segment_id", "product_id")
    assert again["generated_at"].to_list() == first["generated_at"].to_list()


def test_changed_segment_summary_regenerates_only_that_segment(
    tmp_path, resources, instance, sample_tables
):
    run_pipeline(instance, resources)
    before = variants(resources)
    # Move every Low-tier E-Bikes customer to Mountain West: only e-bikes--core's summary moves.
    changed = tmp_path / "customers_v2"
    pl.read_delta(sample_tables["customers"]).with_columns(
        pl.when(
            (pl.col("preferred_subcategory") == "E-Bikes") & (pl.col("predicted_clv_tier") == "Low")
        )
        .then(pl.lit("Mountain West"))
        .otherwise(pl.col("region"))
        .alias("region")
    ).write_delta(changed)
    resources = {**resources, "cdp": CdpSource(delta_path=str(changed))}
    report = run_pipeline(instance, resources)
    assert report.variant_metadata["calls_made"] == 14
    after = variants(resources)
    moved = after.join(before, on=["segment_id", "product_id"], suffix="_old").filter(
        pl.col("generated_at") != pl.col("generated_at_old")
    )
    assert set(moved["segment_id"]) == {"e-bikes--core"}


def test_prompt_edit_regenerates_everything(tmp_path, resources, instance, prompts_dir):
    prompts = tmp_path / "prompts"
    shutil.copytree(prompts_dir, prompts)
    resources = {**resources, "copywriter": Copywriter(backend="offline", prompts_dir=str(prompts))}
    run_pipeline(instance, resources)
    (prompts / "system.md.j2").write_text(
        (prompts / "system.md.j2").read_text() + "\nKeep it short.\n"
    )
    report = run_pipeline(instance, resources)
    assert report.variant_metadata["calls_made"] == 196
    assert variants(resources)["prompt_hash"].n_unique() == 1


def test_single_partition_run_replaces_only_its_segment(resources, instance):
    run_pipeline(instance, resources)
    path = resources["warehouse"].table_path("description_variants")
    version = DeltaTable(path).version()
    result = materialize(
        resources,
        instance,
        ["description_variants"],
        partition_key="tents--core",
        run_config={"ops": {"description_variants": {"config": {"force_regenerate": True}}}},
    )
    assert result.success
    assert variant_meta(result)["calls_made"] == 14
    assert DeltaTable(path).version() == version + 1
    df = variants(resources)
    assert df.height == 196
    latest = df.filter(pl.col("generated_at") == df["generated_at"].max())
    assert set(latest["segment_id"]) == {"tents--core"}


def test_broken_prompt_fails_before_any_write(tmp_path, resources, instance, prompts_dir):
    run_pipeline(instance, resources)
    path = resources["warehouse"].table_path("description_variants")
    version = DeltaTable(path).version()
    prompts = tmp_path / "bad_prompts"
    shutil.copytree(prompts_dir, prompts)
    (prompts / "user.md.j2").write_text("{{ product_description }} for {{ segment_name }}")
    broken = {**resources, "copywriter": Copywriter(backend="offline", prompts_dir=str(prompts))}
    with pytest.raises(PipelineFailed, match="unknown placeholder.*segment_name"):
        run_pipeline(instance, broken)
    assert DeltaTable(path).version() == version


def test_unknown_partition_is_a_clear_error(resources, instance):
    run_pipeline(instance, resources)
    instance.add_dynamic_partitions(segments_partitions.name, ["kayaks--core"])
    result = materialize(
        resources, instance, ["description_variants"], partition_key="kayaks--core"
    )
    assert not result.success
    message = [e for e in result.all_events if e.is_step_failure][0].step_failure_data.error.message
    assert "kayaks--core" in message and "segment_summaries" in message


def test_own_category_pairing(resources, instance):
    run_pipeline(instance, resources)
    result = materialize(
        resources,
        instance,
        ["description_variants"],
        partition_key="tents--core",
        run_config={"ops": {"description_variants": {"config": {"pairing": "own_category"}}}},
    )
    assert result.success
    rows = variants(resources).filter(pl.col("segment_id") == "tents--core")
    assert rows.height == 4  # the 4 Camping products


def test_openai_backend_through_dagster_records_tokens_and_never_logs_the_key(
    tmp_path, sample_tables, instance, monkeypatch, make_resources, prompts_dir
):
    from segcopy_assets.devtools.fake_openai import FakeOpenAIServer

    secret = "sk-segcopy-test-secret-0123456789"
    monkeypatch.setenv("SEGCOPY_LLM_API_KEY", secret)
    with FakeOpenAIServer(api_key=secret, latency_ms=10) as srv:
        copywriter = Copywriter(
            backend="openai",
            base_url=srv.base_url,
            prompts_dir=str(prompts_dir),
            api_key=dg.EnvVar("SEGCOPY_LLM_API_KEY"),
            model="gpt-4o-mini",
        )
        resources = make_resources(tmp_path, sample_tables, copywriter=copywriter)
        report = run_pipeline(instance, resources)
        calls = srv.success_count
    meta = report.variant_metadata
    assert calls == 196 and meta["calls_made"] == 196
    assert meta["prompt_tokens"] > 0 and meta["completion_tokens"] > 0
    assert meta["estimated_cost_usd"] > 0
    assert meta["backend"] == "openai" and meta["model"] == "gpt-4o-mini"
    assert (variants(resources)["status"] == "ok").all()
    # The key is nowhere: not in events, metadata, run config or the table.
    for record in instance.fetch_materializations(
        dg.AssetKey("description_variants"), limit=1000
    ).records:
        assert secret not in str(record.event_log_entry)
    for run in instance.get_runs():
        assert secret not in str(run.run_config) and secret not in str(run.tags)
    logs = "".join(str(e) for run in instance.get_runs() for e in instance.all_logs(run.run_id))
    assert secret not in logs
    hits = variants(resources).select(
        pl.all().cast(pl.String).str.contains(secret, literal=True).any()
    )
    assert not any(hits.row(0))


def test_a_range_run_records_every_partitions_check_results(
    tmp_path, sample_tables, instance, make_resources, prompts_dir
):
    """One run over all segments still gives each partition its own check executions."""
    from segcopy_assets.devtools.fake_openai import FakeOpenAIServer, default_reply

    def responder(body):
        if (
            "E-Bikes" in body["messages"][0]["content"]
        ):  # the system prompt: the segment's description
            return "Now 62% off for you!\n\n**Rationale:** A discount sells."
        return default_reply(body)

    with FakeOpenAIServer(responder=responder) as srv:
        copywriter = Copywriter(
            backend="openai", base_url=srv.base_url, api_key="k", prompts_dir=str(prompts_dir)
        )
        run_pipeline(instance, make_resources(tmp_path, sample_tables, copywriter=copywriter))

    key = dg.AssetCheckKey(dg.AssetKey("description_variants"), "copy_quality")
    [range_run] = {
        r.run_id
        for r in instance.fetch_materializations(
            dg.AssetKey("description_variants"), limit=20
        ).records
    }
    partitions = instance.get_dynamic_partitions("segments")
    storage = instance.event_log_storage
    statuses = {}
    for partition in partitions:
        [record] = storage.get_asset_check_execution_history(
            key, limit=5, partition_filter=PartitionKeyFilter(key=partition)
        )
        assert record.run_id == range_run and record.partition == partition
        evaluation = record.event.dagster_event.asset_check_evaluation_data
        assert evaluation.metadata["segments"].value == partition
        # copy_quality's rules but the LLM judge, which is off: coverage and 9 content rules
        content_rules = 10
        assert evaluation.metadata["evaluated"].value == 14 * content_rules
        offers = evaluation.metadata["failing_no_invented_offers"].value
        assert offers == (14 if partition.startswith("e-bikes--") else 0), partition
        [latest] = instance.fetch_materializations(
            dg.AssetRecordsFilter(
                asset_key=dg.AssetKey("description_variants"), asset_partitions=[partition]
            ),
            limit=1,
        ).records
        assert evaluation.target_materialization_data.storage_id == latest.storage_id
        assert evaluation.target_materialization_data.run_id == range_run == latest.run_id
        statuses[partition] = record.status.value
    assert statuses == {
        p: "FAILED" if p.startswith("e-bikes--") else "SUCCEEDED" for p in partitions
    }


def test_a_one_partition_range_run_records_that_partitions_checks(resources, instance):
    from segcopy_assets.definitions import ALL_CHECKS

    run_pipeline(instance, resources)
    partition = "tents--core"
    result = dg.materialize(
        [*ALL_ASSETS, *ALL_CHECKS],
        selection=["description_variants"],
        resources=resources,
        instance=instance,
        tags={
            "dagster/asset_partition_range_start": partition,
            "dagster/asset_partition_range_end": partition,
        },
    )
    assert result.success
    for check in ("well_formed", "copy_quality"):
        key = dg.AssetCheckKey(dg.AssetKey("description_variants"), check)
        [record] = instance.event_log_storage.get_asset_check_execution_history(
            key, limit=1, partition_filter=PartitionKeyFilter(key=partition)
        )
        assert record.run_id == result.run_id and record.status.value == "SUCCEEDED", (
            check,
            record.status,
        )
