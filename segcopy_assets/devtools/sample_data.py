"""Synthetic sample CDP customers for segcopy, in the shape of an Amperity share.

ALL DATA PRODUCED BY THIS MODULE IS SYNTHETIC. No real customer, order or product
record is used.

The vocabularies are segcopy's domain words (``core/vocabulary.py``).

Customer generation is vectorised with numpy (``np.random.default_rng``); there is no
Python loop per customer. Rows are produced in fixed internal blocks of ``_BLOCK_ROWS``
rows, each seeded from ``(seed, block_index)``, and re-cut to ``chunk_rows`` — so the data
for a given ``(n, seed)`` is identical whatever ``chunk_rows`` is, and memory stays bounded
at roughly ``max(chunk_rows, _BLOCK_ROWS)`` rows.

How the columns are built (the correlations are deliberate, so segment summaries say
something):

1. ``predicted_clv_365d`` is drawn from a lognormal; ``predicted_clv_tier`` is then assigned
   by CLV rank inside each block with exact tier quotas, so the tiers are CLV percentiles
   (as in Amperity) and the tier shares are exact.
2. ``lifecycle_status`` depends on tier (high tiers are mostly Active).
3. ``preferred_subcategory`` depends on tier (low tiers lean Cycling Apparel / Road Bikes,
   high tiers buy across the range incl. E-Bikes); ``preferred_category`` follows it.
4. ``price_preference`` depends on tier (high tiers lean Premium, low tiers Value) and
   ``discount_sensitivity`` on tier and price preference.
5. ``region`` depends on subcategory (Mountain Bikes mostly Mountain West, E-Bikes mostly
   Northeast, Tents / Hiking Footwear lean Pacific, Road Bikes spread out); ``state`` and
   ``city`` follow the region.
6. ``predicted_order_frequency_365d`` depends on tier, subcategory and lifecycle;
   ``predicted_average_order_revenue_365d`` = CLV / frequency.

Conditional draws use one cumulative-probability table per conditioning variable and a
single ``np.searchsorted`` (see ``_conditional_choice``).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import polars as pl

from segcopy_assets.core.vocabulary import (
    CLV_TIER_SHARES,
    CLV_TIERS,
    DISCOUNT_SENSITIVITIES,
    LIFECYCLE_STATUSES,
    PRICE_PREFERENCES,
    REGIONS,
    SUBCATEGORIES,
)

#: Output schema of ``generate_customers`` (column order is part of the contract).
CUSTOMER_SCHEMA = {
    "customer_id": pl.String,
    "predicted_clv_tier": pl.String,
    "predicted_clv_365d": pl.Float64,
    "predicted_order_frequency_365d": pl.Float64,
    "predicted_average_order_revenue_365d": pl.Float64,
    "lifecycle_status": pl.String,
    "preferred_category": pl.String,
    "preferred_subcategory": pl.String,
    "price_preference": pl.String,
    "discount_sensitivity": pl.String,
    "region": pl.String,
    "state": pl.String,
    "city": pl.String,
}

# --------------------------------------------------------------------------------------
# Generation parameters (private; rows = conditioning value, columns = outcome)
# --------------------------------------------------------------------------------------

_BLOCK_ROWS = 250_000

# Predicted 365-day CLV in dollars: lognormal with median ~$160. With sigma 1.15 the tier
# boundaries land near $160 (Low/Medium), $350, $700, $1,060 and $2,300 (Gold/Platinum).
_CLV_LOG_MEDIAN = float(np.log(160.0))
_CLV_LOG_SIGMA = 1.15

_SUBCATS = tuple(SUBCATEGORIES)

# P(lifecycle | tier); columns follow LIFECYCLE_STATUSES.
_LIFECYCLE_GIVEN_TIER = np.array(
    [
        [0.80, 0.12, 0.05, 0.02, 0.01],  # Platinum
        [0.70, 0.16, 0.08, 0.04, 0.02],  # Gold
        [0.60, 0.19, 0.11, 0.06, 0.04],  # Silver
        [0.45, 0.22, 0.15, 0.10, 0.08],  # Bronze
        [0.30, 0.22, 0.20, 0.15, 0.13],  # Medium
        [0.12, 0.15, 0.20, 0.23, 0.30],  # Low
    ]
)

# P(subcategory | tier); columns follow SUBCATEGORIES order:
# Road, Mountain, E-Bikes, Tents, Sleeping Bags, Cycling Apparel, Hiking Footwear.
_SUBCAT_GIVEN_TIER = np.array(
    [
        [0.16, 0.15, 0.16, 0.13, 0.12, 0.14, 0.14],  # Platinum
        [0.17, 0.16, 0.14, 0.12, 0.10, 0.16, 0.15],  # Gold
        [0.19, 0.15, 0.11, 0.12, 0.10, 0.18, 0.15],  # Silver
        [0.20, 0.14, 0.08, 0.11, 0.09, 0.21, 0.17],  # Bronze
        [0.20, 0.13, 0.06, 0.11, 0.09, 0.24, 0.17],  # Medium
        [0.19, 0.12, 0.04, 0.11, 0.09, 0.27, 0.18],  # Low
    ]
)

# P(price preference | tier); columns follow PRICE_PREFERENCES.
_PRICE_GIVEN_TIER = np.array(
    [
        [0.70, 0.25, 0.05],  # Platinum
        [0.60, 0.30, 0.10],  # Gold
        [0.45, 0.38, 0.17],  # Silver
        [0.30, 0.45, 0.25],  # Bronze
        [0.18, 0.42, 0.40],  # Medium
        [0.10, 0.32, 0.58],  # Low
    ]
)

# P(discount sensitivity | tier) before the price-preference tilt; columns Low/Medium/High.
_DISCOUNT_GIVEN_TIER = np.array(
    [
        [0.65, 0.27, 0.08],  # Platinum
        [0.55, 0.32, 0.13],  # Gold
        [0.45, 0.35, 0.20],  # Silver
        [0.32, 0.38, 0.30],  # Bronze
        [0.22, 0.36, 0.42],  # Medium
        [0.14, 0.30, 0.56],  # Low
    ]
)
# Multiplicative tilt by price preference (Premium buyers care less about discounts).
_DISCOUNT_TILT_BY_PRICE = np.array(
    [
        [1.3, 1.0, 0.6],  # Premium
        [1.0, 1.0, 1.0],  # Mid-range
        [0.6, 1.0, 1.4],  # Value
    ]
)
# P(discount | tier, price) with group index tier * 3 + price.
_DISCOUNT_GIVEN_TIER_PRICE = (
    _DISCOUNT_GIVEN_TIER[:, None, :] * _DISCOUNT_TILT_BY_PRICE[None, :, :]
).reshape(len(CLV_TIERS) * len(PRICE_PREFERENCES), len(DISCOUNT_SENSITIVITIES))

_REGION_NAMES = tuple(REGIONS)
# P(region | subcategory); columns: Northeast, Southeast, Midwest, Southwest,
# Mountain West, Pacific.
_REGION_GIVEN_SUBCAT = np.array(
    [
        [0.18, 0.16, 0.17, 0.14, 0.15, 0.20],  # Road Bikes: spread out
        [0.06, 0.07, 0.06, 0.10, 0.56, 0.15],  # Mountain Bikes: Mountain West
        [0.46, 0.08, 0.08, 0.06, 0.10, 0.22],  # E-Bikes: Northeast
        [0.10, 0.09, 0.08, 0.10, 0.23, 0.40],  # Tents: Pacific
        [0.14, 0.08, 0.12, 0.10, 0.26, 0.30],  # Sleeping Bags
        [0.20, 0.14, 0.18, 0.12, 0.14, 0.22],  # Cycling Apparel
        [0.14, 0.11, 0.08, 0.12, 0.19, 0.36],  # Hiking Footwear: Pacific
    ]
)

# Relative weight of each state inside its region (roughly market size); cities inside a
# state get weights 1, 1/2, 1/3 in listed order.
_STATE_WEIGHTS = {
    "New York": 0.40,
    "Massachusetts": 0.28,
    "Pennsylvania": 0.22,
    "Vermont": 0.10,
    "Georgia": 0.27,
    "North Carolina": 0.28,
    "Florida": 0.30,
    "Tennessee": 0.15,
    "Illinois": 0.32,
    "Minnesota": 0.26,
    "Wisconsin": 0.20,
    "Michigan": 0.22,
    "Texas": 0.50,
    "Arizona": 0.35,
    "New Mexico": 0.15,
    "Colorado": 0.45,
    "Utah": 0.30,
    "Idaho": 0.12,
    "Montana": 0.13,
    "California": 0.50,
    "Oregon": 0.22,
    "Washington": 0.28,
}

# Order-frequency model: base by tier x multiplier by subcategory x by lifecycle x noise.
_FREQ_BASE_BY_TIER = np.array([9.0, 6.0, 4.5, 3.0, 2.0, 1.1])
_FREQ_MULT_BY_SUBCAT = np.array([0.9, 0.85, 0.6, 0.9, 1.0, 1.4, 1.15])
_FREQ_MULT_BY_LIFECYCLE = np.array([1.0, 0.85, 0.7, 0.55, 0.4])
_FREQ_NOISE_SIGMA = 0.35
_FREQ_MIN = 0.2


def _build_locations() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flatten REGIONS into per-location state/city arrays and a P(location | region) matrix."""
    states: list[str] = []
    cities: list[str] = []
    region_of: list[int] = []
    weights: list[float] = []
    for r, (_region, state_map) in enumerate(REGIONS.items()):
        for state, city_list in state_map.items():
            city_w = np.array([1.0 / (i + 1) for i in range(len(city_list))])
            city_w = city_w / city_w.sum()
            for city, w in zip(city_list, city_w):
                states.append(state)
                cities.append(city)
                region_of.append(r)
                weights.append(_STATE_WEIGHTS[state] * float(w))
    region_arr = np.array(region_of)
    w_arr = np.array(weights)
    prob = np.zeros((len(REGIONS), len(states)))
    for r in range(len(REGIONS)):
        mask = region_arr == r
        prob[r, mask] = w_arr[mask] / w_arr[mask].sum()
    return np.array(states, dtype=object), np.array(cities, dtype=object), prob


