"""Churn for the synthetic CDP table: ``n`` realistic changes written as ONE new Delta version.

ALL DATA PRODUCED BY THIS MODULE IS SYNTHETIC.

A day in a CDP: new customers arrive (drawn like the sample's, with the next ids), some are
re-scored into the next tier up or down (which moves them between the value groups at the
Silver/Bronze line), change their preferred subcategory, move to another region, become more or
less discount sensitive or change lifecycle status, and some are deleted. The changes are
applied with one Delta MERGE, so the table's change data feed (``write_sample_customers``
turns it on) records exactly these rows: inserts, update pre/post images and deletes.

Deterministic: the same ``seed`` on the same table version writes the same changes (the version
is mixed into the seed, so repeated churns differ).
"""

from dataclasses import dataclass

import numpy as np
import polars as pl

from segcopy_assets.core.vocabulary import (
    CLV_TIERS,
    DISCOUNT_SENSITIVITIES,
    LIFECYCLE_STATUSES,
    PRICE_PREFERENCES,
)
from segcopy_assets.devtools import sample_data as sd

#: Share of each kind of change (largest remainder over ``n``).
CHURN_MIX = {
    "new": 0.25,
    "tier": 0.25,
    "subcategory": 0.10,
    "region": 0.15,
    "discount": 0.10,
    "lifecycle": 0.05,
    "deleted": 0.10,
}
_CHURN_BLOCK = 1_000_000_000  # block indices of new customers: never those of the sample


@dataclass(frozen=True)
class Churn:
    inserted: int
    updated: int
    deleted: int
    version: int  # the table's version holding the changes


def _ids(numbers: np.ndarray) -> list[str]:
    return [f"AMP-{int(n):010d}" for n in numbers]


def _pick_existing(table: pl.LazyFrame, max_number: int, k: int, rng) -> pl.DataFrame:
    """``k`` distinct existing customers, drawn uniformly by id (ids of deleted ones skipped)."""
    picked: list[pl.DataFrame] = [table.head(0).collect()]
    seen: set[int] = set()
    while sum(f.height for f in picked) < k and len(seen) < max_number:
        want = min(max_number - len(seen), 2 * k + 16)
        numbers = [int(x) for x in rng.choice(max_number, size=want, replace=False) + 1]
        numbers = [x for x in numbers if x not in seen][:want]
        seen.update(numbers)
        found = table.filter(pl.col("customer_id").is_in(_ids(np.array(numbers)))).collect()
        order = {cid: i for i, cid in enumerate(_ids(np.array(numbers)))}
        picked.append(
            found.with_columns(
                pl.col("customer_id").replace_strict(order, return_dtype=pl.Int64).alias("_o")
            )
            .sort("_o")
            .drop("_o")
        )
    return pl.concat(picked).head(k)


def _other(drawn: np.ndarray, current: np.ndarray, k: int) -> np.ndarray:
    """``drawn``, but never the ``current`` value (the next one instead)."""
    return np.where(drawn == current, (drawn + 1) % k, drawn)


def _index(values: pl.Series, vocabulary) -> np.ndarray:
    return values.replace_strict(
        {v: i for i, v in enumerate(vocabulary)}, return_dtype=pl.Int64
    ).to_numpy()


def _changed(rows: pl.DataFrame, kind: str, rng) -> pl.DataFrame:
    """``rows`` with one attribute changed the way ``kind`` says."""
    n, tier = rows.height, _index(rows["predicted_clv_tier"], CLV_TIERS)
    if kind == "tier":  # re-scored: one tier up or down, CLV with it
        up = rng.random(n) < 0.5
        new = np.clip(np.where(up, tier - 1, tier + 1), 0, len(CLV_TIERS) - 1)
        new = np.where(new == tier, np.where(up, tier + 1, tier - 1), new)
        clv = rows["predicted_clv_365d"].to_numpy() * np.where(new < tier, 1.8, 0.55)
        return rows.with_columns(
            sd._TIER_S.gather(new).alias("predicted_clv_tier"),
            pl.Series("predicted_clv_365d", np.maximum(np.round(clv, 2), 0.5)),
        )
    if kind == "subcategory":
        current = _index(rows["preferred_subcategory"], sd._SUBCATS)
        k = len(sd._SUBCATS)
        sub = _other(sd._conditional_choice(rng, tier, sd._SUBCAT_TABLE, k), current, k)
        return rows.with_columns(
            sd._SUBCAT_S.gather(sub).alias("preferred_subcategory"),
            sd._CATEGORY_S.gather(sub).alias("preferred_category"),
        )
    if kind == "region":  # moved house: another region, a state and city in it
        sub = _index(rows["preferred_subcategory"], sd._SUBCATS)
        k = len(sd._REGION_NAMES)
        current = _index(rows["region"], sd._REGION_NAMES)
        region = _other(sd._conditional_choice(rng, sub, sd._REGION_TABLE, k), current, k)
        location = sd._conditional_choice(rng, region, sd._LOC_TABLE, len(sd._LOC_STATES))
        return rows.with_columns(
            sd._REGION_S.gather(region).alias("region"),
            sd._STATE_S.gather(location).alias("state"),
            sd._CITY_S.gather(location).alias("city"),
        )
    if kind == "discount":
        price = _index(rows["price_preference"], PRICE_PREFERENCES)
        k = len(DISCOUNT_SENSITIVITIES)
        group = tier * len(PRICE_PREFERENCES) + price
        current = _index(rows["discount_sensitivity"], DISCOUNT_SENSITIVITIES)
        new = _other(sd._conditional_choice(rng, group, sd._DISCOUNT_TABLE, k), current, k)
        return rows.with_columns(sd._DISCOUNT_S.gather(new).alias("discount_sensitivity"))
    if kind == "lifecycle":
        k = len(LIFECYCLE_STATUSES)
        current = _index(rows["lifecycle_status"], LIFECYCLE_STATUSES)
        new = _other(sd._conditional_choice(rng, tier, sd._LIFECYCLE_TABLE, k), current, k)
        return rows.with_columns(sd._LIFECYCLE_S.gather(new).alias("lifecycle_status"))
    raise ValueError(kind)


