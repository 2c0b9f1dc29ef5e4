"""An asset whose last run failed is run again by `segcopy run` even when nothing it reads moved
(issue 26: an asset skipped as unchanged stayed red in the Dagster UI from an older failure)."""

import pytest

from segcopy_assets.defs.content.assets import products
from segcopy_assets.pipeline import PipelineFailed, _materialize, run_pipeline
from segcopy_assets.resources import ProductRepository
from segcopy_assets.run_plan import last_attempt_failed


def test_a_failed_run_is_followed_by_a_real_one_not_a_skip(
    tmp_path, sample_tables, make_resources, instance
):
    resources = make_resources(tmp_path, sample_tables)
    run_pipeline(instance, resources)
    again = run_pipeline(instance, resources)
    assert any(s.startswith("products") for s in again.skipped)  # unchanged: skipped

    broken = tmp_path / "products.csv"
    broken.write_text("product_id,name\nX-1,no description column\n")
    with pytest.raises(PipelineFailed):
        _materialize(
            [products.key],
            {**resources, "product_repository": ProductRepository(path=str(broken))},
            instance,
        )
    assert last_attempt_failed(instance, products.key)

    # the source it reads is as it was: products is run anyway, and the failure is behind it
    after = run_pipeline(instance, resources)
    assert not any(s.startswith("products") for s in after.skipped), after.skipped
    assert not last_attempt_failed(instance, products.key)
    assert after.variant_metadata["calls_made"] == 0  # nothing moved: nothing regenerated
    # and the next run skips it again
    assert any(s.startswith("products") for s in run_pipeline(instance, resources).skipped)
