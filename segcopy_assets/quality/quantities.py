"""Numbers with their units: conversions, numbers the copy adds, numbers moved between attributes.

The copy may restate a quantity in another unit (a conversion) but every number it gives must be
a fact of the original, or a correct conversion of one: ``7.6 kg (about 16.8 lb)`` passes,
``7.6 kg (about 15.8 lb)`` and ``visible from 150 m`` do not. And each number must stay with
the attribute it measures: ``a 200 mm front rotor and a 180 mm rear rotor`` rewritten as
``a 180 mm front rotor and a 200 mm rear rotor`` keeps every number and still fails.
"""

import re
from dataclasses import dataclass
from functools import lru_cache

from segcopy_assets.quality.fact_matching import TRADE_NAMES
from segcopy_assets.quality.facts import COUNT_WORDS
from segcopy_assets.quality.gate import pattern_cache
from segcopy_assets.quality.normalise import norm

# unit spelling → (canonical unit, dimension, factor to the dimension's base unit)
_UNITS: list[tuple[str, str, str | None, float]] = [
    (r"g/m²|g/m2|gsm|grams? per square met(?:re|er)", "gsm", None, 1.0),  # before "g"
    (r"km/h|kph|kmh|kilomet(?:re|er)s? (?:per|an) hour", "km/h", "speed", 1.0),  # before "km"
    (r"mph|miles? (?:per|an) hour", "mph", "speed", 1.609344),  # before "mi"
    (r"kgs?|kilo(?:gram(?:me)?)?s?", "kg", "mass", 1000.0),
    (r"g|grams?|grammes?|gr", "g", "mass", 1.0),
    (r"lbs?|pounds?", "lb", "mass", 453.59237),
    (r"oz|ounces?", "oz", "mass", 28.349523),
    (r"mm|millimet(?:re|er)s?", "mm", "length", 1.0),
    (r"cm|centimet(?:re|er)s?", "cm", "length", 10.0),
    (r"km|kilomet(?:re|er)s?", "km", "length", 1_000_000.0),
    (r"m|met(?:re|er)s?", "m", "length", 1000.0),
    # "in" is no inch where a preposition's object follows ("the Homestead 4 in around 10 min")
    (
        r"in(?!\s+(?:the|a|an|around|about|under|over|just|less|roughly|approximately|its|your|"
        r"their|our|one|two|three|four|five|six|seven|eight|nine|ten|minutes?|seconds?|no time|"
        r"\d)\b)|inch(?:es)?|\"|″|”",
        "in",
        "length",
        25.4,
    ),
    (r"ft|feet|foot", "ft", "length", 304.8),
    (r"mi|miles?", "mi", "length", 1_609_344.0),
    (r"ml|millilit(?:re|er)s?", "ml", "volume", 1.0),
    (r"l|lit(?:re|er)s?", "l", "volume", 1000.0),
    (r"(?:us |u\.s\. )?(?:fl\.? ?oz|fluid ounces?)", "floz", "volume", 29.5735),
    (r"(?:us |u\.s\. )?gal(?:lons?)?", "gal", "volume", 3785.41),
    (r"qt|quarts?", "qt", "volume", 946.353),
    (r"(?:°|º|˚) ?c|degrees? (?:c|celsius)|celsius", "c", "temperature", 1.0),
    (r"(?:°|º|˚) ?f|degrees? (?:f|fahrenheit)|fahrenheit", "f", "temperature", 1.0),
    (r"square met(?:re|er)s?|sq\.? ?m|m²|m2|sqm", "m2", "area", 1.0),
    (r"square (?:feet|foot)|sq\.? ?ft", "ft2", "area", 0.09290304),
]
_OTHER_UNITS = (
    r"nm|newton[ -]?met(?:re|er)s?|wh|watt[ -]?hours?|kwh|ah|w|watts?|v|volts?|a|amps?|d|denier"
    r"|gsm|%|percent|per cent|hours?|hrs?|h|minutes?|mins?|seconds?|secs?|days?|weeks?|months?"
    r"|years?|yrs?|degrees?|°|speeds?|pistons?|layers?|person|people|seasons?|fill(?:[ -]power)?"
    r"|t|teeth|tooth|x|stars?|lumens?|psi|bar"
)
_UNIT_RE = "|".join(f"(?:{u})" for u, *_ in _UNITS)
_ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
    "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12,
}  # fmt: skip
_NUMBER = r"(?P<num>\d+(?:\.\d+)?)(?P<k>\s?k(?![a-z]))?"
_QUANTITY_RE = re.compile(
    rf"(?<![\w.])(?P<neg>-|minus )?{_NUMBER}(?:(?:\s|-)?(?P<unit>{_UNIT_RE}|{_OTHER_UNITS})(?![a-z0-9²]))?"
)
_WORD_QUANTITY_RE = re.compile(
    r"(?<![\w-])(?P<word>" + "|".join(COUNT_WORDS) + r")-(?P<unit>" + _OTHER_UNITS + r")(?![a-z])"
)
_STOP = {
    "the", "and", "with", "for", "that", "this", "its", "are", "has", "have", "from", "into",
    "about", "around", "roughly", "only", "just", "each", "every", "which", "while", "than", "more",
    "less", "all", "both", "your", "you", "our", "their", "they", "them", "one", "two", "three",
    "four", "five", "six", "also", "over", "under", "up", "down", "out", "off", "per", "can", "will",
    "weighs", "weigh", "weight", "size", "sizes", "uses", "use", "runs", "run", "gives", "give",
    "comes", "come", "offers", "offer", "makes", "make", "keeps", "keep", "take", "takes",
    "had", "there", "here", "what", "when", "where",
}  # fmt: skip


