"""The fake endpoint's answers to a channel's prompt (``prompts/channels/<channel>/``): read the
answer format and the limits the prompt states, and answer within them, as a model that follows
its instructions would. Deterministic; the product's name and whole sentences of its description.

A prompt is a channel's when its "Answer in exactly this format:" block has labelled lines
(``Subject: <…>``) or asks for ``<the message>``; the description's prompt gets the description
reply (``replies.default_reply``).
"""

import re
from typing import Any

from segcopy_assets.core import sms
from segcopy_assets.devtools.fake_openai.replies import (
    extract_product_description,
    extract_product_name,
    extract_segment,
    message_text,
)

_FORMAT_RE = re.compile(r"Answer in exactly this format:\s*\n(.*?)\n\s*\*\*Rationale:\*\*", re.S)
_LABEL_LINE_RE = re.compile(r"^([A-Z][\w ]{0,30}):\s*<[^>]*>\s*$")
_LABEL_LIMIT_RE = re.compile(r"\b([A-Z][\w ]{0,30}): at most (\d+) characters")
_LIMIT_RE = re.compile(r"at most (\d+) characters")
_WRAP_RE = re.compile(r'Start with the brand name "([^"]+)" and end with "([^"]+)"')
_SENTENCE_RE = re.compile(r"(?<=[.!?])\s+")


def _system(body: dict[str, Any]) -> str:
    return "\n".join(
        message_text(m)
        for m in body.get("messages") or []
        if isinstance(m, dict) and m.get("role") == "system"
    )


def _fits(text: str, limit: int, one_sms: bool) -> bool:
    return len(text) <= limit and (not one_sms or sms.count(text).segments == 1)


def channel_reply(body: dict[str, Any]) -> str | None:
    """The answer to a channel's prompt, or None when the prompt is not a channel's."""
    system = _system(body)
    found = _FORMAT_RE.search(system)
    if not found:
        return None
    block = found.group(1)
    labels = [
        m.group(1) for line in block.splitlines() if (m := _LABEL_LINE_RE.match(line.strip()))
    ]
    if not labels and "<the message>" not in block:
        return None
    name = extract_product_name(body) or "this product"
    sentences = [s for s in _SENTENCE_RE.split(extract_product_description(body)) if s]
    segment = extract_segment(body) or "this segment"
    rationale = (
        f"Led on what the {name} does best, in the words of its description, for {segment}; "
        "kept within the channel's limits, with no price or offer added."
    )
    if labels:
        limits = {label: int(n) for label, n in _LABEL_LIMIT_RE.findall(system)}
        lines = []
        for i, label in enumerate(labels):
            limit = limits.get(label, 200)
            candidates = [name, *sentences] if i == 0 else [*sentences, name]
            text = next((c for c in candidates if _fits(c, limit, False)), name[:limit])
            lines.append(f"{label}: {text}")
        return "\n".join(lines) + f"\n\n**Rationale:** {rationale}"
    stated = _LIMIT_RE.search(system)
    limit = int(stated.group(1)) if stated else 160
    wrap = _WRAP_RE.search(system)
    head, tail = (wrap.group(1) + ": ", " " + wrap.group(2)) if wrap else ("", "")
    candidates = [f"{head}{name} - {s}{tail}" for s in sentences] + [f"{head}{name}.{tail}"]
    message = next((c for c in candidates if _fits(c, limit, True)), candidates[-1])
    return f"{message}\n\n**Rationale:** {rationale}"
