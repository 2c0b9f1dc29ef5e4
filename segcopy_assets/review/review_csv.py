"""The review queue as a spreadsheet and back: export every variant to judge with empty decision
columns; import validates every row, then appends all decisions in one commit (a bad row:
nothing written). A channel's export carries each row's arm."""

import csv

import polars as pl

from segcopy_assets.errors import InputValidationError
from segcopy_assets.review.service import ReviewTables, edit_judge, review_queue
from segcopy_assets.storage import review_log as reviews


def export_csv(tables: ReviewTables, path: str, status: str | None = None) -> int:
    """A spreadsheet for reviewers: everything to judge, and empty decision columns."""
    queue = review_queue(tables)
    if status:
        queue = queue.filter(pl.col("review_status") == status)
    arm = ["variant_index", "angle"] if tables.channel else []
    out = queue.select(
        "segment_id",
        "product_id",
        *arm,
        "input_hash",
        pl.col("review_status").alias("status"),
        pl.col("failed_checks").fill_null(""),
        "original",
        "variant_text",
        "rationale",
        pl.lit("").alias("decision"),
        pl.lit("").alias("edited_text"),
        pl.lit("").alias("note"),
    )
    out.write_csv(path)
    return out.height


def import_csv(tables: ReviewTables, path: str, *, reviewer: str) -> int:
    """Validate every row, then append all decisions in one commit; any bad row → nothing written.

    Rows with an empty decision are skipped (not reviewed yet).
    """
    table = f"review CSV {path}"
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.DictReader(f))
    except FileNotFoundError:
        raise InputValidationError(table, None, "file not found") from None
    required = {"segment_id", "product_id", "input_hash", "decision"}
    missing = required - set(rows[0].keys() if rows else required)
    if missing:
        raise InputValidationError(
            table, sorted(missing)[0], f"required column(s) missing: {sorted(missing)}"
        )
    queue = review_queue(tables)
    current: dict[tuple[str, str], list[dict]] = {}
    for r in queue.iter_rows(named=True):  # a channel pair has one row per arm
        current.setdefault((r["segment_id"], r["product_id"]), []).append(r)
    decisions, problems = [], []
    judge = edit_judge(tables)
    for line, row in enumerate(rows, start=2):  # line 1 is the header
        decision = (row.get("decision") or "").strip().lower()
        if not decision:
            continue
        pair = (row["segment_id"], row["product_id"])
        arms = current.get(pair, [])
        variant = next((v for v in arms if v["input_hash"] == row["input_hash"]), None)
        where = f"line {line} ({pair[0]}/{pair[1]})"
        if not arms:
            problems.append(f"{where}: no such segment/product variant")
        elif variant is None:
            problems.append(f"{where}: the variant was regenerated since the export; export again")
        elif variant["status"] != "ok":
            problems.append(f"{where}: the variant failed to generate")
        else:
            edited = row.get("edited_text") or ""
            failures = judge(variant, edited) if decision == "edit" and edited.strip() else []
            if failures:
                problems.append(f"{where}: the edited text fails " + "; ".join(failures))
                continue
            try:
                decisions.append(
                    reviews.make_decision(
                        pair[0],
                        pair[1],
                        row["input_hash"],
                        decision,
                        reviewer=reviewer,
                        note=(row.get("note") or "").strip() or None,
                        edited_text=edited,
                    )
                )
            except InputValidationError as exc:
                problems.append(f"{where}: {exc}")
    if problems:
        raise InputValidationError(
            table,
            None,
            f"{len(problems)} bad row(s), nothing imported:\n  " + "\n  ".join(problems),
        )
    if decisions:
        reviews.append_reviews(tables.reviews, decisions)
    return len(decisions)