@dataclass(frozen=True)
class Quantity:
    value: float  # as written (negative for "-7 °C")
    unit: str | None  # canonical unit, None for a bare number
    dimension: str | None  # convertible dimension, None for units that are only compared
    base: float  # value in the dimension's base unit (or the value itself)
    decimals: int
    start: int
    end: int
    text: str
    #: feet and inches, pounds and ounces written together: rounded to the smaller unit only
    compound: bool = False


@pattern_cache(maxsize=512)
def _canonical(unit: str) -> tuple[str, str | None, float]:
    unit = unit.strip()
    for pattern, canonical, dimension, factor in _UNITS:
        if re.fullmatch(pattern, unit):
            return canonical, dimension, factor
    word = re.sub(r"s$", "", unit) if len(unit) > 3 else unit
    return {"people": "person", "percent": "%", "per cent": "%"}.get(unit, word), None, 1.0


# A spaced hyphen ("Homestead 4 - 190 cm") is a dash between phrases, not a range: a range's
# hyphen is unspaced ("10-52"), or words say it ("49 to 61 cm").
_SHARED_UNIT = re.compile(
    rf"(?<![\w.])(?P<a>\d+(?:\.\d+)?)(?P<sep>\s*(?:/|x|×|to|through|and|by)\s*|-)"
    rf"(?=\d+(?:\.\d+)?\s?-?(?P<unit>{_UNIT_RE})(?![a-z0-9²]))"
)


# The trade's size names (``650b``, ``29er``) and sizes like 2XL: they state no new number.
_TRADE_RE = re.compile(
    r"(?<![a-z0-9])(?:"
    + "|".join(f"(?:{name})" for names in TRADE_NAMES.values() for name in names)
    + r"|\d?x[ls])(?![a-z0-9])"
)


_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_TIMES = re.compile(r"(?<=\d)\s?[x×]\s?(?=\d)")


@lru_cache(maxsize=2048)
def _clean(text: str) -> str:
    """Normalised, with the trade's size names taken out (``650b`` states 27.5-inch, not 650)
    and a unit shared by two numbers written on both ("49 to 61 cm" → "49 cm to 61 cm")."""
    # thousands separators go ("3,000 mm" is 3000 mm); a comma between words stays a boundary
    out = _THOUSANDS.sub("", norm(text))
    out = _SHARED_UNIT.sub(
        lambda m: f"{m.group('a')} {m.group('unit')} {m.group('sep').strip()} ", out
    )
    out = _TIMES.sub(" x ", out)  # "1x12": the numbers 1 and 12
    return _TRADE_RE.sub(" ", out)


