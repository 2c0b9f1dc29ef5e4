"""Fixtures shared by every layer (unit/, integration/, e2e/).

An isolated SEGCOPY_HOME for every test, small sample tables written once, the repository's
paths, free ports, resources on temp dirs, Dagster instances (``dagster_instance``: SQLite, and
PostgreSQL for tests marked ``postgres``) and the review app on a free port.
Helpers are fixtures (factories where a test needs more than one), never imports from here;
a value needed at import time (e.g. in ``@pytest.mark.parametrize``) is computed in its module.
"""

import contextlib
import os
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from deltalake import write_deltalake

# The code location's channel assets (defs/channels) are decided when it is imported: every
# channel of prompts/channels/ in this process, whatever the developer's SEGCOPY_CHANNELS and
# whichever test imports it first. Each test picks the channels a run writes (isolated_env).
os.environ.pop("SEGCOPY_CHANNELS", None)
import segcopy_assets.definitions  # noqa: E402, F401, I001
from segcopy_assets.resources import (
    CdpSource,
    Copywriter,
    Judge,
    ProductRepository,
    Publication,
    QualityRules,
    Segmentation,
    Warehouse,
)
from segcopy_assets.review.service import ReviewTables
from segcopy_assets.storage import variant_store
from segcopy_assets.storage.io_manager import warehouse_io_manager
from segcopy_assets.storage.tables import VARIANT_SCHEMA, VERDICT_SCHEMA


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    """No test sees the developer's SEGCOPY_*/OPENAI_* settings or writes outside tmp_path."""
    for name in list(os.environ):
        if name.startswith("SEGCOPY_") or name in ("OPENAI_API_KEY", "DAGSTER_HOME"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SEGCOPY_HOME", str(tmp_path / "home"))
    # the description alone, as before channels: tests of the description machinery count its
    # calls; the channel tests (and the README command's end-to-end test) turn channels on
    monkeypatch.setenv("SEGCOPY_CHANNELS", "web_description")


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository's root directory (where pyproject.toml is)."""
    return Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def prompts_dir(repo_root) -> Path:
    """The repository's default prompt set (``prompts/``); copy it before editing it."""
    return repo_root / "prompts"


@pytest.fixture(scope="session")
def free_port():
    """``free_port()`` → a TCP port on 127.0.0.1 that was free a moment ago."""

    def pick() -> int:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    return pick


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


@pytest.fixture(scope="session")
def make_resources(prompts_dir):
    """``make_resources(tmp_path, sample_tables, copywriter=None, **cdp)`` → the pipeline's
    resources with the warehouse under ``tmp_path/warehouse``: the CDP from
    ``sample_tables["customers"]`` (or ``CdpSource(**cdp)``, e.g. ``share_url=...``), the products
    from ``sample_tables["products"]``, the offline writer on the default prompts unless a
    ``copywriter`` is given, and the LLM judge off."""

    def build(
        tmp_path: Path, sample_tables: dict, copywriter: Copywriter | None = None, **cdp
    ) -> dict:
        warehouse = Warehouse(root=str(Path(tmp_path) / "warehouse"))
        return {
            "cdp": CdpSource(**(cdp or {"delta_path": sample_tables["customers"]})),
            "product_repository": ProductRepository(path=sample_tables["products"]),
            "segmentation": Segmentation(),
            "copywriter": copywriter or Copywriter(backend="offline", prompts_dir=str(prompts_dir)),
            "quality_rules": QualityRules(),
            "publication": Publication(),
            "judge": Judge(prompts_dir=str(prompts_dir)),
            "warehouse": warehouse,
            "warehouse_io_manager": warehouse_io_manager(warehouse.root),
        }

    return build


@pytest.fixture(scope="session")
def memory_instance():
    """``with memory_instance() as instance:`` an in-memory Dagster instance: the same SQL event
    storage as a real one, without a file and an fsync per event (a sample pipeline run takes
    ~2.5 s instead of ~5.5 s). Tests whose instance other processes must open, or whose files
    they read, use ``disk_instance``."""

    @contextmanager
    def open_instance():
        instance = dg.DagsterInstance.ephemeral()
        try:
            yield instance
        finally:
            instance.dispose()

    return open_instance


@pytest.fixture
def instance(memory_instance):
    """An in-memory Dagster instance for one test."""
    with memory_instance() as inst:
        yield inst


@pytest.fixture
def disk_instance(tmp_path):
    """An on-disk Dagster instance under ``tmp_path/dagster``: spawned processes can open it
    from its ref, and its event databases and compute logs are files a test can read."""
    home = tmp_path / "dagster"
    home.mkdir()
    with dg.instance_for_test(temp_dir=str(home)) as inst:
        yield inst


PG_TEST_URL_VAR = "SEGCOPY_TEST_PG_URL"


def pytest_generate_tests(metafunc):
    """``dagster_instance`` runs a test on SQLite, and also on PostgreSQL when the test is marked
    ``@pytest.mark.postgres`` (kept to a few tests: each Postgres variant costs a full setup)."""
    if "dagster_instance" not in metafunc.fixturenames:
        return
    for mark in metafunc.definition.iter_markers("parametrize"):
        if "dagster_instance" in str(mark.args[0] if mark.args else mark.kwargs.get("argnames")):
            return  # the test chose its storages itself
    kinds = ["sqlite", "postgres"] if metafunc.definition.get_closest_marker("postgres") else []
    metafunc.parametrize("dagster_instance", kinds or ["sqlite"], indirect=True)


@pytest.fixture(scope="session")
def postgres_server_url() -> str | None:
    """``$SEGCOPY_TEST_PG_URL`` (a role that may create databases; ``.ci/run`` sets it up), read
    before ``isolated_env`` removes every SEGCOPY_* variable from the tests' environment."""
    return os.environ.get(PG_TEST_URL_VAR, "").strip() or None


@pytest.fixture(scope="session")
def pg_database(postgres_server_url):
    """``with pg_database() as url:`` a fresh empty database on the SEGCOPY_TEST_PG_URL server
    (URL with the psycopg2 driver), dropped afterwards. Without SEGCOPY_TEST_PG_URL the test is
    SKIPPED, or FAILS under CI=true (.ci/run starts PostgreSQL and sets it)."""
    from segcopy_assets.devtools.postgres import scratch_database

    @contextmanager
    def fresh():
        if not postgres_server_url:
            reason = (
                f"needs PostgreSQL: set {PG_TEST_URL_VAR}=postgresql://USER:PASSWORD@127.0.0.1:5432/DB "
                "(a role with CREATEDB; .ci/run starts the machine's PostgreSQL and sets it)"
            )
            if os.environ.get("CI", "").strip().lower() == "true":
                pytest.fail(reason)
            pytest.skip(reason)
        with scratch_database(postgres_server_url) as url:
            yield url

    return fresh


@pytest.fixture
def dagster_instance(request, memory_instance, pg_database, tmp_path, monkeypatch):
    """A Dagster instance for one test, parametrized over the storages segcopy runs on:
    ``[sqlite]`` the in-memory SQLite instance (as ``instance``), and ``[postgres]`` (tests
    marked ``@pytest.mark.postgres``) an instance whose run, event-log and schedule storage is
    a fresh PostgreSQL database of its own, configured and opened as ``segcopy run`` does
    (``postgres_url: {env: SEGCOPY_DAGSTER_PG_URL}``, the variable set for the test; pooled
    connections). Its ref opens in spawned processes too (they inherit the environment)."""
    from segcopy_assets.instance import PG_URL_VAR, pool_connections, storage_config

    if request.param == "sqlite":
        with memory_instance() as inst:
            yield inst
        return
    with pg_database() as url:
        monkeypatch.setenv(PG_URL_VAR, url)
        home = tmp_path / "dagster-postgres"
        home.mkdir()
        with dg.instance_for_test(overrides=storage_config(), temp_dir=str(home)) as inst:
            pool_connections(inst)  # as `segcopy run` does
            yield inst


@pytest.fixture(scope="session")
def review_app_server(free_port):
    """``with review_app_server(tables, reviewer) as (base_url, server):`` the review app
    (``segcopy review serve``) served by uvicorn in a thread on a free port of 127.0.0.1."""
    from segcopy_assets.review.web.server import make_server

    @contextmanager
    def running(tables, reviewer="ana"):
        port = free_port()
        server = make_server(tables, reviewer, port=port)
        thread = threading.Thread(target=server.run, name="review-app", daemon=True)
        thread.start()
        deadline = time.monotonic() + 15
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "review app did not start"
            time.sleep(0.02)
        try:
            yield f"http://127.0.0.1:{port}", server
        finally:
            server.should_exit = True
            thread.join(10)

    return running


# ---------------------------------------------------------------------------------------------
# crafted warehouse tables for the review page (integration and end-to-end tests)

_ORIGINAL = {
    "P1": "The Aero weighs 8.1 kg. It has a Shimano 105 groupset with 12 speeds.",
    "P2": "The Basecamp tent sleeps two. Its fly is 20D ripstop nylon.",
}
_CHECKS = ["facts_preserved", "no_invented_offers", "length_in_bounds"]


@pytest.fixture(scope="session")
def make_review_tables():
    """``make_review_tables(root)`` → :class:`ReviewTables` under ``root`` holding three good
    variants (``s1/P1``, ``s1/P2``, ``s2/P1``, input hash ``h-<segment>-<product>``), their
    check verdicts (all passing), the products and the segment summaries."""

    def build(root: Path) -> ReviewTables:
        tables = ReviewTables.under(str(root))
        pairs = [("s1", "P1"), ("s1", "P2"), ("s2", "P1")]
        variants = [
            {
                "segment_id": s,
                "product_id": p,
                "variant_text": "Made for you. " + _ORIGINAL[p],
                "rationale": "Because the segment likes it.",
                "raw_output": "Made for you. " + _ORIGINAL[p],
                "backend": "openai",
                "model": "m-1",
                "prompt_hash": "p",
                "summary_hash": "s",
                "content_hash": "c",
                "input_hash": f"h-{s}-{p}",
                "prompt_tokens": 10,
                "completion_tokens": 20,
                "latency_ms": 5.0,
                "generated_at": None,
                "status": "ok",
                "error": None,
            }
            for s, p in pairs
        ]
        frame = pl.DataFrame(variants, schema=VARIANT_SCHEMA).with_columns(
            pl.lit("2026-11-01T10:00:00")
            .str.to_datetime(time_unit="us", time_zone="UTC")
            .alias("generated_at")
        )
        variant_store.replace_segments(tables.variants, frame, ["s1", "s2"])
        verdicts = [
            {
                "segment_id": s,
                "product_id": p,
                "input_hash": f"h-{s}-{p}",
                "check": c,
                "passed": True,
                "severity": "WARN" if c == "length_in_bounds" else "ERROR",
                "reason": "",
            }
            for s, p in pairs
            for c in _CHECKS
        ]
        variant_store.replace_segments(
            tables.verdicts,
            pl.DataFrame(verdicts, schema=VERDICT_SCHEMA),
            ["s1", "s2"],
            schema=VERDICT_SCHEMA,
        )
        products = pl.DataFrame(
            {
                "product_id": list(_ORIGINAL),
                "name": ["Aero Bike", "Basecamp Tent"],
                "description": list(_ORIGINAL.values()),
            }
        )
        write_deltalake(tables.products, products.to_arrow())
        summaries = pl.DataFrame(
            {"segment_id": ["s1", "s2"], "segment_description": ["Road cyclists.", "Campers."]}
        )
        write_deltalake(os.path.join(str(root), "segment_summaries"), summaries.to_arrow())
        return tables

    return build


# ---------------------------------------------------------------------------------------------
# object stores: moto's S3 server and Azurite, each in its own process on a free port


AZURITE_ACCOUNT = "devstoreaccount1"
# Azurite's well-known development key (public, in Microsoft's documentation)
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


def _missing(reason: str) -> None:
    """A test that needs an object-store server: FAIL under CI=true, else skip."""
    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def _serve(argv: list[str], port: int, name: str, log: Path):
    import subprocess

    out = open(log, "wb")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited at start: {log.read_text()[-2000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc, out
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"{name} did not listen on {port} within 60 s")
        time.sleep(0.1)


def _stop(proc, out) -> None:
    """Stop a throwaway server and its children (its own session; its data are temporary)."""
    import signal

    with contextlib.suppress(ProcessLookupError):  # SIGTERM left one waiting 15 s at the end
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=15)
    out.close()


@pytest.fixture(scope="session")
def moto_s3(tmp_path_factory, free_port):
    """``{"env": ..., "bucket": ...}``: moto's S3 server (``python -m moto.server``) in its own
    process (never in the test process: deltalake's history hangs with the threaded one)."""
    import importlib.util
    import sys

    if importlib.util.find_spec("moto") is None:
        _missing("moto's server is not installed (pip install -e '.[test]')")
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    argv = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    proc, out = _serve(argv, port, "moto", log)
    env = {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ALLOW_HTTP": "true",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "segcopy-test",
        "AWS_SECRET_ACCESS_KEY": "segcopy-test-secret",
    }
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env["AWS_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )
    client.create_bucket(Bucket="segcopy-test")
    yield {"env": env, "root": "s3://segcopy-test"}
    _stop(proc, out)


@pytest.fixture(scope="session")
def azurite_blob(tmp_path_factory, free_port):
    """``{"env": ..., "root": ...}``: Azurite's blob service (npm ``azurite``) in its own process,
    with a container made for the tests."""
    import shutil

    exe = shutil.which("azurite-blob")
    if exe is None:
        _missing("Azurite is not installed (npm install -g azurite@3.37.0)")
    port = free_port()
    data = tmp_path_factory.mktemp("azurite")
    argv = [exe, "--blobHost", "127.0.0.1", "--blobPort", str(port), "--location", str(data),
            "--skipApiVersionCheck", "--loose"]  # fmt: skip
    proc, out = _serve(argv, port, "azurite", data / "azurite.log")
    from azure.storage.blob import BlobServiceClient

    endpoint = f"http://127.0.0.1:{port}/{AZURITE_ACCOUNT}"
    connection = (
        f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};"
        f"AccountKey={AZURITE_KEY};BlobEndpoint={endpoint};"
    )
    BlobServiceClient.from_connection_string(connection).create_container("segcopy-test")
    env = {
        "AZURE_STORAGE_USE_EMULATOR": "true",
        "AZURE_STORAGE_ACCOUNT_NAME": AZURITE_ACCOUNT,
        "AZURE_STORAGE_ACCOUNT_KEY": AZURITE_KEY,
        "AZURE_STORAGE_ALLOW_HTTP": "true",
        # the emulator's address: read from the environment only (not a storage option)
        "AZURITE_BLOB_STORAGE_URL": f"http://127.0.0.1:{port}",
    }
    yield {"env": env, "root": "az://segcopy-test"}
    _stop(proc, out)


def _fresh_store(request, monkeypatch, kind: str) -> dict:
    import uuid

    server = request.getfixturevalue("moto_s3" if kind == "s3" else "azurite_blob")
    for name, value in server["env"].items():
        monkeypatch.setenv(name, value)
    prefix = f"{request.node.name.split('[')[0][:40]}-{uuid.uuid4().hex[:8]}"
    return {"name": kind, "env": dict(server["env"]), "warehouse": f"{server['root']}/{prefix}"}


@pytest.fixture(params=["s3", "azure"])
def object_store(request, monkeypatch):
    """``{"name", "env", "warehouse"}``: a fresh warehouse URI on moto's S3 or on Azurite, with
    the store's variables set in this process too (for reading tables back)."""
    return _fresh_store(request, monkeypatch, request.param)


@pytest.fixture(params=["local", "s3", "azure"])
def store_root(request, tmp_path, monkeypatch):
    """A fresh place for tables: a local folder, or a prefix on moto's S3 or Azurite (their
    variables set in this process); join table names to it with ``storage.delta.join``."""
    if request.param == "local":
        return str(tmp_path / "tables")
    return _fresh_store(request, monkeypatch, request.param)["warehouse"]


@pytest.fixture(scope="session")
def replace_answer():
    """``replace_answer(variants_path, segment_id, product_id, answer)``: one row of a variants
    table given another raw answer (``raw_output``), as a model might have answered."""

    def replace(path: str, segment_id: str, product_id: str, answer: str) -> None:
        rows = variant_store.read_segments(path, [segment_id])
        rows = rows.with_columns(
            pl.when(pl.col("product_id") == product_id)
            .then(pl.lit(answer))
            .otherwise(pl.col("raw_output"))
            .alias("raw_output")
        )
        variant_store.replace_segments(path, rows, [segment_id])

    return replace
