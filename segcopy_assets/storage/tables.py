"""segcopy's own Delta tables: every table name, written once, and the schemas of the tables
that are written outside the IO manager.

A table lives at ``<warehouse root>/<settings.WAREHOUSE_SCHEMA>/<name>`` (``Warehouse.table_path``).
"""

from typing import Any

import polars as pl


def _schema(columns: dict[str, Any]) -> pl.Schema:
    return pl.Schema(columns)


# Assets stored by the warehouse IO manager (the asset name is the table name).
CDP_CUSTOMERS = "cdp_customers"
SEGMENT_SUMMARIES = "segment_summaries"
PRODUCTS = "products"
PUBLISHED_VARIANTS = "published_variants"

# Tables segcopy writes itself.
DESCRIPTION_VARIANTS = (
    "description_variants"  # one row per segment x product, partitioned by segment
)
VARIANT_CHECKS = "variant_checks"  # one verdict per variant x check
VARIANT_REVIEWS = "variant_reviews"  # the append-only review log
GENERATION_JOURNAL = "generation_journal"  # completed calls of a run not yet written
JUDGE_ANSWERS = "judge_answers"  # the LLM judge's answers, cached by what it judged
REVIEW_BATCHES = "review_batches"  # acceptance-sampling batches: members and the drawn sample
CUSTOMER_SEGMENTS = "customer_segments"  # the activation table: one row per customer -> segment
GENERATION_BATCHES = "generation_batches"  # Batch API submissions: one row per state change
GENERATION_RETRIES = "generation_retries"  # a person asked to send parked pairs again
REVIEW_AUTH_EVENTS = "review_auth_events"  # the review page's sign-in attempts and sign-outs
SEGMENT_CUBE = "segment_cube"  # customers per combination of the columns a summary reads


def channel_variants_table(channel: str) -> str:
    """A channel's variants (``prompts/channels/<channel>/``): as description_variants."""
    return f"{channel}_variants"


def channel_checks_table(channel: str) -> str:
    """A channel's check verdicts (``VERDICT_SCHEMA``): as variant_checks."""
    return f"{channel}_checks"


def channel_journal_table(channel: str) -> str:
    """A channel's completed calls not yet written: as generation_journal."""
    return f"{channel}_journal"


def channel_reviews_table(channel: str) -> str:
    """A channel's append-only review log (``REVIEW_SCHEMA``): as variant_reviews."""
    return f"{channel}_reviews"


def channel_published_table(channel: str) -> str:
    """A channel's published copy (``CHANNEL_PUBLISHED_SCHEMA``): as published_variants, one
    row per pair x arm."""
    return f"{channel}_published"


def channel_review_batches_table(channel: str) -> str:
    """A channel's acceptance-sampling batches (``REVIEW_BATCH_SCHEMA``): as review_batches."""
    return f"{channel}_review_batches"


def channel_batches_table(channel: str) -> str:
    """A channel's Batch API submissions (``GENERATION_BATCH_SCHEMA``): as generation_batches."""
    return f"{channel}_batches"


def channel_retries_table(channel: str) -> str:
    """Requests to send a channel's parked pairs again (``RETRY_SCHEMA``): as generation_retries."""
    return f"{channel}_retries"


def channel_tables(channel: str) -> tuple[str, str, str]:
    """What a channel's variants run writes: variants, verdicts, journal."""
    return (
        channel_variants_table(channel),
        channel_checks_table(channel),
        channel_journal_table(channel),
    )


def channel_all_tables(channel: str) -> tuple[str, ...]:
    """Every table of a channel: its run's, its Batch API state, its review log, sampling
    batches and published copy."""
    return (
        *channel_tables(channel),
        channel_batches_table(channel),
        channel_retries_table(channel),
        channel_reviews_table(channel),
        channel_review_batches_table(channel),
        channel_published_table(channel),
    )


#: What ``segcopy run`` reports, in pipeline order.
REPORTED = (
    CDP_CUSTOMERS,
    SEGMENT_SUMMARIES,
    PRODUCTS,
    DESCRIPTION_VARIANTS,
    VARIANT_CHECKS,
    PUBLISHED_VARIANTS,
    CUSTOMER_SEGMENTS,
)

