"""Rules added from fresh part i (issue 25): each class in words the corpus does not use."""

from segcopy_assets.quality.answers import refusals
from segcopy_assets.quality.facts import per_pair_as_each
from segcopy_assets.quality.features import dropped_features, invented_features
from segcopy_assets.quality.judge import fact_problems
from segcopy_assets.quality.normalise import cased
from segcopy_assets.quality.offers import invented_offers
from segcopy_assets.quality.quantities import unsupported_numbers
from segcopy_assets.quality.voice import voice_problems

BOOTS = "A waterproof hiking boot. A pair in size 9 weighs 1.1 kg; the lugs are 5 mm deep."


def test_habits_told_as_facts_are_persona_but_conditions_are_not():
    original = "A commuter bike with full fenders and a 10-speed drivetrain."
    for copy in (
        "You commute by bike most days, rain or shine.",
        "Most weekends, you're up on the ridge before breakfast.",
        "You're usually the one who fixes everyone's flats.",
        "The fenders matter, and you ride nearly every evening.",
    ):
        assert voice_problems(copy, original), copy
    for copy in (
        "If you ride most days, the fenders earn their keep.",
        "Whether you're out most weekends or once a month, it shifts cleanly.",
        "The fenders keep you dry most days of the year.",
    ):
        assert not voice_problems(copy, original), copy


def test_praise_of_the_eye_and_tier_talk_before_a_noun():
    original = "A merino jersey with three rear pockets."
    assert voice_problems("You have a keen eye for detail, and it shows.", original)
    assert voice_problems("Made for our top-tier road customers.", original)
    assert not voice_problems("An eye-catching jersey with three rear pockets.", original)


def test_value_said_as_an_adjective_or_as_the_budget_spared():
    original = "A hardtail with 120 mm of travel."
    assert invented_offers("It is the best-value way into trail riding.", original)
    assert invented_offers("Get onto the trail without straining your budget.", original)
    assert not invented_offers("It offers 120 mm of travel for rough trails.", original)


def test_a_refusal_that_says_the_copy_is_not_available():
    assert refusals("A tailored version is not available for this audience.")
    assert refusals("Personalised text is not offered for this pairing.")
    assert not refusals("The Tempo is available in five sizes.")


def test_a_pairs_weight_given_for_each_item_is_a_changed_number():
    assert per_pair_as_each("Each boot weighs 1.1 kg in a size 9.", BOOTS)
    assert per_pair_as_each("At 1.1 kg per shoe, it stays light.", BOOTS)
    assert not per_pair_as_each("A pair in size 9 weighs 1.1 kg.", BOOTS)
    assert not per_pair_as_each("Each boot has 5 mm lugs; a pair weighs 1.1 kg.", BOOTS)
    # an original that gives the weight per item says nothing about pairs
    assert not per_pair_as_each("Each boot weighs 550 g.", "Each boot weighs 550 g.")


def test_three_layer_shorthand_is_layers_not_litres():
    original = "A 3-layer 20D nylon shell that packs to 500 ml."
    assert cased("a 3L 20D nylon shell") == "a 3-layer 20D nylon shell"
    assert cased("a 2.5L ripstop jacket") == "a 2.5-layer ripstop jacket"
    assert cased("a 3L bottle") == "a 3L bottle"
    assert not unsupported_numbers("A 3L 20D nylon shell.", original)


def test_an_odour_treatment_in_words_is_invented_and_an_emtb_names_its_motor():
    jersey = "A merino jersey with three rear pockets."
    assert invented_features("It is treated to keep odour down between washes.", jersey)
    ebike = "An electric mountain bike with a Bosch motor and a 750 Wh battery."
    assert "motor" not in " ".join(
        dropped_features("The eMTB runs Bosch power from a 750 Wh battery.", ebike)
    )


def test_the_part_i_rules_leave_ordinary_good_copy_alone():
    """Sentences a reviewer found flagged by a first version of these rules (all good copy)."""
    bike = "A hardtail with 120 mm of travel and full fenders."
    for copy in (
        "You can pack it for most day hikes.",
        "You can take it on most weekend trips without a second thought.",
        "Slip it on at the trailhead, and you can keep it on most days without overheating.",
        "Every day you wear it, the merino softens a little more.",
        "You've got a real eye-catcher on your hands.",
        "The wide lens gives you a good eye-level view of the trail.",
        "Top-tier suspension for riders who push hard.",
        "Top-tier protection for riders in the wet.",
    ):
        assert not voice_problems(copy, bike), copy
    for copy in (
        "This combination of merino and nylon does not pill or sag.",
        "The colour combination is not just striking, it's practical.",
        "The upper segment of the boot cannot let water in.",
        "The women's version is not available in black.",
    ):
        assert not refusals(copy), copy
    hardtail = "An electric hardtail with a 500 Wh battery."
    assert not invented_features("This e-bike carries a 500 Wh battery.", hardtail)
    road = "A carbon road bike with a 2x12 drivetrain."
    assert not invented_features("Keep pace with e-bikes on the climbs.", road)


def test_a_weight_given_per_item_in_the_original_may_stay_per_item():
    poles = "Weight: 320 g per pole (640 g per pair)."
    assert not per_pair_as_each("Each pole weighs just 320 g.", poles)
    gloves = "Each glove weighs 85 g, 170 g the pair."
    assert not per_pair_as_each("Each glove weighs just 85 g.", gloves)
    assert not per_pair_as_each(
        "At 1.1 kg, these boots are light, and each boot is hand-lasted.", BOOTS
    )


def test_layers_on_both_sides_and_litres_stay_litres():
    shell = "The Ridge Shell is a 3L 20D nylon jacket with taped seams."
    assert not fact_problems("The Ridge Shell is a 3L 20D nylon jacket with taped seams.", shell)
    assert not fact_problems(
        "The Ridge Shell is a three-layer 20D nylon jacket with taped seams.", shell
    )
    bag = "A 3L nylon stuff sack with a roll-top."
    assert cased(bag) == bag
    assert not unsupported_numbers("A roll-top 3L stuff sack in nylon.", bag)
