"""Deterministic quality checks for ONE generated variant at a time (plain functions, no Dagster).

Each check returns a :class:`Verdict`. ``ERROR`` checks guard what must never be published
(a dropped fact, an invented discount, copy that tells the reader who they are, a refusal);
``WARN`` checks flag what a reviewer should look at (length, words the brand voice avoids).

Design choices worth knowing (they decide false positives / negatives):

* **Facts** (:func:`extract_facts`) are numbers with their units, bare numbers, compound
  numbers (``11-34``, ``50/34``, ``1x12``), ``size N``, counts (``two doors``,
  ``three rear pockets``, ``four-piston``) and proper names / model codes (``Shimano 105``,
  ``Bosch Performance Line CX``, ``YKK Vislon``, ``XS``). Materials (``aluminium``) are NOT
  facts: an LLM writing American English would legitimately turn them into ``aluminum``.
* **Matching** (:func:`fact_present`) is case-insensitive and tolerant of whitespace, no-break
  spaces, hyphen vs space, dash styles, thousands separators (``1,500`` = ``1500``) and units
  written in full (``8.1 kg`` = ``8.1 kilograms`` = ``8.1kg``; ``-7 °C`` = ``minus 7 degrees
  Celsius``; ``Two doors`` = ``2 doors`` = ``two D-shaped doors``). A number never matches inside
  a longer one (``8.1 kg`` is not satisfied by ``18.1 kg`` or ``8.15 kg``) and a positive value is
  not satisfied by its negative. Units are not converted (``1.6 kg`` is not ``1,600 g``).
* Everything that is flagged in the copy (an offer word, a place, an identity phrase, an
  avoided word) is allowed when the same thing is already in the original description.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import polars as pl

from segcopy_assets.sample_data import REGIONS

ERROR, WARN = "ERROR", "WARN"

CHECKS: dict[str, str] = {
    "coverage": ERROR,
    "well_formed": ERROR,
    "rationale_present": ERROR,
    "facts_preserved": ERROR,
    "no_invented_offers": ERROR,
    "whole_segment_voice": ERROR,
    "no_refusal": ERROR,
    "length_in_bounds": WARN,
    "brand_voice": WARN,
}
CONTENT_CHECKS = tuple(c for c in CHECKS if c not in ("coverage", "well_formed"))

#: Columns judge_partition reads; a frame without one of them is a bug (ValueError).
NEEDED_COLUMNS = ("segment_id", "product_id", "input_hash", "variant_text", "rationale", "status", "error")
#: Columns that must not be null on an ``ok`` row.
REQUIRED_ON_OK = ("segment_id", "product_id", "input_hash", "variant_text", "status")

#: The verdict table judge_partition returns.
VERDICT_SCHEMA = pl.Schema(
    {
        "segment_id": pl.String,
        "product_id": pl.String,
        "input_hash": pl.String,
        "check": pl.String,
        "passed": pl.Boolean,
        "severity": pl.String,
        "reason": pl.String,
    }
)


@dataclass(frozen=True)
class Verdict:
    check: str
    passed: bool
    severity: str
    reason: str  # "" when passed


@dataclass(frozen=True)
class CheckSettings:
    place_share_threshold: float = 0.5  # a region/state/city may be named only if it holds >= this share
    min_words: int = 30
    max_words: int = 250
    min_length_ratio: float = 0.6  # variant words / original words
    max_length_ratio: float = 2.0
    avoid_words: tuple[str, ...] = ()


def _verdict(check: str, problems: list[str] | str | None) -> Verdict:
    if isinstance(problems, list):
        problems = "; ".join(problems)
    return Verdict(check, not problems, CHECKS[check], problems or "")


# --------------------------------------------------------------------------------------
# Text normalisation
# --------------------------------------------------------------------------------------

_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63\uff0d"), "-")
_QUOTES = {ord("\u2019"): "'", ord("\u2018"): "'", ord("\u201c"): '"', ord("\u201d"): '"'}
_SPACES = dict.fromkeys(map(ord, "\u00a0\u2007\u2009\u202f\u2002\u2003\u200a"), " ")
_TABLE = str.maketrans({**_DASHES, **_QUOTES, **_SPACES})


def _clean(text: str | None) -> str:
    """Dashes, quotes and exotic spaces unified; case and thousands separators kept."""
    text = text or ""
    # A no-break / thin space between digit groups is a thousands separator: "1 500" -> "1,500".
    text = re.sub(r"(?<=\d)[\u00a0\u2009\u202f](?=\d{3}(?!\d))", ",", text)
    return text.translate(_TABLE)


def _cased(text: str | None) -> str:
    """_clean with thousands separators dropped ("1,500" -> "1500")."""
    return re.sub(r"(?<=\d),(?=\d{3}(?!\d))", "", _clean(text))


def _norm(text: str | None) -> str:
    """_cased, lower case."""
    return _cased(text).lower()


def _words(text: str | None) -> int:
    return len((text or "").split())


# --------------------------------------------------------------------------------------
# Facts: extraction
# --------------------------------------------------------------------------------------

COUNT_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
}
_NUMBER_WORD = {v: k for k, v in COUNT_WORDS.items()}

_NUM = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_COMPOUND = rf"(?:{_NUM})(?:\s?[-/x×]\s?(?:{_NUM}))*"
# Units recognised after a space (case-sensitive: "4 A charger" is amps, "4 a" is not).
_SPACED_UNITS = (
    r"°\s?[CF]|°|%|kWh|Wh|Nm|Ah|kg|km/h|km|mm|cm|mL|ml|m²|m|gsm|g|lbs?|oz|L|l|W|V|A|D"
    r"|mph|psi|bar|lumens|percent|per cent|denier|inch(?:es)?|hours?|hrs?|h|minutes?|mins?"
    r"|seconds?|days?|weeks?|months?|years?|square met(?:re|er)s?|litres?|liters?|met(?:re|er)s?"
    r"|kilo(?:gram)?s?|grams?|millimet(?:re|er)s?|centimet(?:re|er)s?|kilomet(?:re|er)s?"
    r"|watts?|volts?|degrees?"
)
_NUMBER_RE = re.compile(
    rf"(?P<sign>(?<![\w.])-)?(?<![\w.,/])(?P<num>{_COMPOUND})"
    rf"(?:(?P<att>[A-Za-z]+|%|°[CF]?)(?![\w])"  # 20D, 9.4kg, 700x28c, 62%
    rf"|-(?P<hy>[A-Za-z]+(?:-[A-Za-z]+)*)(?![\w])"  # 12-speed, 800-fill-power, 29-inch
    rf"|\s(?P<sp>{_SPACED_UNITS})(?![\w]))?"  # 8.1 kg, -7 °C, 0.9 square metres
)
_TOKEN_RE = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-'][A-Za-z0-9]+)*|\d+(?:[.,]\d+)*")
_SENTENCE_START_RE = re.compile(r"(?:^|[.!?][\"')\]]*\s+|\n\s*|:\s+)[-*•\"'(\[\s]*")
# Capitalised words that start sentences or are function words, never names on their own.
_CAP_STOP = {
    "The", "A", "An", "It", "Its", "This", "That", "These", "Those", "Our", "Your", "Their", "His",
    "Her", "Each", "Every", "All", "Both", "Some", "Any", "And", "Or", "But", "With", "For", "In",
    "On", "At", "By", "From", "To", "Of", "As", "If", "When", "While", "So", "Yet", "Whether",
    "We", "You", "They", "He", "She", "I", "Is", "Are", "No", "Not", "Just", "Plus",
}
_PHRASE_STOP = {
    "and", "or", "with", "of", "the", "a", "an", "to", "in", "on", "for", "that", "which", "is",
    "are", "was", "were", "be", "can", "by", "from", "at", "as", "per", "it", "its", "this", "has",
    "have", "had", "plus", "up", "into", "than", "so", "but", "each", "both", "more", "less",
}


def _is_plural(word: str) -> bool:
    w = word.lower()
    return len(w) > 2 and w.endswith("s") and not w.endswith(("ss", "us", "is", "'s")) and w not in _PHRASE_STOP


_NEXT_WORD_RE = re.compile(r"\s+([A-Za-z][A-Za-z'-]*)(?![\w])")


def _noun_phrase_after(text: str, pos: int) -> str | None:
    """After a count: up to three words ending at the first plural noun ("rear pockets"), or the
    single next word when no plural comes ("people"); None when a stop word comes first."""
    words = []
    while (m := _NEXT_WORD_RE.match(text, pos)) is not None:
        pos = m.end()
        word = m.group(1)
        if word.lower() in _PHRASE_STOP:
            break
        words.append(word)
        if _is_plural(word):
            return " ".join(words)
        if len(words) == 3:
            break
    return words[0] if words else None


def _name_like(token: str) -> bool:
    if token in _CAP_STOP or token.lower() in COUNT_WORDS:
        return False
    base = re.sub(r"'s$", "", token)
    if len(base) < 2 or not base[0].isalpha():
        return False
    parts = base.split("-")
    if base[0].isupper():
        return all(p[:1].isupper() or p[:1].isdigit() for p in parts)
    return any(c.isupper() for c in base)  # eMTB, iPhone


def _strong(token: str) -> bool:
    """A token that is a name even at a sentence start: a code, ALLCAPS, CamelCase, Gore-Tex."""
    return any(c.isdigit() for c in token) or sum(c.isupper() for c in token) >= 2


def extract_facts(description: str) -> list[str]:
    """The facts a variant must keep, unique (case-insensitively), in order of appearance."""
    return list(_extract_facts(description or ""))


@lru_cache(maxsize=1024)
def _extract_facts(description: str) -> tuple[str, ...]:
    text = _clean(description)
    found: list[tuple[int, str]] = []

    numbers = {m.start("num"): m for m in _NUMBER_RE.finditer(text)}
    consumed: set[int] = set()

    # Proper names and model codes: runs of name-like tokens separated by single spaces, plus
    # one trailing bare integer ("Shimano 105", "Fox 36", "ISO 23537", "Basecamp 2").
    starts = {m.end() for m in _SENTENCE_START_RE.finditer(text)}
    tokens = list(_TOKEN_RE.finditer(text))
    capital_mid = {t.group() for t in tokens if t.start() not in starts and _name_like(t.group())}
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        prev = tokens[i - 1] if i else None
        unit_position = prev is not None and prev.group()[0].isdigit() and text[prev.end():tok.start()] in ("", " ")
        if not _name_like(tok.group()) or unit_position:
            i += 1
            continue
        run = [tok]
        j = i + 1
        while (j < len(tokens) and text[run[-1].end():tokens[j].start()] == " "
               and _name_like(tokens[j].group()) and not run[-1].group().endswith("'s")):
            run.append(tokens[j])
            j += 1
        # A lone plain word opening a sentence ("Hydraulic disc brakes", "Sizes 7 to 14") is
        # not a name unless it is capitalised mid-sentence somewhere too.
        first = run[0].group()
        keep = run[0].start() not in starts or len(run) > 1 or _strong(first) or first in capital_mid
        if keep and (j < len(tokens) and text[run[-1].end():tokens[j].start()] == " "
                     and re.fullmatch(r"\d+", tokens[j].group())):
            m = numbers.get(tokens[j].start())
            if m is not None and m.group() == tokens[j].group() and not m.group("sign"):
                run.append(tokens[j])
                consumed.add(tokens[j].start())
                j += 1
        if keep:
            found.append((run[0].start(), re.sub(r"'s$", "", text[run[0].start():run[-1].end()])))
        i = j

    for start, m in numbers.items():
        if start in consumed:
            continue
        unit = m.group("att") or m.group("hy") or m.group("sp")
        num = m.group("num")
        if unit is None and re.fullmatch(r"\d+", num):
            if re.search(r"(?i)\bsize\s+$", text[:start]):
                found.append((start - 5, f"size {num}"))
                continue
            phrase = _noun_phrase_after(text, m.end()) if int(num) <= 12 else None
            if phrase is not None and _is_plural(phrase.split()[-1]):
                found.append((m.start(), f"{num} {phrase}"))
                continue
        found.append((m.start(), m.group().strip()))

    # Counts written as words: "Two doors", "three rear pockets", "four-piston", "one-piece".
    for m in re.finditer(r"(?i)(?<![\w-])(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)\b", text):
        hyphen = re.match(r"-[A-Za-z]+", text[m.end():])
        if hyphen:
            found.append((m.start(), m.group() + hyphen.group()))
            continue
        if m.group().lower() == "one":
            continue  # "one of", "the one": too common to be a count
        phrase = _noun_phrase_after(text, m.end())
        if phrase is not None:
            found.append((m.start(), f"{m.group()} {phrase}"))

    facts, seen = [], set()
    for _, fact in sorted(found, key=lambda x: x[0]):
        key = _norm(fact)
        if key not in seen:
            seen.add(key)
            facts.append(fact)
    return tuple(facts)


# --------------------------------------------------------------------------------------
# Facts: tolerant matching
# --------------------------------------------------------------------------------------

_UNIT_ALIASES: dict[str, str] = {}


def _alias(keys: str, pattern: str) -> None:
    for key in keys.split("|"):
        _UNIT_ALIASES[key] = pattern


_alias("kg|kgs|kilo|kilos|kilogram|kilograms", r"kgs?\.?|kilo(?:gram(?:me)?)?s?")
_alias("g|gr|gram|grams", r"g\.?|gr|gram(?:me)?s?")
_alias("lb|lbs|pound|pounds", r"lbs?\.?|pounds?")
_alias("oz|ounce|ounces", r"oz\.?|ounces?")
_alias("mm|millimetre|millimetres|millimeter|millimeters", r"mm\.?|millimet(?:re|er)s?")
_alias("cm|centimetre|centimetres|centimeter|centimeters", r"cm\.?|centimet(?:re|er)s?")
_alias("m|metre|metres|meter|meters", r"m\.?|met(?:re|er)s?")
_alias("km|kilometre|kilometres|kilometer|kilometers", r"km\.?|kilomet(?:re|er)s?")
_alias("km/h|kph|mph", r"km/h|kph|kmh|kilomet(?:re|er)s per hour")
_alias("ml|millilitre|millilitres|milliliter|milliliters", r"ml\.?|millilit(?:re|er)s?")
_alias("l|litre|litres|liter|liters", r"l\.?|lit(?:re|er)s?")
_alias("nm", r"nm|newton[\s-]?met(?:re|er)s?")
_alias("wh", r"wh|watt[\s-]?hours?")
_alias("kwh", r"kwh|kilowatt[\s-]?hours?")
_alias("ah", r"ah|amp(?:ere)?[\s-]?hours?")
_alias("w|watt|watts", r"w|watts?")
_alias("v|volt|volts", r"v|volts?")
_alias("a|amp|amps", r"a|amps?|amperes?")
_alias("°c|° c|c°", r"(?:°|º|˚)?\s?c(?![a-z])|(?:°|º|˚)?\s?celsius|degrees?\s+(?:c(?![a-z])|celsius)")
_alias("°f|° f", r"(?:°|º|˚)?\s?f(?![a-z])|(?:°|º|˚)?\s?fahrenheit|degrees?\s+(?:f(?![a-z])|fahrenheit)")
_alias("°|degree|degrees|deg", r"°|º|˚|degrees?|deg")
_alias("gsm", r"gsm|g/m²|g/m2|grams? per square met(?:re|er)")
_alias("d|denier", r"d|denier")
_alias("speed|speeds", r"speeds?|spd")
_alias("inch|inches|in", r"inch(?:es)?|in\.|\"|″|”")
_alias("h|hr|hrs|hour|hours", r"h|hrs?|hours?")
_alias("min|mins|minute|minutes", r"mins?|minutes?")
_alias("s|sec|secs|second|seconds", r"s|secs?|seconds?")
_alias("square metres|square meters|square metre|square meter|m²|sqm|sq m",
       r"square met(?:re|er)s?|sq\.?\s?m|m²|m2|sqm")
_alias("%|percent|per cent", r"%|percent|per cent")
_alias("fill-power|fill power|fill|fp", r"fill[\s-]?power|fill|fp")
_alias("layer|layers", r"layers?|ply")
_alias("c", r"c")
_alias("t|teeth", r"t|teeth")

_FACT_NUM_RE = re.compile(
    r"^(?P<size>size\s+)?(?P<sign>-)?(?P<num>\d+(?:\.\d+)?(?:\s?[-/x×]\s?\d+(?:\.\d+)?)*)"
    r"(?P<sep>\s?-?\s?)(?P<unit>.*)$"
)
_FACT_COUNT_RE = re.compile(r"^(?P<count>one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)(?P<sep>[\s-])(?P<rest>.+)$")


def _number_pattern(num: str, negative: bool) -> str:
    """Regex for a (compound) number that never matches inside a longer number."""
    parts = re.split(r"(\s?[-/x×]\s?)", num)
    out = []
    for k, part in enumerate(parts):
        if k % 2:
            sep = part.strip()
            out.append({"-": r"\s*(?:-|to)\s*", "/": r"\s*/\s*"}.get(sep, r"\s*(?:x|×|by)\s*"))
        else:
            value = re.escape(part)
            if len(parts) == 1 and re.fullmatch(r"\d+", part) and int(part) in _NUMBER_WORD:
                value = rf"(?:{value}|{_NUMBER_WORD[int(part)]})"
            out.append(value)
    body = "".join(out) + r"(?!\d|[.,]\d)"
    if negative:
        return rf"(?:(?<![\w.])-\s?|\bminus\s+){body}"
    return rf"(?<![\w.])(?<!(?<![\w.])-)(?<!minus ){body}"


def _head_pattern(word: str) -> str:
    w = re.escape(word.lower())
    if word.lower().endswith("ies"):
        return w[:-3] + "(?:y|ies)"
    if re.search(r"(?:ss|x|z|ch|sh)es$", word.lower()):
        return w[:-2] + "(?:es)?"
    if _is_plural(word):
        return w[:-1] + "s?"
    return w + "s?"


@lru_cache(maxsize=4096)
def _fact_regex(fact: str) -> re.Pattern:
    return re.compile(_fact_pattern(fact))


def _fact_pattern(fact: str) -> str:
    f = _norm(fact).strip()
    f = re.sub(r"\s+", " ", f)
    m = _FACT_NUM_RE.match(f)
    if m:
        number = _number_pattern(m.group("num"), bool(m.group("sign")))
        unit = m.group("unit").strip()
        if m.group("size"):
            return rf"\bsize[\s:-]*{number}"
        if not unit:
            return number
        if unit in _UNIT_ALIASES:
            return rf"{number}[\s-]?(?:{_UNIT_ALIASES[unit]})(?![a-z])"
        words = re.split(r"[\s-]+", unit)
        if m.group("sep").strip() == "-" or not m.group("sep"):  # "12-speed", "3rd": adjacent
            joined = r"[\s-]?".join([*map(re.escape, words[:-1]), _head_pattern(words[-1])])
            return rf"{number}[\s-]?{joined}(?![a-z])"
        # "2 doors", "2 large doors": a count, adjectives may come and go before the noun
        return rf"{number}(?:[\s-]+[\w'-]+){{0,3}}?[\s-]+{_head_pattern(words[-1])}(?![a-z])"
    m = _FACT_COUNT_RE.match(f)
    if m:
        value = COUNT_WORDS[m.group("count")]
        count = rf"(?<![\w-])(?:{m.group('count')}|{value})"
        words = re.split(r"[\s-]+", m.group("rest"))
        if m.group("sep") == "-":
            return count + r"[\s-]?" + r"[\s-]?".join(map(re.escape, words)) + r"(?![a-z])"
        return rf"{count}(?:[\s-]+[\w'-]+){{0,3}}?[\s-]+{_head_pattern(words[-1])}(?![a-z])"
    tokens = [t for t in re.split(r"[\s-]+", f) if t]
    return r"(?<![a-z0-9])" + r"[\s-]*".join(map(re.escape, tokens)) + r"(?![a-z0-9])"


def fact_present(fact: str, text: str) -> bool:
    """Whether ``fact`` (as returned by :func:`extract_facts`) is stated in ``text``.

    Tolerant of case, spacing, hyphen vs space, thousands separators and units written in full
    (``8.1 kg`` matches ``8.1 kilograms``); strict about the number itself (``8.1 kg`` is not
    matched by ``18.1 kg`` or ``8.15 kg``, ``5 °C`` not by ``-5 °C``).
    """
    if not fact or not fact.strip():
        return True
    return _fact_regex(fact).search(_norm(text)) is not None


# --------------------------------------------------------------------------------------
# Offers, identity, places, refusals, brand voice
# --------------------------------------------------------------------------------------

_OFFER_PATTERNS = [
    r"[$€£¥]\s?\d[\d,.]*|\d[\d,.]*\s?[$€£¥]|[$€£¥]",
    r"\b\d[\d,.]*\s?(?:usd|eur|gbp|dollars?|euros?|bucks)\b|\b(?:usd|eur|gbp)\s?\d[\d,.]*",
    r"(?<![\w.])\d+(?:\.\d+)?\s?(?:%|percent\b|per cent\b)(?:\s+off\b)?",
    r"\bsave\s+(?:up\s+to\s+)?(?:\d|[$€£])[\d,.%]*",
    r"\bhalf[\s-]?(?:price|off)\b",
    r"\b(?:discount(?:s|ed)?|sale|clearance|coupons?|vouchers?|promo codes?|promo(?:s|tions?|tional)?|rebates?)\b",
    r"\bdeals?\b(?!\s+(?:with|of)\b)",
    r"\bfree\s+(?:shipping|delivery|returns?|gifts?|postage)\b|\bships?\s+(?:for\s+)?free\b",
    r"\blimited[\s-]time\b|\bwhile (?:supplies|stocks?) last\b|\btoday only\b|\bact now\b",
    r"\bbogo\b|\bbuy one,?\s+get one\b|\b(?:2|two) for (?:1|one)\b",
    r"\b(?:special|exclusive|limited|introductory) offers?\b",
    r"\b(?:best|lowest?|reduced|special|sale|great|unbeatable|bargain|discounted) prices?\b"
    r"|\bpriced (?:at|from)\b|\bprice (?:drop|cut|match)\w*",
    r"\bwarrant(?:y|ies)\b|\bmoney[\s-]back\b",
]
_OFFER_RE = re.compile("|".join(f"(?:{p})" for p in _OFFER_PATTERNS), re.I)

_PERSONA_ADJ = (
    r"avid|passionate|dedicated|keen|serious|loyal|valued|proud|true|seasoned|experienced|fellow|"
    r"busy|discerning|savvy|frequent|regular|long-?time|returning|premium|platinum|gold|silver|bronze|"
    r"vip|high-value|budget-conscious|price-conscious|member|customer|subscriber"
)
_IDENTITY_PATTERNS = [
    # "As a cyclist and a New Yorker, you ..." opening a sentence (not "As a result, ...", and
    # not "As a three-season tent, the Basecamp ...": the reader must be told who they are).
    r"(?:^|(?<=[.!?] )|(?<=\n))\s*as (?:an?|one|the kind of|the type of)\b"
    r"(?! (?:result|bonus|rule|whole|standard|option|extra|alternative|default|reminder|matter of fact)\b)"
    r"[^.;:!?\n]{1,80}?,?\s+you(?:'re|'ll|'ve|'d)?\b",
    # "as a cyclist and ...", "as a New Yorker": a person noun, not "as a commuter bike"
    r"\bas an? (?:[\w'-]+ ){0,3}?(?:cyclists?|riders?|(?:mountain )?bikers?|hikers?|campers?|commuters?|runners?"
    r"|climbers?|backpackers?|new yorkers?|locals?|residents?|parents?|customers?|members?|shoppers?"
    r"|enthusiasts?|adventurers?|athletes?|racers?|travell?ers?|outdoors(?:wo)?m[ae]n)"
    r"(?=\s*(?:[,.;:!?]|$|and\b|or\b|who\b|you\b|like\b|from\b|in\b|living\b))",
    r"\bas (?:someone|somebody|a person|one of (?:our|the|those))\b",
    rf"\bas an? (?:{_PERSONA_ADJ})\b",
    rf"\byou(?:'re| are) an? (?:{_PERSONA_ADJ})\b",
    r"\b(?:since|because|as|now that|given that) you(?:'re| are)?\s+(?:live|living|based|located|reside|residing|from)\b",
    r"\byou live in\b|\bwhere you live\b|\byour (?:city|hometown|home state|state|region|neighbou?rhood)\b",
    r"\b(?:loyal|valued|premium|platinum|gold|silver|bronze|vip|top|best|elite|high[- ]value|frequent|repeat|returning)"
    r"\s+(?:customers?|members?|clients?|shoppers?|buyers?|patrons?)\b",
    r"\b(?:customers?|members?|shoppers?|clients?|buyers?|riders?|cyclists?|campers?|hikers?|someone|people|folks)\s+like you\b",
    # customer tiers and value groups, not "top-tier components" or "a high-value upgrade"
    r"\b(?:your|our|customer|value|loyalty|membership|clv|platinum|gold|silver|bronze)[\s-]+tiers?\b"
    r"|\btiers? (?:customers?|members?|status)\b"
    r"|\bhigh[- ]value (?:customers?|riders?|shoppers?|members?|buyers?|clients?|segments?|groups?)\b",
    r"\blifetime value\b|\bclv\b|\bpredicted (?:value|lifetime|spend|clv)\b",
    r"\bdiscount[- ]sensitiv\w*|\bprice[- ]sensitiv\w*|\bprice preferences?\b|\blifecycle (?:stage|status)\b",
    r"\b(?:this|the|our|your|customer|audience|target|market) segments?\b",
    r"\b(?:our|the) (?:data|records|analysis|analytics) (?:shows?|says?|suggests?)\b",
    r"\bbased on your (?:purchase|shopping|order|browsing|past)\b|\bwe know (?:that )?you\b",
]
_IDENTITY_RE = re.compile("|".join(f"(?:{p})" for p in _IDENTITY_PATTERNS), re.I)

_REFUSAL_RE = re.compile(
    r"\bi'm sorry\b|\bi am sorry\b|\bas an ai\b|\bas an? (?:ai|large )?language model\b|\bi cannot\b|\bi can ?not\b"
    r"|\bi can't (?:help|assist|provide|write|create|comply|do that|fulfil)|\bi'm unable\b|\bi am unable to\b"
    r"|\bi'm not able to\b|\bi apologi[sz]e\b|\bi won't be able\b",
    re.I,
)

US_STATES = (
    "Alabama", "Alaska", "Arizona", "Arkansas", "California", "Colorado", "Connecticut", "Delaware",
    "Florida", "Georgia", "Hawaii", "Idaho", "Illinois", "Indiana", "Iowa", "Kansas", "Kentucky",
    "Louisiana", "Maine", "Maryland", "Massachusetts", "Michigan", "Minnesota", "Mississippi",
    "Missouri", "Montana", "Nebraska", "Nevada", "New Hampshire", "New Jersey", "New Mexico",
    "New York", "North Carolina", "North Dakota", "Ohio", "Oklahoma", "Oregon", "Pennsylvania",
    "Rhode Island", "South Carolina", "South Dakota", "Tennessee", "Texas", "Utah", "Vermont",
    "Virginia", "Washington", "West Virginia", "Wisconsin", "Wyoming",
)
# City names that are also ordinary words: not a place when they open a sentence ("Bend your knees").
COMMON_WORD_PLACES = {
    "Bend", "Mobile", "Orange", "Columbia", "Athens", "Reading", "Normal", "Hope", "Surprise",
    "Independence", "Liberty", "Commerce", "Enterprise", "Paradise", "Mission", "Marathon", "Summit",
}
_PLACE_LISTS = ("top_regions", "top_states", "top_cities")


def _known_places() -> frozenset[str]:
    """The US states and segcopy's REGIONS vocabulary (regions, states, cities)."""
    places = set(US_STATES) | set(REGIONS)
    for states in REGIONS.values():
        places |= set(states)
        for cities in states.values():
            places |= set(cities)
    return frozenset(places)


