"""Whether a fact of the original is stated in the copy: tolerant of how it is written.

Case, spacing, hyphen vs space, dash styles, thousands separators (``1,500`` = ``1500`` =
``1.5k``), units written in full or attached (``8.1 kg`` = ``8.1 kilograms`` = ``8.1kg``;
``29-inch`` = ``29in`` = ``29"``), the same quantity in another metric unit (``1.6 kg`` =
``1,600 g``; ``16 cm`` = ``160 mm``), counts written another way (``two`` = ``2`` = ``a pair
of`` = ``dual`` = ``twin``; ``six`` = ``half a dozen``; ``one-piece`` = ``single-piece``), the
trade's shorthand for a size (``27.5-inch`` = ``650b``; ``29-inch`` = ``29er``; ``XXL`` =
``2XL``). Strict about the number itself: ``8.1 kg`` is not matched by ``18.1 kg`` or
``8.15 kg``, ``5 °C`` not by ``-5 °C``.
"""

import re

from segcopy_assets.quality.facts import COUNT_WORDS, NUMBER_WORD, is_plural
from segcopy_assets.quality.gate import Gate, GateIndex, literal_gate, pattern_cache
from segcopy_assets.quality.normalise import norm

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
_alias("speed|speeds", r"speeds?|spd|s(?=[\s,.;)]|$)")
_alias("inch|inches|in", r"inch(?:es)?|in\.?|\"|″|”|''")
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


#: Other ways of writing a small count ("a pair of doors", "dual zips", "half a dozen sizes").
COUNT_SYNONYMS: dict[int, tuple[str, ...]] = {
    1: ("single", "a single", "mono", "uni"),
    2: ("a pair of", "pair of", "dual", "twin", "double", "both", "a couple of", "two sets of"),
    3: ("triple", "a trio of", "trio of", "tri"),
    4: ("quad", "quadruple", "a quartet of", "quartet of"),
    5: ("a quintet of", "quintet of"),
    6: ("half a dozen", "half-dozen", "a half dozen", "a sextet of", "sextet of"),
    12: ("a dozen", "dozen"),
}
#: The trade's names for a size, by the fact they state.
TRADE_NAMES: dict[str, tuple[str, ...]] = {
    "27.5-inch": ("650 ?b", "27\\.5(?:\\+|er)"),
    "29-inch": ("29ers?",),
    "26-inch": ("26ers?",),
    "xxl": ("2xl", "2x-large"),
    "xxxl": ("3xl",),
    "xxs": ("2xs",),
    "xs": ("x-small", "extra[- ]small"),
    "xl": ("x-large", "extra[- ]large"),
    "gore-tex": ("gtx",),
    "two-way": ("double[- ]ended", "dual[- ]slider", "two[- ]slider", "2[- ]slider"),
    "500 ml": ("half[- ]a?[- ]?lit(?:re|er)",),
    "800-fill-power": ("fill[- ]power (?:of|rating of|rated at)\\s*800", "800\\s?fp"),
}


def _count_words(value: int) -> str:
    """The ways of writing a count of ``value`` (digits, word, synonyms) as one alternation."""
    options = [str(value), NUMBER_WORD.get(value, str(value))]
    options += [re.sub(r"\s+", r"\\s+", o) for o in COUNT_SYNONYMS.get(value, ())]
    return "(?:" + "|".join(options) + ")"


def _integer_pattern(part: str) -> str:
    """An integer as digits, with thousands as "k" (``20000`` = ``20k``), or a count word."""
    value = re.escape(part)
    n = int(part)
    if n == 0:
        return r"(?:0|zero)"
    if n in NUMBER_WORD:
        value = rf"(?:{value}|{NUMBER_WORD[n]})"
    elif n >= 1000 and n % 100 == 0:
        value = rf"(?:{value}|{n / 1000:g}\s?k)"
    return value


