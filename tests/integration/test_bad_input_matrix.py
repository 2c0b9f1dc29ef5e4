"""Bad inputs against the full asset run: ONE clear error, and every warehouse table unchanged.

The graph is materialized once successfully (module fixture); each case gets a copy of that
warehouse, records the Delta version of every table in it, then materializes the asset that
reads the bad input together with everything downstream of it (one run, the way "materialize
downstream" does it in the UI) and checks: the run fails, with exactly one failed step whose
message names the table / column / file and shows an example value; nothing was materialized;
and every Delta table under the warehouse is still at its previous version.
"""

import shutil
import time
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from deltalake import DeltaTable

from segcopy_assets.definitions import ALL_ASSETS, ALL_CHECKS
from segcopy_assets.devtools.sharing_server import SharedTable, running_server, write_profile
from segcopy_assets.pipeline import PipelineFailed, run_pipeline
from segcopy_assets.resources import CdpSource, Copywriter, ProductRepository

# description_variants is left out here: it reaches segment_summaries through the observed
# segment_definitions, so in a run with a failing CDP step it fails too, with its own message
# (tests/integration/test_staleness.py::test_variants_in_a_run_whose_summaries_failed_refuse_to_run).
CDP_AND_DOWNSTREAM = [
    "cdp_customers",
    "segment_summaries",
    "published_variants",
    "customer_segments",
]
PRODUCTS_AND_DOWNSTREAM = [
    "products",
    "description_variants",
    "published_variants",
]
VARIANTS_AND_DOWNSTREAM = [
    "description_variants",
    "published_variants",
]
SHARE_TOKEN = "matrix-share-token-5b1e"


@pytest.fixture(scope="module")
def baseline(tmp_path_factory, sample_tables, make_resources, memory_instance):
    """A warehouse after one successful full run, and the instance that knows its partitions."""
    root = tmp_path_factory.mktemp("baseline")
    with pytest.MonkeyPatch.context() as mp, memory_instance() as instance:
        mp.setenv("SEGCOPY_HOME", str(root / "home"))
        resources = make_resources(root, sample_tables)
        run_pipeline(instance, resources)
        yield {
            "warehouse": root / "warehouse",
            "instance": instance,
            "partitions": instance.get_dynamic_partitions("segments"),
        }


@pytest.fixture(scope="module")
def share(sample_tables):
    """The sample CDP table behind the Delta Sharing server (a thread on 127.0.0.1)."""
    tables = [SharedTable("segcopy", "cdp", "customers", sample_tables["customers"])]
    with running_server(tables, SHARE_TOKEN) as endpoint:
        yield endpoint


def delta_versions(root: Path) -> dict[str, int]:
    """Version of every Delta table under ``root``."""
    return {
        str(log.parent.relative_to(root)): DeltaTable(str(log.parent)).version()
        for log in sorted(root.rglob("_delta_log"))
    }


class Case:
    def __init__(self, tmp_path, baseline, sample_tables, make_resources):
        self.tmp_path = tmp_path
        self.instance = baseline["instance"]
        self.partitions = baseline["partitions"]
        self.warehouse = tmp_path / "warehouse"
        shutil.copytree(baseline["warehouse"], self.warehouse)
        self.before = delta_versions(self.warehouse)
        assert {
            "segcopy/cdp_customers",
            "segcopy/products",
            "segcopy/description_variants",
            "segcopy/variant_checks",
            "segcopy/published_variants",
        } <= set(self.before)
        self.resources = make_resources(tmp_path, sample_tables)  # its warehouse is the copy above
        assert self.resources["warehouse"].root == str(self.warehouse)

    def run(self, selection: list[str], **overrides) -> tuple[str, float]:
        """Materialize ``selection`` with the overridden resources; the one failure message."""
        resources = {**self.resources, **overrides}
        started = time.perf_counter()
        result = dg.materialize(
            [*ALL_ASSETS, *ALL_CHECKS],
            selection=selection,
            resources=resources,
            instance=self.instance,
            raise_on_error=False,
            tags={
                "dagster/asset_partition_range_start": self.partitions[0],
                "dagster/asset_partition_range_end": self.partitions[-1],
            },
        )
        elapsed = time.perf_counter() - started
        assert not result.success
        failures = [e for e in result.all_events if e.is_step_failure]
        assert len(failures) == 1, [f.step_key for f in failures]
        assert not [e for e in result.all_events if e.event_type_value == "ASSET_MATERIALIZATION"]
        message = failures[0].step_failure_data.error.message
        assert "Traceback" not in message and len(message) < 2000, message
        assert delta_versions(self.warehouse) == self.before, "a failed run changed a table"
        return message, elapsed


