"""Facts a variant must keep: extraction from the original and tolerant matching in the copy.

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
"""

import re
from functools import lru_cache

from segcopy_assets.quality.normalise import SENTENCE_START_RE, clean, norm

COUNT_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
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
# Capitalised words that start sentences or are function words, never names on their own.
_CAP_STOP = {
    "The",
    "A",
    "An",
    "It",
    "Its",
    "This",
    "That",
    "These",
    "Those",
    "Our",
    "Your",
    "Their",
    "His",
    "Her",
    "Each",
    "Every",
    "All",
    "Both",
    "Some",
    "Any",
    "And",
    "Or",
    "But",
    "With",
    "For",
    "In",
    "On",
    "At",
    "By",
    "From",
    "To",
    "Of",
    "As",
    "If",
    "When",
    "While",
    "So",
    "Yet",
    "Whether",
    "We",
    "You",
    "They",
    "He",
    "She",
    "I",
    "Is",
    "Are",
    "No",
    "Not",
    "Just",
    "Plus",
}
_PHRASE_STOP = {
    "and",
    "or",
    "with",
    "of",
    "the",
    "a",
    "an",
    "to",
    "in",
    "on",
    "for",
    "that",
    "which",
    "is",
    "are",
    "was",
    "were",
    "be",
    "can",
    "by",
    "from",
    "at",
    "as",
    "per",
    "it",
    "its",
    "this",
    "has",
    "have",
    "had",
    "plus",
    "up",
    "into",
    "than",
    "so",
    "but",
    "each",
    "both",
    "more",
    "less",
}


def _is_plural(word: str) -> bool:
    w = word.lower()
    return (
        len(w) > 2
        and w.endswith("s")
        and not w.endswith(("ss", "us", "is", "'s"))
        and w not in _PHRASE_STOP
    )


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
    text = clean(description)
    found: list[tuple[int, str]] = []

    numbers = {m.start("num"): m for m in _NUMBER_RE.finditer(text)}
    consumed: set[int] = set()

    # Proper names and model codes: runs of name-like tokens separated by single spaces, plus
    # one trailing bare integer ("Shimano 105", "Fox 36", "ISO 23537", "Basecamp 2").
    starts = {m.end() for m in SENTENCE_START_RE.finditer(text)}
    tokens = list(_TOKEN_RE.finditer(text))
    capital_mid = {t.group() for t in tokens if t.start() not in starts and _name_like(t.group())}
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        prev = tokens[i - 1] if i else None
        unit_position = (
            prev is not None
            and prev.group()[0].isdigit()
            and text[prev.end() : tok.start()] in ("", " ")
        )
        if not _name_like(tok.group()) or unit_position:
            i += 1
            continue
        run = [tok]
        j = i + 1
        while (
            j < len(tokens)
            and text[run[-1].end() : tokens[j].start()] == " "
            and _name_like(tokens[j].group())
            and not run[-1].group().endswith("'s")
        ):
            run.append(tokens[j])
            j += 1
        # A lone plain word opening a sentence ("Hydraulic disc brakes", "Sizes 7 to 14") is
        # not a name unless it is capitalised mid-sentence somewhere too.
        first = run[0].group()
        keep = (
            run[0].start() not in starts or len(run) > 1 or _strong(first) or first in capital_mid
        )
        if keep and (
            j < len(tokens)
            and text[run[-1].end() : tokens[j].start()] == " "
            and re.fullmatch(r"\d+", tokens[j].group())
        ):
            m = numbers.get(tokens[j].start())
            if m is not None and m.group() == tokens[j].group() and not m.group("sign"):
                run.append(tokens[j])
                consumed.add(tokens[j].start())
                j += 1
        if keep:
            found.append((run[0].start(), re.sub(r"'s$", "", text[run[0].start() : run[-1].end()])))
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
    for m in re.finditer(
        r"(?i)(?<![\w-])(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)\b", text
    ):
        hyphen = re.match(r"-[A-Za-z]+", text[m.end() :])
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
        key = norm(fact)
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
_alias(
    "°c|° c|c°", r"(?:°|º|˚)?\s?c(?![a-z])|(?:°|º|˚)?\s?celsius|degrees?\s+(?:c(?![a-z])|celsius)"
)
_alias(
    "°f|° f",
    r"(?:°|º|˚)?\s?f(?![a-z])|(?:°|º|˚)?\s?fahrenheit|degrees?\s+(?:f(?![a-z])|fahrenheit)",
)
_alias("°|degree|degrees|deg", r"°|º|˚|degrees?|deg")
_alias("gsm", r"gsm|g/m²|g/m2|grams? per square met(?:re|er)")
_alias("d|denier", r"d|denier")
_alias("speed|speeds", r"speeds?|spd")
_alias("inch|inches|in", r"inch(?:es)?|in\.|\"|″|”")
_alias("h|hr|hrs|hour|hours", r"h|hrs?|hours?")
_alias("min|mins|minute|minutes", r"mins?|minutes?")
_alias("s|sec|secs|second|seconds", r"s|secs?|seconds?")
_alias(
    "square metres|square meters|square metre|square meter|m²|sqm|sq m",
    r"square met(?:re|er)s?|sq\.?\s?m|m²|m2|sqm",
)
_alias("%|percent|per cent", r"%|percent|per cent")
_alias("fill-power|fill power|fill|fp", r"fill[\s-]?power|fill|fp")
_alias("layer|layers", r"layers?|ply")
_alias("c", r"c")
_alias("t|teeth", r"t|teeth")

_FACT_NUM_RE = re.compile(
    r"^(?P<size>size\s+)?(?P<sign>-)?(?P<num>\d+(?:\.\d+)?(?:\s?[-/x×]\s?\d+(?:\.\d+)?)*)"
    r"(?P<sep>\s?-?\s?)(?P<unit>.*)$"
)
_FACT_COUNT_RE = re.compile(
    r"^(?P<count>one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)(?P<sep>[\s-])(?P<rest>.+)$"
)


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
def fact_regex(fact: str) -> re.Pattern:
    return re.compile(_fact_pattern(fact))


def _fact_pattern(fact: str) -> str:
    f = norm(fact).strip()
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
    return fact_regex(fact).search(norm(text)) is not None
