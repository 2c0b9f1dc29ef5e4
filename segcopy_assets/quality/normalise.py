"""Text normalisation shared by the checks: dash, quote and space styles unified."""

import re

_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63\uff0d"), "-")
_QUOTES = {ord("\u2019"): "'", ord("\u2018"): "'", ord("\u201c"): '"', ord("\u201d"): '"'}
_SPACES = dict.fromkeys(map(ord, "\u00a0\u2007\u2009\u202f\u2002\u2003\u200a"), " ")
_TABLE = str.maketrans({**_DASHES, **_QUOTES, **_SPACES})


def clean(text: str | None) -> str:
    """Dashes, quotes and exotic spaces unified; case and thousands separators kept."""
    text = text or ""
    # A no-break / thin space between digit groups is a thousands separator: "1 500" -> "1,500".
    text = re.sub(r"(?<=\d)[\u00a0\u2009\u202f](?=\d{3}(?!\d))", ",", text)
    return text.translate(_TABLE)


def cased(text: str | None) -> str:
    """_clean with thousands separators dropped ("1,500" -> "1500")."""
    return re.sub(r"(?<=\d),(?=\d{3}(?!\d))", "", clean(text))


def norm(text: str | None) -> str:
    """_cased, lower case."""
    return cased(text).lower()


def word_count(text: str | None) -> int:
    return len((text or "").split())


#: Where a sentence (or a list item, or a clause after a colon) starts.
SENTENCE_START_RE = re.compile(r"(?:^|[.!?][\"')\]]*\s+|\n\s*|:\s+)[-*•\"'(\[\s]*")
