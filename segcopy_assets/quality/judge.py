"""Deterministic quality checks for ONE generated variant at a time (plain functions, no Dagster).

Each check returns a :class:`Verdict`. ``ERROR`` checks guard what must never be published
(a dropped fact, an invented discount, copy that tells the reader who they are, a refusal);
``WARN`` checks flag what a reviewer should look at (length, words the brand voice avoids).
The rules live beside this module: ``facts`` (what must be kept), ``claims`` (offers, identity,
refusals), ``places`` and ``brand_voice``; text is compared after ``normalise``.
"""

from collections.abc import Set as AbstractSet
from dataclasses import dataclass

import polars as pl

from segcopy_assets.core.hashing import variant_hash
from segcopy_assets.quality.answers import rationale_problems, rationale_without_segment, refusals
from segcopy_assets.quality.brand_voice import avoided_in
from segcopy_assets.quality.fact_matching import facts_missing
from segcopy_assets.quality.facts import extract_facts, per_pair_as_each
from segcopy_assets.quality.features import dropped_features, invented_features
from segcopy_assets.quality.normalise import norm, word_count
from segcopy_assets.quality.offers import invented_offers
from segcopy_assets.quality.places import places_named
from segcopy_assets.quality.prose import structure_found
from segcopy_assets.quality.quantities import swapped_numbers, unsupported_numbers
from segcopy_assets.quality.voice import voice_problems
from segcopy_assets.storage.tables import VERDICT_SCHEMA

ERROR, WARN = "ERROR", "WARN"

CHECKS: dict[str, str] = {
    "coverage": ERROR,
    "well_formed": ERROR,
    "rationale_present": ERROR,
    "plain_prose": ERROR,
    "facts_preserved": ERROR,
    "no_invented_features": ERROR,
    "no_invented_offers": ERROR,
    "whole_segment_voice": ERROR,
    "no_refusal": ERROR,
    "llm_judge": ERROR,  # its verdicts carry their own severity (quoted: ERROR, unquoted: WARN)
    "length_in_bounds": WARN,
    "brand_voice": WARN,
}
#: The checks judge_variant runs on one variant (coverage and well_formed are per partition,
#: llm_judge is the optional model call of quality.llm_judge).
CONTENT_CHECKS = tuple(c for c in CHECKS if c not in ("coverage", "well_formed", "llm_judge"))

#: Columns judge_partition reads; a frame without one of them is a bug (ValueError).
NEEDED_COLUMNS = (
    "segment_id",
    "product_id",
    "input_hash",
    "variant_text",
    "rationale",
    "status",
    "error",
)
#: Columns that must not be null on an ``ok`` row.
REQUIRED_ON_OK = ("segment_id", "product_id", "input_hash", "variant_text", "status")
#: What a pair's row may say: a variant, or that its generation failed (generation.failures).
STATUSES = ("ok", "failed")
#: Read when present: a failed replacement recorded beside the last good row (coverage).
FAILURE_COLUMNS = ("attempts", "attempted_hash", "last_error")

#: The verdict table judge_partition returns is ``storage.tables.VERDICT_SCHEMA``.


@dataclass(frozen=True)
class Verdict:
    check: str
    passed: bool
    severity: str
    reason: str  # "" when passed


@dataclass(frozen=True)
class CheckSettings:
    place_share_threshold: float = (
        0.5  # a region/state/city may be named only if it holds >= this share
    )
    min_words: int = 30
    max_words: int = 250
    min_length_ratio: float = 0.6  # variant words / original words
    max_length_ratio: float = 1.5
    avoid_words: tuple[str, ...] = ()


def _verdict(check: str, problems: list[str] | str | None) -> Verdict:
    if isinstance(problems, list):
        problems = "; ".join(problems)
    return Verdict(check, not problems, CHECKS[check], problems or "")


# --------------------------------------------------------------------------------------
# One variant
# --------------------------------------------------------------------------------------


