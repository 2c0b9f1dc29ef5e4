"""Reconciliation: the incremental CDP refresh equals a full recompute, over random change
sequences (hypothesis, derandomized).

Each example writes a small CDP table (with a change data feed), refreshes everything once in
full, then applies a random sequence of source versions: inserts, updates that move customers
between segments (tier across the value-group line, subcategory) or only change their mix
(region, discount, lifecycle) or nothing a summary reads (order frequency), and deletions;
as MERGE commits, sometimes as a plain append or a full overwrite of the source, sometimes with
a compaction of segcopy's own tables in between. After some versions (and always after the
last) the refresh runs (the functions the assets call, no Dagster: fast), the summaries from the
segment cube it keeps up to date. Then cdp_customers,
segment_summaries and customer_segments must equal what a full recompute of the source's last
version gives: same rows (assigned_at aside).
"""

import json
import tempfile
from collections import Counter
from pathlib import Path

import polars as pl
import pytest
from deltalake import DeltaTable, write_deltalake
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segcopy_assets.core.segments import SegmentationSpec
from segcopy_assets.core.vocabulary import (
    CLV_TIERS,
    DISCOUNT_SENSITIVITIES,
    LIFECYCLE_STATUSES,
    PRICE_PREFERENCES,
    REGIONS,
    SUBCATEGORIES,
)
from segcopy_assets.defs.cdp import activation_refresh, own_tables
from segcopy_assets.defs.cdp.activation_refresh import refresh_activation
from segcopy_assets.defs.cdp.ingest import ingest
from segcopy_assets.defs.cdp.summaries_refresh import refresh_summaries
from segcopy_assets.devtools.sample_data import generate_customers
from segcopy_assets.resources import CdpSource
from tests.integration import cdp_oracle

SPEC = SegmentationSpec(min_segment_size=15)  # ~21 customers a segment: some cross the line
BASE = next(generate_customers(300, seed=5))
PLACES = [
    (r, s, c) for r, states in REGIONS.items() for s, cities in states.items() for c in cities
]
STAMP = cdp_oracle.STAMP

# --------------------------------------------------------------------------------- strategies

new_customer = st.fixed_dictionaries(
    {
        "predicted_clv_tier": st.sampled_from(CLV_TIERS),
        "predicted_clv_365d": st.floats(1, 5_000).map(lambda x: round(x, 2)),
        "lifecycle_status": st.sampled_from(LIFECYCLE_STATUSES),
        "preferred_subcategory": st.sampled_from(sorted(SUBCATEGORIES)),
        "price_preference": st.sampled_from(PRICE_PREFERENCES),
        "discount_sensitivity": st.sampled_from(DISCOUNT_SENSITIVITIES),
        "place": st.sampled_from(PLACES),
    }
)
update = st.one_of(
    st.tuples(st.just("predicted_clv_tier"), st.sampled_from(CLV_TIERS)),
    st.tuples(st.just("preferred_subcategory"), st.sampled_from(sorted(SUBCATEGORIES))),
    st.tuples(st.just("place"), st.sampled_from(PLACES)),
    st.tuples(st.just("discount_sensitivity"), st.sampled_from(DISCOUNT_SENSITIVITIES)),
    st.tuples(st.just("lifecycle_status"), st.sampled_from(LIFECYCLE_STATUSES)),
    st.tuples(st.just("predicted_order_frequency_365d"), st.floats(0.2, 20)),  # read by nothing
)
operation = st.one_of(
    st.tuples(st.just("insert"), new_customer),
    st.tuples(st.just("update"), st.integers(0, 10_000), update),
    st.tuples(st.just("delete"), st.integers(0, 10_000)),
)
version = st.fixed_dictionaries(
    {
        "operations": st.lists(operation, min_size=1, max_size=12),
        "kind": st.sampled_from(["merge"] * 6 + ["overwrite"]),
        "refresh": st.booleans(),
        "compact_own": st.sampled_from([False] * 5 + [True]),
    }
)
sequences = st.lists(version, min_size=1, max_size=3)

# ------------------------------------------------------------------------------------ helpers


def _with_place(row: dict, place: tuple) -> dict:
    region, state, city = place
    return {**row, "region": region, "state": state, "city": city}


def apply_operations(current: pl.DataFrame, operations: list, counter: Counter) -> pl.DataFrame:
    rows = {r["customer_id"]: r for r in current.iter_rows(named=True)}
    for op in operations:
        ids = sorted(rows)
        if op[0] == "insert":
            counter["inserted"] += 1
            attrs = dict(op[1])
            row = _with_place(
                {**attrs, "customer_id": f"NEW-{counter['inserted']:06d}"}, attrs.pop("place")
            )
            row["preferred_category"] = SUBCATEGORIES[row["preferred_subcategory"]]
            row["predicted_order_frequency_365d"] = 2.0
            row["predicted_average_order_revenue_365d"] = round(row["predicted_clv_365d"] / 2, 2)
            rows[row["customer_id"]] = {c: row.get(c) for c in current.columns}
        elif op[0] == "update" and ids:
            customer = dict(rows[ids[op[1] % len(ids)]])
            field, value = op[2]
            if field == "place":
                customer = _with_place(customer, value)
            else:
                customer[field] = value
            if field == "preferred_subcategory":
                customer["preferred_category"] = SUBCATEGORIES[value]
            rows[customer["customer_id"]] = customer
        elif op[0] == "delete" and len(ids) > 120:
            del rows[ids[op[1] % len(ids)]]
    return pl.DataFrame(list(rows.values()), schema=current.schema)


