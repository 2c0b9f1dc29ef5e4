"""The labelled channel corpus (tests/data/channel_eval.jsonl) is well formed, and the rules it
led to behave at their edges: a number given to another attribute, scarcity claims, a spaced
dash that is no range, identity by nature. (How good the checks are is bench.quality's job.)"""

import json
from collections import Counter

from bench import quality_channels
from segcopy_assets.generation.channels import channel_names
from segcopy_assets.quality.offers import invented_offers
from segcopy_assets.quality.quantities import misattributed_numbers, quantities
from segcopy_assets.quality.voice import voice_problems

SLEEPING_BAG = (
    "The Alpine 20 is a mummy sleeping bag filled with 650 g of 800-fill-power goose down. It "
    "carries an ISO 23537 comfort rating of -1 °C and a limit rating of -7 °C. Total weight is "
    "1.05 kg, and the bag packs into an 8-litre compression sack."
)


def test_corpus_is_well_formed(prompts_dir):
    cases = quality_channels.load()
    assert len({c["id"] for c in cases}) == len(cases)
    assert {c["channel"] for c in cases} <= set(channel_names(prompts_dir))
    for case in cases:
        assert case["label"] in ("good", "bad") and case["split"] in ("tune", "heldout")
        assert (case["defect_class"] is None) == (case["label"] == "good"), case["id"]
        # a refusal or a missing rationale answers without the format: that is its defect
        assert "**Rationale:**" in case["answer"] or case["defect_class"] in (
            "refusal",
            "empty_rationale",
        ), case["id"]
    heldout = Counter((c["channel"], c["label"]) for c in cases if c["split"] == "heldout")
    for channel in ("email_subject", "sms", "push"):
        assert heldout[(channel, "good")] >= 10 and heldout[(channel, "bad")] >= 10


def test_the_bench_measures_every_channel_and_split():
    results, judged = quality_channels.run()
    assert set(results) == {"email_subject", "push", "sms"}
    assert all(set(splits) == {"tune", "heldout"} for splits in results.values())
    assert len(judged) == len(quality_channels.load())
    # the report lists what the tuning split misses, never the held-out part's cases
    heldout = [j for j in judged if j["case"]["split"] == "heldout"]
    assert heldout and quality_channels.misses(heldout) == ""


def test_a_number_given_to_another_attribute():
    (problem,) = misattributed_numbers("Alpine 20: comfort to -7 °C", SLEEPING_BAG)
    assert '"-7 °c" is given for comfort' in problem.lower()
    assert misattributed_numbers("Rated to -1 °C comfort", SLEEPING_BAG) == []
    # another form of the attribute's word ties the number to it too
    assert misattributed_numbers("Comfortable down to -7 °C", SLEEPING_BAG)
    assert misattributed_numbers("Comfortable down to -1 °C", SLEEPING_BAG) == []
    assert misattributed_numbers("A limit rating of -7 °C", SLEEPING_BAG) == []
    # a word the original uses around many numbers ("bag") ties none of them
    assert misattributed_numbers("A 1.05 kg mummy bag", SLEEPING_BAG) == []


def test_scarcity_and_deadlines_are_offer_claims():
    for claim in (
        "Last chance: the Basecamp 2",
        "Hurry, only a few left in stock",
        "Get it before it sells out",
        "Offer ends Sunday",
        "Limited stock of the Switchback HT",
    ):
        assert invented_offers(claim, SLEEPING_BAG), claim
    assert invented_offers("built to go fast and keep going fast", SLEEPING_BAG) == []
    assert invented_offers("The lights last longer", SLEEPING_BAG) == []


def test_a_spaced_dash_is_no_range():
    found = [(q.value, q.unit) for q in quantities("the Homestead 4 - 190 cm of peak height")]
    assert found == [(4.0, None), (190.0, "cm")]
    assert [(q.value, q.unit) for q in quantities("a 10-52 cassette")][:1] == [(10.0, None)]
    assert [q.unit for q in quantities("from 49 to 61 cm")] == ["cm", "cm"]


def test_identity_by_nature():
    assert voice_problems("You were born for the trail.", SLEEPING_BAG)
    assert voice_problems("You're made to ride long days.", SLEEPING_BAG)
    assert voice_problems("The jacket is made for wet commutes.", SLEEPING_BAG) == []


def test_corpus_file_is_one_json_object_per_line(repo_root):
    lines = (repo_root / "tests/data/channel_eval.jsonl").read_text().splitlines()
    assert all(isinstance(json.loads(line), dict) for line in lines)


def test_refusals_and_operator_talk_are_no_copy():
    from segcopy_assets.quality.answers import refusals

    for text in (
        "I'd rather not write this push without more context.",
        "Could you share the price first? Once I have that, I'll draft both fields.",
        "Here's the rewritten subject line: Dry feet on wet stone.",
        "I've kept every number. Let me know if you'd like another version.",
        "Would you like me to try a shorter one?",
    ):
        assert refusals(text), text
    for text in (
        "Could the trail be any drier? The Ascent Mid keeps feet dry.",
        "Here is where the Basecamp 2 shines: two doors, two vestibules.",
        "You can share the tent with a friend: it sleeps two.",
    ):
        assert refusals(text) == [], text


def test_perks_and_urgency_in_other_words_are_offers():
    for claim in (
        "Plus a little surprise in every box.",
        "Subscribers get a little extra with every jacket.",
        "A little something extra in the box when you order a pair.",
        "It's going fast: get yours before the weekend.",
        "Few left in regular.",
    ):
        assert invented_offers(claim, SLEEPING_BAG), claim
    for text in (
        "Built for going fast on the flats.",
        "Get by with one bag from spring to fall.",
        "A little extra warmth around the shoulders from the draft collar.",
    ):
        assert invented_offers(text, SLEEPING_BAG) == [], text


def test_a_rationale_of_filler_says_nothing():
    from segcopy_assets.quality.answers import rationale_problems

    assert rationale_problems("x", "This copy was written to appeal to the segment.")
    assert rationale_problems("x", "Tailored to resonate with the audience.")
    assert rationale_problems("x", "The group is practical, so the copy keeps it short.") == []
    assert rationale_problems("x", "47% prefer value, so weight leads.") == []


def test_the_readers_life_imagined_is_one_kind_of_person():
    for text in (
        "Desk job all week? Take Saturday's climb back.",
        "Between the kids and the office you get one hour.",
        "A dawn ride before the school run.",
    ):
        assert voice_problems(text, SLEEPING_BAG), text
    assert voice_problems("Room for a family of four.", "A tent for a family of four.") == []