def fact_problems(copy: str, original: str) -> list[str]:
    """Facts of the original the copy drops, changes, moves or adds to (each quoted)."""
    problems = []
    normalized = norm(copy)
    missing = facts_missing(tuple(extract_facts(original)), normalized)
    if missing:
        problems.append("missing facts: " + ", ".join(f'"{f}"' for f in missing))
    dropped = dropped_features(copy, original)
    if dropped:
        problems.append(
            "features of the original left out: " + ", ".join(f'"{f}"' for f in dropped)
        )
    problems += unsupported_numbers(copy, original)
    problems += swapped_numbers(copy, original)
    problems += per_pair_as_each(copy, original)
    return problems


def length_problems(copy: str, original: str, settings: CheckSettings) -> list[str]:
    problems = []
    n, n_orig = word_count(copy), word_count(original)
    if not settings.min_words <= n <= settings.max_words:
        problems.append(f"{n} words, outside {settings.min_words}-{settings.max_words}")
    if n_orig:
        ratio = n / n_orig
        if not settings.min_length_ratio <= ratio <= settings.max_length_ratio:
            problems.append(
                f"{ratio:.2f}x the original's {n_orig} words ({n} words), outside "
                f"{settings.min_length_ratio:g}-{settings.max_length_ratio:g}x"
            )
    return problems


def brand_voice_problems(copy: str, original: str, settings: CheckSettings) -> list[str]:
    used = avoided_in(copy, original, tuple(settings.avoid_words))
    return (
        ["uses words the brand voice avoids: " + ", ".join(f'"{w}"' for w in used)] if used else []
    )


def _quoted(label: str, items: list[str]) -> list[str]:
    return [f"{label}: " + ", ".join(f'"{i}"' for i in items)] if items else []


def judge_variant(
    variant_text: str, rationale: str, original: str, segment: dict, settings: CheckSettings
) -> list[Verdict]:
    """Every deterministic content check for one ``ok`` variant, in ``CHECKS`` order (coverage
    and well_formed are judged per partition by :func:`judge_partition`). A failing verdict's
    reason quotes the words that triggered it."""
    copy = (variant_text or "").strip()
    original = original or ""
    segment = segment or {}
    threshold = settings.place_share_threshold
    places = places_named(copy, original, segment, threshold)
    problems = {
        "rationale_present": rationale_problems(copy, rationale)
        or rationale_without_segment(rationale, segment),
        "plain_prose": _quoted("not plain prose", structure_found(copy)),
        "facts_preserved": fact_problems(copy, original),
        "no_invented_features": _quoted(
            "features the original does not state", invented_features(copy, original)
        ),
        "no_invented_offers": _quoted(
            "offer claims not in the original", invented_offers(copy, original)
        ),
        "whole_segment_voice": voice_problems(copy, original)
        + (
            [
                f"names places held by less than {round(threshold * 100)}% of the segment: "
                + "; ".join(places)
            ]
            if places
            else []
        ),
        "no_refusal": _quoted("reads like a refusal", refusals(copy)),
        "length_in_bounds": length_problems(copy, original, settings),
        "brand_voice": brand_voice_problems(copy, original, settings),
    }
    return [_verdict(check, problems[check]) for check in CONTENT_CHECKS]


# --------------------------------------------------------------------------------------
# One partition
# --------------------------------------------------------------------------------------


