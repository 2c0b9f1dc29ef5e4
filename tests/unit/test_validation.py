import polars as pl
import pytest

from segcopy_assets.core.validation import validate_customers, validate_products
from segcopy_assets.devtools.sample_data import CLV_TIERS
from segcopy_assets.errors import InputValidationError

KEYS = ["preferred_subcategory", "predicted_clv_tier"]


def good_customers(n=4):
    return pl.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "predicted_clv_tier": ["Gold", "Low", "Silver", "Medium"][:n],
            "predicted_clv_365d": [10.0] * n,
            "lifecycle_status": ["Active"] * n,
            "preferred_category": ["Bikes"] * n,
            "preferred_subcategory": ["Road Bikes"] * n,
            "price_preference": ["Value"] * n,
            "discount_sensitivity": ["High"] * n,
            "region": ["Pacific"] * n,
            "state": ["Oregon"] * n,
            "city": ["Portland"] * n,
        }
    )


def check(df):
    validate_customers(df.lazy(), table="cdp.customers", segment_key_columns=KEYS, tiers=CLV_TIERS)


def test_good_table_passes():
    check(good_customers())


def test_missing_column_named():
    with pytest.raises(InputValidationError) as err:
        check(good_customers().drop("preferred_subcategory"))
    assert err.value.column == "preferred_subcategory"
    assert "cdp.customers" in str(err.value) and "missing" in str(err.value)


def test_wrong_type_named():
    with pytest.raises(InputValidationError, match="predicted_clv_365d.*numeric"):
        check(good_customers().with_columns(pl.col("predicted_clv_365d").cast(pl.String)))


def test_null_segment_key_names_column_and_row():
    df = good_customers().with_columns(
        pl.when(pl.col("customer_id") == "c2")
        .then(None)
        .otherwise(pl.col("preferred_subcategory"))
        .alias("preferred_subcategory")
    )
    with pytest.raises(InputValidationError) as err:
        check(df)
    assert err.value.column == "preferred_subcategory"
    assert err.value.row["customer_id"] == "c2" and err.value.row["row"] == 2
    assert "customer_id='c2'" in str(err.value)


def test_unknown_tier_and_duplicate_id():
    with pytest.raises(InputValidationError, match="predicted_clv_tier.*Diamond"):
        check(good_customers().with_columns(pl.lit("Diamond").alias("predicted_clv_tier")))
    with pytest.raises(InputValidationError, match="customer_id.*'c0' appears 2 times"):
        check(pl.concat([good_customers(), good_customers(1)]))


def products(**overrides):
    base = {
        "product_id": ["P1", "P2"],
        "name": ["A", "B"],
        "category": ["Bikes"] * 2,
        "subcategory": ["Road Bikes"] * 2,
        "price": [1.0, 2.0],
        "description": ["Fine.", "Good."],
    }
    base.update(overrides)
    return pl.DataFrame(base).lazy()


def test_products_duplicate_id_empty_and_long_description():
    validate_products(products(), table="products", max_description_chars=100)
    with pytest.raises(InputValidationError, match="product_id.*'P1' appears 2 times"):
        validate_products(
            products(product_id=["P1", "P1"]), table="products", max_description_chars=100
        )
    with pytest.raises(InputValidationError) as err:
        validate_products(
            products(description=["Fine.", "  "]), table="products", max_description_chars=100
        )
    assert err.value.column == "description" and err.value.row["product_id"] == "P2"
    with pytest.raises(InputValidationError, match="longer than 3 characters"):
        validate_products(products(), table="products", max_description_chars=3)


def test_empty_table_and_control_characters():
    with pytest.raises(InputValidationError, match="no rows"):
        check(good_customers().head(0))
    with pytest.raises(InputValidationError) as err:
        validate_products(
            products(description=["Fine.", "Bad\x07bell."]),
            table="products",
            max_description_chars=100,
        )
    assert err.value.column == "description" and err.value.row["product_id"] == "P2"
    assert "control characters" in str(err.value) and "\\x07" in str(err.value)
    validate_products(
        products(description=["Line one.\nLine two.\tTabbed.", "Good."]),
        table="products",
        max_description_chars=100,
    )