KNOWN_PLACES = _known_places()


def _place_shares(segment: dict) -> dict[str, float]:
    shares: dict[str, float] = {}
    for key in _PLACE_LISTS:
        for entry in segment.get(key) or []:
            value = (entry or {}).get("value")
            if not value or str(value).strip().lower() in ("unknown", "none", "null", "n/a"):
                continue
            share = float(entry.get("share") or 0.0)
            shares[str(value)] = max(share, shares.get(str(value), 0.0))
    return shares


@lru_cache(maxsize=128)
def _places_regex(names: frozenset[str]) -> re.Pattern:
    """One regex for all place names, longest first ("Colorado Springs" before "Colorado")."""
    alts = sorted(names, key=lambda n: (-len(n), n))
    body = "|".join(r"\s+".join(map(re.escape, n.split())) for n in alts)
    return re.compile(rf"(?<![\w])(?<![\w]-)(?:{body})(?![\w])")


def _places_named(copy: str, original: str, shares: dict[str, float], threshold: float) -> list[str]:
    names = {" ".join(n.split()): n for n in KNOWN_PLACES | set(shares)}
    regex = _places_regex(frozenset(names.values()))
    copy, original = _clean(copy), _clean(original)
    # A place the original names ("Cascade", "Sierra", a product named after one) is allowed.
    in_original = {names[" ".join(m.group().split())] for m in regex.finditer(original)}
    starts = {m.end() for m in _SENTENCE_START_RE.finditer(copy)}
    flagged: list[str] = []
    for m in regex.finditer(copy):
        place = names[" ".join(m.group().split())]
        if place in in_original or place in flagged:
            continue
        if place in COMMON_WORD_PLACES and m.start() in starts:
            continue  # "Bend your knees", "Mobile phones": a word opening a sentence
        if shares.get(place, 0.0) < threshold:
            flagged.append(place)
    out = []
    for place in flagged:
        share = shares.get(place)
        out.append(f"{place} ({round(share * 100)}% of the segment)" if share is not None
                   else f"{place} (0%: not among the segment's top places)")
    return out


