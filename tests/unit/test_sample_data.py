"""Tests for segcopy_assets.devtools.sample_data (synthetic Amperity-style customers and products)."""

from __future__ import annotations

import re

import polars as pl
import pytest

from segcopy_assets.devtools import sample_data as sd
from segcopy_assets.devtools import sample_products as sp

HIGH_VALUE = ("Platinum", "Gold", "Silver")

EXPECTED_SCHEMA = {
    "customer_id": pl.String,
    "predicted_clv_tier": pl.String,
    "predicted_clv_365d": pl.Float64,
    "predicted_order_frequency_365d": pl.Float64,
    "predicted_average_order_revenue_365d": pl.Float64,
    "lifecycle_status": pl.String,
    "preferred_category": pl.String,
    "preferred_subcategory": pl.String,
    "price_preference": pl.String,
    "discount_sensitivity": pl.String,
    "region": pl.String,
    "state": pl.String,
    "city": pl.String,
}


def _collect(**kwargs) -> pl.DataFrame:
    return pl.concat(list(sd.generate_customers(**kwargs)))


@pytest.fixture(scope="module")
def customers() -> pl.DataFrame:
    return _collect(n=20_000, seed=7)


def _share(df: pl.DataFrame, column: str, value: str) -> float:
    return (df[column] == value).mean()


# ---------------------------------------------------------------- vocabularies


def test_vocabularies():
    assert sd.CLV_TIERS == ("Platinum", "Gold", "Silver", "Bronze", "Medium", "Low")
    assert sd.CLV_TIER_SHARES == (0.01, 0.04, 0.05, 0.15, 0.25, 0.50)
    assert sd.LIFECYCLE_STATUSES == ("Active", "Cooling down", "At risk", "Highly at risk", "Lost")
    assert sd.SUBCATEGORIES == {
        "Road Bikes": "Bikes",
        "Mountain Bikes": "Bikes",
        "E-Bikes": "Bikes",
        "Tents": "Camping",
        "Sleeping Bags": "Camping",
        "Cycling Apparel": "Apparel",
        "Hiking Footwear": "Apparel",
    }
    assert sd.PRICE_PREFERENCES == ("Premium", "Mid-range", "Value")
    assert sd.DISCOUNT_SENSITIVITIES == ("Low", "Medium", "High")
    assert set(sd.REGIONS) == {
        "Northeast",
        "Southeast",
        "Midwest",
        "Southwest",
        "Mountain West",
        "Pacific",
    }
    for states in sd.REGIONS.values():
        assert 2 <= len(states) <= 4
        for cities in states.values():
            assert 2 <= len(cities) <= 3
    all_states = [s for states in sd.REGIONS.values() for s in states]
    assert len(all_states) == len(set(all_states))
    assert "synthetic" in sd.__doc__.lower()
    from segcopy_assets.core import vocabulary

    doc = vocabulary.__doc__.lower()
    assert "own" in doc and "amperity" in doc


# ---------------------------------------------------------------- customers


def test_columns_and_dtypes_exact(customers):
    assert customers.schema == pl.Schema(EXPECTED_SCHEMA)
    assert list(customers.columns) == list(EXPECTED_SCHEMA)
    assert customers.height == 20_000
    assert customers.null_count().sum_horizontal().item() == 0
    for chunk in sd.generate_customers(n=2_500, seed=1, chunk_rows=1_000):
        assert chunk.schema == pl.Schema(EXPECTED_SCHEMA)


def test_values_come_from_vocabularies(customers):
    assert set(customers["predicted_clv_tier"]) == set(sd.CLV_TIERS)
    assert set(customers["lifecycle_status"]) == set(sd.LIFECYCLE_STATUSES)
    assert set(customers["preferred_subcategory"]) == set(sd.SUBCATEGORIES)
    assert set(customers["price_preference"]) == set(sd.PRICE_PREFERENCES)
    assert set(customers["discount_sensitivity"]) == set(sd.DISCOUNT_SENSITIVITIES)
    assert set(customers["region"]) == set(sd.REGIONS)
    # category follows subcategory; state and city follow region.
    pairs = customers.select("preferred_subcategory", "preferred_category").unique().rows()
    assert all(sd.SUBCATEGORIES[sub] == cat for sub, cat in pairs)
    for region, state, city in customers.select("region", "state", "city").unique().rows():
        assert city in sd.REGIONS[region][state]


