"""The guard that keeps description_variants from reading segment summaries this run has not
written yet: it waits only for a summaries step the run executes (the sensors' variants-only
runs and re-execution from failure do not). Through Dagster: tests/integration/test_staleness.py.
"""

import dagster as dg

VARIANTS = dg.AssetKey("description_variants")


def test_the_guard_waits_only_for_a_summaries_step_this_run_executes():
    from segcopy_assets.defs.generation.run_guards import summaries_pending

    key = dg.AssetKey("segment_summaries")
    variants_only = {VARIANTS}
    mixed = {VARIANTS, key, dg.AssetKey("cdp_customers")}
    assert not summaries_pending(variants_only, None, written=False)  # the sensors' runs
    assert summaries_pending(mixed, None, written=False)  # summaries failed in this run
    assert not summaries_pending(mixed, None, written=True)
    # re-execution from failure keeps the selection but runs only the failed step
    assert not summaries_pending(mixed, ["description_variants"], written=False)
    assert summaries_pending(mixed, ["segment_summaries", "description_variants"], written=False)
