"""Fixtures of the integration tests: crafted warehouse tables for the review page."""

import os
from pathlib import Path

import polars as pl
import pytest
from deltalake import write_deltalake

from segcopy_assets.review.service import ReviewTables
from segcopy_assets.storage import variant_store
from segcopy_assets.storage.tables import VARIANT_SCHEMA, VERDICT_SCHEMA

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
