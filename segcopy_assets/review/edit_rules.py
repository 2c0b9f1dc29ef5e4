"""An edited text is judged when it is recorded: every deterministic ERROR rule, against the
product's original and the segment as they are now, with the rules publication applies."""

import functools
import json

import polars as pl

from segcopy_assets import settings as paths
from segcopy_assets.core.publication import edit_failures
from segcopy_assets.errors import InputValidationError
from segcopy_assets.quality.judge import CheckSettings
from segcopy_assets.storage.tables import VARIANT_REVIEWS


class EditRefused(InputValidationError):
    """The edited text fails ERROR rules; nothing was recorded."""

    def __init__(self, segment_id: str, product_id: str, failures: list[str]):
        self.failures = failures
        super().__init__(
            VARIANT_REVIEWS,
            "edited_text",
            f"the edited text of {segment_id}/{product_id} fails {len(failures)} rule(s) and was "
            "not recorded:\n  "
            + "\n  ".join(failures)
            + "\nfix the text, or record it anyway with --force (it is then not published)",
        )


def check_settings() -> CheckSettings:
    """The rules publication judges edits by (the environment's thresholds and brand voice)."""
    from segcopy_assets.resources import quality_rules_from_env

    return quality_rules_from_env().settings(str(paths.prompts_dir()))


def judge_edit(
    summaries_path: str,
    products_path: str,
    variant: dict,
    edited_text: str,
    rules: CheckSettings | None = None,
) -> list[str]:
    """``"check: reason"`` for every ERROR rule the edited text of ``variant`` (a review queue
    row: segment, product, rationale, original) fails."""
    segment = (
        pl.scan_delta(summaries_path)
        .filter(pl.col("segment_id") == variant["segment_id"])
        .collect()
    )
    original = variant.get("original")
    if original is None:
        products = pl.scan_delta(products_path).filter(
            pl.col("product_id") == variant["product_id"]
        )
        found = products.select("description").collect()
        original = found["description"][0] if found.height else ""
    return edit_failures(
        edited_text,
        variant.get("rationale") or "",
        original or "",
        segment.row(0, named=True) if segment.height else {},
        rules or check_settings(),
    )


def failing_edits(tables_summaries: str, edits: pl.DataFrame) -> dict[tuple, str]:
    """``(segment, product, input_hash)`` → the ERROR rules its edited text fails under the
    rules, original and segment of today (what publication applies), for the queue rows in
    ``edits`` (``segment_id, product_id, input_hash, edited_text, rationale, original``). An edit
    recorded as passing can fail later (new rules, a changed segment): the queue says so, as
    publication does. Judged once per (text, original, segment, rules) in a process."""
    if edits.is_empty():
        return {}
    rules = check_settings()
    segments = {
        r["segment_id"]: r
        for r in pl.scan_delta(tables_summaries)
        .filter(pl.col("segment_id").is_in(edits["segment_id"].unique().to_list()))
        .collect()
        .iter_rows(named=True)
    }
    out = {}
    for r in edits.iter_rows(named=True):
        segment = segments.get(r["segment_id"], {})
        failing = _judged(
            r["edited_text"] or "",
            r["rationale"] or "",
            r["original"] or "",
            json.dumps(segment, sort_keys=True, default=str),
            rules,
        )
        if failing:
            out[(r["segment_id"], r["product_id"], r["input_hash"])] = failing
    return out


@functools.lru_cache(maxsize=4096)
def _judged(text: str, rationale: str, original: str, segment: str, rules: CheckSettings) -> str:
    failures = edit_failures(text, rationale, original, json.loads(segment), rules)
    return ", ".join(sorted({f.split(":")[0] for f in failures}))
