"""What customers may see: approved (or edited) copy of current variants that passes the checks.

Publication works per variant: one bad variant never holds back the good, approved copy of its
segment. An edited text is judged again before it is published. A variant nobody reviewed is
published when an accepted acceptance-sampling batch covers it (``core.sampling``), with the
batch and its bound recorded.
"""

import polars as pl

from segcopy_assets.core.sampling import Acceptance
from segcopy_assets.quality.judge import ERROR, CheckSettings, judge_variant
from segcopy_assets.storage.review_log import latest_decisions
from segcopy_assets.storage.tables import PUBLISHED_SCHEMA


def failing_errors(verdicts: pl.DataFrame) -> pl.DataFrame:
    """``input_hash, failed_checks`` for variants with at least one failing ERROR verdict."""
    return (
        verdicts.filter(
            ~pl.col("passed") & (pl.col("severity") == ERROR) & pl.col("input_hash").is_not_null()
        )
        .group_by("input_hash")
        .agg(pl.col("check").unique().sort().str.join(", ").alias("failed_checks"))
    )


def select_published(
    variants: pl.DataFrame,
    verdicts: pl.DataFrame,
    reviews: pl.DataFrame,
    *,
    segments: dict[str, dict],
    originals: dict[str, str],
    settings: CheckSettings,
    auto_approve_passing_checks: bool = False,
    accepted: dict[str, Acceptance] | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(published, withheld)``: published rows (``PUBLISHED_SCHEMA``) and, for every current
    variant left out, ``segment_id, product_id, reason``. ``accepted``: input hash → the
    accepted sampling batch covering it."""
    accepted = accepted or {}
    current = variants.filter(pl.col("segment_id").is_in(list(segments)))
    decisions = latest_decisions(reviews)
    failing = failing_errors(verdicts)
    joined = current.join(
        decisions.select(
            "segment_id",
            "product_id",
            "input_hash",
            "decision",
            "edited_text",
            "reviewer",
            "decided_at",
        ),
        on=["segment_id", "product_id", "input_hash"],
        how="left",
    ).join(failing, on="input_hash", how="left")

    published, withheld = [], []
    for row in joined.sort("segment_id", "product_id").iter_rows(named=True):
        key = {"segment_id": row["segment_id"], "product_id": row["product_id"]}
        decision = row["decision"]
        if row["status"] != "ok":
            withheld.append({**key, "reason": f"generation failed: {row['error']}"})
            continue
        if decision == "reject":
            withheld.append({**key, "reason": f"rejected by {row['reviewer']}"})
            continue
        if decision == "edit":
            verdicts_now = judge_variant(
                row["edited_text"],
                row["rationale"] or "",
                originals.get(row["product_id"], ""),
                segments[row["segment_id"]],
                settings,
            )
            errors = [v for v in verdicts_now if not v.passed and v.severity == ERROR]
            if errors:
                withheld.append(
                    {
                        **key,
                        "reason": "edited text fails "
                        + "; ".join(f"{v.check}: {v.reason}" for v in errors),
                    }
                )
                continue
            text, approval = row["edited_text"], "edit"
        elif row["failed_checks"]:
            withheld.append({**key, "reason": f"fails {row['failed_checks']}"})
            continue
        elif decision == "approve":
            text, approval = row["variant_text"], "approve"
        elif row["input_hash"] in accepted:
            text, approval = row["variant_text"], "sample"
        elif auto_approve_passing_checks:
            text, approval = row["variant_text"], "auto"
        else:
            withheld.append({**key, "reason": "not reviewed"})
            continue
        published.append(
            {
                **key,
                "published_text": text,
                "input_hash": row["input_hash"],
                "approval": approval,
                "reviewer": row["reviewer"],
                "decided_at": row["decided_at"],
                "model": row["model"],
                "prompt_hash": row["prompt_hash"],
                **_batch_fields(accepted.get(row["input_hash"]) if approval == "sample" else None),
            }
        )
    withheld_frame = pl.DataFrame(
        withheld, schema={"segment_id": pl.String, "product_id": pl.String, "reason": pl.String}
    )
    return pl.DataFrame(published, schema=PUBLISHED_SCHEMA), withheld_frame


def _batch_fields(acceptance: Acceptance | None) -> dict:
    if acceptance is None:
        return {"batch_id": None, "sample_size": None, "sample_rejections": None, "bound": None}
    return {
        "batch_id": acceptance.batch_id,
        "sample_size": acceptance.sample_size,
        "sample_rejections": acceptance.rejections,
        "bound": acceptance.bound,
    }
