"""Word-level diffs for the review page: what a variant removed from and added to the original.

Pure functions over plain text. The pieces hold raw text, never markup: the templates escape
every piece (Jinja2 autoescape) and wrap the changed ones in ``<del>`` / ``<ins>``.
"""

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Piece:
    kind: str  # "same" | "del" | "ins"
    text: str


_TOKEN = re.compile(r"\s+|[^\s]+")


def _push(side: list[Piece], kind: str, tokens: list[str]) -> None:
    text = "".join(tokens)
    if not text:
        return
    if side and side[-1].kind == kind:
        side[-1] = Piece(kind, side[-1].text + text)
    else:
        side.append(Piece(kind, text))


def _opcodes(a: list[str], b: list[str]) -> Sequence[tuple[str, int, int, int, int]]:
    return difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()


def word_diff(original: str, variant: str) -> tuple[list[Piece], list[Piece], dict[str, int]]:
    """``(left, right, stats)``: the original with removed words marked ``del``, the variant
    with added words marked ``ins`` (runs of one kind merged), and word counts."""
    a, b = _TOKEN.findall(original or ""), _TOKEN.findall(variant or "")
    left: list[Piece] = []
    right: list[Piece] = []
    added = removed = 0
    for op, i1, i2, j1, j2 in _opcodes(a, b):
        old, new = a[i1:i2], b[j1:j2]
        if op == "equal":
            _push(left, "same", old)
            _push(right, "same", new)
            continue
        # whitespace-only changes are not worth a highlight
        _push(left, "del" if "".join(old).strip() else "same", old)
        _push(right, "ins" if "".join(new).strip() else "same", new)
        removed += sum(1 for t in old if t.strip())
        added += sum(1 for t in new if t.strip())
    kept = sum(1 for p in right if p.kind == "same" for t in _TOKEN.findall(p.text) if t.strip())
    return left, right, {"added": added, "removed": removed, "kept": kept}


def inline_diff(before: str, after: str) -> list[Piece]:
    """One text: ``after`` with the words of ``before`` it dropped (``del``) and added (``ins``)."""
    a, b = _TOKEN.findall(before or ""), _TOKEN.findall(after or "")
    out: list[Piece] = []
    for op, i1, i2, j1, j2 in _opcodes(a, b):
        if op == "equal":
            _push(out, "same", b[j1:j2])
            continue
        old, new = a[i1:i2], b[j1:j2]
        if "".join(old).strip():
            _push(out, "del", old)
        _push(out, "ins" if "".join(new).strip() else "same", new)
    return out
