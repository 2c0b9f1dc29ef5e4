"""Text normalisation shared by the checks: dash, quote and space styles unified."""

import functools
import re

_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63\uff0d"), "-")
_QUOTES = {ord("\u2019"): "'", ord("\u2018"): "'", ord("\u201c"): '"', ord("\u201d"): '"'}
_SPACES = dict.fromkeys(map(ord, "\u00a0\u2007\u2009\u202f\u2002\u2003\u200a"), " ")
_TABLE = str.maketrans({**_DASHES, **_QUOTES, **_SPACES})


#: A no-break / thin space between digit groups is a thousands separator: "1 500" -> "1,500".
_SPACED_THOUSANDS = re.compile(r"(?<=\d)[\u00a0\u2009\u202f](?=\d{3}(?!\d))")
_COMMA_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
#: The outdoor trade's "3L" / "2.5L" before a denier or a garment is layers, not litres ("3L
#: 20D nylon", "a 2.5L shell"); a "3L stuff sack" or "3 L" stays litres. Applied to every text
#: (originals and copies alike), so a fact written "3L" is matched as "3-layer" on both sides.
_LAYERS = re.compile(
    r"\b([23](?:\.5)?)L\b(?=\s+(?:\d+\s?D\b|(?:[\w-]+\s){0,2}?(?:shell|jacket|membrane|laminate|"
    r"construction|fabric|anorak|parka|waterproof)s?\b))"
)


@functools.lru_cache(maxsize=4096)
def _clean(text: str) -> str:
    return _LAYERS.sub(r"\1-layer", _SPACED_THOUSANDS.sub(",", text).translate(_TABLE))


def clean(text: str | None) -> str:
    """Dashes, quotes and exotic spaces unified; case and thousands separators kept."""
    return _clean(text or "")


@functools.lru_cache(maxsize=4096)
def _cased(text: str) -> str:
    return _COMMA_THOUSANDS.sub("", _clean(text))


def cased(text: str | None) -> str:
    """_clean with thousands separators dropped ("1,500" -> "1500")."""
    return _cased(text or "")


_TEENS = {
    "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17,
    "eighteen": 18, "nineteen": 19,
}  # fmt: skip
_TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90,
}  # fmt: skip
_UNITS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
}  # fmt: skip
_SPELLED = re.compile(
    rf"\b(?:(?P<tens>{'|'.join(_TENS)})(?:[- ](?P<unit>{'|'.join(_UNITS)}))?|(?P<teen>{'|'.join(_TEENS)}))\b"
)


def spelled_numbers(text: str) -> str:
    """Numbers from 13 to 99 written in words as digits ("sixty-five" → "65"); one to twelve
    stay words (counts are matched as words)."""

    def digits(m: re.Match) -> str:
        if m.group("teen"):
            return str(_TEENS[m.group("teen")])
        return str(_TENS[m.group("tens")] + (_UNITS[m.group("unit")] if m.group("unit") else 0))

    return _SPELLED.sub(digits, text)


@functools.lru_cache(maxsize=4096)
def _norm(text: str) -> str:
    return spelled_numbers(_cased(text).lower())


def norm(text: str | None) -> str:
    """_cased, lower case, numbers 13-99 in words as digits."""
    return _norm(text or "")


def word_count(text: str | None) -> int:
    return len((text or "").split())


#: Where a sentence (or a list item, or a clause after a colon) starts.
SENTENCE_START_RE = re.compile(r"(?:^|[.!?][\"')\]]*\s+|\n\s*|:\s+)[-*•\"'(\[\s]*")
