"""Deciding what went stale: pure functions the sensors and ``segcopy run`` call (no Dagster,
no I/O).

A variant row records the hashes it was generated from (prompt, segment summary, product
content). Comparing them with the current ones says exactly which segments need a run.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import polars as pl

#: A change that leaves stale segments scattered over the partition order runs at most this many
#: range runs; fresh segments between two merged blocks are rematerialized too (reusing all).
MAX_RANGE_RUNS = 8


@dataclass(frozen=True)
class SegmentPlan:
    added: list[str]  # new segments: become partitions and get a run
    removed: list[str]  # vanished segments: partitions deleted (rows stay in history)
    changed: list[str]  # summary moved since their variants were generated: a run
    unchanged: list[str]  # nothing to do

    @property
    def to_run(self) -> list[str]:
        return sorted({*self.added, *self.changed})


def plan_segment_refresh(
    current: Mapping[str, str],
    partitions: Iterable[str],
    generated_from: Mapping[str, set[str]],
) -> SegmentPlan:
    """``current``: segment_id → summary_hash now; ``partitions``: the ``segments`` partitions;
    ``generated_from``: segment_id → summary hashes its current variant rows were made from."""
    partitions = list(partitions)
    known = set(partitions)
    added = sorted(s for s in current if s not in known)
    removed = sorted(s for s in known if s not in current)
    changed, unchanged = [], []
    for segment in sorted(s for s in current if s in known):
        if generated_from.get(segment) == {current[segment]}:
            unchanged.append(segment)
        else:
            changed.append(segment)
    return SegmentPlan(added, removed, changed, unchanged)


def summary_changes(before: Mapping[str, str], after: Mapping[str, str]) -> dict[str, list[str]]:
    """Segments new, changed (summary_hash moved) and removed between two summaries tables."""
    return {
        "new": sorted(s for s in after if s not in before),
        "changed": sorted(s for s in after if s in before and before[s] != after[s]),
        "removed": sorted(s for s in before if s not in after),
    }


def contiguous_blocks(ordered_keys: list[str], wanted: Iterable[str]) -> list[list[str]]:
    """Split ``wanted`` into runs of neighbours in partition order, so each block can be ONE
    run over a partition range without touching the segments between blocks."""
    wanted = set(wanted)
    blocks, block = [], []
    for key in ordered_keys:
        if key in wanted:
            block.append(key)
        elif block:
            blocks.append(block)
            block = []
    if block:
        blocks.append(block)
    return blocks


def stale_by_hash(
    expected: str | set[str], generated: Mapping[str, set[str]], segments: Iterable[str]
) -> list[str]:
    """Segments whose variant rows were not all generated from ``expected`` (one hash, e.g. the
    prompt hash, or the set of current product content hashes)."""
    want = {expected} if isinstance(expected, str) else set(expected)
    return sorted(s for s in segments if generated.get(s) != want)


def merge_blocks(ordered_keys: list[str], blocks: list[list[str]], at_most: int) -> list[list[str]]:
    """At most ``at_most`` range runs: while there are more blocks, join the two neighbours with
    the fewest fresh partitions between them (those are rematerialized too, reusing everything)."""
    position = {key: k for k, key in enumerate(ordered_keys)}
    spans = [(position[b[0]], position[b[-1]]) for b in blocks]
    while len(spans) > max(1, at_most):
        gaps = [spans[k + 1][0] - spans[k][1] for k in range(len(spans) - 1)]
        k = gaps.index(min(gaps))
        spans[k : k + 2] = [(spans[k][0], spans[k + 1][1])]
    return [ordered_keys[a : b + 1] for a, b in spans]


def stale_segments(
    expected: pl.DataFrame,
    stored: pl.DataFrame,
    verdicts: pl.DataFrame,
    rules_hash: str,
    parked: pl.DataFrame | None = None,
) -> list[str]:
    """Segments whose variants or verdicts are not what a run now would produce.

    ``expected``: (segment_id, product_id, input_hash) of every pair a run would generate;
    ``stored``: (segment_id, product_id, input_hash, status) of the variants table;
    ``verdicts``: (segment_id, product_id, input_hash, check, rules_hash) of the verdicts table;
    ``parked``: (segment_id, product_id) of the pairs parked after failing too often
    (``generation.failures``): a run would not send them, so they make nothing stale.
    A segment is stale when its stored rows are not exactly its expected pairs generated ok
    (a moved summary, product or prompt changes the input hash; a failed call, a missing or an
    extra pair), or when a variant lacks verdicts under the current ``rules_hash``.
    """
    if parked is not None and parked.height:
        keys = parked.select("segment_id", "product_id")
        expected = expected.join(keys, on=["segment_id", "product_id"], how="anti")
        stored = stored.join(keys, on=["segment_id", "product_id"], how="anti")
        verdicts = verdicts.join(keys, on=["segment_id", "product_id"], how="anti")
    pair = ["segment_id", "product_id", "input_hash"]
    wanted = expected.select(pair).unique()
    ok = stored.filter(pl.col("status") == "ok").select(pair)
    counts = (
        stored.group_by("segment_id")
        .len("stored")
        .join(wanted.group_by("segment_id").len("expected"), on="segment_id", how="full")
    )
    content = verdicts.filter(~pl.col("check").is_in(["coverage", "well_formed"]))
    judged = content.filter(pl.col("rules_hash") == rules_hash).select(pair).unique()
    stale = pl.concat(
        [
            stored.filter(pl.col("status") != "ok").select("segment_id"),
            counts.filter(pl.col("stored").fill_null(0) != pl.col("expected").fill_null(0)).select(
                pl.coalesce("segment_id", "segment_id_right").alias("segment_id")
            ),
            wanted.join(ok, on=pair, how="anti").select("segment_id"),
            ok.join(wanted, on=pair, how="anti").select("segment_id"),
            wanted.join(judged, on=pair, how="anti").select("segment_id"),
            content.filter(pl.col("rules_hash").ne_missing(rules_hash)).select("segment_id"),
        ]
    )
    present = set(wanted["segment_id"].unique().to_list())
    return sorted(s for s in stale["segment_id"].unique().to_list() if s in present)
