"""Every private Dagster symbol segcopy relies on is where segcopy expects it."""

import pytest

from segcopy_assets import dagster_compat


@pytest.mark.parametrize(
    "module, name", dagster_compat.PRIVATE_SYMBOLS, ids=lambda v: v if isinstance(v, str) else ""
)
def test_private_symbol_is_still_there(module, name):
    assert dagster_compat.private_symbol(module, name) is not None, f"{module}.{name}"


def test_a_moved_symbol_fails_naming_it():
    with pytest.raises(dagster_compat.DagsterInternalsMoved, match=r"dagster\._core\.nowhere\.X"):
        dagster_compat.private_symbol("dagster._core.nowhere", "X")
    with pytest.raises(dagster_compat.DagsterInternalsMoved, match=r"dagster\.NoSuchThing"):
        dagster_compat.private_symbol("dagster", "NoSuchThing")


def test_the_table_stats_fix_is_installed():
    import dagster_deltalake.handler as handler

    from segcopy_assets.storage import io_manager

    assert handler._get_partition_stats is io_manager.table_stats


def test_no_private_dagster_import_outside_the_compat_module():
    """``dagster._`` is imported in one place only (tests included): the compat module."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    pattern = re.compile(r"^\s*(?:from|import)\s+dagster(?:_deltalake)?\._|handler\._", re.M)
    offenders = []
    for folder in ("segcopy_assets", "tests", "bench"):
        for path in (root / folder).rglob("*.py"):
            if path.name in ("dagster_compat.py", "test_dagster_compat.py"):
                continue
            if pattern.search(path.read_text(encoding="utf-8")):
                offenders.append(str(path.relative_to(root)))
    assert not offenders, offenders
