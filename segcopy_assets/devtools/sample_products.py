"""The synthetic sample catalogue: 14 products of an imaginary outdoor and cycling retailer.

ALL PRODUCTS ARE SYNTHETIC: the descriptions (``data/sample_products.json``, package data) are
original text written for this project, 2 per subcategory, in general-audience merchandising voice.
"""

import json
from importlib import resources

import polars as pl

from segcopy_assets.core.vocabulary import SUBCATEGORIES

PRODUCT_SCHEMA = {
    "product_id": pl.String,
    "name": pl.String,
    "category": pl.String,
    "subcategory": pl.String,
    "price": pl.Float64,
    "description": pl.String,
}


def _load_products() -> list[dict]:
    """The sample catalogue from ``data/sample_products.json`` (package data), with categories."""
    text = (
        resources.files("segcopy_assets.devtools")
        .joinpath("data/sample_products.json")
        .read_text("utf-8")
    )
    return [
        {**p, "category": SUBCATEGORIES[p["subcategory"]], "price": float(p["price"])}
        for p in json.loads(text)
    ]


#: 14 products, 2 per subcategory, original descriptions in general-audience merchandising voice.
SAMPLE_PRODUCTS = _load_products()


def sample_products_frame() -> pl.DataFrame:
    """``SAMPLE_PRODUCTS`` as a DataFrame with ``PRODUCT_SCHEMA``."""
    return pl.DataFrame(SAMPLE_PRODUCTS, schema=PRODUCT_SCHEMA)


def write_sample_products(path: str) -> int:
    """Write ``SAMPLE_PRODUCTS`` as a Delta table at ``path`` (overwrite); return the row count."""
    df = sample_products_frame()
    df.write_delta(path, mode="overwrite", delta_write_options={"schema_mode": "overwrite"})
    return df.height