def _same(hit: str) -> str:
    return re.sub(r"\s+", " ", hit).lower()


@lru_cache(maxsize=1024)
def _keys_in(regex: re.Pattern, key, text: str) -> frozenset[str]:
    return frozenset(key(m.group().strip()) for m in regex.finditer(_cased(text)))


def _hits(regex: re.Pattern, copy: str, original: str, key=_same) -> list[str]:
    """Matches in the copy whose normalised text is not also matched in the original."""
    allowed = _keys_in(regex, key, original)
    out = []
    for m in regex.finditer(_cased(copy)):
        text = m.group().strip().rstrip(",")
        if key(text) not in allowed and text not in out:
            out.append(text)
    return out


def _offer_key(hit: str) -> str:
    hit = re.sub(r"\s+", " ", hit).lower()
    pct = re.match(r"(\d+(?:\.\d+)?)\s?(?:%|percent|per cent)", hit)
    if pct:
        return pct.group(1) + "%"
    return hit


def _phrase_re(phrase: str) -> re.Pattern:
    body = r"[\s-]+".join(map(re.escape, re.split(r"[\s-]+", phrase.strip().lower())))
    return re.compile(rf"(?<![\w-]){body}(?:s|es)?(?![\w-])")


def avoid_words_from_brand_voice(text: str) -> tuple[str, ...]:
    """Words/phrases listed on "Words to avoid:" (or "Avoid:") lines, lowercased, in order.

    The list may continue on following bullet lines when the label line ends at the colon.
    """
    out: list[str] = []
    lines = (text or "").splitlines()
    label = re.compile(r"^\s*(?:[-*+•]\s*)?(?:\*\*|__)?\s*(?:words\s+to\s+avoid|avoid)\s*(?:\*\*|__)?\s*:\s*(?:\*\*|__)?(.*)$", re.I)
    i = 0
    while i < len(lines):
        m = label.match(lines[i])
        i += 1
        if not m:
            continue
        items = [m.group(1)]
        if not m.group(1).strip():
            while i < len(lines) and re.match(r"^\s+[-*+•]\s+\S|^\s*[-*+•]\s+[^:]+$", lines[i]):
                items.append(re.sub(r"^\s*[-*+•]\s+", "", lines[i]))
                i += 1
        for item in items:
            for word in re.split(r"[,;]|\s+(?:and|or)\s+", item):
                word = word.strip().strip("`'\"*_.").strip().lower()
                if word and word not in out:
                    out.append(word)
    return tuple(out)


