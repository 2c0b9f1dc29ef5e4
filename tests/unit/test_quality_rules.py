"""The deterministic quality rules, one by one: each passes good copy and fails bad copy, and
says which words made it fail. Examples are written for these tests, not taken from the corpus."""

import pytest

from segcopy_assets.quality.answers import rationale_problems, refusals
from segcopy_assets.quality.fact_matching import fact_present, metric_equivalents
from segcopy_assets.quality.features import dropped_features, invented_features, product_domains
from segcopy_assets.quality.offers import invented_offers
from segcopy_assets.quality.places import places_named
from segcopy_assets.quality.prose import structure_found
from segcopy_assets.quality.quantities import swapped_numbers, unsupported_numbers
from segcopy_assets.quality.voice import voice_problems

BIKE = (
    "The Tempo is an endurance road bike with a 6061 aluminium frame. Hydraulic disc brakes with "
    "160 mm rotors stop well, and the frame clears 32 mm tyres. It has hidden mounts for full "
    "fenders and a rear rack. A size 56 weighs 9.4 kg."
)
TENT = (
    "The Basecamp 2 is a freestanding tent for two people. Two doors and two vestibules give "
    "gear storage. The fly is 20D ripstop nylon. The packed weight is 1.6 kg."
)
BOOT = "The Ridge boot has a Gore-Tex membrane and a Vibram outsole with 5 mm lugs. A pair weighs 1.1 kg."
SEGMENT = {
    "segment_id": "s",
    "top_regions": [{"value": "Pacific", "share": 0.62}, {"value": "Midwest", "share": 0.2}],
    "top_states": [{"value": "California", "share": 0.41}, {"value": "Washington", "share": 0.15}],
    "top_cities": [{"value": "Los Angeles", "share": 0.2}, {"value": "Seattle", "share": 0.1}],
}


# ------------------------------------------------------------------------------ plain prose


@pytest.mark.parametrize("copy, kind", [
    ("## Why it works\nA fast bike.", "a heading"),
    ("Fast.\n\n- 160 mm rotors\n- 9.4 kg", "a bullet list"),
    ("1. Light\n2. Fast", "a numbered list"),
    ("The **frame** is aluminium.", "bold or underlined text"),
    ("| spec | value |\n|---|---|\n| weight | 9.4 kg |", "a table"),
    ("Key specs:\nA 9.4 kg frame.", "a label line"),
    ("Built for the Long Haul\n\nThe Tempo is an endurance bike.", "a heading"),
])  # fmt: skip
def test_structure_is_found_and_quoted(copy, kind):
    found = structure_found(copy)
    assert found and found[0].startswith(kind), found
    assert '("' in found[0]


@pytest.mark.parametrize("copy", [
    "The Tempo is fast. It weighs 9.4 kg – light enough.\n\nA second paragraph: more prose.",
    "Ride more.\n\nThe Basecamp 2 sleeps two.",
    "Rated to -7 °C, it has a two-way zip; a pocket holds keys.",
])  # fmt: skip
def test_prose_passes(copy):
    assert structure_found(copy) == []


# ------------------------------------------------------------------------------ facts


@pytest.mark.parametrize("fact, text", [
    ("Two doors", "a pair of doors"),
    ("Two doors", "dual doors"),
    ("two people", "a tent for two"),
    ("two people", "a two-person tent"),
    ("Six frame sizes", "half a dozen frame sizes"),
    ("one-piece", "single-piece"),
    ("20,000 mm", "a 20K mm rating"),
    ("1.6 kg", "1,600 g"),
    ("160 mm", "16 cm"),
    ("29-inch", '29" wheels'),
    ("29-inch", "29in wheels"),
    ("27.5-inch", "650b wheels"),
    ("XXL", "XS to 2XL"),
    ("12-speed", "twelve-speed"),
])  # fmt: skip
def test_a_fact_written_another_way_is_present(fact, text):
    assert fact_present(fact, text)


@pytest.mark.parametrize("fact, text", [
    ("8.1 kg", "18.1 kg"),
    ("8.1 kg", "8.15 kg"),
    ("5 °C", "-5 °C"),
    ("two vestibules", "two doors and vestibules"),
    ("1.6 kg", "1,700 g"),
])  # fmt: skip
def test_a_changed_fact_is_absent(fact, text):
    assert not fact_present(fact, text)