VARIANT_SCHEMA = _schema(
    {
        "segment_id": pl.String,
        "product_id": pl.String,
        "variant_text": pl.String,
        "rationale": pl.String,
        "raw_output": pl.String,
        "backend": pl.String,
        "model": pl.String,
        "prompt_hash": pl.String,
        "summary_hash": pl.String,
        "content_hash": pl.String,
        "input_hash": pl.String,
        "prompt_tokens": pl.Int64,
        "completion_tokens": pl.Int64,
        "latency_ms": pl.Float64,
        "generated_at": pl.Datetime("us", "UTC"),
        "status": pl.String,
        "error": pl.String,
        # the provider batch that wrote it (null for an online call)
        "batch_id": pl.String,
        # Failed generations of ``attempted_hash`` in a row (null: none pending). On an ``ok``
        # row with another input hash they are a replacement that failed: the row is the last
        # good variant, kept current until an ``ok`` answer replaces it (generation.failures).
        "attempts": pl.Int64,
        "attempted_hash": pl.String,
        "last_error": pl.String,
        "last_attempt_at": pl.Datetime("us", "UTC"),
        "failing_since": pl.Datetime("us", "UTC"),  # the first failed attempt of attempted_hash
        # the repair loop (generation.repair): repairs sent for this answer (null: none), the
        # first answer and the ERROR rules it failed ("check: reason; ...")
        "repair_attempts": pl.Int64,
        "first_answer": pl.String,
        "first_failures": pl.String,
        # what the repairs cost, apart from the first answer's tokens above (null: none sent)
        "repair_prompt_tokens": pl.Int64,
        "repair_completion_tokens": pl.Int64,
    }
)

#: Append-only: a person asked for parked pairs to be sent again (``segcopy retry``, the page).
RETRY_SCHEMA = _schema(
    {
        "segment_id": pl.String,
        "product_id": pl.String,
        "input_hash": pl.String,  # the inputs that were parked
        "requested_by": pl.String,
        "requested_at": pl.Datetime("us", "UTC"),
    }
)

#: A pair of a batch: enough to build its variant row from the answer alone.
BATCH_PAIR = pl.Struct(
    {
        "input_hash": pl.String,
        "segment_id": pl.String,
        "product_id": pl.String,
        "summary_hash": pl.String,
        "content_hash": pl.String,
    }
)

#: Append-only: a batch's state is its row of highest state rank (batch_store.STATE_RANK); the
#: intent row carries the pairs, the collected row the lines that came back without copy.
GENERATION_BATCH_SCHEMA = _schema(
    {
        "batch_key": pl.String,  # request_key-part: the run-stable identity of one file
        "request_key": pl.String,  # fingerprint of the submission's requests, model, prompt
        "part": pl.Int64,
        "parts": pl.Int64,
        "state": pl.String,
        "batch_id": pl.String,
        "input_file_id": pl.String,
        "output_file_id": pl.String,
        "error_file_id": pl.String,
        "model": pl.String,
        "prompt_hash": pl.String,
        "requests": pl.Int64,
        "completed": pl.Int64,
        "failed": pl.Int64,
        "segment_ids": pl.List(pl.String),
        "pairs": pl.List(BATCH_PAIR),
        "line_errors": pl.List(pl.Struct({"input_hash": pl.String, "error": pl.String})),
        "message": pl.String,
        # null: first answers; repair<N>: the Nth repair of answers that failed an ERROR rule
        # (generation.batch_repairs)
        "purpose": pl.String,
        "recorded_at": pl.Datetime("us", "UTC"),
    }
)

#: A channel's variants (``channel_variants_table``): the description's columns, and the arm.
CHANNEL_VARIANT_SCHEMA = _schema(
    {
        **VARIANT_SCHEMA,
        "variant_index": pl.Int64,  # 0 .. SEGCOPY_VARIANTS_PER_PAIR - 1
        "angle": pl.String,  # the arm's angle, named by the channel's prompt (null: one arm)
    }
)

VERDICT_SCHEMA = _schema(
    {
        "segment_id": pl.String,
        "product_id": pl.String,
        "input_hash": pl.String,
        "check": pl.String,
        "passed": pl.Boolean,
        "severity": pl.String,
        "reason": pl.String,
        # what was judged and under which rules: a verdict is reused while both match
        "variant_hash": pl.String,
        "rules_hash": pl.String,
    }
)

