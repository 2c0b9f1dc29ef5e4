"""Synthetic sample data for segcopy: Amperity-style CDP customers and a product catalogue.

ALL DATA PRODUCED BY THIS MODULE IS SYNTHETIC. No real customer, order or product
record is used; product descriptions are original text written for this project.

Where the vocabularies come from:

* ``CLV_TIERS`` / ``CLV_TIER_SHARES`` and ``LIFECYCLE_STATUSES`` follow Amperity's public
  documentation of the "Predicted CLV Attributes" table (Platinum = top 1%, Gold = 1-5%,
  Silver = 5-10%, Bronze = 10-25%, Medium = 25-50%, Low = bottom 50%; lifecycle status
  Active, Cooling down, At risk, Highly at risk, Lost).
* ``SUBCATEGORIES``, ``PRICE_PREFERENCES``, ``DISCOUNT_SENSITIVITIES`` and ``REGIONS`` are
  segcopy's OWN vocabularies for a fictional outdoor/cycling retailer. Amperity does not
  document such values publicly, so they are defined here and nowhere else.

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

import os
from collections.abc import Iterator

import numpy as np
import polars as pl

# --------------------------------------------------------------------------------------
# Vocabularies (imported by other modules: keep names and values stable)
# --------------------------------------------------------------------------------------

#: Amperity predicted CLV tiers, best first, and their documented population shares.
CLV_TIERS = ("Platinum", "Gold", "Silver", "Bronze", "Medium", "Low")
CLV_TIER_SHARES = (0.01, 0.04, 0.05, 0.15, 0.25, 0.50)

#: Amperity predicted customer lifecycle statuses, healthiest first.
LIFECYCLE_STATUSES = ("Active", "Cooling down", "At risk", "Highly at risk", "Lost")

# The vocabularies below are segcopy's own (NOT documented publicly by Amperity).

#: subcategory -> category for a fictional outdoor/cycling retailer.
SUBCATEGORIES = {
    "Road Bikes": "Bikes",
    "Mountain Bikes": "Bikes",
    "E-Bikes": "Bikes",
    "Tents": "Camping",
    "Sleeping Bags": "Camping",
    "Cycling Apparel": "Apparel",
    "Hiking Footwear": "Apparel",
}

PRICE_PREFERENCES = ("Premium", "Mid-range", "Value")
DISCOUNT_SENSITIVITIES = ("Low", "Medium", "High")

#: region -> {state -> [cities]}; six US regions, real states and cities.
REGIONS = {
    "Northeast": {
        "New York": ["New York", "Buffalo", "Rochester"],
        "Massachusetts": ["Boston", "Cambridge", "Worcester"],
        "Pennsylvania": ["Philadelphia", "Pittsburgh"],
        "Vermont": ["Burlington", "Montpelier"],
    },
    "Southeast": {
        "Georgia": ["Atlanta", "Savannah"],
        "North Carolina": ["Charlotte", "Raleigh", "Asheville"],
        "Florida": ["Miami", "Orlando", "Tampa"],
        "Tennessee": ["Nashville", "Chattanooga"],
    },
    "Midwest": {
        "Illinois": ["Chicago", "Springfield"],
        "Minnesota": ["Minneapolis", "Saint Paul", "Duluth"],
        "Wisconsin": ["Milwaukee", "Madison"],
        "Michigan": ["Detroit", "Grand Rapids"],
    },
    "Southwest": {
        "Texas": ["Austin", "Houston", "Dallas"],
        "Arizona": ["Phoenix", "Tucson", "Flagstaff"],
        "New Mexico": ["Albuquerque", "Santa Fe"],
    },
    "Mountain West": {
        "Colorado": ["Denver", "Boulder", "Colorado Springs"],
        "Utah": ["Salt Lake City", "Park City", "Moab"],
        "Idaho": ["Boise", "Idaho Falls"],
        "Montana": ["Bozeman", "Missoula"],
    },
    "Pacific": {
        "California": ["Los Angeles", "San Francisco", "San Diego"],
        "Oregon": ["Portland", "Bend", "Eugene"],
        "Washington": ["Seattle", "Spokane", "Tacoma"],
    },
}

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
    "New York": 0.40, "Massachusetts": 0.28, "Pennsylvania": 0.22, "Vermont": 0.10,
    "Georgia": 0.27, "North Carolina": 0.28, "Florida": 0.30, "Tennessee": 0.15,
    "Illinois": 0.32, "Minnesota": 0.26, "Wisconsin": 0.20, "Michigan": 0.22,
    "Texas": 0.50, "Arizona": 0.35, "New Mexico": 0.15,
    "Colorado": 0.45, "Utah": 0.30, "Idaho": 0.12, "Montana": 0.13,
    "California": 0.50, "Oregon": 0.22, "Washington": 0.28,
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
    so a reader never sees a half-written sample and memory stays at one chunk.
    Returns the number of rows written.
    """
    import itertools

    import pyarrow as pa
    from deltalake import write_deltalake

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
    write_deltalake(path, reader, mode="overwrite", schema_mode="overwrite")
    return written


