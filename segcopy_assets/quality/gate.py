"""Literal gates: skip the regular expressions a text cannot match, with the same matches.

The checks' vocabularies are large alternations of regular expressions (offer words, persona
phrasings, spec concepts). Python's ``re`` tries every branch at every position of a text, so
judging one variant cost milliseconds. Most branches need some literal words to match ("deal",
"little ", "warrant"): if none of a branch's literals is in the text, the branch cannot match
anywhere in it. :func:`literal_gate` reads those literals out of a pattern's parse tree; one
Aho-Corasick pass over the text (``ahocorasick_rs``) finds which are present; a branch that
cannot match is left out.

Leaving out a branch that cannot match anywhere changes nothing: at every position the branches
that remain are tried in the same order, so ``finditer`` and ``search`` return the same matches
as the full alternation (``tests/unit/test_quality_gate.py`` checks it over the corpora).
"""

import functools
import re
from collections.abc import Callable, Iterator, Sequence
from re import _constants as sre  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any

import ahocorasick_rs

#: False: every gate open, every pattern searched from the text's start (the verdicts must be
#: the same either way: ``tests/unit/test_quality_gate.py``)
ENABLED = True


def pattern_cache(maxsize: int = 4096) -> Callable:
    """``lru_cache`` for a function that builds compiled patterns from vocabulary or product
    data (a fact of the original, the places a segment lists, a unit), never from the text being
    judged: a run builds each once. ``bench.quality`` keeps these between its passes and clears
    the per-text memos."""

    def wrap(function: Callable) -> Callable:
        cached = functools.lru_cache(maxsize=maxsize)(function)
        cached.builds_patterns = True  # type: ignore[attr-defined]
        return cached

    return wrap


def clear_text_memos() -> None:
    """Forget what the rules memoised per text (``lru_cache`` of the quality modules' functions
    with arguments, except :func:`pattern_cache`), so texts are judged anew; vocabularies loaded
    once (no arguments) and patterns built from facts or places stay."""
    import inspect
    import sys

    for name, module in list(sys.modules.items()):
        if not name.startswith("segcopy_assets.quality") or module is None:
            continue
        for value in vars(module).values():
            wrapped = getattr(value, "__wrapped__", None)
            if (
                callable(wrapped)
                and hasattr(value, "cache_clear")
                and not getattr(value, "builds_patterns", False)
                and inspect.signature(wrapped).parameters
            ):
                value.cache_clear()


#: a gate: literal → the furthest from a match's start it can begin; any one of the literals
#: (case-folded) occurs in every text the pattern matches. None: no gate.
Gate = dict[str, int] | None
_REPEATS = (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT)
_UNBOUNDED = sre.MAXREPEAT
#: a character class of at most this many single characters gates on each of them
_SMALL_CLASS = 8


def _rank(gate: dict[str, int]) -> tuple[int, int]:
    """Better gates have longer shortest literals, then fewer literals."""
    return (min(len(lit) for lit in gate), -len(gate))


def _class_chars(items) -> dict[str, int] | None:
    chars = []
    for op, av in items:
        if op is not sre.LITERAL:
            return None
        chars.append(chr(av))
    return dict.fromkeys(chars, 0) if 0 < len(chars) <= _SMALL_CLASS else None


def _shifted(gate: dict[str, int], by: int) -> dict[str, int]:
    return {lit: min(off + by, _UNBOUNDED) for lit, off in gate.items()}