_LOC_STATES, _LOC_CITIES, _LOC_GIVEN_REGION = _build_locations()


def _cum_table(prob: np.ndarray) -> np.ndarray:
    """Flattened cumulative table for ``_conditional_choice``: group g owns values in (g, g+1]."""
    prob = np.asarray(prob, dtype=np.float64)
    if prob.ndim != 2 or (prob < 0).any():
        raise ValueError("probability matrix must be 2-D and non-negative")
    prob = prob / prob.sum(axis=1, keepdims=True)
    cum = np.cumsum(prob, axis=1)
    cum[:, -1] = 1.0
    return (cum + np.arange(prob.shape[0])[:, None]).ravel()


def _conditional_choice(
    rng: np.random.Generator, groups: np.ndarray, table: np.ndarray, k: int
) -> np.ndarray:
    """Draw outcome ``j`` in ``0..k-1`` with probability ``P[group, j]`` for every row.

    ``table`` comes from ``_cum_table(P)``; one ``searchsorted`` handles all groups at once
    because group ``g``'s cumulative probabilities are shifted into ``(g, g+1]``.
    """
    groups = groups.astype(np.int64, copy=False)
    u = rng.random(groups.shape[0])
    idx = np.searchsorted(table, groups + u, side="right") - groups * k
    # g + u can round up to g + 1 for u within ~1e-15 of 1; keep it inside the group.
    return np.minimum(idx, k - 1)


