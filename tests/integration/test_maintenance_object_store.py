"""Table maintenance on a warehouse on object storage (moto's S3 server, Azurite; each in its own
process, ``object_store`` of tests/conftest.py): the review log compacts to one file and keeps
every decision, and nothing is written to the local disk."""

import polars as pl
from deltalake import DeltaTable

from segcopy_assets.resources import Warehouse
from segcopy_assets.resources.maintenance import Maintenance
from segcopy_assets.storage import review_log as reviews
from segcopy_assets.storage.tables import VARIANT_REVIEWS


def test_maintenance_on_an_object_store_keeps_every_decision(object_store, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a location taken for a local path would land here
    warehouse = Warehouse(root=object_store["warehouse"])
    path = warehouse.table_path(VARIANT_REVIEWS)
    assert path.startswith(object_store["warehouse"] + "/")
    for i in range(15):
        row = reviews.make_decision(f"seg-{i % 4}", f"P-{i}", f"h{i}", "approve", reviewer="ann")
        reviews.append_reviews(path, [row])
    before = reviews.read_reviews(path)

    results = {r.table: r for r in Maintenance().run(warehouse)}

    log = results[VARIANT_REVIEWS]
    assert (log.status, log.files_before, log.files_after) == ("compacted", 15, 1)
    assert log.rows_before == log.rows_after == 15
    assert {r.status for name, r in results.items() if name != VARIANT_REVIEWS} == {"missing"}
    after = reviews.read_reviews(path)
    assert after.sort(after.columns).equals(before.sort(before.columns))
    assert pl.read_delta(path, version=0).height == 1  # time travel: the files are kept
    assert DeltaTable(path).metadata().configuration[reviews.APPEND_ONLY] == "true"
    assert list(tmp_path.iterdir()) == []