def test_metric_equivalents_stay_plain_numbers():
    assert metric_equivalents("1.6 kg") == ["1600 g"]
    assert "16 cm" in metric_equivalents("160 mm")
    assert metric_equivalents("9 mph") == []


def test_conversions_must_be_right():
    assert unsupported_numbers("It weighs 9.4 kg (about 20.7 lb).", BIKE) == []
    assert unsupported_numbers("It weighs 9.4 kg (about 21 lb).", BIKE) == []
    wrong = unsupported_numbers("It weighs 9.4 kg (about 18 lb).", BIKE)
    assert wrong and '"18 lb"' in wrong[0]
    assert unsupported_numbers("Rated to -7 °C (19 °F).", "A limit rating of -7 °C.") == []
    assert unsupported_numbers("Rated to -7 °C (23 °F).", "A limit rating of -7 °C.")


def test_a_new_number_is_named():
    problems = unsupported_numbers("It tops out at 25 km/h and weighs 9.4 kg.", BIKE)
    assert problems == ['"25 km/h" is a number the original does not give']
    assert unsupported_numbers("Rated 4.8 stars.", BIKE)


def test_a_number_in_the_original_s_own_unit_must_be_exact():
    tent = "A floor of 240 by 240 cm. It weighs 8.9 kg."
    (problem,) = unsupported_numbers("A floor of 240 by 241 cm.", tent)
    assert '"241 cm" matches no quantity' in problem
    assert unsupported_numbers("It weighs 9.0 kg.", tent)
    # a conversion is rounded, the original's unit is not
    assert unsupported_numbers("240 by 240 cm (about 94 in), 8.9 kg (19.6 lb).", tent) == []


def test_the_trade_names_of_sizes_are_no_new_numbers():
    assert (
        unsupported_numbers("It rolls on 650b wheels in XS to 2XL.", "27.5-inch wheels, XS to XXL.")
        == []
    )


def test_swapped_numbers_fail_and_name_both():
    original = "It has a 200 mm front rotor and a 180 mm rear rotor."
    assert swapped_numbers("It has a 200 mm front rotor and a 180 mm rear rotor.", original) == []
    assert swapped_numbers("Its 180 mm rear rotor and 200 mm front rotor.", original) == []
    swapped = swapped_numbers("It has a 180 mm front rotor and a 200 mm rear rotor.", original)
    assert swapped and '"180 mm"' in swapped[0] and '"200 mm"' in swapped[0]


def test_a_dropped_feature_is_quoted_from_the_original():
    kept = BIKE.replace("fenders", "mudguards")
    assert dropped_features(kept, BIKE) == []
    assert dropped_features(BIKE.replace(" and a rear rack", ""), BIKE) == ["rear rack"]


def test_an_invented_feature_is_quoted_and_kind_aware():
    assert invented_features(BIKE + " Thru-axles keep it stiff.", BIKE) == ["thru-axles"]
    assert invented_features(BOOT + " It is waterproof.", BOOT) == []  # Gore-Tex implies it
    assert invented_features(BOOT + " Perfect after the bike is back on the rack.", BOOT) == []
    assert invented_features(TENT + " It comes with a footprint.", TENT) == ["footprint"]
    assert product_domains(BIKE) == {"bike"} and product_domains(TENT) == {"tent"}
    assert invented_features("A smaller carbon footprint.", TENT) == []


# ------------------------------------------------------------------------------ offers


@pytest.mark.parametrize("copy, words", [
    ("Now 20% off.", "20% off"),
    ("Shipping is free this week.", "Shipping is free"),
    ("Spread the cost with monthly payments.", "Spread the cost"),
    ("Great value for a race bike.", "Great value"),
    ("All that for less than most boots cost.", "for less than"),
    ("Backed by a lifetime guarantee.", "guarantee"),
    ("An award-winning design.", "award-winning"),
    ("UL-certified electrics.", "UL-certified"),
])  # fmt: skip
def test_invented_offers_are_quoted(copy, words):
    assert words in invented_offers(copy, BIKE)


