"""The brand voice's words to avoid: read from ``prompts/brand_voice.md``, found in copy."""

import re

from segcopy_assets.quality.gate import GateIndex, literal_gate, pattern_cache


@pattern_cache(maxsize=1024)
def phrase_re(phrase: str) -> re.Pattern:
    body = r"[\s-]+".join(map(re.escape, re.split(r"[\s-]+", phrase.strip().lower())))
    return re.compile(rf"(?<![\w-]){body}(?:s|es)?(?![\w-])")


@pattern_cache(maxsize=64)
def _avoid_index(phrases: tuple[str, ...]) -> GateIndex:
    return GateIndex([literal_gate(phrase_re(p).pattern) if p.strip() else None for p in phrases])


def avoided_in(copy: str, original: str, phrases: tuple[str, ...]) -> list[str]:
    """The phrases to avoid that the copy uses and the original does not (in their order)."""
    copy_lower, original_lower = copy.lower(), original.lower()
    starts = _avoid_index(phrases).starts(copy_lower)  # only phrases whose words are there
    used = []
    for i in sorted(starts):
        phrase = phrases[i]
        if not phrase.strip():
            continue
        pattern = phrase_re(phrase)
        if pattern.search(copy_lower, starts[i]) and not pattern.search(original_lower):
            used.append(phrase)
    return used


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