@pytest.fixture
def case(tmp_path, baseline, sample_tables, make_resources):
    return Case(tmp_path, baseline, sample_tables, make_resources)


# ------------------------------------------------------------------------------------------ CDP


def _customers(sample_tables) -> pl.DataFrame:
    return pl.read_delta(sample_tables["customers"])


def _set(df: pl.DataFrame, customer_id: str, column: str, value) -> pl.DataFrame:
    return df.with_columns(
        pl.when(pl.col("customer_id") == customer_id)
        .then(pl.lit(value, dtype=df.schema[column]))
        .otherwise(pl.col(column))
        .alias(column)
    )


CDP_CASES = {
    # name: (how to break the table, what the message must contain)
    "missing_column": (
        lambda df: df.drop("region"),
        ["column 'region'", "required column missing", "present: customer_id"],
    ),
    "wrong_type": (
        lambda df: df.with_columns(pl.col("predicted_clv_365d").cast(pl.String)),
        ["column 'predicted_clv_365d'", "expected a numeric column", "String"],
    ),
    "null_segment_key": (
        lambda df: _set(df, "AMP-0000000042", "preferred_subcategory", None),
        ["column 'preferred_subcategory'", "null", "customer_id='AMP-0000000042'"],
    ),
    "empty_table": (lambda df: df.head(0), ["has no rows"]),
    "unknown_clv_tier": (
        lambda df: _set(df, "AMP-0000000007", "predicted_clv_tier", "Diamond"),
        ["column 'predicted_clv_tier'", "'Diamond'", "customer_id='AMP-0000000007'"],
    ),
}


@pytest.mark.parametrize("name", list(CDP_CASES))
def test_bad_cdp_table(name, case, sample_tables):
    breaker, expected = CDP_CASES[name]
    bad = case.tmp_path / f"cdp_{name}"
    breaker(_customers(sample_tables)).write_delta(bad)
    message, _ = case.run(CDP_AND_DOWNSTREAM, cdp=CdpSource(delta_path=str(bad)))
    assert f"table '{bad}'" in message
    for fragment in expected:
        assert fragment in message, (fragment, message)


# ---------------------------------------------------------------------------------------- share


def _profile(tmp_path, endpoint: str, token: str) -> str:
    return str(write_profile(tmp_path / "cdp.share", endpoint, token))


SHARE_CASES = {
    "unreachable": ["segcopy.cdp.customers", "unreachable"],
    "wrong_token_401": ["rejected the bearer token", "HTTP 401", "segcopy.cdp.customers"],
    "unknown_table_404": ["segcopy.cdp.no_such_table", "does not exist", "HTTP 404"],
}


@pytest.mark.parametrize("name", list(SHARE_CASES))
def test_share_failure_is_fast_and_clear(name, case, share, free_port):
    if name == "unreachable":
        url = _profile(case.tmp_path, f"http://127.0.0.1:{free_port()}/delta-sharing", SHARE_TOKEN)
        url += "#segcopy.cdp.customers"
    elif name == "wrong_token_401":
        url = _profile(case.tmp_path, share, "not-the-share-token") + "#segcopy.cdp.customers"
    else:
        url = _profile(case.tmp_path, share, SHARE_TOKEN) + "#segcopy.cdp.no_such_table"
    message, elapsed = case.run(CDP_AND_DOWNSTREAM, cdp=CdpSource(share_url=url))
    assert elapsed < 10, f"took {elapsed:.1f} s: the connector's retry loop?"
    for fragment in SHARE_CASES[name]:
        assert fragment in message, (fragment, message)
    assert SHARE_TOKEN not in message and "not-the-share-token" not in message


