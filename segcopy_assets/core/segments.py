"""Segment summaries: who is in each segment, in numbers and in a prompt-ready paragraph.

The walkthrough's optional step 3, done for every segment at once with polars: one streaming
group-by over the customer table (the count of every combination of the columns used), every
distribution from that small frame, then a few dozen rows of Python.
"""

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import polars as pl

VALUE_GROUP = "value_group"
HIGH_VALUE = "high value"
CORE = "core"

# Profile dimensions summarised as shares of the segment, in the order the description lists them.
PROFILE_DIMENSIONS: dict[str, str] = {
    "predicted_clv_tier": "Predicted lifetime value tier",
    "discount_sensitivity": "Discount sensitivity",
    "price_preference": "Price preference",
    "lifecycle_status": "Lifecycle status",
}
# Places are summarised as the top few, since there are many of them.
PLACE_DIMENSIONS: dict[str, tuple[str, int]] = {
    "region": ("top_regions", 3),
    "state": ("top_states", 5),
    "city": ("top_cities", 5),
}

KEY_LABELS = {
    "preferred_subcategory": "preferred subcategory",
    "preferred_category": "preferred category",
    VALUE_GROUP: "predicted value group",
    "predicted_clv_tier": "predicted lifetime value tier",
}


@dataclass(frozen=True)
class SegmentationSpec:
    """How customers are cut into segments; the default gives the walkthrough's 14."""

    keys: Sequence[str] = ("preferred_subcategory", VALUE_GROUP)
    high_value_tiers: Sequence[str] = ("Platinum", "Gold", "Silver")
    min_segment_size: int = 1
    extra_dimensions: Sequence[str] = field(default_factory=tuple)

    def source_key_columns(self) -> list[str]:
        """Customer columns the keys are built from (value_group derives from the tier)."""
        return ["predicted_clv_tier" if k == VALUE_GROUP else k for k in self.keys]


def slugify(value: object) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", str(value).lower()).strip("-")
    return slug or "blank"


def segment_slug(key_values: Sequence[object]) -> str:
    """A stable, readable id: slugs of the key values joined by ``--`` (a slug never holds two
    hyphens in a row, so the id can be split back into its parts)."""
    return "--".join(slugify(v) for v in key_values)


def _quotients(numerators: pl.Series, denominators: pl.Series) -> pl.Series:
    """``numerators / denominators``, divided in Python: exactly the same floats whichever way
    (and on however many segments) the summaries are computed. polars may divide by a value it
    sees as a scalar as a multiplication by its inverse (a last-bit difference), which would
    tell an incremental refresh from a full one."""
    return pl.Series(
        [n / max(d, 1) for n, d in zip(numerators.to_list(), denominators.to_list())],
        dtype=pl.Float64,
    )


_ROWS = "_rows"  # customers per distinct combination in the cube


def _distribution(
    cube: pl.DataFrame, keys: list[str], dimension: str, out: str, top: int | None
) -> pl.DataFrame:
    """Per segment, the values of ``dimension`` with count and share, most common first."""
    counts = (
        cube.lazy()
        .group_by([*keys, pl.col(dimension).alias("_value")])
        .agg(pl.col(_ROWS).sum().cast(pl.Int64).alias("_n"))
        .with_columns(pl.col("_n").sum().over(keys).alias("_total"))
        .sort([*keys, "_n", "_value"], descending=[*[False] * len(keys), True, False])
    )
    if top is not None:
        counts = counts.filter(pl.int_range(pl.len()).over(keys) < top)
    flat = counts.collect()
    flat = flat.with_columns(_quotients(flat["_n"], flat["_total"]).alias("_share"))
    return (
        flat.lazy()
        .group_by(keys, maintain_order=True)
        .agg(
            pl.struct(
                pl.col("_value").cast(pl.String).alias("value"),
                pl.col("_n").alias("count"),
                pl.col("_share").alias("share"),
            ).alias(out)
        )
        .collect()
    )


