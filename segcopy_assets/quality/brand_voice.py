"""The brand voice's words to avoid: read from ``prompts/brand_voice.md``, found in copy."""

import re


def phrase_re(phrase: str) -> re.Pattern:
    body = r"[\s-]+".join(map(re.escape, re.split(r"[\s-]+", phrase.strip().lower())))
    return re.compile(rf"(?<![\w-]){body}(?:s|es)?(?![\w-])")


def avoid_words_from_brand_voice(text: str) -> tuple[str, ...]:
    """Words/phrases listed on "Words to avoid:" (or "Avoid:") lines, lowercased, in order.

    The list may continue on following bullet lines when the label line ends at the colon.
    """
    out: list[str] = []
    lines = (text or "").splitlines()
    label = re.compile(
        r"^\s*(?:[-*+•]\s*)?(?:\*\*|__)?\s*(?:words\s+to\s+avoid|avoid)\s*(?:\*\*|__)?\s*:\s*(?:\*\*|__)?(.*)$",
        re.I,
    )
    i = 0
    while i < len(lines):
        m = label.match(lines[i])
        i += 1
        if not m:
            continue
        items = [m.group(1)]
        if not m.group(1).strip():
            while i < len(lines) and re.match(r"^\s+[-*+•]\s+\S|^\s*[-*+•]\s+[^:]+$", lines[i]):
                items.append(re.sub(r"^\s*[-*+•]\s+", "", lines[i]))
                i += 1
        for item in items:
            for word in re.split(r"[,;]|\s+(?:and|or)\s+", item):
                word = word.strip().strip("`'\"*_.").strip().lower()
                if word and word not in out:
                    out.append(word)
    return tuple(out)
