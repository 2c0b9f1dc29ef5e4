"""Rules added from fresh part h (issue 25): each class in words the corpus does not use."""

from segcopy_assets.quality.answers import rationale_without_segment, refusals
from segcopy_assets.quality.offers import invented_offers
from segcopy_assets.quality.quantities import quantities, unsupported_numbers
from segcopy_assets.quality.voice import voice_problems

SEGMENT = {
    "segment_id": "tents--pacific",
    "segment_description": "Customers whose preferred subcategory is Tents and whose region is "
    "Pacific (about 910 customers).\n- Price preference: 45% Value, 38% Mid-range, 17% Premium.",
    "top_regions": [{"value": "Pacific", "share": 1.0}],
    "top_states": [{"value": "California", "share": 0.486}],
}


def test_a_rationale_must_name_a_fact_of_the_segment_or_speak_of_the_group():
    filler = "Polished the wording so it reads smoothly and feels friendly throughout."
    assert rationale_without_segment(filler, SEGMENT)
    for good in (
        "Tent buyers on the Pacific coast, so the copy leads with weather.",
        "Nearly half prefer value, so no premium language.",
        "This group leans practical, so the copy stays plain.",
        "Riders here face sudden storms, so weight comes first.",
        "About 910 people, so the copy stays general.",
    ):
        assert not rationale_without_segment(good, SEGMENT), good
    assert not rationale_without_segment(filler, {})  # no description: nothing to compare


def test_free_guarantees_and_price_talk_without_their_usual_words():
    original = "A two-person tent with two doors. It weighs 1.6 kg."
    for copy in (
        "Setup help is on the house.",
        "A groundsheet comes at no extra charge.",
        "Should it ever leak, bring it back and we'll replace it.",
        "We stand behind every seam.",
        "The sort of tent you'd normally pay far more for.",
    ):
        assert invented_offers(copy, original), copy
    assert not invented_offers("It packs into its own bag, ready in minutes.", original)


def test_operator_hand_over_lines_and_declining_as_unsuitable():
    assert refusals("Here's the polished product description for the page.")
    assert refusals("Glad to help. Happy to draft a shorter one if that helps.")
    assert refusals(
        "This copy is not suitable for personalisation; the standard copy should stand."
    )
    assert not refusals("The Basecamp 2 is ready to pitch in about 4 minutes.")


def test_the_readers_habits_and_eye_told_to_them():
    original = "A road bike with 32 mm tyre clearance."
    for copy in (
        "You keep riding when the first frost comes.",
        "Sundays for you mean long miles.",
        "Your commutes never stop for rain.",
        "Your taste is refined, and rightly so.",
        "Bikes are what you browse most with us.",
    ):
        assert voice_problems(copy, original), copy
    assert not voice_problems("If you ride through winter, the clearance helps.", original)


def test_a_number_in_a_name_before_in_is_not_inches_and_us_fluid_ounces_are_volume():
    units = [q.unit for q in quantities("The Homestead 4 in around 10 minutes")]
    assert "in" not in units
    assert [q.unit for q in quantities("about 16.9 US fl oz")] == ["floz"]
    assert [q.unit for q in quantities("a 4 in wide strap")] == ["in"]


def test_a_count_in_a_unit_the_original_uses_must_be_one_of_its_values():
    original = "The Basecamp 2 pitches in about 4 minutes."
    assert unsupported_numbers("Pitch the Basecamp 2 in 2 minutes.", original)
    assert not unsupported_numbers("The Basecamp 2 pitches in 4 minutes.", original)