def _number_pattern(num: str, negative: bool) -> str:
    """Regex for a (compound) number that never matches inside a longer number."""
    parts = re.split(r"(\s?[-/x×]\s?)", num)
    out = []
    for k, part in enumerate(parts):
        if k % 2:
            out.append(
                r"[\s-]*(?:-|/|x|×|to|through|thru|by|and)[\s-]*"
            )  # "50/34", "50-34", "11 to 34"
        elif len(parts) == 1 and re.fullmatch(r"\d+", part):
            out.append(_integer_pattern(part))
        else:
            out.append(re.escape(part))
    body = "".join(out) + r"(?!\d|[.,]\d)"
    if negative:
        return rf"(?:(?<![\w.])-\s?|\bminus\s+){body}"
    return rf"(?<![\w.])(?<!(?<![\w.])-)(?<!minus ){body}"


#: The trade's other words for a spec noun ("4-pot" brakes are four-piston brakes).
SPEC_SYNONYMS: dict[str, str] = {
    "piston": "piston|pot",
    "pistons": "pistons?|pots?",
    "tyres": "tyres?|tires?",
    "tyre": "tyres?|tires?",
    "fibreglass": "fib(?:re|er)[\\s-]?glass|glass[\\s-]?fib(?:re|er)",
    "aluminium": "alumini?um|alloy",
    "colour": "colou?r",
    "zip": "zips?|zippers?",
    "zips": "zips?|zippers?",
    "people": "people|persons|adults|campers|sleepers|riders|hikers",
    "adults": "adults?|people|persons|grown-ups|campers|sleepers",
}


def _word_pattern(word: str) -> str:
    return (
        f"(?:{SPEC_SYNONYMS[word.lower()]})" if word.lower() in SPEC_SYNONYMS else re.escape(word)
    )


def _head_pattern(word: str) -> str:
    if word.lower() in SPEC_SYNONYMS:
        return f"(?:{SPEC_SYNONYMS[word.lower()]})"
    w = re.escape(word.lower())
    if word.lower().endswith("ies"):
        return w[:-3] + "(?:y|ies)"
    if re.search(r"(?:ss|x|z|ch|sh)es$", word.lower()):
        return w[:-2] + "(?:es)?"
    if is_plural(word):
        return w[:-1] + "s?"
    return w + "s?"


#: Nouns a count of people may leave out ("a tent for two", "sleeps four", "a two-person tent").
_PEOPLE = {
    "people",
    "persons",
    "adults",
    "sleepers",
    "campers",
    "riders",
    "hikers",
    "kids",
    "children",
}


#: What a pair has one of on each side: "a zip under each arm" is two underarm zips.
_PAIRED_PLACES = r"side|arm|end|shoulder|leg|hand|foot|wrist|ankle|hip|flank|sleeper|person|rider|occupant|camper"


def _counted(count: str, noun: str, value: int | None = None) -> str:
    """A count of ``noun``: "2 doors", "two large D-shaped doors", "a pair of doors", "doors …
    the two" (the noun, then the count referring back to it in the same sentence); for people
    also "for two", "sleeps four", "two-person"."""
    head = _head_pattern(noun)
    forms = [
        rf"{count}(?:,?[\s-]+(?!(?:and|or|with|plus|but|while)\b)[\w'-]+){{0,3}}?,?[\s-]+{head}(?![a-z])",
        rf"(?<![a-z]){head}(?![a-z])[^.!?]{{0,80}}?\b(?:the|these|those)\s+{count}(?![\w-])",
        # said per item of another count: "each of the two sleepers gets their own door"
        rf"\beach of the {count}\b[^.!?]{{0,60}}?\b(?:own|a|an|one)\s+(?:[\w'-]+\s+){{0,2}}?{head}(?![a-z])"
        rf"|\beach of the {count}\b[^.!?]{{0,40}}?\b(?:its|their|his|her) own\b[^.!?]{{0,40}}?\band\s+"
        rf"(?:[\w'-]+\s+){{0,2}}?{head}(?![a-z])",
    ]
    if value == 2:  # one on each of a pair's sides: "a zip under each arm", "a door either side"
        forms.append(
            rf"\b(?:a|an|one)\s+(?:[\w'-]+\s+){{0,2}}?{head}(?![a-z])[^.!?]{{0,25}}?"
            rf"\b(?:on|under|at|in|by|beside|for|to)\s+(?:each|either)\s+(?:{_PAIRED_PLACES})\b"
        )
    if noun.lower() in _PEOPLE:
        forms.append(
            rf"\b(?:for|sleeps?|sleeping|fits?|holds?|seats?)\s+(?:up\s+to\s+)?{count}(?![\w-])"
        )
        forms.append(rf"{count}[\s-](?:person|people|man|sleeper)(?![a-z])")
    return "|".join(f"(?:{form})" for form in forms)


