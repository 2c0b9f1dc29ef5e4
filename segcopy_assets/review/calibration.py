"""Calibrating the checks from what reviewers decided.

Every review decision is a label: a variant a person rejected (or had to edit) is bad copy, one
approved as it is is good copy. Where checks and people disagree, one of them is wrong:

- **missed**: rejected or edited copy that passed every ERROR check (the checks let a defect
  through);
- **false alarm**: copy approved as it is although an ERROR check failed on it.

``calibration_stats`` counts them per prompt hash and check; ``disagreement_cases`` writes them as
corpus cases (``quality.corpus``), so the evaluation corpus grows from real use.
"""

import polars as pl

from segcopy_assets.errors import SegcopyError
from segcopy_assets.quality.corpus import Case, segment_fields
from segcopy_assets.quality.judge import CHECKS, ERROR
from segcopy_assets.review.service import ReviewTables
from segcopy_assets.storage import delta, variant_store
from segcopy_assets.storage import review_log as reviews
from segcopy_assets.storage.tables import VERDICT_SCHEMA

ALL_CHECKS = "(all ERROR checks)"
ERROR_CHECKS = [c for c, severity in CHECKS.items() if severity == ERROR]


def reviewed_variants(tables: ReviewTables) -> pl.DataFrame:
    """Current variants with their latest decision and the ERROR checks they fail
    (``failed_checks``: a list, empty when every ERROR check passes)."""
    if not delta.table_exists(tables.variants):
        raise SegcopyError("no description_variants yet: run `segcopy run` first")
    variants = variant_store.read_segments(tables.variants).filter(pl.col("status") == "ok")
    verdicts = variant_store.read_segments(tables.verdicts, schema=VERDICT_SCHEMA)
    failing = (
        verdicts.filter(~pl.col("passed") & (pl.col("severity") == ERROR))
        .group_by("input_hash")
        .agg(pl.col("check").unique().sort().alias("failed_checks"))
    )
    decisions = reviews.latest_decisions(reviews.read_reviews(tables.reviews))
    return (
        variants.join(
            decisions.select(
                "segment_id", "product_id", "input_hash", "decision", "reviewer", "note"
            ),
            on=["segment_id", "product_id", "input_hash"],
            how="inner",
        )
        .join(failing, on="input_hash", how="left")
        .with_columns(pl.col("failed_checks").fill_null(pl.lit([], dtype=pl.List(pl.String))))
    )


def calibration_stats(tables: ReviewTables) -> pl.DataFrame:
    """Per prompt hash and ERROR check: variants reviewed, how many the check failed, and how
    many of those people approved as they were (false alarms); per prompt hash, one row
    ``(all ERROR checks)``: rejected or edited copy that passed every check (missed)."""
    rows = reviewed_variants(tables)
    out = []
    for (prompt_hash,), group in rows.group_by("prompt_hash", maintain_order=True):
        decided = group.to_dicts()
        flawed = [r for r in decided if r["decision"] in ("reject", "edit")]
        out.append({
            "prompt_hash": prompt_hash, "check": ALL_CHECKS, "reviewed": len(decided),
            "failed": sum(1 for r in decided if r["failed_checks"]),
            "rejected_or_edited": len(flawed),
            "missed": sum(1 for r in flawed if not r["failed_checks"]),
            "false_alarms": sum(1 for r in decided if r["decision"] == "approve" and r["failed_checks"]),
        })  # fmt: skip
        for check in ERROR_CHECKS:
            failed = [r for r in decided if check in r["failed_checks"]]
            out.append({
                "prompt_hash": prompt_hash, "check": check, "reviewed": len(decided),
                "failed": len(failed),
                "rejected_or_edited": sum(1 for r in failed if r["decision"] in ("reject", "edit")),
                "missed": None,
                "false_alarms": sum(1 for r in failed if r["decision"] == "approve"),
            })  # fmt: skip
    schema = {
        "prompt_hash": pl.String, "check": pl.String, "reviewed": pl.Int64, "failed": pl.Int64,
        "rejected_or_edited": pl.Int64, "missed": pl.Int64, "false_alarms": pl.Int64,
    }  # fmt: skip
    return pl.DataFrame(out, schema=schema).sort("prompt_hash", "check")


def disagreement_cases(tables: ReviewTables) -> list[Case]:
    """Corpus cases for every disagreement: missed defects (label ``bad``, class
    ``unclassified``: the reviewer's note says what was wrong) and false alarms (label ``good``,
    the failing checks in the note)."""
    rows = reviewed_variants(tables)
    if rows.is_empty():
        return []
    originals = dict(pl.read_delta(tables.products).select("product_id", "description").iter_rows())
    summaries = {s["segment_id"]: s for s in pl.read_delta(tables.summaries).to_dicts()}
    cases = []
    for r in rows.iter_rows(named=True):
        missed = r["decision"] in ("reject", "edit") and not r["failed_checks"]
        false_alarm = r["decision"] == "approve" and bool(r["failed_checks"])
        if not (missed or false_alarm):
            continue
        who = f"{r['decision']} by {r['reviewer']}" + (f": {r['note']}" if r["note"] else "")
        cases.append(
            Case(
                id=f"review-{r['input_hash'][:12]}",
                product_id=r["product_id"],
                segment=segment_fields(
                    summaries.get(r["segment_id"], {"segment_id": r["segment_id"]})
                ),
                variant_text=r["variant_text"] or "",
                rationale=r["rationale"] or "",
                label="bad" if missed else "good",
                defect_class="unclassified" if missed else "reviewer_approved",
                note=f"{who} (passed every ERROR check)"
                if missed
                else f"{who}; failed {', '.join(r['failed_checks'])}",
                split="tune",
                original=originals.get(r["product_id"]),
                extra={"prompt_hash": r["prompt_hash"], "source": "review"},
            )
        )
    return cases
