"""Places the copy names, and the share of the segment that lives there.

A place may be named only where at least ``threshold`` of the segment lives (the walkthrough's
"As a New Yorker" problem). Names are read with the gazetteer of ``data/places.toml``: every US
state, segcopy's regions and cities (``core/vocabulary.py``), and the sub-regions, nicknames,
landmarks and demonyms that stand for them ("the Pacific Northwest", "the Windy City",
"Yosemite", "Coloradans"), each mapped onto the regions, states or cities whose shares add up
to its share. A capitalised common noun is not a place ("Bend your knees", "a Summit-ready
fit") unless the copy uses it as one ("trails around Bend").
"""

import functools
import re
import tomllib
from dataclasses import dataclass
from importlib import resources

from segcopy_assets.core.vocabulary import REGIONS
from segcopy_assets.quality.gate import GatedAlternation, pattern_cache
from segcopy_assets.quality.normalise import clean

_PLACE_LISTS = {"regions": "top_regions", "states": "top_states", "cities": "top_cities"}
_LOCATIVE = re.compile(
    r"\b(?:in|around|near|across|from|through|throughout|outside|to|at|of|between|beyond|above|"
    r"below|along|past|over|up|down|on|off|within|inside|about|"
    r"toward|towards|via|into|round)\s+(?:the\s+)?$",
    re.I,
)


@dataclass(frozen=True)
class Place:
    name: str  # the gazetteer's name for it
    regions: tuple[str, ...] = ()
    states: tuple[str, ...] = ()
    cities: tuple[str, ...] = ()


@functools.cache
def _data() -> dict:
    text = resources.files("segcopy_assets.quality").joinpath("data/places.toml").read_text("utf-8")
    return tomllib.loads(text)


@functools.cache
def gazetteer() -> dict[str, Place]:
    """Every spelling of every place segcopy recognises → the place it stands for."""
    names: dict[str, Place] = {}

    def add(spelling: str, place: Place) -> None:
        known = names.get(spelling)
        if known is None:
            names[spelling] = place
        else:  # "New York": the city and the state
            names[spelling] = Place(
                known.name,
                tuple(dict.fromkeys(known.regions + place.regions)),
                tuple(dict.fromkeys(known.states + place.states)),
                tuple(dict.fromkeys(known.cities + place.cities)),
            )

    for state in _data()["us_states"]:
        add(state, Place(state, states=(state,)))
    for region, states in REGIONS.items():
        add(region, Place(region, regions=(region,)))
        for state, cities in states.items():
            add(state, Place(state, states=(state,)))
            for city in cities:
                add(city, Place(city, cities=(city,)))
    for name, spec in _data()["names"].items():
        place = Place(
            name,
            tuple(spec.get("regions", ())),
            tuple(spec.get("states", ())),
            tuple(spec.get("cities", ())),
        )
        for spelling in (name, *spec.get("aliases", ())):
            add(spelling, place)
    return names


def _shares(segment: dict) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for kind, key in _PLACE_LISTS.items():
        values: dict[str, float] = {}
        for entry in segment.get(key) or []:
            value = str((entry or {}).get("value") or "").strip()
            if value and value.lower() not in ("unknown", "none", "null", "n/a"):
                values[value] = max(float(entry.get("share") or 0.0), values.get(value, 0.0))
        out[kind] = values
    return out


def segment_places(segment: dict) -> tuple[str, ...]:
    """The regions, states and cities the segment's summary lists."""
    return tuple(name for values in _shares(segment).values() for name in values)


def share_of(place: Place, segment: dict) -> float:
    """The share of the segment living in the place: the largest of the sums of its regions',
    states' and cities' shares (a place the summary does not list holds 0)."""
    shares = _shares(segment)
    sums = [
        sum(shares[kind].get(member, 0.0) for member in getattr(place, kind))
        for kind in _PLACE_LISTS
        if getattr(place, kind)
    ]
    return max(sums, default=0.0)


@pattern_cache(maxsize=256)
def _regex(spellings: frozenset[str]) -> GatedAlternation:
    """One regex for every spelling, longest first ("Colorado Springs" before "Colorado"),
    matched through the spellings whose words the text holds."""
    alts = sorted(spellings, key=lambda n: (-len(n), n))
    branches = [r"\s+".join(map(re.escape, n.split())) for n in alts]
    return GatedAlternation(branches, prefix=r"(?<![\w'’-])", suffix=r"(?![\w-])")


def _used_as_place(text: str, start: int, end: int) -> bool:
    """For a name that is also a word: used as a place (after "in", "near"…, before ", State",
    or as a possessive), not as the word."""
    if _LOCATIVE.search(text[max(0, start - 20) : start]):
        return True
    after = text[end : end + 25]
    return bool(re.match(r"(?:'s|’s)\b|,\s+[A-Z][a-z]+", after))


@pattern_cache(maxsize=256)
def _names_and_regex(
    extra: tuple[tuple[str, str], ...],
) -> tuple[dict[str, Place], GatedAlternation]:
    names = dict(gazetteer())
    for kind, value in extra:
        names.setdefault(value, Place(value, **{kind: (value,)}))
    return names, _regex(frozenset(names))


@functools.lru_cache(maxsize=1024)
def _named_in(regex: GatedAlternation, text: str) -> frozenset[str]:
    return frozenset(" ".join(m.group().split()) for m in regex.finditer(text))


@functools.cache
def _common_words() -> frozenset[str]:
    return frozenset(_data()["common_words"])


def places_named(copy: str, original: str, segment: dict, threshold: float) -> list[str]:
    """Places the copy names that hold less than ``threshold`` of the segment (with the share);
    places the original names (a product called after one) are allowed."""
    extra = tuple(
        (kind, value) for kind, values in _shares(segment).items() for value in values
    )  # the summary's own places, whatever they are
    names, regex = _names_and_regex(extra)
    copy = clean(copy)
    in_original = _named_in(regex, clean(original))
    common = _common_words()
    out: list[str] = []
    for m in regex.finditer(copy):
        spelling = " ".join(m.group().split())
        if spelling in in_original:
            continue
        if spelling in common and not _used_as_place(copy, m.start(), m.end()):
            continue  # "Bend your knees", "Summit-ready": a word, not a place
        place = names[spelling]
        share = share_of(place, segment)
        if share < threshold:
            label = spelling if spelling == place.name else f"{spelling} [{place.name}]"
            listed = share > 0 or any(
                value in names and names[value] == place
                for values in _shares(segment).values()
                for value in values
            )
            entry = (
                f"{label} ({round(share * 100)}% of the segment)"
                if listed
                else f"{label} (0%: not among the segment's top places)"
            )
            if entry not in out:
                out.append(entry)
    return out
