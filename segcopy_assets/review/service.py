"""The human review workflow over the warehouse tables: the queue, decisions, CSV round trip.

Used by the ``segcopy review`` commands and the review page. Decisions go to the
append-only ``variant_reviews`` log; publishing reads them on its next materialization.
"""

import csv
from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from segcopy_assets import settings
from segcopy_assets.core.publication import failing_errors
from segcopy_assets.errors import InputValidationError, SegcopyError
from segcopy_assets.review.edit_rules import (
    EditRefused,
    check_settings,
    failing_edits,
    judge_edit,
)
from segcopy_assets.storage import delta, variant_store
from segcopy_assets.storage import review_log as reviews
from segcopy_assets.storage.tables import (
    DESCRIPTION_VARIANTS,
    GENERATION_RETRIES,
    PRODUCTS,
    PUBLISHED_VARIANTS,
    REVIEW_AUTH_EVENTS,
    REVIEW_BATCHES,
    SEGMENT_SUMMARIES,
    VARIANT_CHECKS,
    VARIANT_REVIEWS,
    VERDICT_SCHEMA,
)

if TYPE_CHECKING:
    from segcopy_assets.resources import Warehouse

STATUSES = ("pending", "approved", "rejected", "failed")
EXPORT_COLUMNS = [
    "segment_id",
    "product_id",
    "input_hash",
    "status",
    "failed_checks",
    "original",
    "variant_text",
    "rationale",
    "decision",
    "edited_text",
    "note",
]


@dataclass(frozen=True)
class ReviewTables:
    """Where the review workflow reads and writes: paths of the warehouse tables it uses."""

    variants: str
    verdicts: str
    reviews: str
    products: str
    summaries: str
    batches: str
    published: str
    retries: str
    auth_events: str  # the review page's shared session state

    @classmethod
    def under(cls, warehouse_schema_dir: str) -> "ReviewTables":
        def join(table: str) -> str:
            return delta.join(warehouse_schema_dir, table)

        return cls(
            variants=join(DESCRIPTION_VARIANTS),
            verdicts=join(VARIANT_CHECKS),
            reviews=join(VARIANT_REVIEWS),
            products=join(PRODUCTS),
            summaries=join(SEGMENT_SUMMARIES),
            batches=join(REVIEW_BATCHES),
            published=join(PUBLISHED_VARIANTS),
            retries=join(GENERATION_RETRIES),
            auth_events=join(REVIEW_AUTH_EVENTS),
        )

    @classmethod
    def for_warehouse(cls, warehouse: "Warehouse") -> "ReviewTables":
        """The tables of a ``Warehouse`` resource."""
        return cls.under(delta.parent(warehouse.table_path(DESCRIPTION_VARIANTS)))

    @classmethod
    def from_env(cls) -> "ReviewTables":
        """The tables of the warehouse under ``$SEGCOPY_HOME``."""
        return cls.under(delta.join(settings.warehouse_uri(), settings.WAREHOUSE_SCHEMA))


def review_queue(tables: ReviewTables) -> pl.DataFrame:
    """Every current variant with its review status, failing ERROR checks and original text.

    status: ``failed`` (generation failed or an ERROR check fails), else ``approved`` /
    ``rejected`` from the latest decision for this exact variant, else ``pending``.
    """
    if not delta.table_exists(tables.variants):
        raise SegcopyError("no description_variants yet: run `segcopy run` first")
    variants = variant_store.read_segments(tables.variants)
    verdicts = variant_store.read_segments(tables.verdicts, schema=VERDICT_SCHEMA)
    decisions = reviews.latest_decisions(reviews.read_reviews(tables.reviews))
    originals = pl.read_delta(tables.products).select(
        "product_id", pl.col("description").alias("original")
    )
    queue = (
        variants.join(failing_errors(verdicts), on="input_hash", how="left")
        .join(
            decisions.select(
                "segment_id",
                "product_id",
                "input_hash",
                "decision",
                "edited_text",
                "reviewer",
                "note",
                "decided_at",
                "carried_from",
                "edit_failed_checks",
            ),
            on=["segment_id", "product_id", "input_hash"],
            how="left",
        )
        .join(originals, on="product_id", how="left")
        .join(_superseded_pairs(tables), on=["segment_id", "product_id"], how="left")
        .with_columns(pl.col("superseded").fill_null(False))
    )
    # an edit is judged when recorded, and again here: rules, original or segment may have
    # changed since (publication judges it anew too)
    edits = queue.filter(pl.col("decision") == "edit")
    if edits.height:
        now = failing_edits(tables.summaries, edits)
        queue = queue.with_columns(
            pl.when(pl.col("decision") == "edit")
            .then(
                pl.struct("segment_id", "product_id", "input_hash").map_elements(
                    lambda r: now.get((r["segment_id"], r["product_id"], r["input_hash"])),
                    return_dtype=pl.String,
                )
            )
            .alias("edit_failed_checks")
        )
    edit = pl.col("decision") == "edit"
    failed_edit = edit & pl.col("edit_failed_checks").is_not_null()
    status = (
        pl.when((pl.col("status") != "ok") | failed_edit)
        .then(pl.lit("failed"))
        .when(edit)  # an edit is judged when it is recorded: it fixes a failing variant
        .then(pl.lit("approved"))
        .when(pl.col("failed_checks").is_not_null())
        .then(pl.lit("failed"))
        .when(pl.col("decision") == "approve")
        .then(pl.lit("approved"))
        .when(pl.col("decision") == "reject")
        .then(pl.lit("rejected"))
        .otherwise(pl.lit("pending"))
    )
    failed = (
        pl.when(pl.col("status") != "ok")
        .then(pl.lit("generation"))
        .when(failed_edit)
        .then(pl.lit("edited text fails ") + pl.col("edit_failed_checks"))
        .when(edit)
        .then(pl.lit(None, pl.String))
        .otherwise(pl.col("failed_checks"))
    )
    # superseded pairs first: their approved copy is live only until the grace period ends
    return queue.with_columns(status.alias("review_status"), failed.alias("failed_checks")).sort(
        "superseded", "segment_id", "product_id", descending=[True, False, False]
    )