# ------------------------------------------------------------------------------------- products


def _products(sample_tables) -> pl.DataFrame:
    return pl.read_delta(sample_tables["products"])


def _describe(df: pl.DataFrame, product_id: str, text: str) -> pl.DataFrame:
    return df.with_columns(
        pl.when(pl.col("product_id") == product_id)
        .then(pl.lit(text))
        .otherwise(pl.col("description"))
        .alias("description")
    )


PRODUCT_CASES = {
    "duplicate_product_id": (
        lambda df: pl.concat([df, df.filter(pl.col("product_id") == "TN-200")]),
        ["column 'product_id'", "'TN-200' appears 2 times"],
    ),
    "empty_description": (
        lambda df: _describe(df, "TN-100", "   "),
        ["column 'description'", "empty product description", "product_id='TN-100'"],
    ),
    "oversize_description": (
        lambda df: _describe(df, "SB-100", "A very long description. " * 100),
        [
            "column 'description'",
            "longer than 2000 characters",
            "product_id='SB-100'",
            "A very long description.",
        ],
    ),
    "control_characters": (
        lambda df: _describe(df, "CA-100", "A jersey\x00 with a bell\x07 in it."),
        ["column 'description'", "control characters", "product_id='CA-100'", "\\x00"],
    ),
}


@pytest.mark.parametrize("fmt", ["csv", "delta"])
@pytest.mark.parametrize("name", list(PRODUCT_CASES))
def test_bad_products(name, fmt, case, sample_tables):
    breaker, expected = PRODUCT_CASES[name]
    bad = breaker(_products(sample_tables))
    path = case.tmp_path / (f"products_{name}.csv" if fmt == "csv" else f"products_{name}")
    bad.write_csv(path) if fmt == "csv" else bad.write_delta(path)
    message, _ = case.run(
        PRODUCTS_AND_DOWNSTREAM, product_repository=ProductRepository(path=str(path))
    )
    assert f"table '{path}'" in message
    for fragment in expected:
        assert fragment in message, (fragment, message)


# -------------------------------------------------------------------------------------- prompts


def _prompts(tmp_path, prompts_dir) -> Path:
    prompts = tmp_path / "prompts"
    shutil.copytree(prompts_dir, prompts)
    return prompts


def test_prompt_with_unknown_placeholder(case, prompts_dir):
    prompts = _prompts(case.tmp_path, prompts_dir)
    user = prompts / "user.md.j2"
    user.write_text(user.read_text() + "\nWrite for {{ segment_name }}.\n")
    message, _ = case.run(
        VARIANTS_AND_DOWNSTREAM, copywriter=Copywriter(backend="offline", prompts_dir=str(prompts))
    )
    assert (
        str(user) in message
        and "unknown placeholder" in message
        and "{{ segment_name }}" in message
    )


@pytest.mark.parametrize("missing", ["system.md.j2", "config.toml"])
def test_prompt_file_missing(missing, case, prompts_dir):
    prompts = _prompts(case.tmp_path, prompts_dir)
    (prompts / missing).unlink()
    message, _ = case.run(
        VARIANTS_AND_DOWNSTREAM, copywriter=Copywriter(backend="offline", prompts_dir=str(prompts))
    )
    assert f"prompt file missing: {prompts / missing}" in message


# ------------------------------------------------------------------------------ through `run`


def test_run_pipeline_with_bad_cdp_leaves_every_table_unchanged(case, sample_tables):
    bad = case.tmp_path / "cdp_wrong_type"
    CDP_CASES["wrong_type"][0](_customers(sample_tables)).write_delta(bad)
    broken = {**case.resources, "cdp": CdpSource(delta_path=str(bad))}
    with pytest.raises(PipelineFailed, match=r"column 'predicted_clv_365d'.*numeric"):
        run_pipeline(case.instance, broken)
    after = delta_versions(case.warehouse)
    moved = {t for t in after if after[t] != case.before[t]}
    assert not moved, f"tables rewritten by a failed run: {sorted(moved)}"
