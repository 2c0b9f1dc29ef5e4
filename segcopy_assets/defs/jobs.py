"""The named jobs ``segcopy run`` launches its runs as (issue 26: they were
``__ephemeral_asset_job__``, which the Dagster UI cannot re-execute).

Dagster needs one partitioning per job, so there are two: ``segcopy_refresh`` for the assets
without partitions (the CDP tables, products, activation, publishing) and ``variants_refresh``
for the variants partitioned by segment (the description and every channel). A run of either
materializes a subset of it (``asset_selection``), and "Re-execute" in the UI reruns that
subset with the code location's resources.
"""

import dagster as dg

REFRESH_JOB = "segcopy_refresh"
VARIANTS_JOB = "variants_refresh"


def _materializable(assets: list) -> list[dg.AssetsDefinition]:
    return [a for a in assets if isinstance(a, dg.AssetsDefinition) and a.is_materializable]


def partitioned_keys(assets: list) -> set[dg.AssetKey]:
    """The keys of the materializable assets partitioned by segment."""
    return {k for a in _materializable(assets) if a.partitions_def is not None for k in a.keys}


def refresh_jobs(assets: list) -> list:
    """``segcopy_refresh`` and ``variants_refresh`` over ``assets`` (their checks included)."""
    partitioned = partitioned_keys(assets)
    unpartitioned = {k for a in _materializable(assets) for k in a.keys} - partitioned
    return [
        dg.define_asset_job(
            REFRESH_JOB,
            selection=dg.AssetSelection.assets(*sorted(unpartitioned, key=str)),
            description="The assets without partitions: the CDP tables, products, activation "
            "and publishing (segcopy run's runs of them).",
        ),
        dg.define_asset_job(
            VARIANTS_JOB,
            selection=dg.AssetSelection.assets(*sorted(partitioned, key=str)),
            description="The variants, partitioned by segment: the description and each "
            "channel (segcopy run's range runs).",
        ),
    ]


def job_for(selection: list[dg.AssetKey], assets: list) -> str:
    """The named job a run of ``selection`` belongs to."""
    return VARIANTS_JOB if set(selection) & partitioned_keys(assets) else REFRESH_JOB
