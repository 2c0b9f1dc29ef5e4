"""The offline writer's copy for the short channels (email subject, SMS, push): deterministic,
within the channel's limits, passing its checks. Not an LLM.

Short copy may leave facts out but never change one, so the offline writer quotes the product's
name and, where one fits whole, one sentence of the original verbatim; the angle (performance,
dependability, practical essentials) comes from the segment's dominant price preference, as for
the offline description (``offline_writer``). Fields of a channel it does not know (a channel
added as a folder) get the product name and a fitting sentence, cut to the field's limits.
"""

from segcopy_assets.core import sms
from segcopy_assets.generation.channels import Channel
from segcopy_assets.generation.offline_writer import ANGLES, dominant, segment_size, sentences

_HOOKS = {
    "performance": "built to perform",
    "dependability": "dependable on every outing",
    "practical essentials": "the essentials, done properly",
}
_FALLBACK_CHARS = 160


def _angle(segment: dict) -> str:
    price = dominant(segment.get("price_preference_shares"))
    return ANGLES.get(price["value"] if price else "Mid-range", "dependability")


def _fits(text: str, limits: dict) -> bool:
    if len(text) > limits.get("max_chars", _FALLBACK_CHARS * 10):
        return False
    if "max_sms_segments" in limits:
        return sms.count(text).segments <= limits["max_sms_segments"]
    return True


def _gsm(text: str) -> str:
    """Plain keyboard punctuation: a curly quote or a long dash would make an SMS UCS-2."""
    table = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "–": "-", "—": "-", "…": "..."})
    return text.translate(table)


def _first_fitting(candidates: list[str], limits: dict) -> str:
    return next((c for c in candidates if c and _fits(c, limits)), "")


def _cut(text: str, limits: dict) -> str:
    """Whole words of ``text`` that fit (the last resort: no sentence of the original fits)."""
    words, out = text.split(), ""
    for word in words:
        trial = f"{out} {word}".strip()
        if not _fits(trial, limits):
            break
        out = trial
    return out


def _arm_angle(segment: dict, product: dict) -> str:
    """The arm's angle (``product["angle"]``, an arm of SEGCOPY_VARIANTS_PER_PAIR) when it is
    one the writer has words for, else the segment's."""
    angle = product.get("angle")
    return angle if angle in _HOOKS else _angle(segment)


def channel_values(channel: Channel, segment: dict, product: dict) -> dict[str, str]:
    """One value per field of ``channel``, within its limits. An arm (``product["angle"]``)
    names its angle in the copy and starts from another sentence of the description, so the
    arms of a pair differ."""
    name, hook = str(product["name"]), _HOOKS[_arm_angle(segment, product)]
    facts = sentences(str(product["description"]))  # the first that fits is used
    shift = int(product.get("variant_index") or 0) % max(len(facts), 1)
    facts = facts[shift:] + facts[:shift]
    arm = product.get("angle") is not None
    brand = channel.prompt_set.brand_name
    values: dict[str, str] = {}
    for field in channel.fields:
        limits = channel.limits.get(field, {})
        if field == "message":  # the SMS: brand, product, one sentence if it fits, opt-out
            tail = " ".join(str(p) for p in channel.checks.get("required_phrases", []))
            head = f"{brand}: {name}" if channel.checks.get("require_brand") else name
            lead = f"{head}, {hook}" if arm else head
            candidates = [_gsm(f"{lead} - {fact} {tail}".strip()) for fact in facts]
            candidates.append(_gsm(f"{head}, {hook}. {tail}".strip()))
            candidates.append(_gsm(f"{head}. {tail}".strip()))
            values[field] = _first_fitting(candidates, limits) or _cut(candidates[-1], limits)
        elif field in ("subject", "title"):
            candidates = [f"{name}: {hook}", name, str(product.get("subcategory") or "")]
            values[field] = _first_fitting(candidates, limits) or _cut(name, limits)
        else:  # preheader, body, and the fields of channels added later
            led = [f"{hook[:1].upper()}{hook[1:]}: {fact}" for fact in facts] if arm else facts
            candidates = [*led, f"The {name}, {hook}."]
            values[field] = _first_fitting(candidates, limits) or _cut(candidates[-1], limits)
    return values


def channel_rationale(channel: Channel, segment: dict, product: dict) -> str:
    angle = _arm_angle(segment, product)
    price = dominant(segment.get("price_preference_shares"))
    why = (
        f"{price['value']} is the most common price preference ({round(price['share'] * 100)}% "
        "of the segment)"
        if price
        else "the segment states no price preference"
    )
    led = (
        f"Led on {angle}, the angle of this variant, where {why}"
        if product.get("angle")
        else f"Led on {angle} because {why}"
    )
    return (
        f"Written for segment {segment['segment_id']} ({segment_size(segment)}) as "
        f"{channel.description.lower()}. {led}. Any product "
        "detail is quoted verbatim from the original; no price or offer was added. (Offline "
        "template writer, not an LLM.)"
    )


def write_offline_channel(channel: Channel, segment: dict, product: dict) -> str:
    """The raw answer, in the channel's format (fields, then ``**Rationale:**``)."""
    return channel.format_answer(
        channel_values(channel, segment, product), channel_rationale(channel, segment, product)
    )
