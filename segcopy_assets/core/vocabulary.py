"""The domain's words: the CDP attribute values segcopy knows and the places it names.

* ``CLV_TIERS`` / ``CLV_TIER_SHARES`` and ``LIFECYCLE_STATUSES`` follow Amperity's public
  documentation of the "Predicted CLV Attributes" table (Platinum = top 1%, Gold = 1-5%,
  Silver = 5-10%, Bronze = 10-25%, Medium = 25-50%, Low = bottom 50%; lifecycle status
  Active, Cooling down, At risk, Highly at risk, Lost).
* ``SUBCATEGORIES``, ``PRICE_PREFERENCES``, ``DISCOUNT_SENSITIVITIES`` and ``REGIONS`` are
  segcopy's OWN vocabularies for a fictional outdoor/cycling retailer. Amperity does not
  document such values publicly, so they are defined here and nowhere else; the sample data
  (``devtools/sample_data.py``) draws from them.
"""

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