def judge_partition(
    variants: pl.DataFrame,
    expected_pairs: list[tuple[str, str]],
    originals: dict[str, str],
    segments: dict[str, dict],
    settings: CheckSettings,
    *,
    rules_hash: str | None = None,
    judged: AbstractSet[tuple] = frozenset(),
) -> pl.DataFrame:
    """The verdict table for some segments' variants (rows of ``VARIANT_SCHEMA``).

    * ``coverage``: one verdict per expected pair (no row, no ``ok`` row, or an ``ok`` row kept
      while its replacement fails to generate: ``generation.failures``).
    * ``well_formed``: one verdict per present row (duplicate pair, unexpected pair, a required
      column null on an ok row, a null key or status on any row, a status neither ``ok`` nor
      ``failed``): a bug, never an answer the model got wrong.
    * the content checks of :func:`judge_variant` for every row whose status is ``ok``.

    ``judged`` holds the (segment, product, input_hash, variant_hash) keys whose content verdicts
    under ``rules_hash`` are already stored: those rows get only the structural verdicts here
    (the caller adds the stored ones). A column of ``NEEDED_COLUMNS`` missing from the frame
    raises ``ValueError`` (a bug upstream). Rows come out per pair: its coverage verdict, then
    each row's verdicts in ``CHECKS`` order. Every verdict carries the row's ``variant_hash``.
    """
    absent = [c for c in NEEDED_COLUMNS if c not in variants.columns]
    if absent:
        raise ValueError(f"variants frame lacks required column(s): {', '.join(absent)}")
    optional = [c for c in FAILURE_COLUMNS if c in variants.columns]
    rows = variants.select(*NEEDED_COLUMNS, *optional).to_dicts()
    expected = list(dict.fromkeys((str(s), str(p)) for s, p in expected_pairs))
    expected_set = set(expected)
    by_pair: dict[tuple, list[dict]] = {}
    for row in rows:
        by_pair.setdefault((row["segment_id"], row["product_id"]), []).append(row)

    out: list[dict] = []
    order = {c: k for k, c in enumerate(CHECKS)}
    for row in rows:
        row["variant_hash"] = variant_hash(row["variant_text"], row["rationale"], row["status"])

    def add(seg, prod, ihash, verdict: Verdict, source: int, vhash: str | None):
        out.append(
            {
                "segment_id": seg,
                "product_id": prod,
                "input_hash": ihash,
                "check": verdict.check,
                "passed": verdict.passed,
                "severity": verdict.severity,
                "reason": verdict.reason,
                "variant_hash": vhash,
                "rules_hash": rules_hash,
                "_source": source,
                "_order": order[verdict.check],
            }
        )

    for seg, prod in expected:
        present = by_pair.get((seg, prod), [])
        ok = [r for r in present if r["status"] == "ok"]
        if ok:
            r = ok[0]
            attempted = r.get("attempted_hash")
            replacement_failed = attempted is not None and attempted != r["input_hash"]
            add(
                seg,
                prod,
                r["input_hash"],
                _verdict(
                    "coverage",
                    f"its new generation failed ({r.get('attempts') or 0} counted attempt(s)): "
                    f"{r.get('last_error') or 'no error recorded'}; the last good variant "
                    "stays current"
                    if replacement_failed
                    else None,
                ),
                -1,
                r["variant_hash"],
            )
        elif not present:
            add(seg, prod, None, _verdict("coverage", "no variant for this pair"), -1, None)
        else:
            r = present[0]
            add(
                seg,
                prod,
                r["input_hash"],
                _verdict(
                    "coverage",
                    f"status is {r['status']!r}, not 'ok': {r['error'] or 'no error recorded'}",
                ),
                -1,
                r["variant_hash"],
            )

    for source, row in enumerate(rows):
        seg, prod, ihash = row["segment_id"], row["product_id"], row["input_hash"]
        problems = []
        count = len(by_pair[(seg, prod)])
        if count > 1:
            problems.append(f"{count} rows for this pair")
        if seg is not None and prod is not None and (seg, prod) not in expected_set:
            problems.append("unexpected pair: not among the expected segment x product pairs")
        required = (
            REQUIRED_ON_OK if row["status"] == "ok" else ("segment_id", "product_id", "status")
        )
        nulls = [c for c in required if row[c] is None]
        if nulls:
            problems.append(f"null {', '.join(nulls)}")
        if row["status"] is not None and row["status"] not in STATUSES:
            problems.append(f"status {row['status']!r} is neither 'ok' nor 'failed'")
        vhash = row["variant_hash"]
        add(seg, prod, ihash, _verdict("well_formed", problems), source, vhash)

        if row["status"] != "ok" or (seg, prod, ihash, vhash) in judged:
            continue
        original = originals.get(prod)
        verdicts = judge_variant(
            row["variant_text"], row["rationale"], original or "", segments.get(seg) or {}, settings
        )
        for v in verdicts:
            if v.check == "facts_preserved" and original is None:
                v = _verdict("facts_preserved", f"no original description for product {prod!r}")
            add(seg, prod, ihash, v, source, vhash)

    frame = pl.DataFrame(out, schema={**VERDICT_SCHEMA, "_source": pl.Int64, "_order": pl.Int64})
    return frame.sort(
        ["segment_id", "product_id", "_source", "_order"], nulls_last=True, maintain_order=True
    ).select(list(VERDICT_SCHEMA))