@pytest.mark.parametrize("copy", [
    "The fork offers 130 mm of travel and deals calmly with roots.",
    "A free-running hub and a free-floating rotor save weight.",
    "It deals just as well with wet boardwalks.",
    "A great deal of comfort on long days.",
])  # fmt: skip
def test_offer_words_in_a_technical_sense_pass(copy):
    assert invented_offers(copy, BIKE) == []


def test_an_offer_the_original_makes_is_allowed():
    assert invented_offers("Comes with a 2-year warranty.", "Includes a 2-year warranty.") == []


# ------------------------------------------------------------------------------ voice


@pytest.mark.parametrize("copy", [
    "You're the rider who commutes in any weather.",
    "You're always first at the trailhead.",
    "Made for discerning riders like you.",
    "Our most loyal customers asked for this.",
    "Picked for our Gold and Silver customers.",
    "For shoppers who keep an eye out for discounts.",
    "As a cyclist and a New Yorker, you know traffic.",
    "Welcome back: it's been a while.",
    "Because you're a weekend warrior, it packs small.",
    "You ride harder than anyone, so the frame is stiff.",
    "For our Platinum sleepers: warm down.",
    "Many of you ride to work, so the fenders stay on.",
])  # fmt: skip
def test_copy_for_one_kind_of_person_fails(copy):
    assert voice_problems(copy, BIKE), copy


@pytest.mark.parametrize("copy", [
    "If you're a commuter who rides in the rain, the fenders help.",
    "Whether you're new to camping or not, it pitches in minutes.",
    "When you're out all day, the pockets hold food.",
    "You're covered when the weather turns.",
    "It has a gold finish and a silver logo.",
    "Because it's light, you're faster on the climbs.",
    "Since you're out all day, the pockets hold food.",
    "Most of your gear fits in the panniers.",
])  # fmt: skip
def test_conditional_and_ordinary_second_person_passes(copy):
    assert voice_problems(copy, BIKE) == []


def test_places_by_share_with_nicknames_and_common_words():
    assert places_named("Built for Pacific weekends.", BIKE, SEGMENT, 0.5) == []
    assert places_named("Great around Los Angeles.", BIKE, SEGMENT, 0.5) == [
        "Los Angeles (20% of the segment)"
    ]
    assert places_named("Made for the Pacific Northwest.", BIKE, SEGMENT, 0.5) == [
        "Pacific Northwest (15% of the segment)"
    ]
    assert places_named("Perfect for a Yosemite weekend.", BIKE, SEGMENT, 0.5) == [
        "Yosemite [California] (41% of the segment)"
    ]
    assert places_named("Bend your knees on the descent.", BIKE, SEGMENT, 0.5) == []
    assert places_named("Trails around Bend are its home.", BIKE, SEGMENT, 0.5)
    assert places_named("A Summit-ready fit.", BIKE, SEGMENT, 0.5) == []
    assert places_named("Ride it in Texas.", BIKE, SEGMENT, 0.5) == [
        "Texas (0%: not among the segment's top places)"
    ]


def test_a_place_the_original_names_is_allowed():
    original = "The Cascade jacket is waterproof."
    assert places_named("The Cascade jacket keeps rain out.", original, SEGMENT, 0.5) == []


# ------------------------------------------------------------------------------ answers


@pytest.mark.parametrize("copy", [
    "I'm sorry, but I can't help with that.",
    "This request cannot be completed as specified.",
    "Unable to rewrite this description without additional product information.",
    "A tailored version could not be generated for this product.",
])  # fmt: skip
def test_refusals_personal_and_impersonal_fail(copy):
    assert refusals(copy)


def test_copy_is_no_refusal():
    assert refusals("It cannot be beaten on a long climb? It can: the gearing is wide.") == []
    assert refusals(BIKE) == []


@pytest.mark.parametrize(
    "rationale", ["", "N/A", "See above.", "-", "None", "**Rationale:** n/a", "ok"]
)
def test_a_rationale_without_content_fails(rationale):
    assert rationale_problems("Some copy.", rationale)


def test_a_rationale_with_content_passes():
    assert (
        rationale_problems("Some copy.", "Led with durability because most of the segment is core.")
        == []
    )
    assert rationale_problems("", "Led with durability.") == ["the copy is empty"]
