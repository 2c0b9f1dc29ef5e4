"""Copy for the whole segment: the reader is never told who they are, the group is never
flattered, the segmentation never shows.

The walkthrough's course correction ("you are writing copy for the entire segment") came from
copy like "As a cyclist and a New Yorker": a segment is a mix of people. Conditional second
person stays allowed ("if you commute in the rain", "whether you …"): it describes a situation,
not the reader. Places are judged in ``places``.
"""

import re
from functools import lru_cache

from segcopy_assets.quality.gate import GatedRules
from segcopy_assets.quality.normalise import cased

_PERSON = (
    r"cyclists?|riders?|(?:mountain )?bikers?|hikers?|campers?|commuters?|runners?|climbers?"
    r"|backpackers?|locals?|residents?|parents?|families|customers?|members?|shoppers?|clients?"
    r"|buyers?|enthusiasts?|adventurers?|explorers?|athletes?|racers?|travell?ers?|owners?"
    r"|outdoors(?:wo)?m[ae]n|outdoorspeople|people|folks|someone|somebody|those|fans|guests?"
    r"|new yorkers?|weekend warriors?|road warriors?|roadies|gear ?heads?|purists?|connoisseurs?"
)
_PERSONA_ADJ = (
    r"avid|passionate|dedicated|keen|serious|loyal|valued|proud|true|seasoned|experienced|fellow|"
    r"busy|discerning|savvy|frequent|regular|long-?time|returning|premium|platinum|gold|silver|bronze|"
    r"vip|high-value|budget-conscious|price-conscious|member|customer|subscriber|committed|devoted|"
    r"hardcore|die-?hard|weekend|casual|beginner|novice|first-time|veteran"
)
#: What may follow "you're" / "you are" in an assertion about who the reader is.
_ROLE_NOUN = (
    rf"{_PERSON}|fan|lover|believer|type|kind|sort|person|pro|expert|regular|planner|"
    r"perfectionist|minimalist|traditionalist|tinkerer|early riser|morning person|go-getter|"
    r"explorer|road tripper|weekender|daily driver|trail rat|gear junkie|speed demon"
)
#: What may follow "you're" / "you are" in an assertion about who the reader is (not "you're
#: covered", "you're an hour from camp", "you're always dry").
_IDENTITY_COMPLEMENT = (
    rf"an? (?:[\w'-]+ ){{0,2}}?(?:{_ROLE_NOUN})\b|the (?:kind|type|sort|one|first|last)\b|"
    # any agent noun the reader is said to be, then what they do: "a fast-and-light walker who"
    r"an? (?:[\w'-]+ ){0,2}?[a-z-]+(?:er|or|ist|ian|ant|ent)s? (?:who|that|whose)\b|"
    rf"the (?:[\w'-]+ )?(?:{_PERSON})\b|someone|somebody|one of|"
    r"always (?!(?:covered|protected|dry|warm|ready|comfortable|in control|prepared|safe|visible|seen|set|good to go)\b)|"
    r"never (?!(?:far|stuck|left|caught|cold|wet|without)\b)|just (?:getting|starting|beginning)|"
    r"already (?:a|an|one|part|riding|hooked|into|familiar|sold)\b|probably|clearly|obviously|"
    r"certainly|definitely|new to|getting into|"
    r"into (?:\w+ )?(?:riding|cycling|hiking|camping|mountain|trail|road|gravel|bikes?)|all about|"
    rf"serious about|passionate|committed|dedicated|devoted|no stranger|among|part of|used to|"
    rf"known for|proud|loyal|(?:{_PERSONA_ADJ})\b"
)
#: Words before "you're …" that make it a situation ("if you're a commuter"); "because" and
#: "since" do not ("because you're a weekend warrior" still tells the reader who they are).
_CONDITIONAL = re.compile(
    r"\b(?:if|when|whenever|whether|once|until|while|wherever|unless|in case|as long as|so|"
    r"the moment|who|that)\s+(?:\w+\s+){0,2}$",
    re.I,
)
_ASSERTIONS = [
    # "You're the rider who…", "You're always the first at the trailhead", "you are a loyal …"
    rf"\byou(?:'re|’re| are)\s+(?:{_IDENTITY_COMPLEMENT})",
    # "you've always …", "you've been riding with us …"
    r"\byou(?:'ve|’ve| have)\s+(?:always|never|been|spent|logged|ridden|hiked|earned|proven|shown|"
    r"racked up|put in|got(?:ten)? into|chosen us|trusted)\b",
    r"\byou (?:always|never|already|clearly|obviously|probably|certainly) (?!need\b)\w+",
    # "you ride harder than anyone": the reader measured against everyone else
    r"\byou(?:'re|’re| are)?\s+(?:\w+\s+)?(?:harder|faster|further|farther|longer|more|better|"
    r"tougher|stronger|higher|braver|fitter)\s+than\s+(?:anyone|anybody|everyone|everybody|most|"
    r"the rest|the others|other \w+)\b",
    # "you were born for the trail", "you're made to ride": what the reader is, by nature
    r"\byou(?:'re|’re| are| were) (?:born|made|built|meant) (?:for|to)\b",
    # the reader's habits as a fact: "you keep camping long after summer ends", "weekends for
    # you mean dirt under the tyres", "your rides don't stop when the forecast turns"
    r"\byou keep [a-z]+ing\b|\b(?:weekends?|mornings?|evenings?|summers?|winters?|sundays?|saturdays?|"
    r"holidays?|days off|free time) (?:for|to) you (?:mean|means|are|is|look like)\b"
    r"|\byour (?:weekends?|mornings?|evenings?|summers?|winters?|days off|free time|holidays?) "
    r"(?:mean|means|are|revolve|involve|start|begin)\b"
    r"|\byour (?:rides?|hikes?|trips?|commutes?|runs?|adventures?|outings|season|routine|miles|weekends?)"
    r" (?:don'?t|do not|never|rarely|always|often|usually|won'?t)\b",
    r"\byou(?:'ve|’ve| have|'re|’re| are|'d| would)\s+(?:clearly|obviously|certainly|definitely|surely)\b",
    # habits as facts, the reader the subject of the clause: "You ride to work most days", "you're
    # out on the trail most weekends", "you're usually the one packing the car"
    # (not what the reader can do: "you can pack it for most day hikes")
    r"(?:^|(?<=[.!?;:—-] )|(?<=, )|(?<=\band ))you(?:'re|’re| are)?\s+"
    r"(?!(?:can|could|may|might|will|would|should|need|get|want)\b)(?:\w+\s+){0,6}?"
    r"(?:most|nearly every|almost every|every single) (?:days?|weekends?|mornings?|evenings?|nights?|"
    r"weeks?|weekdays|summers?|winters?)(?=\s*(?:[,.;:!?)]|$|\s(?:and|but|or|so|rain|all|of the year)\b))",
    r"(?:^|(?<=[.!?] ))(?:most|nearly every|almost every) (?:days?|weekends?|mornings?|evenings?|"
    r"nights?|weeks?|summers?|winters?),? you(?:'re|’re| are)?\s+"
    r"(?!(?:can|could|may|might|will|would|should|need|get|want)\b)\w+",
    r"\byou(?:'re|’re| are)\s+(?:usually|often|typically|normally|generally|mostly|always)\s+the "
    r"(?:one|first|last|person|kind|type|sort)\b",
    r"\byou (?:deserve|demand|insist on|refuse to settle|won'?t settle|know (?:your|good|quality|the difference|what you)|"
    r"appreciate (?:the finer|quality|good)|expect (?:the best|nothing less|more))\b",
]
#: The reader's life as the copy imagines it: a job, a family, a schedule ("Desk job all week?",
#: "between the kids and the office"): one kind of person, not the segment.
_LIFE = [
    r"\b(?:desk|day|office|9[\s-]to[\s-]5|nine[\s-]to[\s-]five) jobs?\b|\bthe office\b|\byour (?:boss|job|work ?week|shift)\b",
    r"\b(?:the|your) (?:kids|children|little ones|toddlers?|family|partner|spouse|wife|husband)\b",
    r"\bschool (?:run|drop-?offs?|pick-?ups?)\b|\bbedtime\b|\bnap ?time\b",
    r"\bbetween (?:work|meetings|shifts|the kids|school)\b|\byou squeeze\b",
]
_IDENTITY = [
    # "As a cyclist and a New Yorker, you …" opening a sentence
    r"(?:^|(?<=[.!?] )|(?<=\n))\s*as (?:an?|one|the kind of|the type of)\b"
    r"(?! (?:result|bonus|rule|whole|standard|option|extra|alternative|default|reminder|matter of fact)\b)"
    r"[^.;:!?\n]{1,80}?,?\s+you(?:'re|'ll|'ve|'d)?\b",
    rf"\bas an? (?:[\w'-]+ ){{0,3}}?(?:{_PERSON})"
    r"(?=\s*(?:[,.;:!?]|$|and\b|or\b|who\b|you\b|like\b|from\b|in\b|living\b))",
    r"\bas (?:someone|somebody|a person|one of (?:our|the|those))\b",
    rf"\bas an? (?:{_PERSONA_ADJ})\b",
    r"\b(?:since|because|as|now that|given that) you(?:'re| are)?\s+(?:live|living|based|located|reside|residing|from)\b",
    r"\byou live in\b|\bwhere you live\b|\byour (?:city|hometown|home state|state|region|neighbou?rhood)\b",
    rf"\b(?:{_PERSON})\s+like (?:you|yourself)\b",
    r"\bfor (?:the |a )?\w+ in you\b",
]
_FLATTERY = [
    # customers praised as customers: "our valued members", "top customers", "long-time shoppers"
    r"\b(?:loyal|valued|treasured|cherished|trusted|favou?rite|best|top|elite|vip|discerning|savvy|"
    r"sophisticated|dedicated|devoted|long-?time|special|most loyal|most valued|most dedicated)\s+"
    r"(?:\w+\s+){0,2}?(?:customers?|members?|clients?|shoppers?|buyers?|patrons?|fans|community|family|guests?)\b",
    # riders, hikers … praised: only the unmistakable words ("discerning riders", "our loyal hikers")
    rf"\b(?:loyal|valued|treasured|cherished|elite|vip|discerning|savvy|sophisticated|most loyal|"
    rf"most valued)\s+(?:\w+\s+){{0,2}}?(?:{_PERSON})\b",
    r"\bdiscerning\b|\bsavv(?:y|ier|iest)\b|\bconnoisseurs?\b|\bin the know\b",
    # "our savviest campers", "our most experienced riders", "our best customers"
    rf"\bour\s+(?:\w+est|most\s+\w+|best|finest)\s+(?:\w+\s+)?(?:{_PERSON})\b",
    r"\byou(?:'ve| have) earned\b|\btreat yourself\b|\bbecause you(?:'re| are) worth it\b"
    r"|\b(?:hand[- ]?picked|selected|chosen|curated|made|reserved) (?:just |especially )?for you\b"
    r"|\bexclusively for you\b|\byou have (?:great|good|excellent|impeccable) taste\b",
    # the reader's standards praised: "riders with your standards deserve …"
    r"\b(?:with|of|share) your (?:high |exacting |discerning )?(?:standards|taste|calibre|caliber|"
    r"discernment|eye for (?:quality|detail))\b|\bdeserves? (?:nothing less|only the best|the best|better)\b",
    # "your standards are high, and rightly so", "it takes a sharp eye … and you've got one"
    r"\byour (?:standards|taste|expectations|eye|instincts|judgement|judgment) (?:are|is) "
    r"(?:\w+ )?(?:high|exacting|impeccable|excellent|good|great|refined|sharp|spot[\s-]on)\b"
    r"|\byou(?:'ve|’ve| have) (?:got |clearly got |certainly got )?an? (?:good|great|sharp|keen|trained|"
    r"expert|discerning|fine|practi[sc]ed|real) eye(?![\w-])"
    r"|\band rightly so\b|\b(?:takes|needs|requires) an? (?:sharp|keen|good|great|trained|practi[sc]ed|"
    r"expert|discerning) eye\b",
]
_SEGMENT_LEAK = [
    r"\b(?:your|our|customer|value|loyalty|membership|clv|platinum|gold|silver|bronze)[\s-]+tiers?\b"
    r"|\btiers? (?:customers?|members?|status)\b|\b(?:low|medium|high)[\s-]tier\b|\btop[\s-]tier (?:riders?|(?:[\w-]+\s+)?(?:customers?|members?|shoppers?|clients?|buyers?))\b"
    r"|\bhigh[\s-]value (?:customers?|riders?|shoppers?|members?|buyers?|clients?|segments?|groups?)\b",
    r"\bour (?:core|high[\s-]value|premium|value|budget|low[\s-]value)(?:\s+[\w-]+){0,3}?\s+"
    r"(?:customers?|riders?|members?|shoppers?|clients?|buyers?|groups?|segments?|audiences?|base)\b",
    r"\bcustomer (?:groups?|base|segments?|cohorts?|tiers?|types?)\b|\bvalue groups?\b|\bcohorts?\b",
    # the CDP's value tiers and lifecycle statuses as kinds of customer ("our Gold and Silver customers")
    r"\b(?:platinum|gold|silver|bronze)(?:(?:,|\s+and|\s+or|\s+&)?\s+(?:platinum|gold|silver|bronze))*"
    r"\s+(?:\w+\s+)?(?:customers?|members?|riders?|shoppers?|tiers?|status|clients?|buyers?|levels?)\b"
    # ... or as any kind of people, owned by the brand: "our Platinum sleepers", "our Gold campers"
    r"|\b(?:our|for|to|all)\s+(?:platinum|gold|silver|bronze)(?:(?:,|\s+and|\s+or|\s+&)?\s+"
    r"(?:platinum|gold|silver|bronze))*\s+[a-z-]+(?:ers|ists|ians|ees|ors|folks|people)\b"
    r"|\b(?:active|lost|at[\s-]risk|cooling[\s-]down|lapsed|inactive|dormant|churn(?:ed|ing)?)\s+"
    r"(?:customers?|members?|riders?|shoppers?|clients?|buyers?|accounts?)\b",
    r"\blifetime value\b|\bclv\b|\bpredicted (?:value|lifetime|spend|clv)\b",
    r"\bdiscount[\s-]sensitiv\w*|\bprice[\s-]sensitiv\w*|\bprice preferences?\b|\blifecycle (?:stage|status)\b",
    r"\b(?:price|budget|cost|value)[\s-](?:conscious|minded|focused)\b|\b(?:deal|bargain|value)[\s-](?:seekers?|hunters?)\b"
    r"|\bbig spenders?\b|\bhigh spenders?\b|\bthrifty\b|\bfrugal\b",
    # who the segment is by its discount sensitivity or price preference
    rf"\b(?:{_PERSON})\s+(?:who|that)\s+(?:\w+\s+){{0,5}}?(?:discounts?|deals?|bargains?|sales?|coupons?|savings?|promotions?|prices?|budgets?|spend(?:ing)?)\b",
    r"\b(?:this|the|our|your|customer|audience|target|market) segments?\b",
    r"\b(?:our|the) (?:data|records|analysis|analytics) (?:shows?|says?|suggests?)\b",
    r"\bbased on your\b|\byour (?:last|previous|recent) (?:[\w-]+ )?(?:order|purchase|buy|boots|bike|pair)\w*\b"
    r"|\bwe know (?:that )?you\b"
    # what the reader browses or buys with us: "tents are what you browse most with us"
    r"|\bwhat you (?:browse|shop for|buy|order|look at|search for|click on)\b"
    r"|\byou (?:browse|shop|buy|order)\w* (?:\w+ ){0,3}?(?:most|often|regularly|a lot) with us\b",
    # the readers counted as a group: "many of you …", "we know plenty of you …"
    r"\b(?:many|most|plenty|lots|a lot|half|some|several|quite a few|a few|all) of you\b",
    # the reader's habits and profile as the segment describes them
    r"\b(?:you|your)\s+(?:tend to|usually|typically|generally|mostly)\s+(?:prefer|buy|choose|shop|spend|look for|go for|pick|wait)\b"
    r"|\bsince you (?:prefer|like|love|usually|often|tend|always)\b|\bgiven your (?:love|preference|taste|interest|budget|history)\b"
    r"|\byour (?:preferences?|profile|customer group|segment|tier|spending|shopping habits|buying habits|purchase history)\b",
    r"\b(?:premium|mid[\s-]range|value)[\s-](?:buyers?|shoppers?|customers?|seekers?|minded|lovers?)\b"
    r"|\b(?:shoppers?|customers?|buyers?|riders?)\s+(?:who|that)\s+prefer\s+(?:premium|mid[\s-]range|value|budget)\b",
    r"\bwelcome back\b|\bwe(?:'ve| have) missed you\b|\bit(?:'s| has) been a while\b|\bsince your last\b"
    r"|\bhaven'?t (?:seen|heard from) you\b|\bwin(?:ning)? you back\b|\blapsed\b|\byour (?:next|last) (?:order|purchase|visit)\b"
    r"|\b(?:returning|repeat|new) customers?\b|\bloyalty (?:program(?:me)?|points|members?|rewards?)\b",
]
_RULES = GatedRules(
    [
        ("tells the reader who they are", _ASSERTIONS),
        ("gives the whole segment one identity", _IDENTITY),
        ("flatters the segment", _FLATTERY),
        ("imagines the reader's life", _LIFE),
        ("mentions the segmentation", _SEGMENT_LEAK),
    ],
    re.I,
)


@lru_cache(maxsize=1024)
def _matches(text: str) -> tuple[tuple[str, str], ...]:
    out = []
    for label, m in _RULES.finditer(text):
        if label == "tells the reader who they are" and _CONDITIONAL.search(
            text[: m.start()][-60:]
        ):
            continue  # "if you're a commuter …": a situation, not an identity
        out.append((label, " ".join(m.group().split())))
    return tuple(out)


def voice_problems(copy: str, original: str) -> list[str]:
    """What makes the copy speak to one kind of person, each with the words (quoted); words the
    original already uses are allowed."""
    allowed = {words.lower() for _, words in _matches(cased(original or ""))}
    grouped: dict[str, list[str]] = {}
    for label, words in _matches(cased(copy or "")):
        if words.lower() in allowed or words in grouped.get(label, []):
            continue
        grouped.setdefault(label, []).append(words)
    return [f"{label}: " + ", ".join(f'"{w}"' for w in words) for label, words in grouped.items()]
