"""Whether the model answered at all: a refusal instead of copy, a rationale with no content.

A refusal may be personal ("I'm sorry, I can't …") or impersonal ("This request cannot be
completed as specified.", "Unable to rewrite this description without more information."): both
are a remark about the request, never product copy.
"""

import functools
import re
from pathlib import Path

from segcopy_assets.quality.gate import GatedAlternation
from segcopy_assets.quality.normalise import cased
from segcopy_assets.quality.places import segment_places

_REFUSAL = [
    r"\bi'm sorry\b|\bi am sorry\b|\bsorry, (?:but )?(?:i|we|this|the|that)\b|\bas an ai\b"
    r"|\bas an? (?:ai|large )?language model\b|\bi cannot\b|\bi can ?not\b"
    r"|\bi can't (?:help|assist|provide|write|create|comply|do that|fulfil)|\bi'm unable\b|\bi am unable to\b"
    r"|\bi'm not able to\b|\bi apologi[sz]e\b|\bapologies\b|\bi won't be able\b|\bi must decline\b",
    # impersonal: "this request cannot be completed", "could not be generated", "unable to rewrite"
    r"\b(?:cannot|can ?not|can't|could not|couldn't|will not|won't|was not|wasn't|is not|isn't)\s+be\s+"
    r"(?:complet|fulfil|generat|produc|provid|rewrit|re-writ|tailor|creat|writ|process|personali[sz]|"
    r"customi[sz]|adapt)\w*",
    r"\b(?:unable|not able|impossible|not possible|declines?|refuses?)\s+to\s+"
    r"(?:complete|fulfil+|generate|produce|provide|rewrite|re-write|tailor|create|write|process|"
    r"personali[sz]e|customi[sz]e|adapt|assist|help|comply|proceed)\b",
    r"\b(?:this|the|your) (?:request|task|prompt|instructions?|brief)\b(?=[^.]{0,60}\b(?:not|cannot|unable|"
    r"declin|refus|violat|against)\b)",
    r"\b(?:insufficient|not enough|missing)\s+(?:product\s+)?(?:information|details|context|data)\b"
    r"|\bwithout (?:more|additional|further|sufficient) (?:product\s+)?(?:information|details|context|data)\b"
    r"|\b(?:please|kindly) provide (?:more|additional|the)\b",
    # the request weighed instead of answered: "not available for this request", "falls outside
    # what can be produced", "a general rewrite can be supplied on request"
    r"\bnot (?:available|possible|permitted|allowed) (?:for|with|under) (?:this|your|the) (?:request|brief|prompt|policy)\b"
    # "personalised copy is not available for this product and audience combination"
    r"|\b(?:personali[sz]ed|tailored|custom(?:i[sz]ed)?|rewritten|adapted|segment[- ]specific) "
    r"(?:copy|text|version|variant|description|rewrite|content)s? (?:is|are) not (?:available|possible|"
    r"offered|provided|supported)\b"
    r"|\bnot (?:available|possible|offered|provided|supported) for (?:this|the|that) (?:[\w-]+ ){0,4}?"
    r"(?:combination|pairing|audience|segment)\b"
    r"|\bfalls? (?:outside|beyond) (?:what|the scope|the bounds|the limits)\b"
    r"|\bcan be (?:supplied|provided|produced|written|prepared) (?:on|upon) request\b",
    # the copy declined as unsuitable: "not suitable for personalisation", "no personalised
    # version is provided", "the standard copy should stand"
    r"\b(?:not suitable|unsuitable|not appropriate|inappropriate) for (?:personali[sz]ation|tailoring|"
    r"customi[sz]ation|rewriting|adaptation|this|a personali[sz]ed)\b"
    r"|\bno (?:personali[sz]ed|tailored|custom(?:i[sz]ed)?|rewritten|adapted|new) (?:version|copy|variant|"
    r"description|text|rewrite)\b"
    r"|\b(?:the )?(?:standard|original|existing|default|current) (?:copy|description|text|version|wording) "
    r"should (?:be used|stand|remain|stay|be kept|apply)\b",
    r"\bi(?:'d| would) rather not\b|\bi(?:'m| am) not comfortable\b|\bi (?:can't|cannot|won't|will not) "
    r"(?:\w+ )?(?:write|draft|create|do) (?:this|that|it|the)\b",
]
#: Talk to the operator instead of the shopper: a question back, an offer of another version,
#: a note about what the writer did ("Here's the rewritten …", "I've kept every number").
_OPERATOR = [
    r"\b(?:could|can|would) you (?:please )?(?:share|provide|send|confirm|clarify|give me|tell me|let me know)\b",
    r"\bwould you like me to\b|\bshall i\b|\bdo you want me to\b|\bif you(?:'d| would)? like(?:,)? i can\b",
    r"\bif you (?:can |could )?(?:provide|share|send|give)\b[^.]{0,60}\bi(?:'ll|'m| will| am)\b",
    r"\bonce i have (?:that|this|the|those|it)\b|\blet me know if (?:you(?:'d| would)? like|you want|this)\b",
    r"\bhere(?:'s| is| are) (?:a |an |the |your |my )?(?:rewritten|tailored|revised|new|updated|adapted|"
    r"personali[sz]ed|draft|suggested|proposed|final)\b|\bhere(?:'s| is) (?:a |the |your )?(?:version|copy|text|"
    r"subject line|message|notification|sms|push)\b",
    r"\bi(?:'ve| have) (?:rewritten|tailored|kept|written|revised|updated|adjusted|adapted|drafted|created)\b",
    # "Here's a rewrite of the Tempo description:", "Here is my take:", "Sure! …"
    r"\bhere(?:'s| is| are) (?:a |an |the |your |my )?(?:[\w-]+ ){0,3}?(?:rewrite|rework|take|variant|"
    r"variation|blurb|attempt|version|draft)s?\b|^\W*(?:sure|certainly|of course|absolutely)\b[,!.]",
    # an offer of more work or a note on the work: "Want me to trim this …?", "I kept every spec"
    r"\b(?:want|need) me to\b|\b(?:should|shall) i (?:also )?(?:trim|shorten|lengthen|make|try|write|"
    r"add|adjust|tweak|rework|change|tone)\b",
    r"\bi (?:kept|preserved|retained|maintained|included|removed|trimmed|avoided|stuck to|focused on|"
    r"chose|went with|leaned into|emphasi[sz]ed|highlighted|rewrote|reworded|tailored)\b",
    # the copy handed over as an object: "here's the reworked description, ready to drop in",
    # "happy to do a punchier cut if that helps"
    r"\bhere(?:'s| is| are) (?:a |an |the |your |my )?(?:[\w-]+ ){0,3}?(?:description|copy|text|"
    r"write-?up|wording)\b|\bready to (?:drop|paste|slot|plug) (?:in|into)\b|\bready to paste\b"
    r"|\bhappy to (?:do|write|draft|make|produce|try|adjust|tweak|trim|shorten|rework|tailor|give|"
    r"send|put together|whip up)\b|\bif (?:that|this) helps\b|\bjust (?:say|let me know) (?:the word|if)\b",
]
_REFUSAL_RE = GatedAlternation(_REFUSAL + _OPERATOR, re.I)