def test_money_columns(customers):
    clv = customers["predicted_clv_365d"]
    assert clv.min() > 0
    assert (clv.round(2) == clv).all()
    assert (customers["predicted_order_frequency_365d"] > 0).all()
    assert (customers["predicted_average_order_revenue_365d"] > 0).all()
    # Tiers are CLV percentiles: every tier's CLV range sits above the next tier's.
    ranges = customers.group_by("predicted_clv_tier").agg(
        pl.col("predicted_clv_365d").min().alias("lo"),
        pl.col("predicted_clv_365d").max().alias("hi"),
    )
    by_tier = {t: (lo, hi) for t, lo, hi in ranges.rows()}
    for better, worse in zip(sd.CLV_TIERS, sd.CLV_TIERS[1:]):
        assert by_tier[better][0] >= by_tier[worse][1]
    # AOR x frequency reproduces CLV (rounding aside).
    recon = (
        customers["predicted_average_order_revenue_365d"]
        * customers["predicted_order_frequency_365d"]
    )
    assert ((recon - clv).abs() <= 0.01 * customers["predicted_order_frequency_365d"] + 0.01).all()


def test_tier_proportions_within_one_point(customers):
    shares = customers["predicted_clv_tier"].value_counts(normalize=True)
    got = dict(shares.rows())
    for tier, expected in zip(sd.CLV_TIERS, sd.CLV_TIER_SHARES):
        assert abs(got[tier] - expected) <= 0.01, (tier, got[tier], expected)


def test_deterministic_per_seed():
    a = _collect(n=5_000, seed=11)
    b = _collect(n=5_000, seed=11)
    c = _collect(n=5_000, seed=12)
    assert a.equals(b)
    assert not a.equals(c)
    assert not a["predicted_clv_365d"].equals(c["predicted_clv_365d"])


def test_independent_of_chunk_rows(monkeypatch):
    # Small internal blocks so re-cutting spans block boundaries in both directions.
    monkeypatch.setattr(sd, "_BLOCK_ROWS", 1_500)
    whole = _collect(n=7_000, seed=3)
    assert whole.height == 7_000
    for chunk_rows in (999, 1_500, 2_000, 7_000):
        chunks = list(sd.generate_customers(n=7_000, seed=3, chunk_rows=chunk_rows))
        assert all(c.height <= chunk_rows for c in chunks)
        assert pl.concat(chunks).equals(whole), chunk_rows


def test_chunking_and_unique_ids(monkeypatch):
    # Small internal blocks too, so ids must stay unique across generation blocks as well.
    monkeypatch.setattr(sd, "_BLOCK_ROWS", 1_500)
    chunks = list(sd.generate_customers(n=5_003, seed=7, chunk_rows=1_000))
    assert [c.height for c in chunks] == [1_000] * 5 + [3]
    df = pl.concat(chunks)
    assert df["customer_id"].n_unique() == 5_003
    assert df["customer_id"][0] == "AMP-0000000001"
    assert df["customer_id"][-1] == "AMP-0000005003"
    assert df["customer_id"].str.contains(r"^AMP-\d{10}$").all()


def test_zero_and_invalid_sizes():
    empty = list(sd.generate_customers(n=0))
    assert len(empty) == 1 and empty[0].height == 0
    assert empty[0].schema == pl.Schema(EXPECTED_SCHEMA)
    with pytest.raises(ValueError):
        list(sd.generate_customers(n=-1))
    with pytest.raises(ValueError):
        list(sd.generate_customers(n=10, chunk_rows=0))


def test_price_preference_follows_tier(customers):
    top = customers.filter(pl.col("predicted_clv_tier").is_in(["Platinum", "Gold"]))
    low = customers.filter(pl.col("predicted_clv_tier") == "Low")
    assert (
        _share(top, "price_preference", "Premium")
        > _share(low, "price_preference", "Premium") + 0.25
    )
    assert (
        _share(low, "price_preference", "Value") > _share(top, "price_preference", "Value") + 0.25
    )


def test_discount_sensitivity_follows_tier(customers):
    plat = customers.filter(pl.col("predicted_clv_tier") == "Platinum")
    low = customers.filter(pl.col("predicted_clv_tier") == "Low")
    assert (
        _share(low, "discount_sensitivity", "High")
        > _share(plat, "discount_sensitivity", "High") + 0.25
    )
    assert (
        _share(plat, "discount_sensitivity", "Low")
        > _share(low, "discount_sensitivity", "Low") + 0.25
    )


def test_lifecycle_follows_tier(customers):
    plat_gold = customers.filter(pl.col("predicted_clv_tier").is_in(["Platinum", "Gold"]))
    low = customers.filter(pl.col("predicted_clv_tier") == "Low")
    assert _share(plat_gold, "lifecycle_status", "Active") > 0.6
    assert (
        _share(low, "lifecycle_status", "Lost")
        > _share(plat_gold, "lifecycle_status", "Lost") + 0.15
    )


