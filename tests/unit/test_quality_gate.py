"""Literal gates (quality/gate.py): the regexes a text cannot match are skipped, and what is
found is exactly what the whole patterns find."""

import json
import random
import re

import pytest

from bench import quality_channels
from bench.quality import CORPUS, check_settings, originals
from segcopy_assets.quality import answers, gate, offers, places, voice
from segcopy_assets.quality.corpus import load_cases
from segcopy_assets.quality.gate import GatedAlternation, literal_gate, split_alternatives
from segcopy_assets.quality.judge import judge_variant
from segcopy_assets.quality.normalise import cased


@pytest.mark.parametrize(
    ("pattern", "parts"),
    [
        ("a|b", ["a", "b"]),
        (r"a|(?:b|c)|[|]|\|x", ["a", "(?:b|c)", "[|]", r"\|x"]),
        (r"[]|]|[^]|]y|[a\]|]|z", ["[]|]", "[^]|]y", r"[a\]|]", "z"]),
        ("abc", ["abc"]),
    ],
)
def test_top_level_alternatives_are_split_outside_groups_and_classes(pattern, parts):
    assert split_alternatives(pattern) == parts


@pytest.mark.parametrize(
    ("pattern", "flags", "gate_"),
    [
        (r"\bdeals?\b", re.I, {"deal": 0}),
        (r"(?<!\w)(?:free|complimentary) shipping", 0, {" shipping": 13}),  # after the longer word
        (r"(?:great|best) value", 0, {" value": 5}),
        (r"[$€]\s?\d+", 0, {"$": 0, "€": 0}),
        (r"\d+ ?%", 0, {"%": None}),
        (r"(?=[^.]{0,80}?shimano)(?=[^.]{0,80}?105)", 0, {"shimano": 80}),
        (r"\d+\s?mm", 0, {"mm": None}),
        (r"[a-z]+", 0, None),
        (r"x|\d", 0, None),  # one alternative needs no literal
    ],
)
def test_a_gate_holds_a_literal_every_match_contains_and_how_far_in_it_starts(
    pattern, flags, gate_
):
    found = literal_gate(pattern, flags)
    if gate_ is None:
        assert found is None
        return
    assert found is not None
    for literal, offset in gate_.items():
        if offset is None:
            continue
        assert found.get(literal) == offset, found
    # any literal the gate names is in every text the pattern matches
    for text in ("great value", "free shipping today", "$ 40", "50 %", "12 mm", "deals"):
        if re.search(pattern, text, flags):
            assert any(lit in text.casefold() for lit in found)


def test_gates_are_case_folded_for_case_insensitive_patterns():
    assert literal_gate("Warranty", re.I) == {"warranty": 0}
    alt = GatedAlternation([r"\bwarrant(?:y|ies)\b"], re.I)
    assert [m.group() for m in alt.finditer("A WARRANTY and a Warranties")] == [
        "WARRANTY",
        "Warranties",
    ]


def _corpus_texts() -> list[str]:
    texts = [c.variant_text for c in load_cases(CORPUS)]
    texts += [c["answer"] for c in quality_channels.load()]
    return texts + list(originals().values())


def _mutated(texts: list[str], seed: int) -> list[str]:
    """Texts cut and joined at random places: matches that straddle the seams, literals at the
    very start and end."""
    rng = random.Random(seed)
    out = []
    for _ in range(300):
        a, b = rng.sample(texts, 2)
        i, j = rng.randrange(len(a) + 1), rng.randrange(len(b) + 1)
        out.append(a[i:] + rng.choice(["", " ", ". ", "\n"]) + b[:j])
    return out


def _alternations() -> list[tuple[str, GatedAlternation]]:
    names, _ = places._names_and_regex(())
    out = [("offers", offers.OFFER_RE), ("refusals", answers._REFUSAL_RE)]
    out += [(label, rule) for label, rule in voice._RULES.rules]
    return out + [("places", places._regex(frozenset(names)))]


@pytest.mark.parametrize("seed", [1, 2])
def test_a_gated_alternation_finds_what_the_whole_alternation_finds(seed):
    corpus = _corpus_texts()
    # each seed takes every other corpus text (together: all of them) and its own cut-and-joined
    # texts of the whole corpus
    texts = [cased(t) for t in corpus[seed - 1 :: 2] + _mutated(corpus, seed)]
    for name, alternation in _alternations():
        # twice: a set of open branches is merged branch by branch the first time and searched
        # through its compiled reduced alternation the second
        for _ in range(2):
            for text in texts:
                gated = [(m.start(), m.end(), m.group()) for m in alternation.finditer(text)]
                whole = [(m.start(), m.end(), m.group()) for m in alternation.full.finditer(text)]
                assert gated == whole, (name, text)
                first = alternation.search(text)
                assert (first and first.span()) == (whole and whole[0][:2]) or (
                    first is None and not whole
                ), (name, text)


def _all_verdicts() -> list:
    texts, settings = originals(), check_settings()
    out = []
    for case in load_cases(CORPUS):
        verdicts = judge_variant(
            case.variant_text,
            case.rationale,
            case.original or texts[case.product_id],
            case.segment,
            settings,
        )
        out.append((case.id, [(v.check, v.passed, v.reason) for v in verdicts]))
    for judged in quality_channels.judge(quality_channels.load()):
        out.append((judged["case"]["id"], json.dumps(judged["errors"], sort_keys=True)))
    return out


def test_the_verdicts_on_both_corpora_are_the_same_with_the_gates_off(monkeypatch):
    gate.clear_text_memos()
    gated = _all_verdicts()
    monkeypatch.setattr(gate, "ENABLED", False)
    gate.clear_text_memos()
    assert _all_verdicts() == gated
    gate.clear_text_memos()
