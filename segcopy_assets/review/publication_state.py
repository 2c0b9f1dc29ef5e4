"""What a publication run publishes now, read from the warehouse tables: the one computation
behind ``published_variants``, ``segcopy review list --withheld`` and the review page.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import polars as pl

from segcopy_assets.core.continuity import CHANNEL_SLOT, PAIR, Continuity
from segcopy_assets.core.publication import (
    WITHHELD_SCHEMA,
    description_failures,
    select_published,
)
from segcopy_assets.core.sampling import accepted_members, decisions_since_draw
from segcopy_assets.generation.channels import Channel
from segcopy_assets.quality.judge import CheckSettings
from segcopy_assets.review.channel_review import channel_rules, channel_wanted
from segcopy_assets.review.service import ReviewTables
from segcopy_assets.storage import delta, review_log, variant_store
from segcopy_assets.storage.review_batches import read_batches
from segcopy_assets.storage.tables import (
    CHANNEL_PUBLISHED_SCHEMA,
    PUBLISHED_SCHEMA,
    VERDICT_SCHEMA,
)


@dataclass(frozen=True)
class Publication:
    published: pl.DataFrame  # PUBLISHED_SCHEMA
    withheld: pl.DataFrame  # WITHHELD_SCHEMA
    reviews_in_log: int
    accepted_batches: int


def wanted_hashes(
    summaries: pl.DataFrame, products: pl.DataFrame, prompt_hash: str
) -> dict[tuple[str, str], str]:
    """(segment, product) → the input hash a variants run would generate now (every pairing)."""
    from segcopy_assets.generation.freshness import expected_pairs

    expected = expected_pairs(summaries, products, prompt_hash)
    return {(s, p): h for s, p, h in expected.iter_rows()}


def read_published(path: str, schema: pl.Schema = PUBLISHED_SCHEMA) -> pl.DataFrame:
    """A published table as it is (columns it predates read null)."""
    if not delta.table_exists(path):
        return schema.to_frame()
    return variant_store.read_segments(path, schema=schema)


def superseded_due(path: str, grace: timedelta, now: datetime | None = None) -> int:
    """How many superseded rows of the published table are past their grace period (a run now
    would withdraw them, so ``segcopy run`` and the publishing sensor publish again)."""
    if not delta.table_exists(path):
        return 0
    now = now or datetime.now(UTC)
    published = read_published(path)
    due = published.filter(
        (pl.col("state") == "superseded") & (pl.col("superseded_at") < now - grace)
    )
    return due.height


def compute_publication(
    tables: ReviewTables,
    *,
    prompt_hash: str,
    settings: CheckSettings,
    grace: timedelta,
    auto_approve_passing_checks: bool = False,
    summaries: pl.DataFrame | None = None,
    products: pl.DataFrame | None = None,
    now: datetime | None = None,
    channel: Channel | None = None,
    variants_per_pair: int = 1,
) -> Publication:
    """Every current slot's published copy (current or superseded) and every variant withheld,
    with why (``core.publication.select_published``): the description's pairs, or (``channel``,
    with ``tables`` its tables) a channel's pairs x arms, edits judged by its checks."""
    summaries = summaries if summaries is not None else pl.read_delta(tables.summaries)
    products = products if products is not None else pl.read_delta(tables.products)
    key: tuple[str, ...]
    if channel is None:
        variants = variant_store.read_segments(tables.variants)
        wanted = wanted_hashes(summaries, products, prompt_hash)
        originals = dict(zip(products["product_id"], products["description"]))
        rules, key, schema = description_failures(originals, settings), PAIR, PUBLISHED_SCHEMA
    else:
        variants = variant_store.read_channel_rows(tables.variants, None).filter(
            pl.col("variant_index") < max(variants_per_pair, 1)
        )
        wanted = channel_wanted(channel, summaries, products, variants_per_pair)
        rules, key = channel_rules(channel, products), CHANNEL_SLOT
        schema = CHANNEL_PUBLISHED_SCHEMA
    verdicts = variant_store.read_segments(tables.verdicts, schema=VERDICT_SCHEMA)
    decisions = review_log.read_reviews(tables.reviews)
    drawn = read_batches(tables.batches).to_dicts()
    accepted = accepted_members(drawn, decisions_since_draw(drawn, decisions))
    continuity = Continuity.build(
        read_published(tables.published, schema),
        wanted,
        now or datetime.now(UTC),
        grace,
        key=key,
        schema=schema,
    )
    published, withheld = select_published(
        variants,
        verdicts,
        decisions,
        segments={s["segment_id"]: s for s in summaries.to_dicts()},
        originals=dict(zip(products["product_id"], products["description"])),
        settings=settings,
        auto_approve_passing_checks=auto_approve_passing_checks,
        accepted=accepted,
        continuity=continuity,
        content_hashes=dict(zip(products["product_id"], products["content_hash"])),
        rules=rules,
        schema=schema,
    )
    return Publication(
        published,
        withheld,
        decisions.height,
        len({a.batch_id for a in accepted.values()}),
    )


def empty_withheld() -> pl.DataFrame:
    return WITHHELD_SCHEMA.to_frame()