def test_regions_follow_subcategory(customers):
    def region_share(sub: str, region: str) -> float:
        return _share(customers.filter(pl.col("preferred_subcategory") == sub), "region", region)

    assert region_share("Mountain Bikes", "Mountain West") >= 0.5
    assert region_share("E-Bikes", "Northeast") >= 0.4
    assert region_share("Tents", "Pacific") >= 0.3
    assert region_share("Hiking Footwear", "Pacific") >= 0.3
    road = customers.filter(pl.col("preferred_subcategory") == "Road Bikes")
    assert road["region"].value_counts(normalize=True)["proportion"].max() < 0.3


def test_subcategory_mix_not_uniform(customers):
    shares = dict(customers["preferred_subcategory"].value_counts(normalize=True).rows())
    assert shares["Cycling Apparel"] > 0.2
    assert shares["Road Bikes"] > 0.15
    assert shares["E-Bikes"] < 0.1
    assert max(shares.values()) - min(shares.values()) > 0.1


def test_every_subcategory_has_high_value_customers(customers):
    # The walkthrough's 14 segments are subcategory x {high-value (Platinum/Gold/Silver), rest}.
    hv = customers.filter(pl.col("predicted_clv_tier").is_in(HIGH_VALUE))
    counts = dict(hv.group_by("preferred_subcategory").len().rows())
    assert set(counts) == set(sd.SUBCATEGORIES)
    assert min(counts.values()) >= 30, counts
    # Gold and Silver alone also fill every subcategory (Platinum is only 200 customers at
    # n=20,000, so 30 in each of 7 subcategories is arithmetically impossible for it).
    per_tier = dict(
        ((t, s), c)
        for t, s, c in hv.group_by("predicted_clv_tier", "preferred_subcategory").len().rows()
    )
    for tier in ("Gold", "Silver"):
        for sub in sd.SUBCATEGORIES:
            assert per_tier.get((tier, sub), 0) >= 30, (tier, sub)
    for sub in sd.SUBCATEGORIES:
        assert per_tier.get(("Platinum", sub), 0) >= 15, ("Platinum", sub)


# ---------------------------------------------------------------- products


def test_products_shape():
    products = sp.SAMPLE_PRODUCTS
    assert len(products) == 14
    ids = [p["product_id"] for p in products]
    assert len(set(ids)) == 14
    for p in products:
        assert set(p) == {"product_id", "name", "category", "subcategory", "price", "description"}
        assert re.fullmatch(r"[A-Z]{2}-\d{3}", p["product_id"])
        assert sd.SUBCATEGORIES[p["subcategory"]] == p["category"]
        assert isinstance(p["price"], float) and p["price"] > 0
    per_sub = {s: sum(p["subcategory"] == s for p in products) for s in sd.SUBCATEGORIES}
    assert per_sub == {s: 2 for s in sd.SUBCATEGORIES}


@pytest.mark.parametrize("product", sp.SAMPLE_PRODUCTS, ids=lambda p: p["product_id"])
def test_product_description_rules(product):
    text = product["description"]
    assert 60 <= len(text.split()) <= 120
    sentences = re.split(r"(?<=\.)\s+", text.strip())
    assert 4 <= len(sentences) <= 7, sentences
    assert all(s.endswith(".") for s in sentences)
    lowered = text.lower()
    for banned in ("$", "%", "discount", "sale"):
        assert banned not in lowered, banned
    # Concrete facts: at least a few numbers with units.
    assert len(re.findall(r"\d", text)) >= 5


def test_product_descriptions_unique():
    descriptions = [p["description"] for p in sp.SAMPLE_PRODUCTS]
    assert len(set(descriptions)) == len(descriptions)


# ---------------------------------------------------------------- Delta round-trips


def test_customers_delta_round_trip(tmp_path):
    path = str(tmp_path / "customers")
    written = sd.write_sample_customers(path, n=3_000, seed=5, chunk_rows=700)
    assert written == 3_000
    back = pl.read_delta(path).sort("customer_id")
    expected = _collect(n=3_000, seed=5)
    assert back.schema == pl.Schema(EXPECTED_SCHEMA)
    assert back.equals(expected)
    # Writing again replaces the table instead of appending to it.
    assert sd.write_sample_customers(path, n=1_000, seed=6, chunk_rows=400) == 1_000
    again = pl.read_delta(path).sort("customer_id")
    assert again.equals(_collect(n=1_000, seed=6))


