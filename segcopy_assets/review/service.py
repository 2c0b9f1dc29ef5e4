"""The human review workflow over the warehouse tables: the queue and decisions (the CSV round
trip is ``review.review_csv``).

Used by the ``segcopy review`` commands and the review page. Decisions go to the
append-only ``variant_reviews`` log; publishing reads them on its next materialization.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from segcopy_assets import settings
from segcopy_assets.core.continuity import CHANNEL_SLOT, PAIR
from segcopy_assets.core.publication import failing_errors
from segcopy_assets.errors import InputValidationError, SegcopyError
from segcopy_assets.generation.channels import WEB_DESCRIPTION
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
    channel: str | None = None  # a channel's tables (review.channel_review); None: the description

    @classmethod
    def under(cls, warehouse_schema_dir: str, channel: str | None = None) -> "ReviewTables":
        """The description's tables under ``warehouse_schema_dir``, or a channel's."""

        def join(table: str) -> str:
            return delta.join(warehouse_schema_dir, table)

        if channel is not None and channel != WEB_DESCRIPTION:
            from segcopy_assets.review.channel_review import channel_review_tables

            return channel_review_tables(cls.under(warehouse_schema_dir), channel)
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
    def for_warehouse(cls, warehouse: "Warehouse", channel: str | None = None) -> "ReviewTables":
        """The tables of a ``Warehouse`` resource (a channel's, if named)."""
        return cls.under(delta.parent(warehouse.table_path(DESCRIPTION_VARIANTS)), channel)

    @classmethod
    def from_env(cls, channel: str | None = None) -> "ReviewTables":
        """The tables of the warehouse under ``$SEGCOPY_HOME`` (a channel's, if named)."""
        return cls.under(delta.join(settings.warehouse_uri(), settings.WAREHOUSE_SCHEMA), channel)


def review_queue(tables: ReviewTables) -> pl.DataFrame:
    """Every current variant with its review status, failing ERROR checks and original text.

    status: ``failed`` (generation failed or an ERROR check fails), else ``approved`` /
    ``rejected`` from the latest decision for this exact variant, else ``pending``.
    """
    if not delta.table_exists(tables.variants):
        raise SegcopyError(f"no {delta.basename(tables.variants)} yet: run `segcopy run` first")
    variants = _variants(tables)
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
        .join(_superseded_slots(tables), on=list(slot_key(tables)), how="left")
        .with_columns(pl.col("superseded").fill_null(False))
    )
    # an edit is judged when recorded, and again here: rules, original or segment may have
    # changed since (publication judges it anew too)
    edits = queue.filter(pl.col("decision") == "edit")
    if edits.height:
        now = _failing_edits(tables, edits)
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
    # superseded slots first: their approved copy is live only until the grace period ends
    key = list(slot_key(tables))
    return queue.with_columns(status.alias("review_status"), failed.alias("failed_checks")).sort(
        "superseded", *key, descending=[True] + [False] * len(key)
    )


def slot_key(tables: ReviewTables) -> tuple[str, ...]:
    """The columns that name one published slot: a pair, or (a channel's) a pair and its arm."""
    return CHANNEL_SLOT if tables.channel else PAIR


def _variants(tables: ReviewTables) -> pl.DataFrame:
    if tables.channel:
        return variant_store.read_channel_rows(tables.variants, None)
    return variant_store.read_segments(tables.variants)


def _failing_edits(tables: ReviewTables, edits: pl.DataFrame) -> dict[tuple, str]:
    if not tables.channel:
        return failing_edits(tables.summaries, edits)
    judge = edit_judge(tables)
    out: dict[tuple, str] = {}
    for r in edits.iter_rows(named=True):
        failed = _failed_rules(judge(r, r["edited_text"] or ""))
        if failed:
            out[(r["segment_id"], r["product_id"], r["input_hash"])] = failed
    return out


def edit_judge(tables: ReviewTables) -> Callable[[dict, str], list[str]]:
    """``(variant, edited_text) -> ["check: reason", ...]``: the ERROR rules an edited text of a
    queue row fails; the description's rules (the environment's settings), or the channel's
    checks. What they read (settings, channel, products, segments) is read once here."""
    if not tables.channel:
        rules = check_settings()
        return lambda variant, text: judge_edit(
            tables.summaries, tables.products, variant, text, rules
        )
    from segcopy_assets.review.channel_review import channel_rules, load_review_channel

    judge = channel_rules(load_review_channel(tables.channel), pl.read_delta(tables.products))
    segments = {s["segment_id"]: s for s in pl.read_delta(tables.summaries).to_dicts()}

    def failures(variant: dict, text: str) -> list[str]:
        segment = segments.get(variant["segment_id"], {})
        return judge(text, variant.get("rationale") or "", segment, variant["product_id"])

    return failures


def _superseded_slots(tables: ReviewTables) -> pl.DataFrame:
    """The slots whose published copy is superseded (the last publication's view)."""
    key = slot_key(tables)
    schema = {
        **{c: pl.Int64 if c == "variant_index" else pl.String for c in key},
        "superseded": pl.Boolean,
    }
    if not delta.table_exists(tables.published):
        return pl.DataFrame(schema=schema)
    published = pl.read_delta(tables.published)
    if "state" not in published.columns:
        return pl.DataFrame(schema=schema)
    return published.filter(pl.col("state") == "superseded").select(
        *key, pl.lit(True).alias("superseded")
    )


def current_variant(
    tables: ReviewTables, segment_id: str, product_id: str, arm: int | None = None
) -> dict:
    """The current variant of (segment, product), of one ``arm`` when a channel has several."""
    table = delta.basename(tables.variants)
    queue = review_queue(tables)
    row = queue.filter((pl.col("segment_id") == segment_id) & (pl.col("product_id") == product_id))
    if row.is_empty():
        known = queue.filter(pl.col("segment_id") == segment_id)
        hint = "unknown segment" if known.is_empty() else "unknown product for this segment"
        raise InputValidationError(
            table,
            "segment_id" if known.is_empty() else "product_id",
            f"no variant for segment {segment_id!r}, product {product_id!r} ({hint})",
        )
    if tables.channel:
        from segcopy_assets.review.channel_review import pick_arm

        row = pick_arm(row, table, f"{segment_id}/{product_id}", arm)
    found = row.row(0, named=True)
    if found["status"] != "ok":
        raise InputValidationError(
            table,
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
    arm: int | None = None,
) -> dict:
    """Record one decision on the current variant of (segment, product); returns the variant
    (with ``edit_failures``: the ERROR rules an edited text fails).

    An edited text is judged first: one that fails an ERROR rule is refused (``EditRefused``,
    nothing recorded) unless ``force``, which records it marked as failing (never published).
    ``audit``: how the reviewer signed in, from where, the session (default: the command line);
    ``arm``: which arm of a channel pair with several."""
    variant = current_variant(tables, segment_id, product_id, arm)
    failures: list[str] = []
    if decision == "edit" and (edited_text or "").strip():
        failures = edit_judge(tables)(variant, edited_text or "")
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
