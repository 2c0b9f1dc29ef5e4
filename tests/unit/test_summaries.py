import polars as pl
import pytest

from segcopy_assets.core.segments import (
    SegmentationSpec,
    approximate_count,
    compute_segment_summaries,
    segment_slug,
    slugify,
)


def customers(rows):
    cols = [
        "customer_id",
        "predicted_clv_tier",
        "preferred_subcategory",
        "preferred_category",
        "discount_sensitivity",
        "price_preference",
        "lifecycle_status",
        "region",
        "state",
        "city",
    ]
    return pl.DataFrame([dict(zip(cols, r)) for r in rows]).lazy()


ROWS = [
    # id, tier, subcategory, category, discount, price, lifecycle, region, state, city
    ("c1", "Gold", "Tents", "Camping", "Low", "Premium", "Active", "Pacific", "Oregon", "Portland"),
    ("c2", "Platinum", "Tents", "Camping", "Low", "Premium", "Active", "Pacific", "Oregon", "Bend"),
    ("c3", "Silver", "Tents", "Camping", "High", "Value", "At risk", "Midwest", "Ohio", "Columbus"),
    ("c4", "Low", "Tents", "Camping", "High", "Value", "Lost", "Pacific", "Washington", "Seattle"),
    ("c5", "Medium", "Tents", "Camping", "Medium", "Value", "Active", "Midwest", "Ohio", "Dayton"),
    (
        "c6",
        "Low",
        "Road Bikes",
        "Bikes",
        "High",
        "Mid-range",
        "Active",
        "Northeast",
        "New York",
        "Albany",
    ),
]


def by_id(df):
    return {r["segment_id"]: r for r in df.iter_rows(named=True)}


def shares(entries):
    return {e["value"]: (e["count"], round(e["share"], 4)) for e in entries}


def test_hand_computed_counts_and_shares():
    df = compute_segment_summaries(customers(ROWS))
    seg = by_id(df)
    assert sorted(seg) == ["road-bikes--core", "tents--core", "tents--high-value"]
    high = seg["tents--high-value"]
    assert high["customer_count"] == 3
    assert high["top_category"] == "Camping"
    assert shares(high["predicted_clv_tier_shares"]) == {
        "Gold": (1, 0.3333),
        "Platinum": (1, 0.3333),
        "Silver": (1, 0.3333),
    }
    assert shares(high["discount_sensitivity_shares"]) == {"Low": (2, 0.6667), "High": (1, 0.3333)}
    assert high["top_regions"][0] == {"value": "Pacific", "count": 2, "share": pytest.approx(2 / 3)}
    core = seg["tents--core"]
    assert core["customer_count"] == 2
    assert shares(core["price_preference_shares"]) == {"Value": (2, 1.0)}
    assert round(core["share_of_customers"], 4) == round(2 / 6, 4)
    # Description says the majority region only when it is one.
    assert "at least half (67%) lives in the Pacific region" in high["segment_description"]
    road = seg["road-bikes--core"]["segment_description"]
    assert "at least half (100%) lives in the Northeast region" in road
    assert (
        "Top regions: 50% Midwest, 50% Pacific (at least half (50%)" in core["segment_description"]
    )
    assert "preferred subcategory is Tents" in high["segment_description"]


def test_no_region_named_below_half():
    rows = ROWS[:3]  # tents high value: 2 Pacific of 3 ... add a third region to drop below half
    rows = [
        *rows,
        (
            "c7",
            "Gold",
            "Tents",
            "Camping",
            "Low",
            "Premium",
            "Active",
            "Northeast",
            "Maine",
            "Bangor",
        ),
        (
            "c8",
            "Gold",
            "Tents",
            "Camping",
            "Low",
            "Premium",
            "Active",
            "Southeast",
            "Georgia",
            "Athens",
        ),
    ]
    seg = by_id(compute_segment_summaries(customers(rows)))["tents--high-value"]
    assert "no region holds half the segment" in seg["segment_description"]


def test_min_segment_size_and_custom_keys():
    df = compute_segment_summaries(customers(ROWS), SegmentationSpec(min_segment_size=3))
    assert df["segment_id"].to_list() == ["tents--high-value"]
    by_region = compute_segment_summaries(customers(ROWS), SegmentationSpec(keys=("region",)))
    assert by_id(by_region)["pacific"]["customer_count"] == 3


def test_slugs_are_stable_and_readable():
    assert slugify("E-Bikes") == "e-bikes"
    assert slugify("Cycling  Apparel & Co.") == "cycling-apparel-co"
    assert segment_slug(["Hiking Footwear", "high value"]) == "hiking-footwear--high-value"


def test_summary_hash_stable_across_runs_and_row_order():
    a = compute_segment_summaries(customers(ROWS))
    b = compute_segment_summaries(customers(list(reversed(ROWS))))
    assert a["summary_hash"].to_list() == b["summary_hash"].to_list()
    assert a.equals(b)


def test_summary_hash_changes_when_one_customer_moves():
    before = by_id(compute_segment_summaries(customers(ROWS)))
    moved = list(ROWS)
    moved[4] = (
        "c5",
        "Medium",
        "Tents",
        "Camping",
        "Medium",
        "Value",
        "Active",
        "Pacific",
        "Oregon",
        "Bend",
    )
    after = by_id(compute_segment_summaries(customers(moved)))
    assert after["tents--core"]["summary_hash"] != before["tents--core"]["summary_hash"]
    assert after["tents--high-value"]["summary_hash"] == before["tents--high-value"]["summary_hash"]
    assert after["road-bikes--core"]["summary_hash"] == before["road-bikes--core"]["summary_hash"]


def test_approximate_count():
    assert approximate_count(87) == 87
    assert approximate_count(1234) == 1200
    assert approximate_count(4567) == 4600


def test_sample_data_gives_the_walkthroughs_14_segments(sample_tables):
    df = compute_segment_summaries(pl.scan_delta(sample_tables["customers"]))
    assert df.height == 14
    assert df["customer_count"].sum() == 20_000
    assert df["segment_id"].n_unique() == 14
    assert df["summary_hash"].n_unique() == 14


def test_assign_segments_matches_the_summaries():
    from segcopy_assets.core.segments import assign_segments

    spec = SegmentationSpec(min_segment_size=2)
    summaries = compute_segment_summaries(customers(ROWS), spec)
    assigned = dict(assign_segments(customers(ROWS), summaries, spec).collect().iter_rows())
    # road-bikes--core (1 customer) is below min_segment_size: its customer is not assigned.
    assert assigned == {
        "c1": "tents--high-value",
        "c2": "tents--high-value",
        "c3": "tents--high-value",
        "c4": "tents--core",
        "c5": "tents--core",
    }