#: What a rationale with no content says.
_PLACEHOLDER_RE = re.compile(
    r"^(?:n/?a|none|null|nil|-+|—|tbd|tba|todo|\.+|see (?:above|below|copy|the copy|description)"
    r"|same as (?:above|before)|as above|not applicable|no rationale(?: (?:needed|given|provided))?"
    r"|rationale|no changes?(?: (?:made|needed))?|nothing to add|self[- ]explanatory|\?+|ok|done"
    r"|(?:the )?copy speaks for itself)$",
    re.I,
)
#: A rationale says at least this many words about the choices.
MIN_RATIONALE_WORDS = 3
#: The words of a rationale that say nothing about a choice: what was written, for whom in
#: general ("This subject line was written to appeal to the segment.").
_FILLER_FILE = Path(__file__).parent / "data" / "rationale_filler.txt"
#: A rationale names at least this many words beyond the filler.
MIN_CONTENT_WORDS = 2


@functools.cache
def filler_words() -> frozenset[str]:
    """The words of ``data/rationale_filler.txt``."""
    lines = _FILLER_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(w for line in lines if not line.startswith("#") for w in line.split())


def refusals(copy: str) -> list[str]:
    """The words that make the copy a refusal (quoted)."""
    return list(
        dict.fromkeys(" ".join(m.group().split()) for m in _REFUSAL_RE.finditer(cased(copy)))
    )


