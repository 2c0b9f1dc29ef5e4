"""Acceptance sampling: review a random sample of a batch, accept or reject the whole batch.

Quality control's answer to "no team reads 10,000 variants": a *batch* is the publishable
variants of one segment made with one prompt hash (the current variants that pass every ERROR
check), or of every segment with one prompt hash. A reviewer reads a random sample of ``n``
of them. Zero defects in ``n`` draws bound the batch's defect rate at ``p`` with confidence
``c`` when ``(1 - p) ** n <= 1 - c``, i.e. ``n = ceil(ln(1 - c) / ln(1 - p))`` (59 for 5 % at
95 %; the whole batch when it is smaller).

- The sample is drawn deterministically from the batch id (a hash of the segment, the prompt
  hash and the members), so two reviewers see the same sample.
- Every sampled variant approved as it is: the batch is **accepted** and every member is
  published (``approval = "sample"``) with the batch id, the sample size, the rejections (0)
  and the bound ("≤ 5 % defective at 95 %").
- One sampled variant rejected, or edited (an edit publishes the edited text but counts as a
  defect of the batch): the batch is **rejected**; its other members need their own review.
- Members are fixed when the batch is drawn: a regenerated variant (new input hash) leaves its
  batch and needs a review (or a new batch) of its own.
"""

import hashlib
import json
import math
import random
from dataclasses import dataclass

import polars as pl

ACCEPTED, REJECTED, PENDING = "accepted", "rejected", "pending"
ALL_SEGMENTS = "*"


# The plans segcopy accepts. p below 0.0001 asks for samples of tens of thousands (and, near
# 1e-16, 1 - p rounds to 1: no sample size at all); p above 0.5 bounds nothing useful. c below
# 0.5 is a coin toss; above 0.9999 the sample grows without the bound meaning more.
P_MIN, P_MAX = 0.0001, 0.5
C_MIN, C_MAX = 0.5, 0.9999


@dataclass(frozen=True)
class SamplingPlan:
    """Zero-acceptance single sampling: bound the defect rate at ``p`` with confidence ``c``.

    Every plan made here (the web form, ``segcopy review sample --p/--c``,
    ``SEGCOPY_SAMPLE_P/C``) is within ``P_MIN <= p <= P_MAX`` and ``C_MIN <= c <= C_MAX``
    (NaN and infinities are not); the largest sample is then 92,099 (p = 0.0001, c = 0.9999).
    A plan stored with a batch drawn before these bounds is read with :meth:`recorded`.
    """

    p: float = 0.05
    c: float = 0.95

    def __post_init__(self) -> None:
        if not (P_MIN <= self.p <= P_MAX and C_MIN <= self.c <= C_MAX):  # False for NaN too
            raise ValueError(
                f"a sampling plan needs {P_MIN} <= p <= {P_MAX} (the defect rate to bound) and "
                f"{C_MIN} <= c <= {C_MAX} (the confidence), not p={self.p}, c={self.c}"
            )

    @classmethod
    def recorded(cls, p: float, c: float) -> "SamplingPlan":
        """The plan stored with a batch, as it was drawn: not checked against today's bounds
        (earlier versions took any 0 < p, c < 1), so old batches still read."""
        plan = object.__new__(cls)
        object.__setattr__(plan, "p", float(p))
        object.__setattr__(plan, "c", float(c))
        return plan

    @property
    def n(self) -> int:
        """The sample size for a large batch."""
        return math.ceil(math.log(1 - self.c) / math.log(1 - self.p) - 1e-9)

    def sample_size(self, batch_size: int) -> int:
        return min(self.n, batch_size)

    def bound(self, sample_size: int, batch_size: int) -> str:
        """What an accepted batch guarantees, in words."""
        if sample_size >= batch_size:
            return "every variant reviewed"
        return f"≤ {self.p * 100:g} % defective at {self.c * 100:g} % confidence"


def batch_id(segment_id: str, prompt_hash: str, members: list[str]) -> str:
    blob = json.dumps([segment_id, prompt_hash, sorted(members)])
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def draw_sample(batch: str, members: list[str], n: int) -> list[str]:
    """``n`` members drawn at random, the same for everyone who draws from this batch."""
    rng = random.Random(int(batch, 16))
    return sorted(rng.sample(sorted(members), min(n, len(members))))


@dataclass(frozen=True)
class BatchOutcome:
    state: str  # accepted | rejected | pending
    approved: int
    rejections: int  # rejected or edited
    pending: int


def outcome(sample: list[str], decisions: dict[str, str]) -> BatchOutcome:
    """The batch's state from the latest decision on each sampled variant (by input hash):
    ``approve`` counts for the batch; ``reject`` and ``edit`` are defects."""
    approved = sum(1 for h in sample if decisions.get(h) == "approve")
    rejections = sum(1 for h in sample if decisions.get(h) in ("reject", "edit"))
    pending = len(sample) - approved - rejections
    if rejections:
        state = REJECTED
    elif pending:
        state = PENDING
    else:
        state = ACCEPTED
    return BatchOutcome(state, approved, rejections, pending)


@dataclass(frozen=True)
class Acceptance:
    """Why a member of an accepted batch may be published without its own review."""

    batch_id: str
    sample_size: int
    rejections: int
    bound: str


def decisions_since_draw(batches: list[dict], reviews: pl.DataFrame) -> dict[str, dict[str, str]]:
    """batch id → {input hash of a sampled variant: the latest decision on it made since the
    batch was drawn}. A decision made before the draw (a variant rejected last week, then drawn
    into today's sample) says nothing about the batch: it neither accepts nor rejects it.
    ``batches``: rows of the review_batches table (``created_at``); ``reviews``: the review log."""
    out: dict[str, dict[str, str]] = {b["batch_id"]: {} for b in batches}
    if reviews.is_empty() or not batches:
        return out
    drawn = pl.DataFrame(
        {
            "batch_id": [b["batch_id"] for b in batches],
            "input_hash": [list(b["sample"]) for b in batches],
            "drawn_at": [b["created_at"] for b in batches],
        },
        schema={
            "batch_id": pl.String,
            "input_hash": pl.List(pl.String),
            "drawn_at": reviews.schema["decided_at"],
        },
    ).explode("input_hash")
    since = (
        drawn.join(
            reviews.select("input_hash", "decision", "decided_at").with_row_index("_order"),
            on="input_hash",
        )
        .filter(pl.col("decided_at") >= pl.col("drawn_at"))
        .sort("decided_at", "_order")
        .group_by("batch_id", "input_hash", maintain_order=True)
        .last()
    )
    for row in since.iter_rows(named=True):
        out[row["batch_id"]][row["input_hash"]] = row["decision"]
    return out


def accepted_members(
    batches: list[dict], decisions: dict[str, dict[str, str]]
) -> dict[str, Acceptance]:
    """input hash → the accepted batch that covers it (``batches``: rows of the review_batches
    table; ``decisions``: per batch id, the latest decision per sampled input hash made since
    the draw, :func:`decisions_since_draw`)."""
    out: dict[str, Acceptance] = {}
    for batch in batches:
        result = outcome(list(batch["sample"]), decisions.get(batch["batch_id"], {}))
        if result.state != ACCEPTED:
            continue
        plan = SamplingPlan.recorded(batch["plan_p"], batch["plan_c"])
        members = list(batch["members"])
        acceptance = Acceptance(
            batch["batch_id"], len(batch["sample"]), result.rejections,
            plan.bound(len(batch["sample"]), len(members)),
        )  # fmt: skip
        for member in members:
            out.setdefault(member, acceptance)
    return out