def _superseded_pairs(tables: ReviewTables) -> pl.DataFrame:
    """(segment, product) whose published copy is superseded (the last publication's view)."""
    schema = {"segment_id": pl.String, "product_id": pl.String, "superseded": pl.Boolean}
    if not delta.table_exists(tables.published):
        return pl.DataFrame(schema=schema)
    published = pl.read_delta(tables.published)
    if "state" not in published.columns:
        return pl.DataFrame(schema=schema)
    return published.filter(pl.col("state") == "superseded").select(
        "segment_id", "product_id", pl.lit(True).alias("superseded")
    )


def current_variant(tables: ReviewTables, segment_id: str, product_id: str) -> dict:
    queue = review_queue(tables)
    row = queue.filter((pl.col("segment_id") == segment_id) & (pl.col("product_id") == product_id))
    if row.is_empty():
        known = queue.filter(pl.col("segment_id") == segment_id)
        hint = "unknown segment" if known.is_empty() else "unknown product for this segment"
        raise InputValidationError(
            "description_variants",
            "segment_id" if known.is_empty() else "product_id",
            f"no variant for segment {segment_id!r}, product {product_id!r} ({hint})",
        )
    found = row.row(0, named=True)
    if found["status"] != "ok":
        raise InputValidationError(
            "description_variants",
            "status",
            f"variant {segment_id}/{product_id} failed to generate ({found['error']}); regenerate it first",
        )
    return found


def decide(
    tables: ReviewTables,
    segment_id: str,
    product_id: str,
    decision: str,
    *,
    reviewer: str,
    note: str | None = None,
    edited_text: str | None = None,
    force: bool = False,
    audit: dict | None = None,
) -> dict:
    """Record one decision on the current variant of (segment, product); returns the variant
    (with ``edit_failures``: the ERROR rules an edited text fails).

    An edited text is judged first: one that fails an ERROR rule is refused (``EditRefused``,
    nothing recorded) unless ``force``, which records it marked as failing (never published).
    ``audit``: how the reviewer signed in, from where, the session (default: the command line)."""
    variant = current_variant(tables, segment_id, product_id)
    failures: list[str] = []
    if decision == "edit" and (edited_text or "").strip():
        failures = judge_edit(tables.summaries, tables.products, variant, edited_text or "")
        if failures and not force:
            raise EditRefused(segment_id, product_id, failures)
    row = reviews.make_decision(
        segment_id,
        product_id,
        variant["input_hash"],
        decision,
        reviewer=reviewer,
        note=note,
        edit_failed_checks=_failed_rules(failures),
        **(audit or {}),
        edited_text=edited_text,
    )
    reviews.append_reviews(tables.reviews, [row])
    return {**variant, "edit_failures": failures}


def _failed_rules(failures: list[str]) -> str | None:
    """``"a, b"``: the rules of ``"rule: reason"`` failures (None when it passes)."""
    return ", ".join(sorted({f.split(":")[0] for f in failures})) or None


def export_csv(tables: ReviewTables, path: str, status: str | None = None) -> int:
    """A spreadsheet for reviewers: everything to judge, and empty decision columns."""
    queue = review_queue(tables)
    if status:
        queue = queue.filter(pl.col("review_status") == status)
    out = queue.select(
        "segment_id",
        "product_id",
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
    current = {(r["segment_id"], r["product_id"]): r for r in queue.iter_rows(named=True)}
    decisions, problems = [], []
    rules = check_settings()
    for line, row in enumerate(rows, start=2):  # line 1 is the header
        decision = (row.get("decision") or "").strip().lower()
        if not decision:
            continue
        pair = (row["segment_id"], row["product_id"])
        variant = current.get(pair)
        where = f"line {line} ({pair[0]}/{pair[1]})"
        if variant is None:
            problems.append(f"{where}: no such segment/product variant")
        elif variant["input_hash"] != row["input_hash"]:
            problems.append(f"{where}: the variant was regenerated since the export; export again")
        elif variant["status"] != "ok":
            problems.append(f"{where}: the variant failed to generate")
        else:
            edited = row.get("edited_text") or ""
            failures = (
                judge_edit(tables.summaries, tables.products, variant, edited, rules)
                if decision == "edit" and edited.strip()
                else []
            )
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
