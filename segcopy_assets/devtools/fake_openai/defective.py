"""A copywriter whose first answers carry realistic defects, for the repair loop
(``generation.repair``, ``python -m bench.repair``): a seeded share of pairs get the default
reply with one defect of a class the checks know, and a repair request (the conversation with
the first answer as the assistant's turn) gets the clean reply, as a model that fixes what it is
told does. A seeded share of repairs (``bad_repair``) answers with another defect instead.

=================  ================================================================
defect             what the first answer does
=================  ================================================================
offer              adds a shipping offer the original does not make
persona            opens by telling the reader who they are
changed_number     changes the first measured number of the original's facts
segment_leak       talks about the segment's tiers
=================  ================================================================

Which pair gets which defect is drawn from a hash of the seed and the request's first two
messages (the segment and the product), never from the order requests arrive in.
"""

import hashlib
import random
import re
from typing import Any

from .replies import default_reply, is_judge_request, judge_reply, message_text

DEFECTS = ("offer", "persona", "changed_number", "segment_leak")
RATIONALE = "**Rationale:**"


def _inject(reply: str, defect: str) -> str:
    copy, sep, rationale = reply.partition(RATIONALE)
    copy = copy.rstrip()
    if defect == "offer":
        copy = f"{copy} Free shipping on every order this week."
    elif defect == "persona":
        copy = f"As a dedicated weekend warrior, you deserve gear like this. {copy}"
    elif defect == "changed_number":
        # the first measured number (not a model's name: "Basecamp 2"), one more
        match = re.search(
            r"\d+(?:\.\d+)?(?=\s?(?:kg|g|mm|cm|km|m|Nm|Wh|W|°C|litres?|minutes)\b)", copy
        )
        if match:
            text = match.group()
            bumped = str(float(text) + 1) if "." in text else str(int(text) + 1)
            copy = copy[: match.start()] + bumped + copy[match.end() :]
        else:
            copy = f"{copy} It weighs 2.5 kg."
    elif defect == "segment_leak":
        copy = f"{copy} Picked for our Gold and Platinum members."
    return f"{copy}\n\n{sep}{rationale}" if sep else copy


class DefectiveResponder:
    """A ``FakeOpenAIServer(responder=...)``; picklable (it crosses into a spawned process)."""

    def __init__(self, seed: int = 11, rate: float = 0.15, bad_repair: float = 0.0):
        if not 0 <= rate <= 1 or not 0 <= bad_repair <= 1:
            raise ValueError("rate and bad_repair are shares between 0 and 1")
        self.seed, self.rate, self.bad_repair = seed, rate, bad_repair

    def draw(self, body: dict[str, Any]) -> tuple[str | None, str | None]:
        """(the first answer's defect, the repair's defect) of the request's pair."""
        first_two = [message_text(m) for m in (body.get("messages") or [])[:2]]
        key = hashlib.sha256("\n".join(first_two).encode()).hexdigest()[:24]
        rng = random.Random(f"{self.seed}|{key}")
        defect = rng.choice(DEFECTS) if rng.random() < self.rate else None
        again = rng.choice([d for d in DEFECTS if d != defect]) if defect else None
        return defect, (again if rng.random() < self.bad_repair else None)

    def __call__(self, body: dict[str, Any]) -> str:
        if is_judge_request(body):
            return judge_reply()
        messages = body.get("messages") or []
        original = {**body, "messages": messages[:2]}
        clean = default_reply(original)
        defect, repair_defect = self.draw(body)
        if any(m.get("role") == "assistant" for m in messages):  # a repair request
            return _inject(clean, repair_defect) if repair_defect else clean
        return _inject(clean, defect) if defect else clean