# --------------------------------------------------------------------------------------
# Products: 2 per subcategory, original descriptions in general-audience merchandising voice
# --------------------------------------------------------------------------------------

PRODUCT_SCHEMA = {
    "product_id": pl.String,
    "name": pl.String,
    "category": pl.String,
    "subcategory": pl.String,
    "price": pl.Float64,
    "description": pl.String,
}


def _product(product_id: str, name: str, subcategory: str, price: float, description: str) -> dict:
    return {
        "product_id": product_id,
        "name": name,
        "category": SUBCATEGORIES[subcategory],
        "subcategory": subcategory,
        "price": float(price),
        "description": " ".join(description.split()),
    }


SAMPLE_PRODUCTS = [
    _product(
        "RB-100", "Tempo Endurance Road Bike", "Road Bikes", 1499.00,
        """The Tempo is an endurance road bike built around a 6061 aluminium frame and a full
        carbon fork with a tapered steerer. It runs a Shimano 105 groupset with 12-speed
        shifting, a 50/34 crankset and an 11-34 cassette for steady climbing. Hydraulic disc
        brakes with 160 mm rotors give consistent stopping in wet weather. The frame clears
        32 mm tyres and has hidden mounts for full fenders and a rear rack. A size 56 weighs
        9.4 kg without pedals. Six frame sizes from 49 to 61 cm fit riders from about 155 to
        195 cm tall.""",
    ),
    _product(
        "RB-200", "Velocita Carbon Race Bike", "Road Bikes", 3299.00,
        """The Velocita is a race bike with a monocoque carbon frame and fork that together
        weigh 1,180 g. It comes with Shimano Ultegra Di2 12-speed electronic shifting, a 52/36
        crankset and an 11-30 cassette. Deep 45 mm carbon wheels with tubeless-ready rims hold
        speed on flat roads and in crosswinds. Hydraulic disc brakes use 160 mm rotors front and
        rear. Fully internal cable routing runs through the one-piece carbon bar and stem. A
        complete size 54 weighs 7.6 kg, and the frame clears 30 mm tyres.""",
    ),
    _product(
        "MB-100", "Ridgeline 130 Trail Bike", "Mountain Bikes", 2399.00,
        """The Ridgeline 130 is a full-suspension trail bike with 130 mm of rear travel and a
        140 mm RockShox Pike fork. Its 6061 aluminium frame uses a 65-degree head angle and a
        77-degree seat angle for confident descending and efficient climbing. A SRAM GX Eagle
        12-speed drivetrain with a 10-52 cassette handles steep pitches. Four-piston hydraulic
        brakes bite on a 200 mm front rotor and a 180 mm rear rotor. The bike rolls on 29-inch
        wheels with 2.4-inch tyres set up tubeless. A size medium weighs 14.6 kg.""",
    ),
    _product(
        "MB-200", "Switchback HT Hardtail", "Mountain Bikes", 1199.00,
        """The Switchback HT is a hardtail built for cross-country loops and first trail rides.
        A butted 6061 aluminium frame pairs with a RockShox Judy fork that offers 120 mm of
        travel and a handlebar lockout. Shimano Deore 1x12 gearing with a 10-51 cassette covers
        steep climbs without a front derailleur. Two-piston hydraulic brakes stop on 180 mm
        rotors. Sizes medium to extra large roll on 29-inch wheels, and the small frame uses
        27.5-inch wheels. A size medium weighs 13.2 kg.""",
    ),
    _product(
        "EB-100", "Metro Commuter E-Bike", "E-Bikes", 3199.00,
        """The Metro is a city e-bike powered by a Bosch Performance Line mid-drive motor with
        75 Nm of torque. A 500 Wh battery integrated into the down tube gives up to 110 km of
        range in Eco mode. A Shimano Nexus 5-speed internal hub and a Gates carbon belt drive
        keep maintenance low. Full fenders, a rear rack rated for 25 kg and integrated front and
        rear lights come fitted. Hydraulic disc brakes stop on 180 mm rotors. The complete bike
        weighs 24.8 kg.""",
    ),
    _product(
        "EB-200", "Summit eMTB", "E-Bikes", 5499.00,
        """The Summit is an electric mountain bike built around the Bosch Performance Line CX
        motor with 85 Nm of torque. A 750 Wh PowerTube battery sits inside the carbon front
        triangle and charges fully in about 6 hours with the included 4 A charger. The bike
        offers 150 mm of rear travel and a 160 mm Fox 36 fork. Shifting comes from a SRAM GX
        Eagle 12-speed drivetrain, and four-piston brakes use 203 mm rotors. Mixed wheels pair
        a 29-inch front with a 27.5-inch rear. A size large weighs 23.4 kg.""",
    ),
    _product(
        "TN-100", "Basecamp 2 Backpacking Tent", "Tents", 349.00,
        """The Basecamp 2 is a freestanding backpacking tent for two people. Its fly is made
        from 20D ripstop nylon with a 1,500 mm silicone and polyurethane coating, and the floor
        uses 30D nylon rated to 3,000 mm. Two doors and two vestibules give each sleeper 0.9
        square metres of covered gear storage. A single hubbed pole set in 8.7 mm DAC aluminium
        pitches in about 4 minutes. The floor measures 218 by 132 cm with 102 cm of peak height.
        The packed weight is 1.6 kg.""",
    ),
    _product(
        "TN-200", "Homestead 4 Family Tent", "Tents", 529.00,
        """The Homestead 4 is a family camping tent that sleeps four adults on a floor of 240 by
        240 cm. Peak height is 190 cm, so most people can stand up to change. The fly is 75D
        polyester with a 2,000 mm coating and taped seams, and the floor is 150D polyester
        oxford. Two large D-shaped doors and four mesh windows keep air moving on warm nights.
        Steel and fibreglass poles pitch the tent in around 10 minutes. The packed weight is
        8.9 kg, and the carry bag measures 68 by 25 cm.""",
    ),
    _product(
        "SB-100", "Alpine 20 Down Sleeping Bag", "Sleeping Bags", 379.00,
        """The Alpine 20 is a mummy sleeping bag filled with 650 g of 800-fill-power
        responsibly sourced goose down. It carries an ISO 23537 comfort rating of -1 °C and a
        limit rating of -7 °C. The shell is 15D ripstop nylon with a water-resistant finish,
        and a draft collar seals in warmth around the shoulders. A full-length two-way zip
        allows venting on milder nights. The regular size fits people up to 183 cm tall. Total
        weight is 1.05 kg, and the bag packs into an 8-litre compression sack.""",
    ),
    _product(
        "SB-200", "Trailhead Synthetic Sleeping Bag", "Sleeping Bags", 149.00,
        """The Trailhead is a synthetic sleeping bag made for car camping, scout trips and cool
        summer nights. It is filled with hollow polyester fibre that keeps insulating when damp.
        The bag has a comfort rating of 5 °C and a limit rating of 0 °C. Its rectangular cut
        measures 220 by 80 cm and unzips fully to open flat as a quilt. Two bags with left and
        right zips can be joined into a double. It weighs 1.7 kg and packs into a 12-litre stuff
        sack.""",
    ),
    _product(
        "CA-100", "Aero Short Sleeve Jersey", "Cycling Apparel", 119.00,
        """The Aero jersey is a short-sleeve cycling top cut in a close race fit. Its main body
        uses a 130 gsm recycled polyester knit that moves sweat to the surface so it dries
        quickly. Laser-cut sleeves with silicone grippers stay in place without pinching. Three
        rear pockets and a zipped fourth pocket hold food, a phone and keys. A full-length YKK
        Vislon zip makes venting easy on long climbs. The jersey comes in sizes XS to XXL and
        weighs 118 g in size medium.""",
    ),
    _product(
        "CA-200", "Stormline Waterproof Cycling Jacket", "Cycling Apparel", 189.00,
        """The Stormline is a waterproof cycling jacket built from a 3-layer 20D nylon fabric
        with a 20,000 mm waterproof rating. All seams are fully taped, and a dropped tail with a
        silicone hem keeps road spray off the lower back. Two underarm zips vent heat on
        climbs. Reflective strips on the back and cuffs add visibility in low light. The jacket
        packs into its own chest pocket to roughly the size of a 500 ml bottle. Sizes run from
        XS to XXL, and a size medium weighs 215 g.""",
    ),
    _product(
        "HF-100", "Ascent Mid GTX Hiking Boot", "Hiking Footwear", 219.00,
        """The Ascent Mid is a waterproof hiking boot for day hikes and multi-day trips with a
        loaded pack. A Gore-Tex membrane keeps feet dry, while the 1.8 mm nubuck leather upper
        resists abrasion on rocky trails. The Vibram Megagrip outsole has 5 mm lugs for grip on
        wet stone and loose gravel. A dual-density EVA midsole and a nylon shank add stability
        under a 15 kg load. Sizes run from US men's 7 to 14, including half sizes. A pair in
        size 9 weighs 1.1 kg.""",
    ),
    _product(
        "HF-200", "Scree Low Hiking Shoe", "Hiking Footwear", 149.00,
        """The Scree Low is a lightweight hiking shoe for fast day hikes and well-kept trails.
        Its upper combines breathable engineered mesh with a welded TPU toe cap that protects
        against rocks and roots. A Vibram outsole with 4 mm lugs grips packed dirt and wet
        boardwalks alike. The EVA midsole has an 8 mm heel-to-toe drop and a removable OrthoLite
        insole. Sizes run from US women's 5 to 11 and US men's 7 to 14. A pair in men's size 9
        weighs 680 g.""",
    ),
]


