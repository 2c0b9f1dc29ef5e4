"""A channel's review and publication: the description's workflow (``review.service``,
``review.batches``, ``core.publication``, ``core.continuity``) on the channel's own tables, one
slot per pair x arm.

Decisions bind to input hashes and every arm has its own, so one review log per channel holds
them all (``<channel>_reviews``); sampling batches are drawn per channel
(``<channel>_review_batches``); an edit is judged by the channel's checks (limits, required
text, content rules), not the description's; the published table has one row per pair x arm
(``<channel>_published``, ``CHANNEL_PUBLISHED_SCHEMA``), and approved copy of a replaced variant
stays live as superseded per arm, as the description's does per pair.
"""

import dataclasses
from typing import TYPE_CHECKING

import polars as pl

from segcopy_assets.core.publication import TextFailures
from segcopy_assets.errors import InputValidationError
from segcopy_assets.generation.channel_runs import arms
from segcopy_assets.generation.channels import Channel
from segcopy_assets.generation.variants import plan_pairs
from segcopy_assets.quality.judge import ERROR
from segcopy_assets.storage import delta
from segcopy_assets.storage.tables import (
    channel_checks_table,
    channel_published_table,
    channel_review_batches_table,
    channel_reviews_table,
    channel_variants_table,
)

if TYPE_CHECKING:
    from segcopy_assets.review.service import ReviewTables


def channel_review_tables(description: "ReviewTables", channel: str) -> "ReviewTables":
    """The channel's tables beside the description's (products, summaries and the review
    page's session state are shared)."""
    schema_dir = delta.parent(description.variants)

    def join(table: str) -> str:
        return delta.join(schema_dir, table)

    return dataclasses.replace(
        description,
        variants=join(channel_variants_table(channel)),
        verdicts=join(channel_checks_table(channel)),
        reviews=join(channel_reviews_table(channel)),
        batches=join(channel_review_batches_table(channel)),
        published=join(channel_published_table(channel)),
        channel=channel,
    )


def load_review_channel(name: str) -> Channel:
    """The channel ``name`` as ``prompts/channels/`` defines it now (an unknown name: one error
    listing the channels)."""
    from segcopy_assets.resources import copywriter_from_env

    return copywriter_from_env().channel(name)


def channel_rules(channel: Channel, products: pl.DataFrame) -> TextFailures:
    """The channel's ERROR checks of a text in its format (one field, or labelled lines) with a
    rationale, against the product as it is in ``products``."""
    by_id = {p["product_id"]: p for p in products.to_dicts()}

    def failures(text: str, rationale: str, segment: dict, product_id: str) -> list[str]:
        product = by_id.get(product_id) or {"description": "", "name": product_id}
        answer = f"{text.strip()}\n\n**Rationale:** {rationale.strip() or '-'}"
        return [
            f"{v.check}: {v.reason}"
            for v in channel.judge(answer, segment, product)
            if not v.passed and v.severity == ERROR
        ]

    return failures


def channel_wanted(
    channel: Channel, summaries: pl.DataFrame, products: pl.DataFrame, variants_per_pair: int
) -> dict[tuple, str]:
    """(segment, product, arm) → the input hash a channel run would generate now."""
    pairs = plan_pairs(summaries, products)
    out: dict[tuple, str] = {}
    for arm in arms(channel, variants_per_pair):
        for (segment, product), h in zip(pairs, arm.hashes(arm.pairs(pairs)), strict=True):
            out[(segment["segment_id"], product["product_id"], arm.index)] = h
    return out


def pick_arm(rows: pl.DataFrame, table: str, what: str, arm: int | None) -> pl.DataFrame:
    """The row of one arm among a pair's ``rows`` of ``table`` (one arm and ``arm`` None or 0:
    it); several arms and none named, or an arm that does not exist: one error listing them."""
    if "variant_index" not in rows.columns or (rows.height <= 1 and arm in (None, 0)):
        return rows
    indices = rows["variant_index"].to_list()
    listing = ", ".join(
        f"{i} ({a})" if a else str(i) for i, a in zip(indices, rows["angle"].to_list())
    )
    if arm is None:
        raise InputValidationError(
            table,
            "variant_index",
            f"{what} has {rows.height} arms: name one with --arm ({listing})",
        )
    picked = rows.filter(pl.col("variant_index") == arm)
    if picked.is_empty():
        raise InputValidationError(
            table, "variant_index", f"{what} has no arm {arm} (arms: {listing or 'none'})"
        )
    return picked
