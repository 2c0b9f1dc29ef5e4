"""The quality dashboard's numbers: per segment and prompt hash, what the checks and the
reviewers said, and how the sampled batches came out.

Plain data for the review page (``/dashboard``): the page renders the tables and a bar chart
(server-side SVG, no script) from what ``dashboard`` returns.
"""

from dataclasses import dataclass, field

import polars as pl

from segcopy_assets.quality.judge import CHECKS, ERROR
from segcopy_assets.review.batches import batches
from segcopy_assets.review.calibration import ALL_CHECKS, calibration_stats
from segcopy_assets.review.service import ReviewTables
from segcopy_assets.storage import review_log, variant_store
from segcopy_assets.storage.tables import VERDICT_SCHEMA


@dataclass(frozen=True)
class Bar:
    label: str
    value: float  # 0..1
    text: str


@dataclass
class Dashboard:
    rows: list[dict]  # per segment x prompt hash
    check_rates: list[Bar]  # pass rate per check, over every current variant
    batches: list[dict]
    disagreements: list[dict]  # per prompt hash (calibration)
    checks: list[str] = field(default_factory=list)


def _rate(n: int, d: int) -> float | None:
    return round(n / d, 4) if d else None


def dashboard(tables: ReviewTables) -> Dashboard:
    variants = variant_store.read_segments(tables.variants).filter(pl.col("status") == "ok")
    verdicts = variant_store.read_segments(tables.verdicts, schema=VERDICT_SCHEMA)
    verdicts = verdicts.filter(pl.col("input_hash").is_in(variants["input_hash"].to_list()))
    decisions = review_log.latest_decisions(review_log.read_reviews(tables.reviews))
    decided = variants.join(
        decisions.select("segment_id", "product_id", "input_hash", "decision"),
        on=["segment_id", "product_id", "input_hash"],
        how="left",
    )
    checks = [c for c in CHECKS if c in set(verdicts["check"].to_list())]
    keyed = verdicts.join(variants.select("input_hash", "prompt_hash"), on="input_hash", how="left")
    rows = []
    for (segment_id, prompt_hash), group in decided.group_by(
        "segment_id", "prompt_hash", maintain_order=True
    ):
        v = keyed.filter(
            (pl.col("segment_id") == segment_id) & (pl.col("prompt_hash") == prompt_hash)
        )
        n = group.height
        counts = {d: int((group["decision"] == d).sum()) for d in ("approve", "edit", "reject")}
        reviewed = sum(counts.values())
        errors = v.filter(~pl.col("passed") & (pl.col("severity") == ERROR))
        row = {
            "segment_id": segment_id,
            "prompt_hash": prompt_hash,
            "variants": n,
            "passing": n - errors["input_hash"].n_unique(),
            "reviewed": reviewed,
            **{f"{d}_rate": _rate(c, reviewed) for d, c in counts.items()},
            "pass_rates": {
                c: _rate(
                    int(v.filter(pl.col("check") == c)["passed"].sum()),
                    v.filter(pl.col("check") == c).height,
                )
                for c in checks
            },
        }
        rows.append(row)
    rates = []
    for c in checks:
        of = keyed.filter(pl.col("check") == c)
        r = _rate(int(of["passed"].sum()), of.height) or 0.0
        rates.append(Bar(c, r, f"{r:.0%} of {of.height}"))
    drawn = [
        {"batch_id": b.batch_id, "segment_id": b.segment_id, "prompt_hash": b.prompt_hash,
         "members": len(b.members), "sample": len(b.sample), "state": b.outcome.state,
         "approved": b.outcome.approved, "rejections": b.outcome.rejections,
         "pending": b.outcome.pending, "bound": b.bound, "current": b.current}
        for b in batches(tables)
    ]  # fmt: skip
    calibration = calibration_stats(tables)
    disagreements = calibration.filter(pl.col("check") == ALL_CHECKS).to_dicts()
    return Dashboard(sorted(rows, key=lambda r: (r["segment_id"], r["prompt_hash"])), rates, drawn,
                     disagreements, checks)  # fmt: skip


def bar_chart(
    bars: list[Bar], width: int = 640, bar_height: int = 22, label_width: int = 190
) -> dict:
    """Geometry of a horizontal bar chart for an SVG template (no script, no external asset)."""
    plot = width - label_width - 90
    items = [
        {"y": i * (bar_height + 6), "label": b.label, "w": round(plot * max(0.0, min(1.0, b.value)), 1),
         "text": b.text, "low": b.value < 0.9}
        for i, b in enumerate(bars)
    ]  # fmt: skip
    return {
        "width": width,
        "height": max(1, len(items)) * (bar_height + 6),
        "bar_height": bar_height,
        "label_width": label_width,
        "plot": plot,
        "items": items,
    }