# --------------------------------------------------------------------------------------
# One variant
# --------------------------------------------------------------------------------------


def judge_variant(
    variant_text: str, rationale: str, original: str, segment: dict, settings: CheckSettings
) -> list[Verdict]:
    """The content checks for one ``ok`` variant, in ``CHECKS`` order (coverage and well_formed
    are judged per partition by :func:`judge_partition`)."""
    copy = (variant_text or "").strip()
    original = original or ""
    segment = segment or {}
    verdicts = []

    problems = []
    if not copy:
        problems.append("the copy is empty")
    if not (rationale or "").strip():
        problems.append("the rationale is empty")
    verdicts.append(_verdict("rationale_present", problems))

    normalized = _norm(copy)
    missing = [f for f in _extract_facts(original) if not _fact_regex(f).search(normalized)]
    verdicts.append(_verdict("facts_preserved", f"missing facts: {', '.join(missing)}" if missing else None))

    offers = _hits(_OFFER_RE, copy, original, _offer_key)
    verdicts.append(_verdict(
        "no_invented_offers",
        "offer claims not in the original: " + ", ".join(f'"{o}"' for o in offers) if offers else None,
    ))

    problems = []
    identity = _hits(_IDENTITY_RE, copy, original)
    if identity:
        problems.append("addresses the reader as one kind of person or mentions the segment: "
                        + ", ".join(f'"{h}"' for h in identity))
    places = _places_named(copy, original, _place_shares(segment), settings.place_share_threshold)
    if places:
        problems.append(f"names places held by less than {round(settings.place_share_threshold * 100)}% "
                        f"of the segment: {', '.join(places)}")
    verdicts.append(_verdict("whole_segment_voice", problems))

    refusals = [m.group() for m in _REFUSAL_RE.finditer(_cased(copy))]
    verdicts.append(_verdict(
        "no_refusal", "reads like a refusal: " + ", ".join(f'"{r}"' for r in dict.fromkeys(refusals)) if refusals else None
    ))

    problems = []
    n, n_orig = _words(copy), _words(original)
    if not settings.min_words <= n <= settings.max_words:
        problems.append(f"{n} words, outside {settings.min_words}-{settings.max_words}")
    if n_orig:
        ratio = n / n_orig
        if not settings.min_length_ratio <= ratio <= settings.max_length_ratio:
            problems.append(f"{ratio:.2f}x the original's {n_orig} words ({n} words), outside "
                            f"{settings.min_length_ratio:g}-{settings.max_length_ratio:g}x")
    verdicts.append(_verdict("length_in_bounds", problems))

    used = []
    for word in settings.avoid_words:
        if not word.strip():
            continue
        pattern = _phrase_re(word)
        if pattern.search(copy.lower()) and not pattern.search(original.lower()):
            used.append(word)
    verdicts.append(_verdict(
        "brand_voice", "uses words the brand voice avoids: " + ", ".join(f'"{w}"' for w in used) if used else None
    ))
    return verdicts