@lru_cache(maxsize=2048)
def quantities(text: str) -> tuple[Quantity, ...]:
    """Every number in ``text`` with its unit (if one follows), in order."""
    text = _clean(text)
    out = []
    for m in _QUANTITY_RE.finditer(text):
        value = float(m.group("num")) * (1000 if m.group("k") else 1)
        if m.group("neg"):
            value = -value
        decimals = len(m.group("num").split(".")[1]) if "." in m.group("num") else 0
        unit, dimension, factor = (
            _canonical(m.group("unit")) if m.group("unit") else (None, None, 1.0)
        )
        base = value * factor if dimension != "temperature" else value
        if dimension == "temperature" and unit == "f":
            base = (value - 32) / 1.8
        out.append(
            Quantity(value, unit, dimension, base, decimals, m.start(), m.end(), m.group(0).strip())
        )
    for m in _WORD_QUANTITY_RE.finditer(text):
        unit, dimension, _ = _canonical(m.group("unit"))
        value = float(COUNT_WORDS[m.group("word")])
        out.append(Quantity(value, unit, dimension, value, 0, m.start(), m.end(), m.group(0)))
    return _compounds(text, sorted(out, key=lambda q: q.start))


#: the larger unit of a compound imperial quantity → its smaller unit ("6 ft 3 in", "3 lb 12 oz")
_COMPOUND = {"ft": "in", "lb": "oz"}
_COMPOUND_GAP = re.compile(r"\s*(?:,|and)?\s*")


def _compounds(text: str, found: list[Quantity]) -> tuple[Quantity, ...]:
    """Feet and inches, pounds and ounces written together as one quantity of the smaller unit
    ("about 6 ft 3 in" is 75 in, not 6 ft and a new 3 in)."""
    out: list[Quantity] = []
    for q in found:
        last = out[-1] if out else None
        if (
            last is not None
            and last.unit in _COMPOUND
            and q.unit == _COMPOUND[last.unit]
            and q.value >= 0
            and _COMPOUND_GAP.fullmatch(text, last.end, q.start)
        ):
            base = last.base + q.base
            _, _, factor = _canonical(q.unit or "")
            out[-1] = Quantity(
                base / factor, q.unit, q.dimension, base, q.decimals, last.start, q.end,
                text[last.start : q.end], compound=True,
            )  # fmt: skip
            continue
        out.append(q)
    return tuple(out)


@lru_cache(maxsize=1024)
def _numbers(text: str) -> frozenset[float]:
    """Every number the text states, as digits, count words or ordinals."""
    values = {abs(q.value) for q in quantities(text)}
    lowered = norm(text)
    values |= {float(v) for w, v in COUNT_WORDS.items() if re.search(rf"\b{w}\b", lowered)}
    values |= {float(v) for w, v in _ORDINALS.items() if re.search(rf"\b{w}\b", lowered)}
    if re.search(r"\b(?:a )?(?:pair|dual|twin|double|both)\b", lowered):
        values.add(2.0)
    if re.search(r"\bdozen\b", lowered):
        values |= {6.0, 12.0}
    return frozenset(values)


def _tolerance(q: Quantity) -> float:
    """How far a stated conversion may be from the true value, in the base unit: half a unit
    of its last written digit, plus 2 % (``about 17 lb`` for 7.6 kg), or 1 °F for °F."""
    if q.dimension == "temperature":
        return (1.0 + 0.5 * 10**-q.decimals) / 1.8 if q.unit == "f" else 0.5 * 10**-q.decimals
    _, _, factor = _canonical(q.unit or "")
    if q.compound:  # "6 ft 2 in" is said to the inch: half an inch and 0.5 % of rounding
        return 0.5 * 10**-q.decimals * factor + 0.005 * abs(q.base)
    return 0.5 * 10**-q.decimals * factor + 0.02 * abs(q.base)


