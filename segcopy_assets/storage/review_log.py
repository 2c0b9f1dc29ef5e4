"""The review log: an append-only Delta table of human decisions on variants.

A decision binds to the variant's ``input_hash``: when a variant is regenerated (new prompt,
segment or product), the old decision no longer applies and the new copy needs a fresh review.
The latest decision for an (segment, product, input_hash) wins, so two reviewers deciding at
once are both recorded and the later one counts. The table is created with Delta's
``delta.appendOnly`` property (set on an older log at its next append): a commit that would remove
or rewrite a row is refused by the table itself, whoever writes it. Each row carries its audit
trail: who (normalised), how they signed in, from where, and the session id's hash.
"""

from datetime import UTC, datetime

import polars as pl
from deltalake import DeltaTable, write_deltalake

from segcopy_assets.core.user_names import normalise_name
from segcopy_assets.errors import InputValidationError
from segcopy_assets.storage.delta import table_exists
from segcopy_assets.storage.delta_commits import retry_refused_commits
from segcopy_assets.storage.tables import REVIEW_SCHEMA, VARIANT_REVIEWS

DECISIONS = ("approve", "reject", "edit")
#: How a decision's reviewer was known (the audit trail): the page's password sign-in, a trusted
#: proxy's header, the single-user page on 127.0.0.1, the command line, an approval carried over.
SIGN_IN_WAYS = ("password", "header", "local", "cli", "carried")
#: Delta's own guard: with it, a commit that removes or rewrites rows is refused by the table.
APPEND_ONLY = "delta.appendOnly"


def read_reviews(path: str) -> pl.DataFrame:
    """Every decision, oldest first (columns the log predates read null)."""
    if not table_exists(path):
        return REVIEW_SCHEMA.to_frame()
    frame = pl.read_delta(path)
    return frame.select(
        pl.col(c) if c in frame.columns else pl.lit(None, dtype).alias(c)
        for c, dtype in REVIEW_SCHEMA.items()
    )


def make_decision(
    segment_id: str,
    product_id: str,
    input_hash: str,
    decision: str,
    *,
    reviewer: str,
    note: str | None = None,
    edited_text: str | None = None,
    edit_failed_checks: str | None = None,
    via: str = "cli",
    client_address: str | None = None,
    session_hash: str | None = None,
) -> dict:
    """One decision row; ``edit_failed_checks``: the ERROR rules a forced edit fails; ``via``,
    ``client_address``, ``session_hash``: the audit trail (how, from where, which session). The
    reviewer's name is kept in its normalised form (``users.normalise_name``)."""
    if decision not in DECISIONS:
        raise InputValidationError(
            VARIANT_REVIEWS, "decision", f"{decision!r} is not one of {DECISIONS}"
        )
    if decision == "edit" and not (edited_text or "").strip():
        raise InputValidationError(VARIANT_REVIEWS, "edited_text", "an edit needs the edited text")
    if not normalise_name(reviewer):
        raise InputValidationError(VARIANT_REVIEWS, "reviewer", "a decision needs a reviewer name")
    if via not in SIGN_IN_WAYS:
        raise ValueError(f"via must be one of {SIGN_IN_WAYS}, not {via!r}")
    return {
        "segment_id": segment_id,
        "product_id": product_id,
        "input_hash": input_hash,
        "decision": decision,
        "edited_text": (edited_text or "").strip() or None,
        "reviewer": normalise_name(reviewer),
        "note": note or None,
        "decided_at": datetime.now(UTC),
        "carried_from": None,
        "edit_failed_checks": edit_failed_checks or None,
        "signed_in_via": via,
        "client_address": client_address or None,
        "session_hash": session_hash or None,
    }


@retry_refused_commits(attempts=8, max_wait_s=2)
def append_reviews(path: str, decisions: list[dict]) -> int:
    """Append decisions in ONE commit (all or nothing); returns the new table version.

    Several reviewers creating the log at the same moment can make delta-rs refuse a commit
    ("protocol/metadata changed"); a refused commit wrote nothing, so it is simply retried."""
    if not decisions:
        raise ValueError("no decisions to append")
    frame = pl.DataFrame(decisions, schema=REVIEW_SCHEMA)
    if table_exists(path):
        table = DeltaTable(path)
        if table.metadata().configuration.get(APPEND_ONLY) != "true":
            table.alter.set_table_properties({APPEND_ONLY: "true"})  # a log from before
        # schema_mode merge: a log written before a column existed gets it (older rows: null)
        write_deltalake(path, frame.to_arrow(), mode="append", schema_mode="merge")
    else:
        write_deltalake(path, frame.to_arrow(), mode="append", configuration={APPEND_ONLY: "true"})
    return DeltaTable(path).version()


def latest_decisions(reviews: pl.DataFrame) -> pl.DataFrame:
    """The decision in force per (segment_id, product_id, input_hash): the latest one."""
    if reviews.is_empty():
        return reviews
    return (
        reviews.with_row_index("_order")
        .sort("decided_at", "_order")
        .group_by("segment_id", "product_id", "input_hash", maintain_order=True)
        .last()
        .drop("_order")
    )
