"""The ``table_maintenance`` job through Dagster: it maintains every table of the warehouse
resource, records the per-table figures, and fails the run when a table failed."""

import dagster as dg
import polars as pl
import pytest
from deltalake import DeltaTable, write_deltalake

from segcopy_assets.defs.maintenance.definitions import defs as maintenance_defs
from segcopy_assets.resources import Warehouse
from segcopy_assets.resources.maintenance import Maintenance
from segcopy_assets.storage import maintenance
from segcopy_assets.storage import review_log as reviews
from segcopy_assets.storage.tables import GENERATION_BATCHES, VARIANT_REVIEWS


@pytest.fixture
def warehouse(tmp_path) -> Warehouse:
    warehouse = Warehouse(root=str(tmp_path / "warehouse"))
    for i in range(12):
        row = reviews.make_decision(f"seg-{i}", "P-1", f"h{i}", "approve", reviewer="ann")
        reviews.append_reviews(warehouse.table_path(VARIANT_REVIEWS), [row])
    for i in range(4):
        write_deltalake(
            warehouse.table_path(GENERATION_BATCHES),
            pl.DataFrame({"batch_key": [f"b{i}"]}).to_arrow(),
            mode="append",
        )
    return warehouse


def run_job(
    warehouse: Warehouse, instance: dg.DagsterInstance | None = None, **maintenance_fields
) -> dg.ExecuteInProcessResult:
    defs = dg.Definitions.merge(
        maintenance_defs,
        dg.Definitions(
            resources={"warehouse": warehouse, "maintenance": Maintenance(**maintenance_fields)}
        ),
    )
    job = defs.resolve_job_def("table_maintenance")
    return job.execute_in_process(instance=instance, raise_on_error=False)


def test_the_job_maintains_every_table_and_records_the_figures(warehouse):
    instance = dg.DagsterInstance.ephemeral()
    result = run_job(warehouse, instance, retention_days=2)

    assert result.success
    [output] = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
    metadata = {k: v.value for k, v in output.event_specific_data.metadata.items()}
    assert metadata["retention_days"] == 2
    assert metadata["tables_maintained"] == 2 and metadata["tables_compacted"] == 2
    assert (metadata["files_before"], metadata["files_after"]) == (16, 2)
    assert "compacted: 12 → 1 files" in metadata[f"table/{VARIANT_REVIEWS}"]
    assert "| variant_reviews | compacted | 12 | 1 |" in metadata["tables"]
    logged = [entry.user_message for entry in instance.all_logs(result.run_id)]
    assert any(m.startswith("variant_reviews        compacted: 12 → 1 files") for m in logged)
    assert reviews.read_reviews(warehouse.table_path(VARIANT_REVIEWS)).height == 12


def test_a_failed_table_fails_the_run_after_the_others(warehouse, monkeypatch):
    real = maintenance.maintain_table

    def failing_batches(name, path, **kwargs):
        if name == GENERATION_BATCHES:
            return maintenance.TableMaintenance(name, path, "failed", message="vacuum: disk gone")
        return real(name, path, **kwargs)

    monkeypatch.setattr(maintenance, "maintain_table", failing_batches)

    result = run_job(warehouse)

    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data.error
    assert "maintenance failed for generation_batches" in failure.message
    assert "disk gone" in failure.message
    # the review log was maintained all the same
    assert len(DeltaTable(warehouse.table_path(VARIANT_REVIEWS)).file_uris()) == 1