@pattern_cache()
def fact_regex(fact: str) -> re.Pattern:
    """One regex for every way of stating ``fact``: as written, in another metric unit, by
    its trade name."""
    patterns = [_fact_pattern(fact)]
    patterns += [_fact_pattern(other) for other in metric_equivalents(fact)]
    key = re.sub(r"\s+", " ", norm(fact).strip())
    patterns += [rf"(?<![a-z0-9]){name}(?![a-z0-9])" for name in TRADE_NAMES.get(key, ())]
    width = re.fullmatch(r"(\d+) ?mm", key)  # a tyre width in the trade's "c": "30c tyres"
    if width:
        patterns.append(rf"(?<![\w.]){width.group(1)}\s?c(?=\s+(?:tyres?|tires?|rubber)\b)")
    by = re.fullmatch(r"1\s?[x×]\s?(\d+)", key)  # "1x12": a single chainring, twelve speeds
    if by:
        speeds = _count_words(int(by.group(1))) if int(by.group(1)) <= 12 else by.group(1)
        patterns.append(
            rf"\b(?:single|one|1)[\s-]?(?:ring|chainring|by|x)\b[^.!?]{{0,40}}?{speeds}[\s-]?(?:speeds?|s\b|sp)"
            rf"|{speeds}[\s-]?speed\b[^.!?]{{0,30}}?\b(?:single|one)[\s-]?(?:ring|chainring|by)"
        )
    return re.compile("|".join(f"(?:{p})" for p in patterns))


#: Metric units that convert into each other exactly: unit → (dimension, factor to the base).
METRIC: dict[str, tuple[str, float]] = {
    "g": ("mass", 1.0),
    "kg": ("mass", 1000.0),
    "mm": ("length", 1.0),
    "cm": ("length", 10.0),
    "m": ("length", 1000.0),
    "ml": ("volume", 1.0),
    "l": ("volume", 1000.0),
    "litre": ("volume", 1000.0),
    "liter": ("volume", 1000.0),
}


def metric_equivalents(fact: str) -> list[str]:
    """The same quantity in the other metric units of its dimension (``1.6 kg`` → ``1600 g``),
    where the value stays a plain number (at most two decimals)."""
    m = re.fullmatch(r"(-?\d+(?:\.\d+)?)[\s-]?([a-z]+)", norm(fact).replace(",", "").strip())
    if not m or m.group(2) not in METRIC:
        return []
    dimension, factor = METRIC[m.group(2)]
    base = float(m.group(1)) * factor
    out = []
    for unit, (dim, f) in METRIC.items():
        if dim != dimension or unit == m.group(2) or unit in ("litre", "liter"):
            continue
        value = round(base / f, 6)
        if value >= 0.01 and abs(value * 100 - round(value * 100)) < 1e-6:
            out.append(f"{value:g} {unit}")
    return out


