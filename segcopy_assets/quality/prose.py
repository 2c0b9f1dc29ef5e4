"""Plain prose: product copy is paragraphs, not a document with headings, lists or tables.

A web page, an app or an e-mail renders the variant as text: markdown structure shows up as
stray ``#``, ``*`` and ``|`` characters, or changes the page's layout. The original descriptions
are prose, so structure in a variant is always the model's addition.
"""

import re

_RULES: tuple[tuple[str, re.Pattern], ...] = (
    ("a heading", re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+\S.*$", re.M)),
    ("a heading", re.compile(r"^[^\n]{1,80}\n[ \t]*(?:={3,}|-{3,})[ \t]*$", re.M)),
    ("a bullet list", re.compile(r"^[ \t]*[-*+•●▪◦‣–—][ \t]+\S.*$", re.M)),
    ("a numbered list", re.compile(r"^[ \t]*(?:\d{1,2}|[a-zA-Z])[.)][ \t]+\S.*$", re.M)),
    ("bold or underlined text", re.compile(r"(?<![\w*])(\*\*|__)(?=\S)[^\n]+?(?<=\S)\1(?![\w*])")),
    ("a table", re.compile(r"^[ \t]*\|?[^\n|]*\|[^\n|]*\|.*$", re.M)),
    ("a table", re.compile(r"^[ \t]*\|?[ \t]*:?-{3,}:?[ \t]*\|", re.M)),
    # A short line ending in a colon, followed by more text: a label over a block.
    ("a label line", re.compile(r"^[ \t]*[A-Z][^\n.!?]{0,50}:[ \t]*\n(?=[ \t]*\S)", re.M)),
    # A short line in Title Case or CAPITALS standing alone between blocks.
    (
        "a heading",
        re.compile(
            r"(?:\A|\n[ \t]*\n)[ \t]*(?:[A-Z][\w'’&-]*)(?:[ \t]+(?:[A-Z][\w'’&-]*|&|and|of|for|the|to|a|in|on|with)){0,6}"
            r"[ \t]*[:!]?[ \t]*\n(?=[ \t]*\n?[ \t]*\S)"
        ),
    ),
)


def structure_found(copy: str) -> list[str]:
    """Each kind of markup in ``copy``, with the first text that shows it (quoted)."""
    found: list[str] = []
    seen: set[str] = set()
    for kind, pattern in _RULES:
        match = pattern.search(copy or "")
        if match and kind not in seen:
            seen.add(kind)
            snippet = " ".join(match.group(0).split())
            found.append(f'{kind} ("{snippet[:60]}")')
    return found