def _top_category(cube: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """Per segment, the most common ``preferred_category`` (ties: the first in sort order, as
    ``mode().sort().first()`` would pick: a null before any value, then the smallest value)."""
    return (
        cube.lazy()
        .group_by([*keys, pl.col("preferred_category").cast(pl.String).alias("_value")])
        .agg(pl.col(_ROWS).sum().alias("_n"))
        .sort(
            [*keys, "_n", "_value"],
            descending=[*[False] * len(keys), True, False],
            nulls_last=False,
        )
        .group_by(keys, maintain_order=True)
        .agg(pl.col("_value").first().alias("top_category"))
        .collect()
    )


def with_value_group(lf: pl.LazyFrame, spec: SegmentationSpec) -> pl.LazyFrame:
    group = (
        pl.when(pl.col("predicted_clv_tier").is_in(list(spec.high_value_tiers)))
        .then(pl.lit(HIGH_VALUE))
        .otherwise(pl.lit(CORE))
    )
    return lf.with_columns(group.alias(VALUE_GROUP))


def _dimensions(spec: SegmentationSpec) -> dict[str, str]:
    return {
        **PROFILE_DIMENSIONS,
        **{d: d.replace("_", " ").capitalize() for d in spec.extra_dimensions},
    }


def cube_columns(spec: SegmentationSpec) -> list[str]:
    """The customer columns a summary reads (the cube's dimensions)."""
    return sorted(
        set(spec.source_key_columns())
        | set(_dimensions(spec))
        | set(PLACE_DIMENSIONS)
        | {"preferred_category"}
    )


#: The count column of a cube: customers with that combination of ``cube_columns``.
CUBE_COUNT = _ROWS


def customer_cube(customers: pl.LazyFrame, spec: SegmentationSpec) -> pl.DataFrame:
    """The cube: how many customers have each distinct combination of ``cube_columns`` (one
    streaming group-by; ~10^5 rows for millions of customers). Every number of a summary is a
    sum over it, so summaries computed from equal cubes are equal."""
    needed = cube_columns(spec)
    return (
        customers.select(needed)
        .group_by(needed)
        .agg(pl.len().cast(pl.Int64).alias(_ROWS))
        .collect(engine="streaming")
    )


def compute_segment_summaries(
    customers: pl.LazyFrame, spec: SegmentationSpec = SegmentationSpec()
) -> pl.DataFrame:
    """One row per segment: counts, share distributions, a description and a summary hash.

    The customer table is read once, into the cube (``customer_cube``); every number of the
    summary is then a sum over that small frame (``summaries_from_cube``).
    """
    return summaries_from_cube(customer_cube(customers, spec), spec)


def summaries_from_cube(raw_cube: pl.DataFrame, spec: SegmentationSpec) -> pl.DataFrame:
    """``compute_segment_summaries`` from a cube (the same frame for the same cube, in any row
    order): what an incremental refresh keeps up to date instead of reading every customer."""
    keys = list(spec.keys)
    dims = _dimensions(spec)
    cube_lf = raw_cube.lazy()
    if VALUE_GROUP in keys:
        cube_lf = with_value_group(cube_lf, spec)
    fill = [pl.col(d).cast(pl.String).fill_null("Unknown") for d in [*dims, *PLACE_DIMENSIONS]]
    cube = cube_lf.with_columns(fill).collect()

    totals = cube.group_by(keys).agg(pl.col(_ROWS).sum().cast(pl.Int64).alias("customer_count"))
    parts = [totals.join(_top_category(cube, keys), on=keys, how="left", nulls_equal=True)]
    parts += [_distribution(cube, keys, d, f"{d}_shares", None) for d in dims]
    parts += [_distribution(cube, keys, d, out, n) for d, (out, n) in PLACE_DIMENSIONS.items()]

    summary = parts[0]
    for frame in parts[1:]:
        summary = summary.join(frame, on=keys, how="left")
    all_customers = int(summary["customer_count"].sum())
    summary = summary.filter(pl.col("customer_count") >= spec.min_segment_size)
    summary = summary.with_columns(
        share_of_customers(summary["customer_count"], all_customers),
        pl.col(keys).cast(pl.String),
    ).sort(keys)

    rows = summary.to_dicts()
    ids, descriptions, hashes = [], [], []
    for row in rows:
        ids.append(segment_slug([row[k] for k in keys]))
        descriptions.append(describe_segment(row, keys, dims))
        hashes.append(summary_hash(row, keys, dims))
    ordered = ["segment_id", *keys, "top_category", "customer_count", "share_of_customers"]
    ordered += [f"{d}_shares" for d in dims] + [out for out, _ in PLACE_DIMENSIONS.values()]
    return summary.with_columns(
        pl.Series("segment_id", ids, dtype=pl.String),
        pl.Series("segment_description", descriptions, dtype=pl.String),
        pl.Series("summary_hash", hashes, dtype=pl.String),
    ).select([*ordered, "segment_description", "summary_hash"])


def share_of_customers(counts: pl.Series, total: int) -> pl.Series:
    """Each segment's ``customer_count / total``, as ``_quotients`` divides."""
    return _quotients(counts, pl.Series([total] * counts.len())).alias("share_of_customers")


def approximate_count(n: int) -> int:
    """Two significant figures: what a copywriter needs, and stable under small churn."""
    if n < 100:
        return n
    magnitude = 10 ** (len(str(n)) - 2)
    return int(round(n / magnitude) * magnitude)


def _pct(share: float) -> int:
    return int(round(share * 100))


def _mix(entries: list[dict]) -> str:
    return (
        ", ".join(f"{_pct(e['share'])}% {e['value']}" for e in entries if _pct(e["share"]) > 0)
        or "n/a"
    )


def describe_segment(row: dict, keys: Sequence[str], dims: dict[str, str]) -> str:
    """The paragraph the prompt gets: who the segment is, as shares of the whole segment."""
    who = " and ".join(f"whose {KEY_LABELS.get(k, k.replace('_', ' '))} is {row[k]}" for k in keys)
    lines = [f"Customers {who} (about {approximate_count(row['customer_count']):,} customers)."]
    for dim, label in dims.items():
        lines.append(f"- {label}: {_mix(row[f'{dim}_shares'])}.")
    regions = row["top_regions"]
    lead = regions[0] if regions else None
    if lead and lead["share"] >= 0.5:
        where = f"at least half ({_pct(lead['share'])}%) lives in the {lead['value']} region"
    else:
        where = "no region holds half the segment"
    lines.append(f"- Top regions: {_mix(regions)} ({where}).")
    return "\n".join(lines)


def summary_hash(row: dict, keys: Sequence[str], dims: dict[str, str]) -> str:
    """Hash of what the copywriter is told about the segment: keys, approximate size and every
    share to the whole percent. It moves when the segment's make-up moves, not on every
    one-customer churn of a large segment (which would re-buy every variant daily)."""
    content = {
        "keys": {k: row[k] for k in keys},
        "size": approximate_count(row["customer_count"]),
        "mix": {
            d: [(e["value"], _pct(e["share"])) for e in row[d] if _pct(e["share"]) > 0]
            for d in [*(f"{x}_shares" for x in dims), *(o for o, _ in PLACE_DIMENSIONS.values())]
        },
    }
    blob = json.dumps(content, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def assign_segments(
    customers: pl.LazyFrame, summaries: pl.DataFrame, spec: SegmentationSpec = SegmentationSpec()
) -> pl.LazyFrame:
    """``customer_id, segment_id`` for every customer of a summarised segment (the same keys
    and value groups the summaries were cut with; customers of left-out segments drop out)."""
    keys = list(spec.keys)
    base = customers.select(["customer_id", *dict.fromkeys(spec.source_key_columns())])
    if VALUE_GROUP in keys:
        base = with_value_group(base, spec)
    base = base.with_columns(pl.col(keys).cast(pl.String))
    return base.join(summaries.lazy().select([*keys, "segment_id"]), on=keys, how="inner").select(
        "customer_id", "segment_id"
    )