_LIFECYCLE_TABLE = _cum_table(_LIFECYCLE_GIVEN_TIER)
_SUBCAT_TABLE = _cum_table(_SUBCAT_GIVEN_TIER)
_PRICE_TABLE = _cum_table(_PRICE_GIVEN_TIER)
_DISCOUNT_TABLE = _cum_table(_DISCOUNT_GIVEN_TIER_PRICE)
_REGION_TABLE = _cum_table(_REGION_GIVEN_SUBCAT)
_LOC_TABLE = _cum_table(_LOC_GIVEN_REGION)

_TIER_S = pl.Series(CLV_TIERS, dtype=pl.String)
_LIFECYCLE_S = pl.Series(LIFECYCLE_STATUSES, dtype=pl.String)
_SUBCAT_S = pl.Series(_SUBCATS, dtype=pl.String)
_CATEGORY_S = pl.Series([SUBCATEGORIES[s] for s in _SUBCATS], dtype=pl.String)
_PRICE_S = pl.Series(PRICE_PREFERENCES, dtype=pl.String)
_DISCOUNT_S = pl.Series(DISCOUNT_SENSITIVITIES, dtype=pl.String)
_REGION_S = pl.Series(_REGION_NAMES, dtype=pl.String)
_STATE_S = pl.Series(_LOC_STATES.tolist(), dtype=pl.String)
_CITY_S = pl.Series(_LOC_CITIES.tolist(), dtype=pl.String)