def sample_products_frame() -> pl.DataFrame:
    """``SAMPLE_PRODUCTS`` as a DataFrame with ``PRODUCT_SCHEMA``."""
    return pl.DataFrame(SAMPLE_PRODUCTS, schema=PRODUCT_SCHEMA)


def write_sample_products(path: str) -> int:
    """Write ``SAMPLE_PRODUCTS`` as a Delta table at ``path`` (overwrite); return the row count."""
    df = sample_products_frame()
    df.write_delta(path, mode="overwrite", delta_write_options={"schema_mode": "overwrite"})
    return df.height


def write_sample_data(home_dir: str, n: int = 20_000, seed: int = 7) -> dict:
    """Write both sample tables under ``<home_dir>/sample/`` and report where they went.

    Returns ``{"customers_path", "customers_rows", "products_path", "products_rows"}``.
    """
    customers_path = os.path.join(home_dir, "sample", "cdp_customers")
    products_path = os.path.join(home_dir, "sample", "products")
    os.makedirs(customers_path, exist_ok=True)
    os.makedirs(products_path, exist_ok=True)
    customers_rows = write_sample_customers(customers_path, n=n, seed=seed)
    products_rows = write_sample_products(products_path)
    return {
        "customers_path": customers_path,
        "customers_rows": customers_rows,
        "products_path": products_path,
        "products_rows": products_rows,
    }
