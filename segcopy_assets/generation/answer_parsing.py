"""Splitting a model's answer into the customer-facing copy and the reviewer's Rationale."""

import re
from dataclasses import dataclass

# "**Rationale:**", "**Rationale**:", "Rationale:", "## Rationale", "### Rationale:" at a line start.
_MARKER = re.compile(
    r"^[ \t]*(?:#{1,6}[ \t]*)?(?:\*\*|__)?[ \t]*rationale[ \t]*:?[ \t]*(?:\*\*|__)?[ \t]*:?",
    re.IGNORECASE | re.MULTILINE,
)


@dataclass(frozen=True)
class ParsedCopy:
    copy: str
    rationale: str

    @property
    def problem(self) -> str | None:
        """Why the answer is unusable, or None."""
        if not self.copy:
            return "the answer has no copy before the Rationale"
        if not self.rationale:
            return "the answer has no Rationale section"
        return None


def split_copy_and_rationale(text: str) -> ParsedCopy:
    """Copy is everything before the first Rationale marker, the rationale everything after."""
    text = (text or "").strip()
    match = _MARKER.search(text)
    if not match:
        return ParsedCopy(copy=text, rationale="")
    copy = text[: match.start()].strip()
    rationale = text[match.end() :].strip()
    return ParsedCopy(copy=_strip_rules(copy), rationale=rationale)


def _strip_rules(copy: str) -> str:
    """Drop a trailing markdown rule ('---') some models put before the rationale."""
    return re.sub(r"(\n\s*(-{3,}|\*{3,})\s*)+$", "", copy).strip()
