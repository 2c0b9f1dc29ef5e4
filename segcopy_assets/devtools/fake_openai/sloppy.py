"""A sloppy copywriter for the fake endpoint: most answers are the default reply, a seeded share of
pairs get the unusable answers real models give at scale.

=============  =====  ================================================================
kind           share  the answer
=============  =====  ================================================================
no_rationale    5 %   the copy alone, no ``**Rationale:**`` section (the row fails)
refusal         2 %   "I'm sorry, but I can't …"; half of them with a Rationale (an ``ok``
                      row that the ``no_refusal`` check must hold back), half without
truncated       1 %   a rambling answer longer than ``max_tokens``: cut off (the row fails)
=============  =====  ================================================================

Which pair gets which answer is drawn from a hash of the seed and the request's messages (the
segment and the product), never from the order requests arrive in. A share
``sticky`` of the faulty pairs answer the same way every time they are asked (as a model at
temperature 0 does); the others answer well from their second request on. Used by
``python -m bench.faults --scenario sloppy``.
"""

import hashlib
import random
import threading
from typing import Any

from .replies import default_reply, is_judge_request, judge_reply, message_text

RATES = {"no_rationale": 0.05, "refusal": 0.02, "truncated": 0.01}
REFUSAL = "I'm sorry, but I can't help with rewriting this product description."


class SloppyResponder:
    """A ``FakeOpenAIServer(responder=...)``; picklable (it crosses into a spawned process)."""

    def __init__(self, seed: int = 7, rates: dict[str, float] | None = None, sticky: float = 0.5):
        self.seed = seed
        self.rates = dict(RATES if rates is None else rates)
        if sum(self.rates.values()) > 1:
            raise ValueError("fault rates add up to more than 1")
        self.sticky = sticky
        self._requests: dict[str, int] = {}
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_lock"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    @staticmethod
    def pair_key(body: dict[str, Any]) -> str:
        """The pair a request is for: its messages (segment in the system prompt, product in
        the user message)."""
        text = "\n".join(message_text(m) for m in body.get("messages") or [])
        return hashlib.sha256(text.encode()).hexdigest()[:24]

    def fault(self, key: str) -> tuple[str | None, bool, bool]:
        """(kind or None, sticky, a refusal with a Rationale) of a pair."""
        rng = random.Random(f"{self.seed}|{key}")
        r, edge, kind = rng.random(), 0.0, None
        for name, rate in self.rates.items():
            edge += rate
            if r < edge:
                kind = name
                break
        return kind, rng.random() < self.sticky, rng.random() < 0.5

    def __call__(self, body: dict[str, Any]) -> str:
        if is_judge_request(body):
            return judge_reply()
        key = self.pair_key(body)
        with self._lock:
            n = self._requests[key] = self._requests.get(key, 0) + 1
        kind, sticky, with_rationale = self.fault(key)
        if kind is None or (n > 1 and not sticky):
            return default_reply(body)
        if kind == "no_rationale":
            return default_reply(body, "none")
        if kind == "refusal":
            if with_rationale:
                return f"{REFUSAL}\n\n**Rationale:** The request asks for marketing copy I cannot write."
            return REFUSAL
        words = " ".join(["and", "then", "it", "keeps", "going"] * 200)  # ~1,300 tokens
        return f"{default_reply(body)} {words}"

    def stats(self) -> dict[str, Any]:
        """Requests per pair and the faults drawn (for the bench's report)."""
        with self._lock:
            requests = dict(self._requests)
        kinds: dict[str, int] = {}
        sticky = 0
        for key in requests:
            kind, is_sticky, _ = self.fault(key)
            if kind:
                kinds[kind] = kinds.get(kind, 0) + 1
                sticky += is_sticky
        return {
            "pairs_asked": len(requests),
            "max_requests_per_pair": max(requests.values(), default=0),
            "faulty_pairs": kinds,
            "sticky_faulty_pairs": sticky,
        }
