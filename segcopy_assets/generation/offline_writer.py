"""The offline copywriter: deterministic, segment-aware composition. Not an LLM.

It exists so segcopy runs end to end with no endpoint and no key. It keeps every sentence of
the original description verbatim, adds an opening and a closing line chosen from the segment
summary (value group, dominant price preference and discount sensitivity, a region only when a
majority of the segment lives there), and explains those choices in a Rationale.
"""

import re

from segcopy_assets.core.segments import approximate_count

# v2: shorter added lines (within 1.5x the original); v3: the rationale gives the segment's size
# as its summary does ("about 240 customers", not 245 beside the summary's 240)
OFFLINE_MODEL = "offline-template-v3"
MAJORITY = 0.5

_OPENERS = {
    (
        "high value",
        "Premium",
    ): "The {name} is built for people who choose their gear on performance first.",
    (
        "high value",
        "Mid-range",
    ): "The {name} is made for people who know their gear and expect it to deliver.",
    (
        "high value",
        "Value",
    ): "The {name} is a considered choice for people who buy gear to use it hard.",
    ("core", "Premium"): "The {name} brings serious performance to every outing.",
    (
        "core",
        "Mid-range",
    ): "The {name} is a dependable all-rounder that covers the essentials well.",
    ("core", "Value"): "The {name} gives you the essentials, done properly.",
}
_CLOSERS = {
    "Low": "Gear to choose once and keep using, season after season.",
    "Medium": "Everything described here comes with it.",
    "High": "Everything listed is included as standard.",
}
ANGLES = {
    "Premium": "performance",
    "Mid-range": "dependability",
    "Value": "practical essentials",
}


def dominant(entries: list[dict] | None) -> dict | None:
    return max(entries, key=lambda e: (e["share"], e["value"])) if entries else None


def _pct(share: float) -> str:
    return f"{round(share * 100)}%"


def sentences(text: str) -> list[str]:
    """Sentences of a description (split after ., ! or ? followed by whitespace)."""
    return [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s]


def write_offline_variant(segment: dict, product: dict) -> str:
    """The raw answer, in the same shape an LLM is asked for: copy, then ``**Rationale:**``."""
    value_group = segment.get("value_group") or _value_group_from_tiers(segment)
    price = dominant(segment.get("price_preference_shares"))
    discount = dominant(segment.get("discount_sensitivity_shares"))
    region = dominant(segment.get("top_regions"))
    price_value = price["value"] if price else "Mid-range"
    discount_value = discount["value"] if discount else "Medium"

    opener = _OPENERS.get((value_group, price_value), _OPENERS[("core", "Mid-range")])
    closer = _CLOSERS.get(discount_value, _CLOSERS["Medium"])
    parts = [opener.format(name=product["name"]), product["description"].strip()]
    if region and region["share"] >= MAJORITY:
        parts.append(f"Ready for the trails and seasons of the {region['value']}.")
    parts.append(closer)
    copy = " ".join(parts)

    reasons = [
        f"Written for segment {segment['segment_id']} ({value_group}, {segment_size(segment)}).",
    ]
    if price:
        reasons.append(
            f"Opened on {ANGLES.get(price_value, 'dependability')} because {price_value} is the most common "
            f"price preference ({_pct(price['share'])} of the segment)."
        )
    if discount:
        reasons.append(
            f"Closed on {'lasting value' if discount_value == 'Low' else 'what is included'} because "
            f"{discount_value.lower()} discount sensitivity is the most common ({_pct(discount['share'])})."
        )
    if region and region["share"] >= MAJORITY:
        reasons.append(
            f"Named the {region['value']} because {_pct(region['share'])} of the segment lives there."
        )
    elif region:
        reasons.append(
            f"Named no region: the largest, {region['value']}, holds only {_pct(region['share'])} of the segment."
        )
    reasons.append(
        f"All {len(sentences(product['description']))} sentences of the original description are kept "
        "verbatim; no price or offer was added. (Offline template writer, not an LLM.)"
    )
    return f"{copy}\n\n**Rationale:** {' '.join(reasons)}"


def _value_group_from_tiers(segment: dict) -> str:
    tier = dominant(segment.get("predicted_clv_tier_shares"))
    return "high value" if tier and tier["value"] in ("Platinum", "Gold", "Silver") else "core"


class OfflineWriter:
    """The offline backend behind the same async interface as the chat-completions writer."""

    backend = "offline"
    model = OFFLINE_MODEL
    max_concurrency = 1

    def __init__(self, channel=None) -> None:
        # a channel with its own templates (generation.channels) gets that channel's copy;
        # None or the web description: the description above
        self.channel = channel if channel is not None and channel.own_templates else None

    async def __aenter__(self) -> "OfflineWriter":
        return self

    async def __aexit__(self, *exc) -> None:
        return None

    async def write(self, segment: dict, product: dict, messages: list[dict[str, str]]):
        from segcopy_assets.generation.openai_writer import Completion

        if self.channel is not None:
            from segcopy_assets.generation.offline_channels import write_offline_channel

            text = write_offline_channel(self.channel, segment, product)
        else:
            text = write_offline_variant(segment, product)
        return Completion(
            text=text,
            prompt_tokens=0,
            completion_tokens=0,
            latency_ms=0.0,
            finish_reason="stop",
        )


def segment_size(segment: dict) -> str:
    """The segment's size as its summary gives it (``core.segments.approximate_count``)."""
    count = segment.get("customer_count")
    return (
        f"about {approximate_count(int(count)):,} customers" if count is not None else "? customers"
    )