def _union(gates: list[dict[str, int]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for gate in gates:
        for lit, off in gate.items():
            out[lit] = max(off, out.get(lit, 0))
    return out


def _max_width(items, item) -> int:
    return min(sre_parse.SubPattern(items.state, [item]).getwidth()[1], _UNBOUNDED)


def _sequence_gate(items) -> Gate:
    """A gate for a sequence of parsed items: the best of its required parts' gates, each
    literal with the furthest it can start from the sequence's start."""
    candidates: list[dict[str, int]] = []
    run, run_at, offset = "", 0, 0
    for item in items:
        op, av = item
        if op is sre.LITERAL:
            run, run_at = (run + chr(av), run_at) if run else (chr(av), offset)
            offset = min(offset + 1, _UNBOUNDED)
            continue
        if run:
            candidates.append({run: run_at})
            run = ""
        sub: Gate = None
        if op is sre.SUBPATTERN:
            sub = _sequence_gate(av[-1])
        elif op in _REPEATS and av[0] >= 1:
            sub = _sequence_gate(av[2])  # the first repetition holds it first
        elif op is sre.BRANCH:
            alternatives = [_sequence_gate(alt) for alt in av[1]]
            if all(alt is not None for alt in alternatives):
                sub = _union(alternatives)  # type: ignore[arg-type]
        elif op is sre.ASSERT and av[0] == 1:
            sub = _sequence_gate(av[1])  # a lookahead's words are in the text after this point
        elif op is sre.IN:
            sub = _class_chars(av)
        if sub:
            candidates.append(_shifted(sub, offset))
        offset = min(offset + _max_width(items, item), _UNBOUNDED)
    if run:
        candidates.append({run: run_at})
    return max(candidates, key=_rank) if candidates else None


def literal_gate(pattern: str, flags: int = 0) -> Gate:
    """Literals of which at least one occurs in any text ``pattern`` matches (case-folded, so a
    case-insensitive pattern is gated on the case-folded text), each with the furthest from the
    match's start it can begin; None when the pattern needs no literal."""
    gate = _sequence_gate(sre_parse.parse(pattern, flags))
    return _union([{lit.casefold(): off} for lit, off in gate.items()]) if gate else None


class LiteralScanner:
    """One Aho-Corasick automaton over every literal of a set of gates."""

    def __init__(self, gates: Sequence[Gate]):
        self.literals = sorted({lit for gate in gates if gate for lit in gate})
        self._automaton = ahocorasick_rs.AhoCorasick(self.literals) if self.literals else None

    def first_positions(self, text: str) -> dict[str, int]:
        """Each literal that occurs in ``text`` (case-folded) → where it first occurs (0 for
        every one when case folding changed the text's length: "ß" → "ss")."""
        if self._automaton is None:
            return {}
        folded = text.casefold()
        exact = len(folded) == len(text)
        first: dict[str, int] = {}
        for index, start, _ in self._automaton.find_matches_as_indexes(folded, overlapping=True):
            literal = self.literals[index]
            if literal not in first:
                first[literal] = start if exact else 0
        return first


class GateIndex:
    """Many gates, looked up by literal: which of them a text opens, and from where."""

    def __init__(self, gates: Sequence[Gate]):
        self.scanner = LiteralScanner(gates)
        self.size = len(gates)
        self.always = frozenset(i for i, gate in enumerate(gates) if gate is None)
        self._by_literal: dict[str, list[tuple[int, int]]] = {}
        for i, gate in enumerate(gates):
            for literal, offset in (gate or {}).items():
                self._by_literal.setdefault(literal, []).append((i, offset))

    def starts(self, text: str) -> dict[int, int]:
        """Gate index → where a match can start at the earliest, for each gate ``text`` opens
        (those without a gate: 0)."""
        return self.starts_given(self.scanner.first_positions(text))

    def starts_given(self, first: dict[str, int]) -> dict[int, int]:
        """:meth:`starts` from literals' first positions found by any scanner."""
        if not ENABLED:
            return dict.fromkeys(range(self.size), 0)
        out = dict.fromkeys(self.always, 0)
        for literal, position in first.items():
            for i, offset in self._by_literal.get(literal, ()):
                at = max(0, position - offset)
                if at < out.get(i, at + 1):
                    out[i] = at
        return out


def split_alternatives(pattern: str) -> list[str]:
    """``pattern``'s top-level alternatives ("a|(?:b|c)|[|]" → "a", "(?:b|c)", "[|]")."""
    parts, depth, start, i, class_from = [], 0, 0, 0, -1  # class_from: where a [...] began
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 2
            continue
        if class_from >= 0:
            if char == "]" and i > class_from:  # "[]…]" and "[^]…]" keep their first "]"
                class_from = -1
        elif char == "[":
            class_from = i + 2 if pattern[i + 1 : i + 2] == "^" else i + 1
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            parts.append(pattern[start:i])
            start = i + 1
        i += 1
    parts.append(pattern[start:])
    return parts


class GatedAlternation:
    """``prefix(?:(?:b1)|(?:b2)|…)suffix`` compiled with ``flags``, with the same matches, found
    by searching only the branches whose gates the text opens, each from the earliest place its
    match can start. The alternation's leftmost-first rule is kept: the match that starts first
    wins, and of two that start at one place the earlier branch. ``prefix`` is zero-width (a
    lookbehind); a pattern whose branches can match the empty string is searched whole.

    A set of open branches seen a second time is compiled into one reduced alternation (one
    pass over the text instead of one per branch); the first time, the branches are searched
    one by one and merged, so a new text never waits for a compilation."""

    _MAX_COMPILED = 2048

    def __init__(self, branches: Sequence[str], flags: int = 0, prefix: str = "", suffix: str = ""):
        # each branch's own alternatives gated apart: (?:a|b)|(?:c) matches as (?:a)|(?:b)|(?:c)
        self.branches = tuple(part for branch in branches for part in split_alternatives(branch))
        self.prefix, self.suffix, self.flags = prefix, suffix, flags
        self.full = self._alternation(range(len(self.branches)))
        self.patterns = [self._alternation([i]) for i in range(len(self.branches))]
        self.gates = [literal_gate(b, flags) for b in self.branches]
        self.index = GateIndex(self.gates)
        self._whole = sre_parse.parse(self.full.pattern, flags).getwidth()[0] == 0
        self._seen: set[tuple[int, ...]] = set()
        self._compiled: dict[tuple[int, ...], re.Pattern] = {}

    def _alternation(self, indices) -> re.Pattern:
        body = "|".join(f"(?:{self.branches[i]})" for i in indices)
        return re.compile(f"{self.prefix}(?:{body}){self.suffix}", self.flags)

    def _reduced(self, active: tuple[int, ...]) -> re.Pattern | None:
        """The alternation of ``active`` branches, once it was asked for before."""
        pattern = self._compiled.get(active)
        if pattern is None and active in self._seen:
            if len(self._compiled) >= self._MAX_COMPILED:
                self._compiled.clear()
            pattern = self._compiled[active] = self._alternation(active)
        elif pattern is None:
            if len(self._seen) >= 4 * self._MAX_COMPILED:
                self._seen.clear()
            self._seen.add(active)
        return pattern

    def finditer(self, text: str) -> Iterator[re.Match]:
        return self.finditer_given(text, self.index.scanner.first_positions(text))

    def search(self, text: str) -> re.Match | None:
        return next(self.finditer(text), None)

    def finditer_given(self, text: str, first: dict[str, int]) -> Iterator[re.Match]:
        """:meth:`finditer` from literals' first positions found by any scanner."""
        if self._whole or not ENABLED:
            yield from self.full.finditer(text)
            return
        starts = self.index.starts_given(first)
        active = tuple(sorted(starts))
        if not active:
            return
        reduced = self._reduced(active)
        if reduced is not None:
            yield from reduced.finditer(text, min(starts.values()))
            return
        upcoming: dict[int, re.Match | None] = {}  # per branch: its next match from ``pos``
        pos = 0
        while True:
            best: re.Match | None = None
            for i in active:
                match = upcoming.get(i, _UNSEARCHED)
                if match is _UNSEARCHED or (match is not None and match.start() < pos):
                    match = self.patterns[i].search(text, max(pos, starts[i]))
                    upcoming[i] = match
                if match is not None and (best is None or match.start() < best.start()):
                    best = match
            if best is None:
                return
            yield best
            pos = best.end()


_UNSEARCHED: Any = object()


class GatedRules:
    """Labelled alternations (``GatedAlternation``) matched with one scan of the text."""

    def __init__(self, rules: Sequence[tuple[str, Sequence[str]]], flags: int = 0):
        self.rules = [(label, GatedAlternation(branches, flags)) for label, branches in rules]
        self.scanner = LiteralScanner([g for _, rule in self.rules for g in rule.gates])

    def finditer(self, text: str) -> Iterator[tuple[str, re.Match]]:
        """(label, match) for every rule in order, each rule's matches in order."""
        first = self.scanner.first_positions(text)
        for label, rule in self.rules:
            for match in rule.finditer_given(text, first):
                yield label, match
