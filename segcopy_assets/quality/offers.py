"""Offers the copy must not invent: prices, discounts, financing, value and price-position
claims, guarantees, warranties, awards and certifications, scarcity and deadlines.

Offer words count only in their commercial sense: ``offers 150 mm of travel``, ``deals with
mud``, ``a free-floating rotor`` and ``saves weight`` are product facts, not offers. A claim the
original already makes (the same words) is allowed.
"""

import re
from functools import lru_cache

from segcopy_assets.quality.gate import GatedAlternation
from segcopy_assets.quality.normalise import cased

_PRICE = [
    r"[$€£¥]\s?\d[\d,.]*|\d[\d,.]*\s?[$€£¥]|[$€£¥]",
    r"\b\d[\d,.]*\s?(?:usd|eur|gbp|dollars?|euros?|bucks)\b|\b(?:usd|eur|gbp)\s?\d[\d,.]*",
    r"(?<![\w.])\d+(?:\.\d+)?\s?(?:%|percent\b|per cent\b)\s+(?:off|less|cheaper|savings?)\b",
    r"\bhalf[\s-]?(?:price|off)\b",
    r"\b(?:discount(?:s|ed)?|coupons?|vouchers?|promo codes?|promo(?:s|tions?|tional)?|rebates?)\b"
    r"|\bclearance (?:sales?|prices?|events?|items?|racks?|deals?|stock)\b|\bon clearance\b",
    r"\b(?:on|for) sale\b|\bsale (?:price|ends?|event)s?\b|\b(?:big|annual|seasonal|summer|winter|holiday|flash) sales?\b",
    r"\bdeals?\b(?!(?:\s+\w+){0,3}\s+with\b)(?!\s+(?:of|out)\b)",
    r"\bfree\s+(?:shipping|delivery|returns?|gifts?|postage|upgrades?|accessor(?:y|ies)|service|tune[- ]?ups?)\b"
    r"|\b(?:we'll|we will|we)\s+(?:cover|pay for|pick up)\s+(?:the\s+)?(?:shipping|delivery|postage|returns?)\b"
    r"|\b(?:shipping|delivery|postage)(?:'s| is)? on us\b|\bpric(?:e|es|ed|ing)\s+(?:you'll|you will|you'd)\b"
    r"|\bships?\s+(?:for\s+)?free\b|\b(?:shipping|delivery|postage|returns?)\s+(?:is|are|comes?)\s+(?:free|complimentary|on us)\b"
    r"|\bcomplimentary\s+(?:shipping|delivery|returns?|gifts?|service)\b"
    # a free service with words between: "a complimentary first-year tune-up", "free lifetime
    # trail servicing", "a free 30-day bike fit"
    r"|\b(?:free|complimentary|no-charge|free-of-charge)\s+(?!(?:to|of|from|and|or|up|in|on|with|for)\b)"
    r"(?:[\w-]+\s+){1,3}?(?:shipping|delivery|returns?|"
    r"gifts?|upgrades?|service|servicing|tune[\s-]?ups?|fit(?:ting)?s?|check(?:s|-ups?)?|inspections?|"
    r"maintenance|repairs?|adjustments?|install(?:ation)?|assembly|setup|set-up|accessor(?:y|ies)|"
    r"lessons?|sessions?|consultations?|trials?)\b|\bon (?:all )?orders?\s+(?:over|above|of|placed|this)\b",
    r"\blimited[\s-]time\b|\bwhile (?:supplies|stocks?) last\b|\btoday only\b|\bact (?:now|fast)\b"
    r"|\b(?:order|buy|shop) (?:now|today)\b|\bdon'?t miss (?:out|this)\b|\bfor a limited time\b"
    r"|\b(?:this|next) (?:month|week|weekend|season)(?: only)?\b(?=[^.]{0,40}\b(?:order|price|free|off|sale|deal|offer)\w*)"
    r"|\b(?:order|buy|shop)[^.]{0,30}\b(?:this|next) (?:month|week|weekend)\b",
    r"\bbogo\b|\bbuy one,?\s+get one\b|\b(?:2|two) for (?:1|one)\b",
    # free without the word: "your first fit is on the house", "a footprint at no charge"
    r"\bon the house\b|\bat no (?:extra |additional )?(?:charge|cost)\b|\bfree of charge\b"
    r"|\bno (?:extra |additional )?charge\b|\bwithout (?:any )?(?:extra |additional )?charge\b"
    r"|\b(?:thrown|tossed) in\b(?! (?:the|a|your)\b)",
    r"\b(?:special|exclusive|limited|introductory|launch) (?:offers?|pric(?:e|es|ing))\b",
    r"\b(?:best|lowest?|reduced|special|sale|great|unbeatable|bargain|discounted|low|fair|full|retail|list) prices?\b"
    r"|\bpriced (?:at|from|to|under|below|for)\b|\b(?:competitively|reasonably|fairly|attractively|keenly|sensibly|aggressively) priced\b"
    r"|\bprice (?:drop|cut|match|tag|point)\w*|\b(?:at|for) (?:this|that|the|a|its|such a) (?:price|cost)\b(?! of)"
    r"|\bmsrp\b|\brrp\b",
    r"\bsav(?:e|es|ing)\s+(?:you\s+)?(?:up\s+to\s+)?(?:[$€£\d]|money|cash|big\b|a bundle|on (?:your|the|this|every))"
    r"|(?<!weight )(?<!energy )(?<!time )(?<!space )(?<!battery )(?<!power )\bsavings?\b(?! (?:of|in) (?:weight|grams|energy|time|space))",
]
_VALUE = [
    r"\b(?:great|good|best|real|exceptional|outstanding|excellent|incredible|unbeatable|solid|serious"
    r"|superb|amazing|true|fantastic|remarkable|unmatched|unrivall?ed|terrific|smart|genuine) value\b"
    r"|\b(?:smart|smarter|smartest|best|better|great|good|top|sensible|savvy)[- ]value\b"
    r"|\b(?:without|no|never) (?:stretching|straining|busting|blowing|breaking|denting|draining|emptying) "
    r"(?:the|your|a) (?:budget|bank|wallet|purse|finances)\b",
    r"\bvalue for (?:the )?money\b|\bvalue[- ]priced\b|\bvalue proposition\b|\bmore for (?:less|your money)\b"
    r"|\bfor (?:the|your|their) (?:money|cash|dollars?|buck)\b",
    r"\b(?:in)?expensive\b|\bcheap(?:er|est|ly)?\b|\baffordabl[ey]\b|\baffordability\b"
    r"|\b(?:budget|wallet|pocket)[- ]friendly\b|\beconomical\b|\blow[- ]cost\b|\bcost[- ]effective\b",
    r"\bwon'?t break the bank\b|\beasy on the (?:wallet|pocket|budget)\b|\bbang for (?:your|the) buck\b"
    r"|\bworth every (?:penny|cent|dollar)\b|\bpays? for itself\b|\ba steal\b|\bbargains?\b",
    r"\bfor (?:a lot |much |far )?less(?: money| cash| than)?\b(?!\s+(?:effort|weight|drag|fatigue|time|work|energy|strain|bulk|fuss|hassle|maintenance))"
    r"|\bcosts? (?:less|only|just|under|a fraction)\b|\bfraction of the (?:price|cost)\b"
    r"|\b(?:less|more) than (?:most|other|the competition|comparable|similar)\b(?=[^.]{0,40}\b(?:cost|price|pay|spend|money)\b)",
    r"\b(?:smart|wise|sound|good|great|solid) investment\b|\binvest(?:ing)? in (?:quality|yourself)\b",
    # the price said without a price word: "you'd normally expect to pay more for", "buy a couple
    # without wincing at the total"
    r"\b(?:expect(?:ed)? to|have to|would|'d|usually|normally|typically|otherwise) (?:\w+ ){0,2}?pay\b"
    r"|\bpay(?:ing)? (?:quite |a lot |a good deal |far |much |considerably |significantly )?"
    r"(?:a (?:bit|little|lot) )?more\b|\b(?:wincing|flinching|blinking|gulping) at\b"
    r"|\b(?:without|no) (?:wincing|flinching|a second thought about the (?:price|cost))\b",
]
_FINANCING = [
    r"\bfinanc(?:e|ed|ing)\b|\bmonthly (?:payments?|instal+ments?|plans?)\b|\binstal+ments?\b"
    r"|\bpayment plans?\b|\bpay (?:over time|later|monthly|in \d+|in (?:two|three|four|easy))\b"
    r"|\bspread (?:the|your) (?:cost|payments?)\b|\b0 ?% apr\b|\bapr\b|\binterest[- ]free\b"
    r"|\bklarna\b|\bafterpay\b|\baffirm\b(?= (?:financing|payments?|at checkout|available))|\bbuy now,? pay later\b|\bbnpl\b"
    r"|\bno (?:money|payment) down\b|\bat checkout\b",
]
_ASSURANCE = [
    r"\bguarantee(?:s|d)?\b|\bwarrant(?:y|ies|ied)\b|\bmoney[\s-]back\b|\brisk[\s-]free\b"
    r"|\bno[\s-]questions[\s-]asked\b|\b(?:free|easy|hassle[\s-]free) (?:returns?|exchanges?)\b|\breturn policy\b",
    r"\baward(?:s|ed|[\s-]winning)?\b|\bwinner of\b|\beditors?'?s? (?:choice|pick)\b|\bbest[\s-]sell(?:ing|ers?)\b"
    r"|#\s?1\b|\bnumber one\b|\btop[\s-]rated\b|\bhighest[\s-]rated\b|\b(?:five|5)[\s-]star\b|\brated \d(?:\.\d)? (?:out of|stars?)\b"
    r"|\bcustomer favou?rites?\b|\bfan favou?rites?\b|\bmost popular\b|\bbest in class\b|\bclass[\s-]leading\b",
    r"\bcertif(?:ied|ication|icate)s?\b|\bul[\s-](?:listed|certified|approved)\b|\bce[\s-]marked\b"
    r"|\b(?:approved|endorsed|recommended|trusted) by\b|\bbluesign\b|\boeko[\s-]tex\b|\bfair trade\b",
    # praise by others and promises: "the shoe gear testers keep recommending", "reviewers
    # keep naming it the best … of the year", "covered by our ride-it-and-love-it promise"
    r"\b(?:testers?|reviewers?|critics?|experts?|editors?|magazines?|the press|pros)\b[^.]{0,30}?\b"
    r"(?:keep |all |love |rave )?(?:recommend|rav|prais|nam|pick|rat|call|vot|choos)(?:e|es|ed|ing|s)?\b"
    r"|\bof the year\b|\b(?:our|a|the)\s+(?:[\w-]+\s+){0,3}?promise\b",
    r"\bsingled out\b|\ba standout (?:in|among|at)\b|\b(?:in|during|through) (?:[\w-]+ ){0,2}?"
    r"(?:testing|tests|reviews|trials|comparisons|group tests)\b(?=[^.]{0,30}$|[^.]{0,30}\.)",
    # a guarantee in other words: "bring it back and we'll swap it", "we stand behind the frame
    # for as long as you own it"
    r"\bstands? behind\b|\bfor as long as you own\b|\bfor (?:its|the|your) (?:whole )?life(?:time)?\b"
    r"|\bbring (?:it|them) back\b|\b(?:we'll|we will|we)\s+(?:swap|replace|refund|exchange|repair|"
    r"fix)\s+(?:it|them|yours|the)\b|\b(?:swap|replace|refund) it (?:for|free|at)\b",
]
#: Scarcity and deadlines: "last chance", "only a few left", "before it sells out", "hurry".
_SCARCITY = [
    r"\blast chance\b|\b(?:before|until) (?:it|they|stock|stocks) (?:sells?|runs?) out\b"
    r"|\bsell(?:s|ing)? out\b|\bselling fast\b|\bhurry\b"
    r"|\b(?:only|just) (?:a (?:few|handful)|\d+|few) (?:\w+ )?(?:left|remaining)\b"
    r"|\b(?:few|not many|a handful of) (?:[\w-]+ ){0,3}?(?:left|remaining)\b|\bonly a (?:handful|few)\b"
    r"|\b(?:are|is)\s+(?:going|moving|flying|selling)\s+(?:fast|quickly)\b"
    r"|\bdon'?t (?:sit on|sleep on|wait|hesitate|miss out)\b"
    r"|\b(?:left|remaining) in stock\b|\blimited (?:stock|quantit(?:y|ies)|supply|availability)\b"
    r"|\blow (?:stock|inventory)\b|\bwhile (?:it|they) lasts?\b"
    r"|\b(?:ends?|ending) (?:today|tonight|soon|this week|(?:on )?(?:mon|tues|wednes|thurs|fri|satur|sun)day)\b"
    r"|\buntil (?:mon|tues|wednes|thurs|fri|satur|sun)day\b",
    # "it's going fast", "few left in regular", "get yours before the weekend"
    r"\b(?:it's|it is|they're|they are|stock is|sizes are) (?:going|moving|flying) fast\b"
    r"|\b(?:few|not many|a handful) (?:\w+ )?(?:left|remaining)\b"
    r"|\b(?:get|grab|order|buy|claim|reserve) (?:yours|one|it|them|a pair) (?:before|by|while)\b",
]
#: Gifts and perks with the order, whatever their words: "a little surprise in every box",
#: "subscribers get a little extra with every jacket", "something extra when you order".
_PERKS = [
    r"\b(?:a )?little (?:surprise|gift|bonus|treat|thank[\s-]you)\b",
    # "a little extra with every jacket", not "a little extra warmth"
    r"\b(?:a )?little (?:something(?: extra)?|extra)\b"
    r"(?=\s*(?:[.,;:!?]|$|in\b|with\b|for\b|when\b|on\b|from\b))",
    r"\bsomething (?:extra|special)\b(?=[^.]{0,40}\b(?:box|order|purchase|pair|with|when)\b)",
    r"\b(?:surprises?|gifts?|bonus(?:es)?|freebies?|goodies|treats?|perks?|extras?|swag)\s+"
    r"(?:in|with|for) (?:every|each|your|all|the first)\b",
    r"\b(?:subscribers|members|you|everyone|buyers|customers)\s+(?:get|receive|earn|score|unlock)\s+"
    r"(?:a |an |some )?(?:little |small |free |special |extra )*(?:extra|bonus|gift|perk|treat|reward|surprise)s?\b",
]
OFFER_RE = GatedAlternation(_PRICE + _VALUE + _FINANCING + _ASSURANCE + _SCARCITY + _PERKS, re.I)


def _key(hit: str) -> str:
    hit = re.sub(r"\s+", " ", hit).lower().strip(" ,.")
    pct = re.match(r"(\d+(?:\.\d+)?)\s?(?:%|percent|per cent)", hit)
    return pct.group(1) + "%" if pct else hit


@lru_cache(maxsize=1024)
def _offers_in(text: str) -> tuple[str, ...]:
    return tuple(m.group().strip().rstrip(",") for m in OFFER_RE.finditer(cased(text)))


def invented_offers(copy: str, original: str) -> list[str]:
    """Offer words of the copy (quoted) that the original does not use."""
    allowed = {_key(h) for h in _offers_in(original or "")}
    out: list[str] = []
    for hit in _offers_in(copy or ""):
        if _key(hit) not in allowed and hit not in out:
            out.append(hit)
    return out