def _exact_counts(total: int, shares) -> np.ndarray:
    """Split ``total`` into integer counts proportional to ``shares`` (largest remainder)."""
    raw = np.asarray(shares, dtype=np.float64) * total / float(np.sum(shares))
    counts = np.floor(raw).astype(np.int64)
    short = total - int(counts.sum())
    if short:
        order = np.argsort(-(raw - counts), kind="stable")
        counts[order[:short]] += 1
    return counts


def _generate_block(n_rows: int, first_row: int, seed: int, block_index: int) -> pl.DataFrame:
    """Generate one internal block of ``n_rows`` customers (ids start at ``first_row + 1``)."""
    rng = np.random.default_rng([seed, block_index])

    # 1. CLV, then tiers as CLV percentiles with exact quotas.
    clv = rng.lognormal(_CLV_LOG_MEDIAN, _CLV_LOG_SIGMA, n_rows)
    order = np.argsort(-clv, kind="stable")
    tier = np.empty(n_rows, dtype=np.int64)
    tier[order] = np.repeat(np.arange(len(CLV_TIERS)), _exact_counts(n_rows, CLV_TIER_SHARES))
    clv = np.maximum(np.round(clv, 2), 0.5)

    # 2-5. Conditional attributes.
    lifecycle = _conditional_choice(rng, tier, _LIFECYCLE_TABLE, len(LIFECYCLE_STATUSES))
    subcat = _conditional_choice(rng, tier, _SUBCAT_TABLE, len(_SUBCATS))
    price = _conditional_choice(rng, tier, _PRICE_TABLE, len(PRICE_PREFERENCES))
    discount = _conditional_choice(
        rng, tier * len(PRICE_PREFERENCES) + price, _DISCOUNT_TABLE, len(DISCOUNT_SENSITIVITIES)
    )
    region = _conditional_choice(rng, subcat, _REGION_TABLE, len(_REGION_NAMES))
    location = _conditional_choice(rng, region, _LOC_TABLE, len(_LOC_STATES))

    # 6. Order frequency and average order revenue (CLV ~= frequency x AOR).
    freq = (
        _FREQ_BASE_BY_TIER[tier]
        * _FREQ_MULT_BY_SUBCAT[subcat]
        * _FREQ_MULT_BY_LIFECYCLE[lifecycle]
        * rng.lognormal(0.0, _FREQ_NOISE_SIGMA, n_rows)
    )
    freq = np.round(np.maximum(freq, _FREQ_MIN), 2)
    aor = np.round(clv / freq, 2)

    ids = (
        pl.int_range(first_row + 1, first_row + n_rows + 1, dtype=pl.Int64, eager=True)
        .cast(pl.String)
        .str.zfill(10)
    )
    return pl.DataFrame(
        [
            ("AMP-" + ids).alias("customer_id"),
            _TIER_S.gather(tier).alias("predicted_clv_tier"),
            pl.Series("predicted_clv_365d", clv, dtype=pl.Float64),
            pl.Series("predicted_order_frequency_365d", freq, dtype=pl.Float64),
            pl.Series("predicted_average_order_revenue_365d", aor, dtype=pl.Float64),
            _LIFECYCLE_S.gather(lifecycle).alias("lifecycle_status"),
            _CATEGORY_S.gather(subcat).alias("preferred_category"),
            _SUBCAT_S.gather(subcat).alias("preferred_subcategory"),
            _PRICE_S.gather(price).alias("price_preference"),
            _DISCOUNT_S.gather(discount).alias("discount_sensitivity"),
            _REGION_S.gather(region).alias("region"),
            _STATE_S.gather(location).alias("state"),
            _CITY_S.gather(location).alias("city"),
        ]
    )