def write_version(path: str, before: pl.DataFrame, after: pl.DataFrame, kind: str) -> None:
    """The new state as one source commit: a MERGE of the differences (an append when there
    are only new customers), or a full overwrite."""
    if kind == "overwrite":
        write_deltalake(path, after.to_arrow(), mode="overwrite")
        return
    upserts = after.join(before, on=before.columns, how="anti", nulls_equal=True)
    deleted = before.join(after, on="customer_id", how="anti")["customer_id"]
    if deleted.is_empty() and upserts.join(before, on="customer_id", how="semi").is_empty():
        write_deltalake(path, upserts.to_arrow(), mode="append")
        return
    source = pl.concat(
        [
            upserts.with_columns(pl.lit(False).alias("_gone")),
            before.filter(pl.col("customer_id").is_in(deleted.implode())).with_columns(
                pl.lit(True).alias("_gone")
            ),
        ]
    )
    (
        DeltaTable(path)
        .merge(source.to_arrow(), "t.customer_id = s.customer_id", "s", "t")
        .when_matched_delete("s._gone")
        .when_matched_update_all("NOT s._gone", except_cols=["_gone"])
        .when_not_matched_insert_all("NOT s._gone", except_cols=["_gone"])
        .execute()
    )


class Warehouse:
    """The tables in a temp dir, refreshed with the functions the assets call (the summaries
    kept in memory: the IO manager's part)."""

    def __init__(self, root: Path, source: str):
        self.cdp = CdpSource(delta_path=source)
        self.customers, self.activation = str(root / "cdp_customers"), str(root / "activation")
        self.cube = str(root / "segment_cube")
        self.summaries: pl.DataFrame | None = None
        self.modes: list[str] = []

    def refresh(self) -> None:
        done = ingest(self.cdp, self.customers, SPEC, log=lambda _: None)
        result = refresh_summaries(self.customers, self.cube, SPEC)
        self.summaries = result.summaries
        assigned = refresh_activation(
            self.customers, self.activation, self.summaries, SPEC, assigned_at=STAMP
        )
        self.modes += [f"cdp {done.refresh}", f"summaries {result.refresh}"]
        self.modes.append(f"activation {assigned.refresh}")

    def compact(self) -> None:
        for path in (self.customers, self.activation, self.cube):
            DeltaTable(path).optimize.compact()


def full_recompute(source: str) -> dict[str, pl.DataFrame]:
    return cdp_oracle.full_recompute(pl.read_delta(source), SPEC)


def assert_equal(warehouse: Warehouse, expected: dict[str, pl.DataFrame]) -> None:
    got = {
        "cdp_customers": pl.read_delta(warehouse.customers),
        "summaries": warehouse.summaries,
        "activation": pl.read_delta(warehouse.activation),
    }
    for name, want in expected.items():
        have = got[name]
        assert have is not None, name
        key = "segment_id" if name == "summaries" else "customer_id"
        have, want = have.drop("assigned_at", strict=False), want.drop("assigned_at", strict=False)
        assert have.columns == want.columns, name
        assert have.sort(key).equals(want.sort(key)), name
    # the sizes the activation table's last commit recorded (the next refresh adjusts them)
    record = own_tables.last_record(warehouse.activation, activation_refresh.RECORD)
    assert record is not None
    counted = got["activation"].group_by("segment_id").len()
    assert json.loads(record[activation_refresh.SIZES]) == dict(counted.iter_rows())


# -------------------------------------------------------------------------------------- tests


@pytest.mark.slow  # ~20 s on 2 cores: 60 sequences, each with its own tables
def test_incremental_refresh_equals_a_full_recompute_over_random_change_sequences():
    modes: Counter = Counter()

    @settings(
        max_examples=60,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(sequences)
    def check(versions):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            source = str(root / "source")
            write_deltalake(
                source, BASE.to_arrow(), configuration={"delta.enableChangeDataFeed": "true"}
            )
            warehouse = Warehouse(root, source)
            warehouse.refresh()  # the first refresh is a full one
            state, counter = BASE, Counter()
            for step in versions:
                after = apply_operations(state, step["operations"], counter)
                write_version(source, state, after, step["kind"])
                state = after
                if step["compact_own"]:
                    warehouse.compact()
                if step["refresh"]:
                    warehouse.refresh()
            warehouse.refresh()
            assert_equal(warehouse, full_recompute(source))
            modes.update(m.split(":")[0] for m in warehouse.modes)
            modes["sequences"] += 1

    check()
    assert modes["sequences"] >= 50, modes  # the issue asks for at least 50 random sequences
    # both paths were taken, each several times (the first refresh of each example is full)
    for asset in ("cdp", "summaries", "activation"):
        assert modes[f"{asset} incremental"] >= 20, modes
        assert modes[f"{asset} full"] >= 60, modes