# --------------------------------------------------------------------------------------
# One partition
# --------------------------------------------------------------------------------------


def judge_partition(
    variants: pl.DataFrame,
    expected_pairs: list[tuple[str, str]],
    originals: dict[str, str],
    segments: dict[str, dict],
    settings: CheckSettings,
) -> pl.DataFrame:
    """The verdict table for some segments' variants (rows of ``VARIANT_SCHEMA``).

    * ``coverage``: one verdict per expected pair (no row, or no ``ok`` row, fails).
    * ``well_formed``: one verdict per present row (duplicate pair, unexpected pair, a required
      column null on an ok row, a null key or status on any row).
    * the content checks of :func:`judge_variant` for every row whose status is ``ok``.

    A column of ``NEEDED_COLUMNS`` missing from the frame raises ``ValueError`` (a bug upstream).
    Rows come out per pair: its coverage verdict, then each row's verdicts in ``CHECKS`` order.
    """
    absent = [c for c in NEEDED_COLUMNS if c not in variants.columns]
    if absent:
        raise ValueError(f"variants frame lacks required column(s): {', '.join(absent)}")
    rows = variants.select(NEEDED_COLUMNS).to_dicts()
    expected = list(dict.fromkeys((str(s), str(p)) for s, p in expected_pairs))
    expected_set = set(expected)
    by_pair: dict[tuple, list[dict]] = {}
    for row in rows:
        by_pair.setdefault((row["segment_id"], row["product_id"]), []).append(row)

    out: list[dict] = []
    order = {c: k for k, c in enumerate(CHECKS)}

    def add(seg, prod, ihash, verdict: Verdict, source: int):
        out.append({"segment_id": seg, "product_id": prod, "input_hash": ihash, "check": verdict.check,
                    "passed": verdict.passed, "severity": verdict.severity, "reason": verdict.reason,
                    "_source": source, "_order": order[verdict.check]})

    for seg, prod in expected:
        present = by_pair.get((seg, prod), [])
        ok = [r for r in present if r["status"] == "ok"]
        if ok:
            add(seg, prod, ok[0]["input_hash"], _verdict("coverage", None), -1)
        elif not present:
            add(seg, prod, None, _verdict("coverage", "no variant for this pair"), -1)
        else:
            r = present[0]
            add(seg, prod, r["input_hash"],
                _verdict("coverage", f"status is {r['status']!r}, not 'ok': {r['error'] or 'no error recorded'}"), -1)

    for source, row in enumerate(rows):
        seg, prod, ihash = row["segment_id"], row["product_id"], row["input_hash"]
        problems = []
        count = len(by_pair[(seg, prod)])
        if count > 1:
            problems.append(f"{count} rows for this pair")
        if seg is not None and prod is not None and (seg, prod) not in expected_set:
            problems.append("unexpected pair: not among the expected segment x product pairs")
        required = REQUIRED_ON_OK if row["status"] == "ok" else ("segment_id", "product_id", "status")
        nulls = [c for c in required if row[c] is None]
        if nulls:
            problems.append(f"null {', '.join(nulls)}")
        add(seg, prod, ihash, _verdict("well_formed", problems), source)

        if row["status"] != "ok":
            continue
        original = originals.get(prod)
        verdicts = judge_variant(row["variant_text"], row["rationale"], original or "",
                                 segments.get(seg) or {}, settings)
        for v in verdicts:
            if v.check == "facts_preserved" and original is None:
                v = _verdict("facts_preserved", f"no original description for product {prod!r}")
            add(seg, prod, ihash, v, source)

    frame = pl.DataFrame(out, schema={**VERDICT_SCHEMA, "_source": pl.Int64, "_order": pl.Int64})
    return (
        frame.sort(["segment_id", "product_id", "_source", "_order"], nulls_last=True, maintain_order=True)
        .select(list(VERDICT_SCHEMA))
    )