def churn_changes(
    table: pl.LazyFrame, n: int, seed: int, salt: int = 0, mix: dict[str, float] | None = None
) -> tuple[pl.DataFrame, pl.Series]:
    """``n`` changes to the customers in ``table``: rows to upsert (new and changed customers)
    and ids to delete, in the proportions of ``mix`` (default ``CHURN_MIX``; its keys).
    Deterministic for ``(table, n, seed, salt, mix)``."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    shares = {kind: (mix or CHURN_MIX).get(kind, 0.0) for kind in CHURN_MIX}
    if set(mix or CHURN_MIX) - set(CHURN_MIX) or not sum(shares.values()):
        raise ValueError(f"a churn mix has shares of {sorted(CHURN_MIX)}")
    rng = np.random.default_rng([seed, salt, 23])
    counts = dict(zip(CHURN_MIX, sd._exact_counts(n, list(shares.values()))))
    top = table.select(pl.col("customer_id").str.slice(4).cast(pl.Int64).max()).collect().item()
    top = int(top or 0)
    existing = _pick_existing(table, top, n - counts["new"], rng)
    parts, start = [], 0
    for kind in ("tier", "subcategory", "region", "discount", "lifecycle"):
        rows = existing.slice(start, counts[kind])
        start += rows.height
        if rows.height:
            parts.append(_changed(rows, kind, rng))
    deleted = existing.slice(start).get_column("customer_id")
    if counts["new"]:
        fresh = sd._generate_block(counts["new"], top, seed, _CHURN_BLOCK + salt)
        parts.append(fresh.select(existing.columns))
    upserts = pl.concat(parts) if parts else existing.head(0)
    return upserts.sort("customer_id"), deleted.sort()


def write_churn(path: str, n: int, seed: int = 7, mix: dict[str, float] | None = None) -> Churn:
    """Apply ``churn_changes`` to the Delta table at ``path`` as ONE new version (a MERGE on
    ``customer_id``; its change data feed is turned on first if it was off)."""
    from deltalake import DeltaTable

    table = DeltaTable(path)
    feed = "delta.enableChangeDataFeed"
    if table.metadata().configuration.get(feed) != "true":
        table.alter.set_table_properties({feed: "true"})
        table = DeltaTable(path)
    upserts, deleted = churn_changes(pl.scan_delta(path), n, seed, salt=table.version(), mix=mix)
    schema = pl.scan_delta(path).collect_schema()
    source = pl.concat(
        [
            upserts.select(pl.col(c).cast(schema[c]) for c in schema.names()).with_columns(
                pl.lit(False).alias("_delete")
            ),
            pl.DataFrame({"customer_id": deleted})
            .select(
                pl.col(c) if c == "customer_id" else pl.lit(None, schema[c]).alias(c)
                for c in schema.names()
            )
            .with_columns(pl.lit(True).alias("_delete")),
        ]
    )
    metrics = (
        table.merge(
            source.to_arrow(),
            predicate="t.customer_id = s.customer_id",
            source_alias="s",
            target_alias="t",
        )
        .when_matched_delete(predicate="s._delete")
        .when_matched_update_all(predicate="NOT s._delete", except_cols=["_delete"])
        .when_not_matched_insert_all(predicate="NOT s._delete", except_cols=["_delete"])
        .execute()
    )
    return Churn(
        inserted=int(metrics["num_target_rows_inserted"]),
        updated=int(metrics["num_target_rows_updated"]),
        deleted=int(metrics["num_target_rows_deleted"]),
        version=DeltaTable(path).version(),
    )