def unsupported_numbers(copy: str, original: str) -> list[str]:
    """Numbers of the copy that are no fact of the original and no correct conversion of one,
    each with why (quoted as written)."""
    originals = quantities(original)
    numbers = _numbers(original)
    problems = []
    for q in quantities(copy):
        if q.dimension is not None:
            same = [o for o in originals if o.dimension == q.dimension]
            # in the original's own unit a number is the fact or another one ("240 by 241 cm"
            # for "240 by 240 cm"); only a conversion to another unit is rounded
            if any(
                abs(o.base - q.base) <= (1e-9 if o.unit == q.unit else _tolerance(q) + 1e-9)
                for o in same
            ):
                continue
            if same:
                nearest = min(same, key=lambda o: abs(o.base - q.base))
                problems.append(
                    f'"{q.text}" matches no quantity of the original (nearest: "{nearest.text}")'
                )
            else:
                problems.append(f'"{q.text}" is a number the original does not give')
            continue
        if abs(q.value) in (0.0, 1.0):  # "1" is "one": everywhere
            continue
        # a unit the original counts in too ("4 minutes"): the copy's number is one of those
        # ("pitch the Basecamp 2 in 2 minutes" changes the time, though 2 is in its name)
        same_unit = [o for o in originals if q.unit is not None and o.unit == q.unit]
        if same_unit and not any(abs(o.value) == abs(q.value) for o in same_unit):
            nearest = min(same_unit, key=lambda o: abs(o.value - q.value))
            problems.append(
                f'"{q.text}" matches no quantity of the original (nearest: "{nearest.text}")'
            )
            continue
        if abs(q.value) in numbers:
            continue
        problems.append(f'"{q.text}" is a number the original does not give')
    return list(dict.fromkeys(problems))


# ----------------------------------------------------------------------------- swaps


_BOUNDARY = re.compile(
    r"\b(?:and|with|while|plus|but|or|paired|pairs|alongside|against|versus)\b|[,;:()]"
)


#: The last word before a trailing "to", "of", "at" … and that preposition: it names what the
#: number after it measures ("rated to 3,000 mm", "a weight of 1.6 kg").
_BOUND_TO_NEXT = re.compile(r"[a-z][a-z'-]*\s+(?:to|of|at|by)\s*$")


_SUFFIXES = ("able", "ably", "ible", "ing", "ed", "s")
_WORD = re.compile(r"[a-z][a-z'-]*")
_CLAUSE_END = re.compile(r"[.;!?]")


@lru_cache(maxsize=8192)
def _stem(word: str) -> str:
    """A word's stem for tying numbers to attributes ("comfortable" and "comfort", "rated" and
    "rating"): a common suffix dropped when three letters or more remain."""
    for suffix in _SUFFIXES:  # at most one can end a word: the regex's one match
        if word.endswith(suffix):
            stem = word[: -len(suffix)]
            return stem if len(stem) >= 3 else word
    return word


def _content(words: list[str]) -> list[str]:
    return [_stem(w) for w in words if len(w) > 2 and w not in _STOP]


def _contexts(text: str, found: list[Quantity]) -> dict[int, set[str]]:
    """Per quantity (by start): the content words that belong to it. Words between two
    quantities of one clause go to the first up to a boundary ("and", "with", a comma …), the
    rest to the second; the first quantity of a clause also takes up to two words before it."""
    out: dict[int, set[str]] = {q.start: set() for q in found}
    for i, q in enumerate(found):
        clause_end = _CLAUSE_END.search(text, q.end)
        stop = clause_end.start() if clause_end else len(text)
        nxt = found[i + 1] if i + 1 < len(found) and found[i + 1].start < stop else None
        gap = text[q.end : nxt.start if nxt else stop]
        cut = _BOUNDARY.search(gap)
        mine, theirs = (gap[: cut.start()], gap[cut.start() :]) if cut else (gap, "")
        bound = _BOUND_TO_NEXT.search(mine) if nxt is not None and not cut else None
        if bound:  # "30D nylon rated to 3,000 mm": "rated" is the second number's
            mine, theirs = mine[: bound.start()], mine[bound.start() :]
        out[q.start] |= set(_content(_WORD.findall(mine))[:3])
        if nxt is not None:
            out[nxt.start] |= set(_content(_WORD.findall(theirs))[-3:])
        previous = found[i - 1] if i else None
        clause_start = max(text.rfind(c, 0, q.start) for c in ".;!?") + 1
        if previous is None or previous.end < clause_start:
            before = _WORD.findall(text[clause_start : q.start])
            out[q.start] |= set(_content(before)[-2:])
    return out


