"""Claims the copy must not make: offers, identity (who the reader is), refusals.

Everything flagged in the copy is allowed when the same thing is already in the original.
"""

import re
from functools import lru_cache

from segcopy_assets.quality.normalise import cased

_OFFER_PATTERNS = [
    r"[$€£¥]\s?\d[\d,.]*|\d[\d,.]*\s?[$€£¥]|[$€£¥]",
    r"\b\d[\d,.]*\s?(?:usd|eur|gbp|dollars?|euros?|bucks)\b|\b(?:usd|eur|gbp)\s?\d[\d,.]*",
    r"(?<![\w.])\d+(?:\.\d+)?\s?(?:%|percent\b|per cent\b)(?:\s+off\b)?",
    r"\bsave\s+(?:up\s+to\s+)?(?:\d|[$€£])[\d,.%]*",
    r"\bhalf[\s-]?(?:price|off)\b",
    r"\b(?:discount(?:s|ed)?|sale|clearance|coupons?|vouchers?|promo codes?|promo(?:s|tions?|tional)?|rebates?)\b",
    r"\bdeals?\b(?!\s+(?:with|of)\b)",
    r"\bfree\s+(?:shipping|delivery|returns?|gifts?|postage)\b|\bships?\s+(?:for\s+)?free\b",
    r"\blimited[\s-]time\b|\bwhile (?:supplies|stocks?) last\b|\btoday only\b|\bact now\b",
    r"\bbogo\b|\bbuy one,?\s+get one\b|\b(?:2|two) for (?:1|one)\b",
    r"\b(?:special|exclusive|limited|introductory) offers?\b",
    r"\b(?:best|lowest?|reduced|special|sale|great|unbeatable|bargain|discounted) prices?\b"
    r"|\bpriced (?:at|from)\b|\bprice (?:drop|cut|match)\w*",
    r"\bwarrant(?:y|ies)\b|\bmoney[\s-]back\b",
]
OFFER_RE = re.compile("|".join(f"(?:{p})" for p in _OFFER_PATTERNS), re.I)

_PERSONA_ADJ = (
    r"avid|passionate|dedicated|keen|serious|loyal|valued|proud|true|seasoned|experienced|fellow|"
    r"busy|discerning|savvy|frequent|regular|long-?time|returning|premium|platinum|gold|silver|bronze|"
    r"vip|high-value|budget-conscious|price-conscious|member|customer|subscriber"
)
_IDENTITY_PATTERNS = [
    # "As a cyclist and a New Yorker, you ..." opening a sentence (not "As a result, ...", and
    # not "As a three-season tent, the Basecamp ...": the reader must be told who they are).
    r"(?:^|(?<=[.!?] )|(?<=\n))\s*as (?:an?|one|the kind of|the type of)\b"
    r"(?! (?:result|bonus|rule|whole|standard|option|extra|alternative|default|reminder|matter of fact)\b)"
    r"[^.;:!?\n]{1,80}?,?\s+you(?:'re|'ll|'ve|'d)?\b",
    # "as a cyclist and ...", "as a New Yorker": a person noun, not "as a commuter bike"
    r"\bas an? (?:[\w'-]+ ){0,3}?(?:cyclists?|riders?|(?:mountain )?bikers?|hikers?|campers?|commuters?|runners?"
    r"|climbers?|backpackers?|new yorkers?|locals?|residents?|parents?|customers?|members?|shoppers?"
    r"|enthusiasts?|adventurers?|athletes?|racers?|travell?ers?|outdoors(?:wo)?m[ae]n)"
    r"(?=\s*(?:[,.;:!?]|$|and\b|or\b|who\b|you\b|like\b|from\b|in\b|living\b))",
    r"\bas (?:someone|somebody|a person|one of (?:our|the|those))\b",
    rf"\bas an? (?:{_PERSONA_ADJ})\b",
    rf"\byou(?:'re| are) an? (?:{_PERSONA_ADJ})\b",
    r"\b(?:since|because|as|now that|given that) you(?:'re| are)?\s+(?:live|living|based|located|reside|residing|from)\b",
    r"\byou live in\b|\bwhere you live\b|\byour (?:city|hometown|home state|state|region|neighbou?rhood)\b",
    r"\b(?:loyal|valued|premium|platinum|gold|silver|bronze|vip|top|best|elite|high[- ]value|frequent|repeat|returning)"
    r"\s+(?:customers?|members?|clients?|shoppers?|buyers?|patrons?)\b",
    r"\b(?:customers?|members?|shoppers?|clients?|buyers?|riders?|cyclists?|campers?|hikers?|someone|people|folks)\s+like you\b",
    # customer tiers and value groups, not "top-tier components" or "a high-value upgrade"
    r"\b(?:your|our|customer|value|loyalty|membership|clv|platinum|gold|silver|bronze)[\s-]+tiers?\b"
    r"|\btiers? (?:customers?|members?|status)\b"
    r"|\bhigh[- ]value (?:customers?|riders?|shoppers?|members?|buyers?|clients?|segments?|groups?)\b",
    r"\blifetime value\b|\bclv\b|\bpredicted (?:value|lifetime|spend|clv)\b",
    r"\bdiscount[- ]sensitiv\w*|\bprice[- ]sensitiv\w*|\bprice preferences?\b|\blifecycle (?:stage|status)\b",
    r"\b(?:this|the|our|your|customer|audience|target|market) segments?\b",
    r"\b(?:our|the) (?:data|records|analysis|analytics) (?:shows?|says?|suggests?)\b",
    r"\bbased on your (?:purchase|shopping|order|browsing|past)\b|\bwe know (?:that )?you\b",
]
IDENTITY_RE = re.compile("|".join(f"(?:{p})" for p in _IDENTITY_PATTERNS), re.I)

REFUSAL_RE = re.compile(
    r"\bi'm sorry\b|\bi am sorry\b|\bas an ai\b|\bas an? (?:ai|large )?language model\b|\bi cannot\b|\bi can ?not\b"
    r"|\bi can't (?:help|assist|provide|write|create|comply|do that|fulfil)|\bi'm unable\b|\bi am unable to\b"
    r"|\bi'm not able to\b|\bi apologi[sz]e\b|\bi won't be able\b",
    re.I,
)


def _same(hit: str) -> str:
    return re.sub(r"\s+", " ", hit).lower()


@lru_cache(maxsize=1024)
def _keys_in(regex: re.Pattern, key, text: str) -> frozenset[str]:
    return frozenset(key(m.group().strip()) for m in regex.finditer(cased(text)))


def hits(regex: re.Pattern, copy: str, original: str, key=_same) -> list[str]:
    """Matches in the copy whose normalised text is not also matched in the original."""
    allowed = _keys_in(regex, key, original)
    out = []
    for m in regex.finditer(cased(copy)):
        text = m.group().strip().rstrip(",")
        if key(text) not in allowed and text not in out:
            out.append(text)
    return out


def offer_key(hit: str) -> str:
    hit = re.sub(r"\s+", " ", hit).lower()
    pct = re.match(r"(\d+(?:\.\d+)?)\s?(?:%|percent|per cent)", hit)
    if pct:
        return pct.group(1) + "%"
    return hit
