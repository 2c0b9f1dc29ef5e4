"""Places the copy names, and the share of the segment that lives there."""

import re
from functools import lru_cache

from segcopy_assets.core.vocabulary import REGIONS
from segcopy_assets.quality.normalise import SENTENCE_START_RE, clean

US_STATES = (
    "Alabama",
    "Alaska",
    "Arizona",
    "Arkansas",
    "California",
    "Colorado",
    "Connecticut",
    "Delaware",
    "Florida",
    "Georgia",
    "Hawaii",
    "Idaho",
    "Illinois",
    "Indiana",
    "Iowa",
    "Kansas",
    "Kentucky",
    "Louisiana",
    "Maine",
    "Maryland",
    "Massachusetts",
    "Michigan",
    "Minnesota",
    "Mississippi",
    "Missouri",
    "Montana",
    "Nebraska",
    "Nevada",
    "New Hampshire",
    "New Jersey",
    "New Mexico",
    "New York",
    "North Carolina",
    "North Dakota",
    "Ohio",
    "Oklahoma",
    "Oregon",
    "Pennsylvania",
    "Rhode Island",
    "South Carolina",
    "South Dakota",
    "Tennessee",
    "Texas",
    "Utah",
    "Vermont",
    "Virginia",
    "Washington",
    "West Virginia",
    "Wisconsin",
    "Wyoming",
)
# City names that are also ordinary words: not a place when they open a sentence ("Bend your knees").
COMMON_WORD_PLACES = {
    "Bend",
    "Mobile",
    "Orange",
    "Columbia",
    "Athens",
    "Reading",
    "Normal",
    "Hope",
    "Surprise",
    "Independence",
    "Liberty",
    "Commerce",
    "Enterprise",
    "Paradise",
    "Mission",
    "Marathon",
    "Summit",
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


def place_shares(segment: dict) -> dict[str, float]:
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


def places_named(copy: str, original: str, shares: dict[str, float], threshold: float) -> list[str]:
    names = {" ".join(n.split()): n for n in KNOWN_PLACES | set(shares)}
    regex = _places_regex(frozenset(names.values()))
    copy, original = clean(copy), clean(original)
    # A place the original names ("Cascade", "Sierra", a product named after one) is allowed.
    in_original = {names[" ".join(m.group().split())] for m in regex.finditer(original)}
    starts = {m.end() for m in SENTENCE_START_RE.finditer(copy)}
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
        out.append(
            f"{place} ({round(share * 100)}% of the segment)"
            if share is not None
            else f"{place} (0%: not among the segment's top places)"
        )
    return out