def rationale_problems(copy: str, rationale: str) -> list[str]:
    """Why the copy or its rationale is missing or empty: a placeholder, too few words, or
    only words that say nothing about a choice (``data/rationale_filler.txt``)."""
    problems = []
    if not (copy or "").strip():
        problems.append("the copy is empty")
    text = " ".join((rationale or "").split())
    bare = re.sub(r"^[\s*_#:>\"'(\[-]*(?:rationale)?[\s*_:)\]-]*", "", text, flags=re.I).strip(
        " *_\"'()[]"
    )
    if not bare:
        problems.append("the rationale is empty")
    elif (
        _PLACEHOLDER_RE.fullmatch(bare.strip(" .!"))
        or len(re.findall(r"[A-Za-z]{2,}", bare)) < MIN_RATIONALE_WORDS
    ):
        problems.append(f'the rationale has no content ("{bare[:60]}")')
    elif (
        len([w for w in re.findall(r"[a-z][a-z'-]*|\d+", bare.lower()) if w not in filler_words()])
        < MIN_CONTENT_WORDS
    ):
        problems.append(f'the rationale says nothing about a choice ("{bare[:60]}")')
    return problems


#: A rationale about the segment names one of its facts (a number, a word of its description or
#: its places, a segmentation word) or speaks of the group as a group ("this group leans
#: practical", "riders here"). One that does neither ("Tailored the tone to resonate with the
#: target audience") explains no choice, whatever its length.
_NAMES_THE_GROUP = re.compile(
    # segmentation words, whole
    r"\b(?:segment|tiers?|discount|premium|value|mid-range|budget|lapsed|at risk|region|regional|"
    r"spread|mixed|majority|minority)\b"
    # the group as a group ("groups", "customers'" too)
    r"|\b(?:group|customers\b(?! focused)|crowd|buyers|shoppers|members|most of|many of|share|mix|"
    r"cohort|(?:these|this|its|the segment's|their) (?:riders|campers|hikers|cyclists|walkers|"
    r"commuters|readers|people|sleepers|shoppers|buyers)|(?:readers|riders|campers|hikers|cyclists|"
    r"walkers|commuters|people|buyers|shoppers) (?:here|who|in)\b)"
)
_CONTENT_WORD = re.compile(r"[a-z][a-z-]{3,}")
#: Words of every segment description, which name no fact of one segment.
_DESCRIPTION_WORDS = (
    "customers whose preferred subcategory predicted value group about lives least half region "
    "tier tiers lifetime discount sensitivity price preference lifecycle status with that this "
    "from have their they them more most some than into over each only also what when where "
    "which while would could should"
)
_DESCRIPTION_STOP = frozenset(_DESCRIPTION_WORDS.split())


@functools.lru_cache(maxsize=256)
def _segment_words(description: str, places: tuple[str, ...]) -> frozenset[str]:
    words = set(_CONTENT_WORD.findall(description.lower())) - _DESCRIPTION_STOP
    return frozenset(words.union(*(_CONTENT_WORD.findall(p.lower()) for p in places)))


def rationale_without_segment(rationale: str, segment: dict) -> list[str]:
    """Why a description's rationale explains no choice for this segment (empty: it does)."""
    description = str(segment.get("segment_description") or "")
    text = " ".join((rationale or "").split()).lower()
    if not description or not text or re.search(r"\d", text):
        return []
    if set(_CONTENT_WORD.findall(text)) & _segment_words(description, segment_places(segment)):
        return []
    if _NAMES_THE_GROUP.search(text):
        return []
    return [f'the rationale names no fact of the segment ("{text[:60]}")']