def _empty_customers() -> pl.DataFrame:
    return pl.DataFrame(schema=CUSTOMER_SCHEMA)


def generate_customers(
    n: int = 20_000, seed: int = 7, chunk_rows: int = 1_000_000
) -> Iterator[pl.DataFrame]:
    """Yield ``n`` synthetic Amperity-style customers as DataFrames of at most ``chunk_rows`` rows.

    Columns and dtypes are exactly ``CUSTOMER_SCHEMA``. Output is deterministic for a given
    ``(n, seed)`` and does not depend on ``chunk_rows``. ``customer_id`` is unique across
    all chunks ("AMP-0000000001", ...). For ``n == 0`` a single empty frame is yielded so
    callers still see the schema.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be >= 1, got {chunk_rows}")
    if n == 0:
        yield _empty_customers()
        return

    pending: list[pl.DataFrame] = []
    pending_rows = 0
    n_blocks = -(-n // _BLOCK_ROWS)
    for b in range(n_blocks):
        first = b * _BLOCK_ROWS
        block = _generate_block(min(_BLOCK_ROWS, n - first), first, seed, b)
        pending.append(block)
        pending_rows += block.height
        while pending_rows >= chunk_rows:
            buf = pending[0] if len(pending) == 1 else pl.concat(pending, rechunk=False)
            yield buf.slice(0, chunk_rows)
            rest = buf.slice(chunk_rows)
            pending = [rest] if rest.height else []
            pending_rows = rest.height
    if pending_rows:
        yield pending[0] if len(pending) == 1 else pl.concat(pending, rechunk=False)


def write_sample_customers(
    path: str, n: int = 20_000, seed: int = 7, chunk_rows: int = 1_000_000
) -> int:
    """Write ``generate_customers(n, seed, chunk_rows)`` as one Delta table at ``path``.

    All chunks stream into ONE commit (replacing data and schema of any table already there),
    so a reader never sees a half-written sample and memory stays at one chunk. The table has a
    change data feed (``delta.enableChangeDataFeed``), as a share that allows incremental
    refreshes has (``sample_churn`` writes changes into it).
    Returns the number of rows written.
    """
    import itertools

    import pyarrow as pa
    from deltalake import DeltaTable, write_deltalake

    written = 0
    chunks = generate_customers(n=n, seed=seed, chunk_rows=chunk_rows)
    first = next(chunks).to_arrow()
    schema = first.schema

    def batches():
        nonlocal written
        for table in itertools.chain([first], (c.to_arrow() for c in chunks)):
            written += table.num_rows
            yield from table.cast(schema).to_batches()

    reader = pa.RecordBatchReader.from_batches(schema, batches())
    feed = {"delta.enableChangeDataFeed": "true"}  # applied when the table is created
    write_deltalake(path, reader, mode="overwrite", schema_mode="overwrite", configuration=feed)
    table = DeltaTable(path)
    if table.metadata().configuration.get("delta.enableChangeDataFeed") != "true":
        table.alter.set_table_properties(feed)  # a table that existed without one
    return written
