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
NUMBER_WORD = {v: k for k, v in COUNT_WORDS.items()}

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


def is_plural(word: str) -> bool:
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
        if is_plural(word):
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
            if phrase is not None and is_plural(phrase.split()[-1]):
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


#: What a pair is a pair of, in the trade's products (boots, shoes, gloves, socks, pedals ...).
_PAIRED_ITEM = (
    r"(?:boots?|shoes?|trainers?|sneakers?|gloves?|mitts?|socks?|pedals?|poles?|grips?|insoles?)"
)
_WEIGHT = r"(\d+(?:\.\d+)?\s?(?:kg|g|lb|oz))\b"
#: A weight said of the pair: "a pair in size 9 weighs 1.1 kg", "1.1 kg per pair", "the pair: 1.1 kg".
_PAIR_WEIGHT = re.compile(
    rf"\bpair\b(?:[^.;]{{0,40}}?)\bweigh(?:s|ing)?\s+(?:just\s+|only\s+|about\s+)?{_WEIGHT}"
    rf"|{_WEIGHT}\s+(?:per|a|the|for the|for a) pair\b|\bpair weight:?\s+{_WEIGHT}"
)
#: A weight said of one item: "each boot (in a size 9) weighs 1.1 kg", "1.1 kg per boot".
_ITEM_WEIGHT = re.compile(
    rf"\b(?:each|per|a single|one|every) (?:\w+ ){{0,2}}?{_PAIRED_ITEM}\b(?:[^.;]{{0,30}}?)\bweigh(?:s|ing)?"
    rf"\s+(?:just\s+|only\s+|about\s+)?{_WEIGHT}|{_WEIGHT}\s+(?:per|a|each) {_PAIRED_ITEM}\b"
)


def _weights(pattern: re.Pattern, text: str) -> set[str]:
    return {next(g for g in m.groups() if g).replace(" ", "") for m in pattern.finditer(norm(text))}


def per_pair_as_each(copy: str, original: str) -> list[str]:
    """A weight the original gives for a pair that the copy gives for each item ("a pair weighs
    1.1 kg" → "each boot weighs 1.1 kg": the stated weight doubled); a weight the original gives
    per item too ("320 g per pole, 640 g per pair") may be said per item."""
    paired = _weights(_PAIR_WEIGHT, original) - _weights(_ITEM_WEIGHT, original)
    if not paired:
        return []
    return [
        f'"{w}" is the weight of a pair, given for each item'
        for w in sorted(_weights(_ITEM_WEIGHT, copy) & paired)
    ]
