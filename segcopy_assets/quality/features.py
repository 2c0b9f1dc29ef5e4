"""Features a variant must keep and must not invent, from the curated spec vocabulary.

``data/features.toml`` lists concepts (components, materials, technologies, capabilities) with
the words that state them. A concept the original states is a feature the copy must keep (unless
marked ``keep = false``: words a model may fairly leave out); a concept the copy states that the
original neither states nor implies is an invented feature. Each problem quotes the words.
"""

import functools
import re
import tomllib
from dataclasses import dataclass
from importlib import resources

from segcopy_assets.quality.gate import Gate, GateIndex, literal_gate
from segcopy_assets.quality.normalise import clean


@dataclass(frozen=True)
class Concept:
    name: str
    match: re.Pattern
    implied: re.Pattern | None
    domains: frozenset[str]
    neutral: bool
    #: literals one of which a text must hold for ``match`` to find anything in it
    gate: Gate


def _alternation(patterns: list[str]) -> re.Pattern:
    return re.compile(r"(?<!\w)(?:" + "|".join(f"(?:{p})" for p in patterns) + r")(?!\w)")


@functools.cache
def concepts() -> tuple[Concept, ...]:
    text = (
        resources.files("segcopy_assets.quality").joinpath("data/features.toml").read_text("utf-8")
    )
    out = []
    for name, spec in tomllib.loads(text)["concept"].items():
        match = _alternation(spec["match"])
        out.append(
            Concept(
                name=name,
                match=match,
                gate=literal_gate(match.pattern),
                implied=_alternation(spec["implied"]) if spec.get("implied") else None,
                domains=frozenset(spec.get("domains", ["any"])),
                neutral=bool(spec.get("neutral", False)),
            )
        )
    return tuple(out)


@functools.cache
def _index() -> GateIndex:
    return GateIndex([c.gate for c in concepts()])


_SPACES = re.compile(r"\s+")


@functools.lru_cache(maxsize=2048)
def _text(value: str) -> str:
    return _SPACES.sub(" ", clean(value).lower())


@functools.lru_cache(maxsize=2048)
def _found(text: str) -> dict[str, str]:
    """concept name → the first words that state it in (normalised) ``text``."""
    out = {}
    every = concepts()
    starts = _index().starts(text)  # only concepts whose words are in the text can match
    for i in sorted(starts):
        concept = every[i]
        m = concept.match.search(text, starts[i])
        if m:
            out[concept.name] = m.group(0)
    return out


def product_domains(original: str) -> frozenset[str]:
    """The kind(s) of product the original is: the domain most of its concepts belong to (an
    e-bike is a bike too). Empty when it states none: then every concept counts."""
    by_name = {c.name: c for c in concepts()}
    score: dict[str, int] = {}
    for name in _found(_text(original)):
        if by_name[name].neutral:
            continue
        for domain in by_name[name].domains - {"any"}:
            score[domain] = score.get(domain, 0) + 1
    if not score:
        return frozenset()
    best = max(score.values())
    domains = {d for d, n in score.items() if n == best}
    if "ebike" in domains:
        domains.add("bike")
    return frozenset(domains)


def dropped_features(copy: str, original: str) -> list[str]:
    """Features the original states that the copy does not, in its words or in words that
    imply it ("130 mm of rear travel" keeps a full-suspension frame), quoted from the original."""
    copy_text = _text(copy)
    in_original, in_copy = _found(_text(original)), _found(copy_text)
    by_name = {c.name: c for c in concepts()}
    dropped = []
    for name, words in in_original.items():
        concept = by_name[name]
        if concept.neutral or name in in_copy:
            continue
        if concept.implied is not None and concept.implied.search(copy_text):
            continue
        dropped.append(words)
    return dropped


def invented_features(copy: str, original: str) -> list[str]:
    """Features of this kind of product that the copy states and the original neither states
    nor implies (quoted from the copy)."""
    original_text = _text(original)
    in_original, in_copy = _found(original_text), _found(_text(copy))
    domains = product_domains(original)
    out = []
    for concept in concepts():
        words = in_copy.get(concept.name)
        if words is None or concept.neutral or concept.name in in_original:
            continue
        if domains and not (concept.domains & (domains | {"any"})):
            continue  # another kind of product's feature: scenery, not a claim about this one
        if concept.implied is not None and concept.implied.search(original_text):
            continue
        out.append(words)
    return out