def _fact_pattern(fact: str) -> str:
    f = norm(fact).strip()
    f = re.sub(r"\s+", " ", f)
    m = _FACT_NUM_RE.match(f)
    if m:
        number = _number_pattern(m.group("num"), bool(m.group("sign")))
        unit = m.group("unit").strip()
        if m.group("size"):  # "size 9": also "a men's 9", "US M9", "a 9 pair", "in a 56 frame"
            return (
                rf"\bsize[\s:-]*{number}|\b(?:men'?s|women'?s|us|uk|eu|m|w)[\s-]?{number}"
                rf"|{number}\s?(?:cm|centimet(?:re|er)s?)?\s+(?:frame|pair)\b"
            )
        if not unit:  # a bare number, also after a one-letter size prefix ("W5", "M7")
            return number.replace("(?<![\\w.])", "(?<![\\d.])(?<![a-z]{2})", 1)
        if m.group("sep").strip() == "-" and re.fullmatch(r"\d+", m.group("num")):
            number = rf"(?<![\w.]){_count_words(int(m.group('num')))}"  # "2-person": "two-person"
        if unit in _UNIT_ALIASES:
            units = _UNIT_ALIASES[unit]
            # also with a unit shared by a second number: "200/180 mm", "49 to 61 cm"
            shared = r"\s*(?:/|-|x|×|to|through|and|by)\s*\d+(?:\.\d+)?"
            return rf"{number}(?:{shared})?[\s-]?(?:{units})(?![a-z])"
        words = re.split(r"[\s-]+", unit)
        if m.group("sep").strip() == "-" or not m.group("sep"):  # "12-speed", "3rd": adjacent
            joined = r"[\s-]?".join([*map(_word_pattern, words[:-1]), _head_pattern(words[-1])])
            return rf"{number}[\s-]?{joined}(?![a-z])"
        # "2 doors", "2 large doors": a count, adjectives may come and go before the noun
        return _counted(
            number, words[-1], int(m.group("num")) if m.group("num").isdigit() else None
        )
    m = _FACT_COUNT_RE.match(f)
    if m:
        count = rf"(?<![\w-]){_count_words(COUNT_WORDS[m.group('count')])}"
        words = re.split(r"[\s-]+", m.group("rest"))
        if m.group("sep") == "-":
            return count + r"[\s-]?" + r"[\s-]?".join(map(_word_pattern, words)) + r"(?![a-z])"
        return _counted(count, words[-1], COUNT_WORDS[m.group("count")])
    # "PowerTube" may be written "Power Tube": a CamelCase name's parts, spaced or not
    camel = re.findall(r"[A-Z]+[a-z0-9]*|[a-z0-9]+", fact.strip())
    if len(camel) > 1 and " " not in fact.strip() and "-" not in fact.strip():
        return (
            r"(?<![a-z0-9])" + r"[\s-]?".join(re.escape(c.lower()) for c in camel) + r"(?![a-z0-9])"
        )
    tokens = [t for t in re.split(r"[\s-]+", f) if t]
    exact = r"(?<![a-z0-9])" + r"(?:'s)?[\s-]*".join(map(re.escape, tokens)) + r"(?![a-z0-9])"
    if len(tokens) < 2:
        return exact
    # A name's words in another order within one sentence ("the Performance Line CX motor from
    # Bosch", "Vislon zip by YKK"): every word, near each other.
    near = "".join(rf"(?=[^.!?]{{0,80}}?(?<![a-z0-9]){re.escape(t)}(?![a-z0-9]))" for t in tokens)
    return rf"{exact}|(?:^|(?<=[\s(\"'])){near}"


def fact_present(fact: str, text: str) -> bool:
    """Whether ``fact`` (as returned by :func:`extract_facts`) is stated in ``text``.

    Tolerant of case, spacing, hyphen vs space, thousands separators and units written in full
    (``8.1 kg`` matches ``8.1 kilograms``); strict about the number itself (``8.1 kg`` is not
    matched by ``18.1 kg`` or ``8.15 kg``, ``5 °C`` not by ``-5 °C``).
    """
    if not fact or not fact.strip():
        return True
    return stated_in(fact, norm(text))


@pattern_cache()
def _fact_gate(fact: str) -> Gate:
    regex = fact_regex(fact)
    return literal_gate(regex.pattern, regex.flags)


def stated_in(fact: str, normalized: str) -> bool:
    """Whether ``fact`` is stated in an already normalised text."""
    return not facts_missing((fact,), normalized)


@pattern_cache(maxsize=1024)
def _facts_index(facts: tuple[str, ...]) -> GateIndex:
    return GateIndex([_fact_gate(f) for f in facts])


def facts_missing(facts: tuple[str, ...], normalized: str) -> list[str]:
    """The facts not stated in an already normalised text; a fact's regex runs only when one
    of the words it needs is there, from where its match can start at the earliest."""
    starts = _facts_index(facts).starts(normalized)
    return [
        fact
        for i, fact in enumerate(facts)
        if i not in starts or fact_regex(fact).search(normalized, starts[i]) is None
    ]