def test_customers_delta_replaces_foreign_schema(tmp_path):
    path = str(tmp_path / "customers")
    pl.DataFrame({"x": [1, 2, 3]}).write_delta(path)
    assert sd.write_sample_customers(path, n=500, seed=1) == 500
    back = pl.read_delta(path)
    assert back.schema == pl.Schema(EXPECTED_SCHEMA)
    assert back.height == 500


def test_products_delta_round_trip(tmp_path):
    path = str(tmp_path / "products")
    assert sp.write_sample_products(path) == 14
    assert sp.write_sample_products(path) == 14  # overwrite, not append
    back = pl.read_delta(path).sort("product_id")
    assert back.height == 14
    assert back.columns == ["product_id", "name", "category", "subcategory", "price", "description"]
    assert back.schema["price"] == pl.Float64
    expected = pl.DataFrame(sp.SAMPLE_PRODUCTS).select(back.columns).sort("product_id")
    assert back.equals(expected)


# ---------------------------------------------------------------- churn (sample_churn)


def test_the_sample_table_has_a_change_data_feed(tmp_path):
    from deltalake import DeltaTable

    path = str(tmp_path / "customers")
    pl.DataFrame({"x": [1]}).write_delta(path)  # a table that existed without one
    sd.write_sample_customers(path, n=100, seed=1)
    assert DeltaTable(path).metadata().configuration["delta.enableChangeDataFeed"] == "true"


def test_churn_mix_is_realistic_and_deterministic(customers):
    from segcopy_assets.devtools.sample_churn import churn_changes

    table = customers.head(5_000).lazy()
    upserts, deleted = churn_changes(table, 200, seed=3, salt=1)
    again = churn_changes(table, 200, seed=3, salt=1)
    assert upserts.equals(again[0]) and deleted.equals(again[1])
    assert not upserts.equals(churn_changes(table, 200, seed=3, salt=2)[0])
    assert upserts.schema == pl.Schema(EXPECTED_SCHEMA)
    before = customers.head(5_000)
    new = upserts.join(before, on="customer_id", how="anti")
    changed = upserts.join(before, on="customer_id", how="semi")
    assert (new.height, changed.height, deleted.len()) == (50, 130, 20)
    assert new["customer_id"].min() == "AMP-0000005001"  # the next ids
    assert deleted.is_in(before["customer_id"].implode()).all()
    assert not set(deleted) & set(upserts["customer_id"])
    # every changed customer differs from its row before in one attribute at least
    old = before.join(changed.select("customer_id"), on="customer_id").sort("customer_id")
    diff = sum((old[c] != changed.sort("customer_id")[c]).cast(pl.Int64) for c in old.columns[1:])
    assert diff.min() >= 1
    # re-scored customers cross the high-value line both ways; the category follows a subcategory
    groups = old.join(changed, on="customer_id", suffix="_new").select(
        pl.col("predicted_clv_tier").is_in(HIGH_VALUE).alias("was"),
        pl.col("predicted_clv_tier_new").is_in(HIGH_VALUE).alias("now"),
    )
    assert groups.filter(pl.col("was") != pl.col("now")).height >= 1
    cats = dict(zip(sd._SUBCATS, sd._CATEGORY_S.to_list()))
    assert all(
        cats[s] == c
        for s, c in changed.select("preferred_subcategory", "preferred_category").iter_rows()
    )


def test_write_churn_is_one_version_of_changes(tmp_path):
    from deltalake import DeltaTable

    from segcopy_assets.devtools.sample_churn import write_churn

    tables = [str(tmp_path / name) for name in ("a", "b")]
    for path in tables:
        sd.write_sample_customers(path, n=2_000, seed=2)
    done = [write_churn(path, 100, seed=9) for path in tables]
    assert done[0] == done[1] and done[0].version == 1
    assert (done[0].inserted, done[0].updated, done[0].deleted) == (25, 65, 10)
    a, b = (pl.read_delta(p).sort("customer_id") for p in tables)
    assert a.equals(b) and a.height == 2_015
    feed = pl.DataFrame(DeltaTable(tables[0]).load_cdf(starting_version=1).read_all())
    counts = dict(feed.group_by("_change_type").len().iter_rows())
    assert counts == {"insert": 25, "update_preimage": 65, "update_postimage": 65, "delete": 10}
    assert write_churn(tables[0], 100, seed=9).version == 2  # the next churn differs
    assert not pl.read_delta(tables[0]).sort("customer_id").equals(b)
