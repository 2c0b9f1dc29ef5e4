"""Shared fixtures: an isolated SEGCOPY_HOME, small sample tables, resources on temp dirs."""

import os
import socket
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import pytest

from segcopy_assets.resources import (
    CdpSource,
    Copywriter,
    ProductRepository,
    QualityRules,
    Segmentation,
    Warehouse,
)
from segcopy_assets.storage.io_manager import warehouse_io_manager

REPO = Path(__file__).resolve().parent.parent
PROMPTS = REPO / "prompts"


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    """No test sees the developer's SEGCOPY_*/OPENAI_* settings or writes outside tmp_path."""
    for name in list(os.environ):
        if name.startswith("SEGCOPY_") or name in ("OPENAI_API_KEY", "DAGSTER_HOME"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SEGCOPY_HOME", str(tmp_path / "home"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def sample_tables(tmp_path_factory):
    """Sample CDP (20,000 customers, the default) and product Delta tables, written once."""
    from segcopy_assets.devtools.sample_data import write_sample_customers
    from segcopy_assets.devtools.sample_products import write_sample_products

    root = tmp_path_factory.mktemp("sample")
    customers, products = root / "cdp_customers", root / "products"
    write_sample_customers(str(customers))
    write_sample_products(str(products))
    return {"customers": str(customers), "products": str(products)}


def make_resources(
    tmp_path: Path, sample_tables: dict, copywriter: Copywriter | None = None, **cdp
) -> dict:
    warehouse = Warehouse(root=str(tmp_path / "warehouse"))
    return {
        "cdp": CdpSource(**(cdp or {"delta_path": sample_tables["customers"]})),  # or share_url=
        "product_repository": ProductRepository(path=sample_tables["products"]),
        "segmentation": Segmentation(),
        "copywriter": copywriter or Copywriter(backend="offline", prompts_dir=str(PROMPTS)),
        "quality_rules": QualityRules(),
        "warehouse": warehouse,
        "warehouse_io_manager": warehouse_io_manager(warehouse.root),
    }


@contextmanager
def memory_instance():
    """An in-memory Dagster instance: the same SQL event storage as a real one, without a file
    and an fsync per event (a sample pipeline run takes ~2.5 s instead of ~5.5 s). Tests whose
    instance other processes must open use ``dg.instance_for_test()``."""
    instance = dg.DagsterInstance.ephemeral()
    try:
        yield instance
    finally:
        instance.dispose()


@pytest.fixture
def instance():
    with memory_instance() as inst:
        yield inst
