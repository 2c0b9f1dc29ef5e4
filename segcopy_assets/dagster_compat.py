"""Everything segcopy takes from Dagster's private modules, in one place.

Dagster 1.13 has no public API for these; each is used knowingly and pinned with the dagster
family (pyproject.toml). ``PRIVATE_SYMBOLS`` lists them; ``tests/unit/test_dagster_compat.py``
imports each and fails naming the one a Dagster upgrade moved. Importing this module fails the
same way, so a moved symbol never surfaces as an obscure error deep in a run.

- data-version tags: an ``AssetObservation`` has no ``data_version`` argument, so
  ``segment_summaries`` sets the tags Dagster itself reads (``defs/cdp/assets.py``);
- the target materialization of a check evaluation logged per partition after a range run
  (``defs/generation/checks.py``);
- the dagster-deltalake table-stats helper, replaced by a working one (``storage/io_manager.py``);
- used by tests only: the stale-status resolver, the partition-key filter of the event log,
  the partition-loading context that sensor tests need, and the loader that validates a
  ``dagster.yaml`` against the instance's config schema (``deploy/dagster.yaml``).
"""

import importlib
from collections.abc import Callable
from typing import Any

PRIVATE_SYMBOLS: tuple[tuple[str, str], ...] = (
    ("dagster._core.definitions.data_version", "DATA_VERSION_TAG"),
    ("dagster._core.definitions.data_version", "DATA_VERSION_IS_USER_PROVIDED_TAG"),
    (
        "dagster._core.definitions.asset_checks.asset_check_evaluation",
        "AssetCheckEvaluationTargetMaterializationData",
    ),
    ("dagster_deltalake.handler", "_get_partition_stats"),
    ("dagster._core.definitions.data_version", "StaleStatus"),
    ("dagster._utils.test.data_versions", "get_stale_status_resolver"),
    ("dagster._core.storage.event_log.base", "PartitionKeyFilter"),
    ("dagster._core.definitions.partitions.context", "partition_loading_context"),
    ("dagster._core.instance.config", "dagster_instance_config"),
)


class DagsterInternalsMoved(ImportError):
    """A private Dagster symbol segcopy relies on is gone: the pinned family was changed."""


def private_symbol(module: str, name: str) -> Any:
    """``module.name``, or an error that names exactly what moved."""
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise DagsterInternalsMoved(
            f"segcopy needs {module}.{name}, which this Dagster does not have ({exc}); "
            "segcopy is tested with the dagster family pinned in pyproject.toml"
        ) from exc


DATA_VERSION_TAG: str = private_symbol(*PRIVATE_SYMBOLS[0])
DATA_VERSION_IS_USER_PROVIDED_TAG: str = private_symbol(*PRIVATE_SYMBOLS[1])
AssetCheckEvaluationTargetMaterializationData = private_symbol(*PRIVATE_SYMBOLS[2])
StaleStatus = private_symbol(*PRIVATE_SYMBOLS[4])
get_stale_status_resolver = private_symbol(*PRIVATE_SYMBOLS[5])
PartitionKeyFilter = private_symbol(*PRIVATE_SYMBOLS[6])
partition_loading_context = private_symbol(*PRIVATE_SYMBOLS[7])
dagster_instance_config = private_symbol(*PRIVATE_SYMBOLS[8])


def user_data_version_tags(version: str) -> dict[str, str]:
    """Tags that give an observation a user-provided data version (as ``Output`` would)."""
    return {DATA_VERSION_TAG: version, DATA_VERSION_IS_USER_PROVIDED_TAG: "true"}


def replace_deltalake_partition_stats(table_stats: Callable) -> None:
    """Install ``table_stats`` as dagster-deltalake's per-write stats helper (its own expects a
    pyarrow RecordBatch and un-prefixed partition columns; deltalake 1.x gives neither)."""
    module, name = PRIVATE_SYMBOLS[3]
    private_symbol(module, name)  # fail loudly if it moved
    setattr(importlib.import_module(module), name, table_stats)
