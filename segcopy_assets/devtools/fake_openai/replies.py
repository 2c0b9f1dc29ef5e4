"""Default replies of the fake endpoint: copy that looks like a model's, and token counting.

``default_reply`` writes one tailored sentence (naming the segment or the product the request tags)
then the product description verbatim, then a rationale, in one of the ``ReplyFormat`` layouts. It
is deterministic: the same model and messages always give the same reply.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Literal

ReplyFormat = Literal["bold", "plain", "heading", "none"]

_PRODUCT_RE = re.compile(
    r"<product_description>(.*?)</product_description>", re.DOTALL | re.IGNORECASE
)
_SEGMENT_TAG_RE = re.compile(r"<(segment_name|segment)>(.*?)</\1>", re.DOTALL | re.IGNORECASE)
_SEGMENT_LINE_RE = re.compile(
    r"^\s*(?:customer\s+)?segment(?:\s+name)?\s*[:=]\s*(.+?)\s*$", re.IGNORECASE | re.MULTILINE
)

_PRODUCT_NAME_RE = re.compile(
    r"^\s*Product(?:\s+name)?\s*:\s*(.+?)\s*(?:\(.*\))?\s*$", re.IGNORECASE | re.MULTILINE
)

# Openers and rationales use no numbers, prices or superlatives, so the copy adds no facts.
_SEGMENT_OPENERS = (
    "Made for {segment}: this is the one you have been waiting for.",
    "If you are among {segment}, this was built with you in mind.",
    "For {segment} who expect more, here is exactly what you get.",
    "{Segment}, meet your new favourite.",
)
_OPENERS = (
    "{Name} is ready for whatever you have planned next.",
    "Here is what makes {name} worth a closer look.",
    "{Name} is made to keep up with you.",
    "Everything you need to know about {name} is right here.",
)
_RATIONALES = (
    "Opens with a line aimed at {segment} and then keeps every fact from the product description "
    "unchanged, so the tailoring adds relevance without inventing claims.",
    "The first sentence speaks to what {segment} care about, while the product details are repeated "
    "verbatim to stay accurate; no prices, offers or new features were added.",
)


def count_tokens(text: str) -> int:
    """Approximate token count: words * 1.3, rounded."""
    return int(round(len(text.split()) * 1.3))


def message_text(message: dict[str, Any]) -> str:
    """The text of a chat message whose content is a string or a list of content parts."""
    content = message.get("content")
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
        return "\n".join(parts)
    return str(content)


def extract_product_description(body: dict[str, Any]) -> str:
    """Text between the last ``<product_description>`` tag pair in the user messages, else the
    last user message (else the last message of any role)."""
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    user_texts = [message_text(m) for m in messages if m.get("role") == "user"]
    matches = _PRODUCT_RE.findall("\n".join(user_texts))
    if matches:
        return matches[-1].strip()
    if user_texts:
        return user_texts[-1].strip()
    return message_text(messages[-1]).strip() if messages else ""


def extract_segment(body: dict[str, Any]) -> str | None:
    """A segment name from ``<segment>`` / ``<segment_name>`` tags or a ``Segment: X`` line."""
    text = "\n".join(message_text(m) for m in body.get("messages") or [] if isinstance(m, dict))
    tags = _SEGMENT_TAG_RE.findall(text)
    if tags:
        value = tags[-1][1].strip()
        if value:
            return value.splitlines()[0].strip()
    lines = _SEGMENT_LINE_RE.findall(text)
    if lines:
        return lines[-1]
    return None


def format_reply(copy: str, rationale: str, reply_format: ReplyFormat = "bold") -> str:
    if reply_format == "bold":
        return f"{copy}\n\n**Rationale:** {rationale}"
    if reply_format == "plain":
        return f"{copy}\n\nRationale: {rationale}"
    if reply_format == "heading":
        return f"{copy}\n\n## Rationale\n{rationale}"
    if reply_format == "none":
        return copy
    raise ValueError(f"unknown reply_format {reply_format!r}")


def extract_product_name(body: dict[str, Any]) -> str | None:
    """The product name from a ``Product: <name> (<category>)`` line in the user messages."""
    text = "\n".join(
        message_text(m)
        for m in body.get("messages") or []
        if isinstance(m, dict) and m.get("role") == "user"
    )
    names = _PRODUCT_NAME_RE.findall(text)
    return names[-1] if names else None


JUDGE_RULES = (
    "facts_preserved",
    "no_invented_features",
    "no_invented_offers",
    "whole_segment_voice",
    "no_refusal",
)


def is_judge_request(body: dict[str, Any]) -> bool:
    """A request of segcopy's LLM judge (its system prompt asks for JSON "verdicts")."""
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    return any(m.get("role") == "system" and '"verdicts"' in message_text(m) for m in messages)


def judge_reply(failing: dict[str, tuple[str, str]] | None = None) -> str:
    """A judge's JSON answer: every rule passes except ``failing`` (rule → (evidence, source))."""
    failing = failing or {}
    verdicts = []
    for rule in JUDGE_RULES:
        evidence, source = failing.get(rule, ("", "copy"))
        verdicts.append(
            {
                "rule": rule,
                "pass": rule not in failing,
                "evidence": evidence,
                "source": source,
                "reason": "scripted by the fake endpoint" if rule in failing else "",
            }
        )
    return json.dumps({"verdicts": verdicts})


def judged_copy(body: dict[str, Any]) -> str:
    """The copy a judge request asks about (between ``<copy>`` tags)."""
    text = "\n".join(message_text(m) for m in body.get("messages") or [] if isinstance(m, dict))
    found = re.findall(r"<copy>\s*(.*?)\s*</copy>", text, re.DOTALL)
    return found[-1] if found else ""


def default_reply(body: dict[str, Any], reply_format: ReplyFormat = "bold") -> str:
    """The deterministic default reply: one tailored sentence + the product description verbatim,
    then the rationale. The sentence names the segment when the request tags one
    (``<segment>``/``<segment_name>`` or a ``Segment: X`` line), else the product from a
    ``Product: X`` line. A request of segcopy's LLM judge gets a judge's answer: every rule
    passes; a channel's prompt, an answer in its format and limits (``channel_replies``)."""
    if is_judge_request(body):
        return judge_reply()
    from segcopy_assets.devtools.fake_openai.channel_replies import channel_reply

    channel = channel_reply(body)  # a channel's prompt (prompts/channels/): its format, limits
    if channel is not None:
        return channel
    digest = hashlib.sha256(
        json.dumps([body.get("model"), body.get("messages")], sort_keys=True, default=str).encode()
    ).digest()
    segment = extract_segment(body)
    if segment:
        template = _SEGMENT_OPENERS[digest[0] % len(_SEGMENT_OPENERS)]
        opener = template.format(segment=segment, Segment=segment[:1].upper() + segment[1:])
    else:
        product_name = extract_product_name(body)
        if not product_name:
            name = "this product"
        elif product_name.lower().startswith("the "):
            name = product_name
        else:
            name = f"the {product_name}"
        template = _OPENERS[digest[0] % len(_OPENERS)]
        opener = template.format(name=name, Name=name[:1].upper() + name[1:])
    rationale = _RATIONALES[digest[1] % len(_RATIONALES)].format(
        segment=segment or "the readers in this segment"
    )
    product = extract_product_description(body)
    copy = f"{opener} {product}".strip()
    return format_reply(copy, rationale, reply_format)
