"""What the review page's channel previews show: each variant of a channel's table as it will
look (an inbox row, an SMS bubble with its messages and encoding, a push card), with each
field's length against its limit, the channel checks it fails, its review status and whether
it is published. Plain functions, no web.
"""

from pathlib import Path

import polars as pl

from segcopy_assets.core import sms
from segcopy_assets.errors import InputValidationError
from segcopy_assets.generation.channels import (
    WEB_DESCRIPTION,
    Channel,
    channel_names,
    load_channel,
)
from segcopy_assets.storage import delta, variant_store
from segcopy_assets.storage.tables import (
    VERDICT_SCHEMA,
    channel_published_table,
    channel_reviews_table,
    channel_tables,
)

#: Pairs shown on one page, each with its arms (a segment filter narrows them).
PAGE_ROWS = 120


def _paths(schema_dir: str, channel: str) -> tuple[str, str]:
    variants, checks, _ = channel_tables(channel)
    return delta.join(schema_dir, variants), delta.join(schema_dir, checks)


def preview_channels(prompts: Path) -> list[str]:
    """The channels with a preview of their own (the description has its review pages)."""
    return [c for c in channel_names(prompts) if c != WEB_DESCRIPTION]


def overview(schema_dir: str, prompts: Path) -> list[dict]:
    """Per channel: its description, variants written, and variants failing an ERROR check."""
    out = []
    for name in preview_channels(prompts):
        channel = load_channel(prompts, name, backend="offline")
        variants, checks = _paths(schema_dir, name)
        rows = variant_store.read_segments(variants)
        verdicts = variant_store.read_segments(checks, schema=VERDICT_SCHEMA)
        failing = verdicts.filter(~pl.col("passed") & (pl.col("severity") == "ERROR"))
        out.append(
            {
                "name": name,
                "description": channel.description,
                "variants": rows.height,
                "failing": failing.select("segment_id", "product_id").unique().height,
            }
        )
    return out


def _field(channel: Channel, field: str, text: str) -> dict:
    limits = channel.limits.get(field, {})
    limit = limits.get("max_chars")
    shown = text if limit is None or len(text) <= limit else text[: limit - 1].rstrip() + "…"
    out = {
        "name": field,
        "label": channel.labels[field],
        "text": text,
        "shown": shown,
        "chars": len(text),
        "limit": limit,
        "over": limit is not None and len(text) > limit,
        "sms": None,
    }
    if "max_sms_segments" in limits:
        counted = sms.count(text)
        out["sms"] = {
            "encoding": counted.encoding,
            "units": counted.units,
            "segments": counted.segments,
            "single_limit": counted.single_limit,
            "over": counted.segments > limits["max_sms_segments"],
        }
    return out


def previews(schema_dir: str, prompts: Path, name: str, segment: str | None = None) -> dict:
    """The page of one channel: its variants (of ``segment``, or the first ``PAGE_ROWS``)."""
    if name not in preview_channels(prompts):
        raise InputValidationError(
            "channels",
            "channel",
            f"no channel {name!r} with previews (channels: {', '.join(preview_channels(prompts))})",
        )
    channel = load_channel(prompts, name, backend="offline")
    variants, checks = _paths(schema_dir, name)
    rows = variant_store.read_channel_rows(variants, None).sort(
        "segment_id", "product_id", "variant_index"
    )
    segments = rows["segment_id"].unique().sort().to_list()
    if segment:
        rows = rows.filter(pl.col("segment_id") == segment)
    verdicts = variant_store.read_segments(checks, schema=VERDICT_SCHEMA).filter(~pl.col("passed"))
    failing: dict[str, list[str]] = {}  # by input hash: each arm has its own
    for r in verdicts.iter_rows(named=True):
        failing.setdefault(r["input_hash"], []).append(
            f"{r['severity']} {r['check']}: {r['reason']}"
        )
    review = _review_state(schema_dir, name) if rows.height else {}
    pairs: dict[tuple[str, str], dict] = {}
    for r in rows.iter_rows(named=True):
        key = (r["segment_id"], r["product_id"])
        if key not in pairs and len(pairs) >= PAGE_ROWS:
            break
        answer = r["raw_output"] or f"{r['variant_text']}\n\n**Rationale:** {r['rationale']}"
        values, _, problem = channel.parse(answer)
        pair = pairs.setdefault(key, {"segment_id": key[0], "product_id": key[1], "arms": []})
        pair["arms"].append(
            {
                "variant_index": r["variant_index"],
                "angle": r["angle"],
                "status": r["status"],
                "fields": [_field(channel, f, values.get(f, "")) for f in channel.fields],
                "rationale": r["rationale"],
                "problem": problem or r["error"],
                "failing": failing.get(r["input_hash"], []),
                "input_hash": r["input_hash"],
                **review.get(r["input_hash"], {"review_status": "pending", "published": None}),
            }
        )
    return {
        "channel": channel,
        "brand": channel.prompt_set.brand_name,
        "items": list(pairs.values()),
        "segments": segments,
        "segment": segment or "",
        "total": rows.select("segment_id", "product_id").unique().height,
        "reviews_table": channel_reviews_table(name),
        "published_table": channel_published_table(name),
    }


def _review_state(schema_dir: str, name: str) -> dict[str, dict]:
    """By input hash: the variant's review status (``review.service.review_queue``), who
    decided, and its state in the channel's published table (None: not published)."""
    from segcopy_assets.review.publication_state import read_published
    from segcopy_assets.review.service import ReviewTables, review_queue

    tables = ReviewTables.under(schema_dir, name)
    queue = review_queue(tables)
    live = dict(read_published(tables.published).select("input_hash", "state").iter_rows())
    return {
        r["input_hash"]: {
            "review_status": r["review_status"],
            "reviewer": r["reviewer"],
            "published": live.get(r["input_hash"]),
        }
        for r in queue.iter_rows(named=True)
    }