REVIEW_SCHEMA = _schema(
    {
        "segment_id": pl.String,
        "product_id": pl.String,
        "input_hash": pl.String,
        "decision": pl.String,
        "edited_text": pl.String,
        "reviewer": pl.String,
        "note": pl.String,
        "decided_at": pl.Datetime("us", "UTC"),
        # an approval carried over to a new variant with identical text: the variant approved
        "carried_from": pl.String,
        # an edit recorded with --force although its text fails ERROR rules: which (else null)
        "edit_failed_checks": pl.String,
        # the audit trail: how the reviewer (normalised name) signed in (password | header |
        # local: the single-user page | cli | carried: an approval carried over), from where
        # (the client address as the trusted proxy reports it) and the session id's hash
        "signed_in_via": pl.String,
        "client_address": pl.String,
        "session_hash": pl.String,
    }
)

#: Append-only: the review page's session state shared by every review process.
AUTH_EVENT_SCHEMA = _schema(
    {
        "kind": pl.String,  # attempt | success | signout
        "event_id": pl.String,
        "user_name": pl.String,  # normalised
        "address": pl.String,
        "ref": pl.String,  # success: the attempt's id; signout: the session id's hash
        "at": pl.Datetime("us", "UTC"),
        "until": pl.Datetime("us", "UTC"),  # signout: when the session would have ended
    }
)

PUBLISHED_SCHEMA = _schema(
    {
        "segment_id": pl.String,
        "product_id": pl.String,
        "published_text": pl.String,
        "input_hash": pl.String,
        "approval": pl.String,  # approve | edit | sample | auto
        "reviewer": pl.String,
        "decided_at": pl.Datetime("us", "UTC"),
        "model": pl.String,
        "prompt_hash": pl.String,
        # acceptance sampling: the batch that let this variant through (null when reviewed itself)
        "batch_id": pl.String,
        "sample_size": pl.Int64,
        "sample_rejections": pl.Int64,
        "bound": pl.String,
        # what the copy was written from: a changed product withdraws it at once
        "summary_hash": pl.String,
        "content_hash": pl.String,
        # current | superseded: the pair's variant was replaced and the new one is not approved
        # yet; superseded copy stays live for the grace period (core.continuity)
        "state": pl.String,
        "superseded_at": pl.Datetime("us", "UTC"),
        "superseded_by": pl.String,  # the input hash of the variant that replaces it
    }
)

#: A channel's published copy: the description's columns, and the arm (one row per pair x arm).
CHANNEL_PUBLISHED_SCHEMA = _schema(
    {
        **PUBLISHED_SCHEMA,
        "variant_index": pl.Int64,
        "angle": pl.String,
    }
)

# The activation table: a reader joins it to published_variants on segment_id for the copy
# (core/activation.py::customer_copy, sql/customer_copy.*.sql).
CUSTOMER_SEGMENTS_SCHEMA = _schema(
    {
        "customer_id": pl.String,
        "segment_id": pl.String,
        "summary_hash": pl.String,  # the segment's definition the customer was assigned under
        "definitions_hash": pl.String,  # the whole segmentation's (keys, tiers, every segment)
        "assigned_at": pl.Datetime("us", "UTC"),
    }
)

JUDGE_ANSWER_SCHEMA = _schema(
    {
        "judge_key": pl.String,
        "model": pl.String,
        "judge_prompt_hash": pl.String,
        "answer": pl.String,
        "prompt_tokens": pl.Int64,
        "completion_tokens": pl.Int64,
        "judged_at": pl.Datetime("us", "UTC"),
    }
)

REVIEW_BATCH_SCHEMA = _schema(
    {
        "batch_id": pl.String,
        "segment_id": pl.String,  # "*": every segment with this prompt hash
        "prompt_hash": pl.String,
        "members": pl.List(pl.String),  # input hashes, fixed when the batch is drawn
        "sample": pl.List(pl.String),
        "plan_p": pl.Float64,
        "plan_c": pl.Float64,
        "created_at": pl.Datetime("us", "UTC"),
        "created_by": pl.String,
    }
)
