"""Checks of one channel's copy (subject lines, SMS, push, …): plain functions, no Dagster.

What a channel turns on is in its ``config.toml`` (``generation.channels``): limits per field
(characters, SMS messages), the brand name and required phrases (the SMS opt-out), shouting and
spam phrases (WARN, subject lines), and the content rules of descriptions. Short copy may leave
a fact of the original out, but not change one, so the content rules here are those of
``quality.judge`` without "every fact kept": no number, feature, offer, persona, place or
segment talk the original does not support.
"""

import functools
import re
from pathlib import Path

from segcopy_assets.core import sms
from segcopy_assets.quality.answers import rationale_problems, refusals
from segcopy_assets.quality.features import invented_features
from segcopy_assets.quality.judge import ERROR, WARN, Verdict
from segcopy_assets.quality.offers import invented_offers
from segcopy_assets.quality.places import places_named
from segcopy_assets.quality.quantities import (
    misattributed_numbers,
    swapped_numbers,
    unsupported_numbers,
)
from segcopy_assets.quality.voice import voice_problems

#: Every check a channel's copy may get, with its severity.
CHANNEL_CHECKS: dict[str, str] = {
    "well_formed": ERROR,
    "within_limits": ERROR,
    "required_text": ERROR,
    "rationale_present": ERROR,
    "no_changed_facts": ERROR,
    "no_invented_features": ERROR,
    "no_invented_offers": ERROR,
    "whole_segment_voice": ERROR,
    "no_refusal": ERROR,
    "no_shouting": WARN,
    "no_spam_phrases": WARN,
}
_SPAM_FILE = Path(__file__).parent / "data" / "spam_phrases.txt"
_CAPS_WORD = re.compile(r"\b[A-Z][A-Z'’-]{2,}\b")


def field_limit_problems(field: str, text: str, limits: dict) -> list[str]:
    """``field``'s length against its limits: characters, and SMS messages (GSM-7 / UCS-2)."""
    problems = []
    chars = len(text)
    if "max_chars" in limits and chars > limits["max_chars"]:
        problems.append(f"{field}: {chars} characters, over the limit of {limits['max_chars']}")
    if "min_chars" in limits and chars < limits["min_chars"]:
        problems.append(f"{field}: {chars} characters, under the minimum of {limits['min_chars']}")
    if "max_sms_segments" in limits:
        counted = sms.count(text)
        if counted.segments > limits["max_sms_segments"]:
            why = (
                f" (UCS-2 because of {', '.join(repr(c) for c in counted.ucs2_characters)})"
                if counted.encoding == sms.UCS2
                else ""
            )
            problems.append(
                f"{field}: {counted.units} {counted.encoding} characters{why} make "
                f"{counted.segments} SMS messages, over {limits['max_sms_segments']} "
                f"(one message holds {counted.single_limit})"
            )
    return problems


def required_text_problems(text: str, brand_name: str, checks: dict) -> list[str]:
    """The brand name and the phrases a channel's copy must carry (the SMS opt-out)."""
    folded = " ".join(text.split()).casefold()
    problems = []
    if checks.get("require_brand") and " ".join(brand_name.split()).casefold() not in folded:
        problems.append(f'does not name the brand "{brand_name}"')
    for phrase in checks.get("required_phrases", []):
        if " ".join(str(phrase).split()).casefold() not in folded:
            problems.append(f'does not carry "{phrase}"')
    return problems


def shouting(text: str, original: str) -> list[str]:
    """Words in capitals the original does not write so (acronyms like GPS pass), "!!", "$$"."""
    allowed = set(_CAPS_WORD.findall(original))
    found = [w for w in _CAPS_WORD.findall(text) if w not in allowed]
    found += re.findall(r"[!?]{2,}|\${2,}", text)
    return list(dict.fromkeys(found))


@functools.cache
def spam_phrase_list() -> tuple[str, ...]:
    lines = _SPAM_FILE.read_text(encoding="utf-8").splitlines()
    return tuple(line.strip().casefold() for line in lines if line.strip() and line[0] != "#")


def spam_phrases(text: str, original: str) -> list[str]:
    """Spam-filter phrases in ``text`` that the original does not use itself."""
    folded, source = " ".join(text.split()).casefold(), " ".join(original.split()).casefold()
    return [
        p
        for p in spam_phrase_list()
        if re.search(rf"(?<!\w){re.escape(p)}(?!\w)", folded)
        and not re.search(rf"(?<!\w){re.escape(p)}(?!\w)", source)
    ]


def _without(text: str, phrases: list[str]) -> str:
    for phrase in phrases:
        text = re.sub(re.escape(phrase), " ", text, flags=re.I)
    return " ".join(text.split())


def _quoted(label: str, items: list[str]) -> list[str]:
    return [f"{label}: " + ", ".join(f'"{i}"' for i in items)] if items else []


def judge_channel_copy(
    values: dict[str, str],
    rationale: str,
    *,
    fields: tuple[str, ...],
    limits: dict[str, dict],
    checks: dict,
    brand_name: str,
    original: str,
    segment: dict,
    product_name: str = "",
    parse_problem: str | None = None,
    place_share_threshold: float = 0.5,
    unparsed: str = "",
) -> list[Verdict]:
    """Every channel check for one answer, in ``CHANNEL_CHECKS`` order. The content rules read
    the fields joined, without the brand name and required phrases (the opt-out is no claim),
    against the original with the product's name (a name may carry a number or an acronym).
    ``unparsed``: the answer's text when it has none of the fields (read for a refusal)."""
    original = f"{product_name}. {original}" if product_name else original
    texts = [values.get(f, "").strip() for f in fields]
    # each field its own sentence: a subject and its preheader are two clauses, not one
    joined = " ".join(t if t[-1] in ".!?" else f"{t}." for t in texts if t)
    content = _without(joined, [brand_name, *checks.get("required_phrases", [])])
    problems: dict[str, list[str]] = {c: [] for c in CHANNEL_CHECKS}
    if parse_problem:
        problems["well_formed"] = [parse_problem]
    for f in fields:
        problems["within_limits"] += field_limit_problems(f, values.get(f, ""), limits.get(f, {}))
    problems["required_text"] = required_text_problems(joined, brand_name, checks)
    problems["rationale_present"] = rationale_problems(joined or unparsed, rationale)
    # an answer without the channel's fields is read whole: a refusal has none
    problems["no_refusal"] = _quoted("reads like a refusal", refusals(joined or unparsed))
    if checks.get("content", True):
        problems["no_changed_facts"] = (
            unsupported_numbers(content, original)
            + swapped_numbers(content, original)
            + misattributed_numbers(content, original)
        )
        problems["no_invented_features"] = _quoted(
            "features the original does not state", invented_features(content, original)
        )
        problems["no_invented_offers"] = _quoted(
            "offer claims not in the original", invented_offers(content, original)
        )
        places = places_named(content, original, segment, place_share_threshold)
        problems["whole_segment_voice"] = voice_problems(content, original) + (
            [f"names places held by too small a share of the segment: {'; '.join(places)}"]
            if places
            else []
        )
    if checks.get("shouting"):
        problems["no_shouting"] = _quoted("shouting", shouting(content, original))
    if checks.get("spam_phrases"):
        problems["no_spam_phrases"] = _quoted(
            "spam-filter phrases", spam_phrases(content, original)
        )
    return [
        Verdict(check, not problems[check], severity, "; ".join(problems[check]))
        for check, severity in CHANNEL_CHECKS.items()
    ]