def kind(q: Quantity) -> str:
    """What a quantity measures: its dimension (length, mass, ...) or, without one, its unit."""
    return q.dimension or q.unit or ""


def _attributed(
    copy: str, original: str
) -> tuple[list[Quantity], list[Quantity], dict[int, set[str]], dict[int, set[str]]]:
    """The quantities with a unit of the original and of the copy, and the words each belongs
    to (``_contexts``)."""
    originals, original_contexts = _with_contexts(original)
    copies, copy_contexts = _with_contexts(copy)
    return originals, copies, original_contexts, copy_contexts


@lru_cache(maxsize=256)
def _with_contexts(text: str) -> tuple[list[Quantity], dict[int, set[str]]]:
    """The quantities with a unit and the words each belongs to (read, never changed: the
    original's are shared by every copy judged against it)."""
    found = [q for q in quantities(text) if q.unit]
    return found, _contexts(_clean(text), found)


def swapped_numbers(copy: str, original: str) -> list[str]:
    """Pairs of numbers of one unit that the copy keeps but attaches to each other's attribute."""
    originals, copies, o_ctx, c_ctx = _attributed(copy, original)

    problems = []
    kinds = [kind(q) for q in originals]
    copy_kinds = [kind(c) for c in copies]
    # per number of the original, the copy's numbers that state it
    kept = [
        [c for c, k in zip(copies, copy_kinds) if k == kinds[i] and abs(c.base - a.base) < 1e-9]
        for i, a in enumerate(originals)
    ]
    for i, a in enumerate(originals):
        if not kept[i]:
            continue
        for j in range(i + 1, len(originals)):
            b = originals[j]
            if kinds[i] != kinds[j] or abs(a.base - b.base) < 1e-9:
                continue
            own_a, own_b = o_ctx[a.start] - o_ctx[b.start], o_ctx[b.start] - o_ctx[a.start]
            if not own_a or not own_b:
                continue
            ca, cb = kept[i], kept[j]
            if not ca or not cb:
                continue
            around_a = set().union(*(c_ctx[c.start] for c in ca))
            around_b = set().union(*(c_ctx[c.start] for c in cb))
            if (
                own_b & around_a
                and own_a & around_b
                and not own_a & around_a
                and not own_b & around_b
            ):
                problems.append(
                    f'"{ca[0].text}" and "{cb[0].text}" trade places: the original gives '
                    f'"{a.text}" for {"/".join(sorted(own_a))} and "{b.text}" for {"/".join(sorted(own_b))}'
                )
    return problems


def misattributed_numbers(copy: str, original: str) -> list[str]:
    """Numbers the copy keeps but attaches to another attribute of the same unit: the original
    gives "-1 °C" for the comfort rating and "-7 °C" for the limit, the copy "comfort to -7 °C".
    Short copy that keeps one number of such a pair (a subject line, an SMS) changes a fact so;
    ``swapped_numbers`` needs both numbers in the copy."""
    originals, copies, o_ctx, c_ctx = _attributed(copy, original)
    # only words the original uses once ("comfort", "limit") tie a number to an attribute; the
    # product's noun ("bag") is around many of its numbers
    counts: dict[str, int] = {}
    for word in _content(_WORD.findall(_clean(original))):
        counts[word] = counts.get(word, 0) + 1
    distinctive = {w for w, n in counts.items() if n == 1}
    problems = []
    for c in copies:
        same = [a for a in originals if kind(a) == kind(c) and abs(a.base - c.base) < 1e-9]
        if not same:
            continue
        own = set().union(*(o_ctx[a.start] for a in same))
        for b in originals:
            if kind(b) != kind(c) or any(abs(b.base - a.base) < 1e-9 for a in same):
                continue
            theirs = (o_ctx[b.start] - own) & distinctive
            if theirs & c_ctx[c.start] and not (own - o_ctx[b.start]) & c_ctx[c.start]:
                problems.append(
                    f'"{c.text}" is given for {"/".join(sorted(theirs & c_ctx[c.start]))}, '
                    f'which the original gives as "{b.text}"'
                )
                break
    return problems
