"""The deterministic per-variant quality checks: each check passes good copy and fails bad copy."""

from pathlib import Path

import polars as pl
import pytest

from segcopy_assets.core.segments import compute_segment_summaries
from segcopy_assets.devtools.sample_data import generate_customers
from segcopy_assets.devtools.sample_products import SAMPLE_PRODUCTS
from segcopy_assets.generation.answer_parsing import split_copy_and_rationale
from segcopy_assets.generation.offline_writer import write_offline_variant
from segcopy_assets.quality.brand_voice import avoid_words_from_brand_voice
from segcopy_assets.quality.fact_matching import fact_present
from segcopy_assets.quality.facts import extract_facts
from segcopy_assets.quality.judge import (
    CHECKS,
    ERROR,
    WARN,
    CheckSettings,
    Verdict,
    judge_partition,
    judge_variant,
)
from segcopy_assets.storage.tables import VARIANT_SCHEMA, VERDICT_SCHEMA

BRAND_VOICE = Path(__file__).resolve().parents[2] / "prompts" / "brand_voice.md"
PRODUCTS = {p["product_id"]: p for p in SAMPLE_PRODUCTS}

# A gravel bike with the facts the brief names; the variant below keeps them all.
ORIGINAL = (
    "The Pace is a gravel bike with a carbon frame and a Shimano GRX 810 groupset with 12-speed "
    "shifting and a 1x12 drivetrain. A size 54 weighs 8.1 kg, and the frame clears 700x28c tyres. "
    "The fork has two bottle mounts and the bike rolls on DAC NSL aluminium rims. Six frame sizes "
    "fit riders from about 155 to 195 cm tall, and the wheels come set up tubeless."
)
GOOD = (
    "Built for long days on mixed surfaces, the Pace is a gravel bike with a carbon frame and a "
    "Shimano GRX 810 groupset: 12-speed shifting on a 1x12 drivetrain. In size 54 it weighs 8.1 kg, "
    "and the frame clears 700x28c tires. The fork carries two bottle mounts, the rims are DAC NSL "
    "aluminum, and the wheels come set up tubeless. Six frame sizes fit riders from about 155 to "
    "195 cm tall."
)
RATIONALE = "Led with range and durability because most of the segment prefers premium gear."


def segment(region_share: float = 0.3, region: str = "Pacific") -> dict:
    """A segment_summaries row reduced to what the checks read."""
    rest = round(1 - region_share, 4)
    return {
        "segment_id": "road-bikes--high-value",
        "top_regions": [
            {"value": region, "count": int(region_share * 100), "share": region_share},
            {"value": "Northeast", "count": int(rest * 100), "share": rest},
        ][:: 1 if region_share >= rest else -1],
        "top_states": [{"value": "California", "count": 20, "share": 0.2}],
        "top_cities": [
            {"value": "Bend", "count": 5, "share": 0.05},
            {"value": "Los Angeles", "count": 8, "share": 0.08},
        ],
    }


def judge(
    copy: str = GOOD,
    rationale: str = RATIONALE,
    original: str = ORIGINAL,
    seg: dict | None = None,
    settings: CheckSettings = CheckSettings(),
) -> dict[str, Verdict]:
    verdicts = judge_variant(copy, rationale, original, segment() if seg is None else seg, settings)
    return {v.check: v for v in verdicts}


def failed(verdicts: dict[str, Verdict]) -> dict[str, str]:
    return {name: v.reason for name, v in verdicts.items() if not v.passed}


# --------------------------------------------------------------------------------------
# API shape and the good example
# --------------------------------------------------------------------------------------


def test_checks_in_order_with_severities():
    assert list(CHECKS) == [
        "coverage",
        "well_formed",
        "rationale_present",
        "plain_prose",
        "facts_preserved",
        "no_invented_features",
        "no_invented_offers",
        "whole_segment_voice",
        "no_refusal",
        "llm_judge",
        "length_in_bounds",
        "brand_voice",
    ]
    assert [s for s in CHECKS.values()] == [ERROR] * 10 + [WARN] * 2


def test_good_variant_passes_every_content_check_in_order():
    verdicts = judge_variant(
        GOOD, RATIONALE, ORIGINAL, segment(), CheckSettings(avoid_words=("cheap",))
    )
    assert [v.check for v in verdicts] == [c for c in list(CHECKS)[2:] if c != "llm_judge"]
    assert all(v.passed and v.reason == "" for v in verdicts), verdicts
    assert {v.severity for v in verdicts if v.check in ("length_in_bounds", "brand_voice")} == {
        WARN
    }


# --------------------------------------------------------------------------------------
# Facts
# --------------------------------------------------------------------------------------


def test_extract_facts_from_the_brief_example():
    facts = extract_facts(ORIGINAL)
    assert facts == [
        "Pace",
        "Shimano GRX 810",
        "12-speed",
        "1x12",
        "size 54",
        "8.1 kg",
        "700x28c",
        "two bottle mounts",
        "DAC NSL",
        "Six frame sizes",
        "155",
        "195 cm",
    ]


def test_extract_facts_on_every_sample_product():
    expected = {  # a few facts per product that must be found
        "RB-100": ["Shimano 105", "12-speed", "9.4 kg", "11-34", "size 56"],
        "RB-200": ["1,180 g", "Shimano Ultegra Di2", "52/36"],
        "MB-100": ["RockShox Pike", "SRAM GX Eagle", "65-degree", "29-inch", "14.6 kg"],
        "MB-200": ["Shimano Deore", "1x12", "27.5-inch", "Two-piston"],
        "EB-100": ["Bosch Performance Line", "75 Nm", "500 Wh", "110 km"],
        "EB-200": ["Bosch Performance Line CX", "Fox 36", "4 A", "6 hours"],
        "TN-100": ["20D", "1,500 mm", "Two doors", "DAC", "0.9 square metres", "1.6 kg"],
        "TN-200": ["four adults", "Two large D-shaped doors", "75D", "8.9 kg"],
        "SB-100": ["ISO 23537", "-1 °C", "-7 °C", "800-fill-power", "8-litre"],
        "SB-200": ["5 °C", "0 °C", "Two bags", "12-litre"],
        "CA-100": ["130 gsm", "Three rear pockets", "YKK Vislon", "XS", "XXL", "118 g"],
        "CA-200": ["3-layer", "20,000 mm", "Two underarm zips", "500 ml"],
        "HF-100": ["Gore-Tex", "Vibram Megagrip", "EVA", "size 9", "1.1 kg"],
        "HF-200": ["TPU", "Vibram", "OrthoLite", "8 mm", "680 g"],
    }
    for product in SAMPLE_PRODUCTS:
        facts = extract_facts(product["description"])
        print(f"{product['product_id']}: {facts}")  # shown with -s or on failure
        assert facts, product["product_id"]
        assert len(facts) == len({f.lower() for f in facts}), facts
        for fact in expected[product["product_id"]]:
            assert fact in facts, (product["product_id"], fact, facts)
        # Never a sentence-opening common word, a unit or a material as a "name".
        for noise in (
            "Hydraulic",
            "The",
            "Sizes",
            "Deep",
            "Nm",
            "Wh",
            "aluminium",
            "Full",
            "Mixed",
            "Peak",
        ):
            assert noise not in facts, (product["product_id"], noise)
        verdict = judge(product["description"], original=product["description"])["facts_preserved"]
        assert verdict.passed, (product["product_id"], verdict.reason)
    assert extract_facts("") == []


@pytest.mark.parametrize(
    "fact,text",
    [
        ("8.1 kg", "weighs 8.1 kg."),
        ("8.1 kg", "8.1kg"),
        ("8.1 kg", "8.1 kilograms"),
        ("8.1 kg", "8.1\u00a0kg"),
        ("1,500 mm", "1500 mm"),
        ("1,500 mm", "1\u202f500 mm"),
        ("1,500 mm", "1,500 millimeters"),
        ("-7 °C", "−7 °C"),
        ("-7 °C", "-7°C"),
        ("-7 °C", "minus 7 degrees Celsius"),
        ("12-speed", "12 speed"),
        ("12-speed", "twelve-speed"),
        ("20D", "20-denier"),
        ("29-inch", '29"'),
        ("8-litre", "8-liter"),
        ("0.9 square metres", "0.9 m²"),
        ("65-degree", "65°"),
        ("4 A", "4-amp"),
        ("Two doors", "2 doors"),
        ("Two doors", "two D-shaped doors"),
        ("two-way", "2-way"),
        ("11-34", "11–34"),
        ("11-34", "11 to 34"),
        ("700x28c", "700 × 28c"),
        ("size 56", "size-56"),
        ("Shimano 105", "SHIMANO 105"),
        ("Gore-Tex", "Gore Tex"),
        ("Bosch Performance Line CX", "Bosch  Performance Line CX"),
    ],
)
def test_fact_present_is_tolerant(fact, text):
    assert fact_present(fact, text)


@pytest.mark.parametrize(
    "fact,text",
    [
        ("8.1 kg", "18.1 kg"),
        ("8.1 kg", "8.15 kg"),
        ("8.1 kg", "8.1 lb"),
        ("1,500 mm", "11,500 mm"),
        ("-7 °C", "7 °C"),
        ("5 °C", "-5 °C"),
        ("5 °C", "15 °C"),
        ("12-speed", "11-speed"),
        ("Two doors", "three doors"),
        ("Two doors", "a door"),
        ("11-34", "11-32"),
        ("700x28c", "700x32c"),
        ("Shimano 105", "Shimano 1050"),
        ("Bosch Performance Line CX", "Bosch Performance Line"),
        ("XS", "XXS"),
        ("size 56", "56 cm"),
        ("49", "149"),
        ("49", "491 mm"),
        ("11-34", "11-340"),
    ],
)
def test_fact_present_is_strict_about_the_value(fact, text):
    assert not fact_present(fact, text)


def test_dropped_weight_fails_facts_preserved_and_names_it():
    verdict = judge(GOOD.replace(" it weighs 8.1 kg,", ""))["facts_preserved"]
    assert not verdict.passed and verdict.severity == ERROR
    assert verdict.reason == 'missing facts: "8.1 kg"'
    changed = judge(GOOD.replace("8.1 kg", "8.4 kg").replace("Shimano GRX 810", "Shimano GRX"))[
        "facts_preserved"
    ]
    assert changed.reason == (  # in order of appearance, then the number that replaced one
        'missing facts: "Shimano GRX 810", "8.1 kg"; '
        '"8.4 kg" matches no quantity of the original (nearest: "8.1 kg")'
    )


# --------------------------------------------------------------------------------------
# Rationale, offers, voice, refusals, length, brand voice
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "copy,rationale,reason",
    [
        (GOOD, "", "the rationale is empty"),
        (GOOD, "  \n ", "the rationale is empty"),
        (GOOD, None, "the rationale is empty"),
        ("   ", RATIONALE, "the copy is empty"),
    ],
)
def test_missing_rationale_or_copy_fails(copy, rationale, reason):
    verdict = judge(copy, rationale)["rationale_present"]
    assert not verdict.passed and verdict.reason == reason


@pytest.mark.parametrize(
    "claim",
    [
        "Now 62% off!",
        "Save 30% this week.",
        "Only $49 this week.",
        "It costs 49.99 USD.",
        "Yours for €1,999.",
        "Grab it at half price.",
        "It is on sale now.",
        "Use promo code RIDE10.",
        "A great deal for riders.",
        "Enjoy free shipping.",
        "For a limited time only.",
        "BOGO on bottles.",
        "Buy one, get one free.",
        "Ask about our discount.",
        "Comes with a coupon.",
    ],
)
def test_invented_offers_fail(claim):
    verdict = judge(f"{GOOD} {claim}")["no_invented_offers"]
    assert not verdict.passed, claim
    assert verdict.reason.startswith("offer claims not in the original: ")


def test_a_percentage_that_is_no_offer_is_a_new_number():
    verdicts = judge(f"{GOOD} It is 20 percent lighter.")
    assert verdicts["no_invented_offers"].passed
    assert (
        '"20 percent" is a number the original does not give' in verdicts["facts_preserved"].reason
    )


def test_62_percent_off_is_named_in_the_reason():
    assert judge(f"{GOOD} Today it is 62% off.")["no_invented_offers"].reason == (
        'offer claims not in the original: "62% off"'
    )


def test_offer_words_that_are_not_offers_pass():
    original = f"{ORIGINAL} The shell is 100% recycled polyester."
    copy = (
        f"{GOOD} The shell is 100% recycled polyester, a great deal of grip deals with wet roots, and "
        "our sales associates say it saves weight. The freestanding, PFC-free frame offers resale value."
    )
    assert judge(copy, original=original)["no_invented_offers"].passed
    assert judge(copy.replace("100%", "100 percent"), original=original)[
        "no_invented_offers"
    ].passed
    # The same claim in the original is allowed; a different percentage changes a fact.
    changed = judge(copy.replace("100%", "90%"), original=original)
    assert changed["no_invented_offers"].passed and not changed["facts_preserved"].passed


def test_the_walkthroughs_cyclist_and_new_yorker_fails():
    copy = f"As a cyclist and a New Yorker, you need a bike that keeps up. {GOOD}"
    verdict = judge(copy)["whole_segment_voice"]
    assert not verdict.passed and verdict.severity == ERROR
    assert "As a cyclist and a New Yorker" in verdict.reason


@pytest.mark.parametrize(
    "phrase",
    [
        "As someone who rides every day, you will like it.",
        "As an avid rider, you know the roads.",
        "Since you live in the city, the range helps.",
        "As a loyal customer, you get the best.",
        "It is the right bike for a Platinum customer like you.",
        "Our high-value riders love it.",
        "Chosen for your customer segment.",
        "Your lifetime value matters to us.",
        "Given your discount sensitivity, it lasts.",
        "Members of the Gold tier ride it.",
    ],
)
def test_identity_assignment_fails(phrase):
    verdict = judge(f"{GOOD} {phrase}")["whole_segment_voice"]
    assert not verdict.passed, phrase
    labels = ("tells the reader who they are", "gives the whole segment one identity",
              "flatters the segment", "mentions the segmentation")  # fmt: skip
    assert verdict.reason.startswith(labels) and '"' in verdict.reason, verdict.reason


def test_ordinary_as_a_phrases_pass():
    copy = (
        f"{GOOD} As a result, it stays light. It unzips to open flat as a quilt, and it works as a "
        "commuter bike. As a three-season frame, it does a lot. It suits people who ride in all weather. "
        "Top-tier components make it a high-value upgrade."
    )
    assert judge(copy)["whole_segment_voice"].passed


def test_region_named_at_30_percent_fails_and_at_70_percent_passes():
    copy = f"{GOOD} It is ready for the roads, trails and seasons of the Pacific."
    minority = judge(copy, seg=segment(0.3))["whole_segment_voice"]
    assert not minority.passed
    assert "Pacific (30% of the segment)" in minority.reason
    assert judge(copy, seg=segment(0.7))["whole_segment_voice"].passed
    assert judge(copy, seg=segment(0.5))["whole_segment_voice"].passed  # half the segment is enough
    stricter = CheckSettings(place_share_threshold=0.8)
    assert not judge(copy, seg=segment(0.7), settings=stricter)["whole_segment_voice"].passed


def test_places_the_segment_does_not_hold_fail_unless_the_original_names_them():
    for copy, place in [
        (f"{GOOD} Built for Colorado climbs.", "Colorado (0%: not among the segment's top places)"),
        (f"{GOOD} Loved from Los Angeles to Denver.", "Los Angeles (8% of the segment)"),
        (f"{GOOD} Ride it around Bend.", "Bend (5% of the segment)"),
        (f"{GOOD} Tested around Colorado Springs.", "Colorado Springs (0%"),
    ]:
        verdict = judge(copy)["whole_segment_voice"]
        assert not verdict.passed and place in verdict.reason, copy
    # A place the original names (a product named after one, where it was tested) is allowed,
    # and a common word opening a sentence is not a place.
    copy = f"{GOOD} It was developed on the climbs above Boulder."
    assert "Boulder (0%" in judge(copy)["whole_segment_voice"].reason
    assert judge(copy, original=f"{ORIGINAL} It was developed in Boulder.")[
        "whole_segment_voice"
    ].passed
    assert judge(f"{GOOD} Bend your elbows on descents. The pacific mood suits it.")[
        "whole_segment_voice"
    ].passed
    assert (
        "Colorado Springs"
        in judge(f"{GOOD} Tested around Colorado Springs.")["whole_segment_voice"].reason
    )
    assert (
        "Colorado ("
        not in judge(f"{GOOD} Tested around Colorado Springs.")["whole_segment_voice"].reason
    )


def test_segment_without_place_lists_flags_every_place():
    verdict = judge(f"{GOOD} Made for the Pacific.", seg={"segment_id": "x"})["whole_segment_voice"]
    assert not verdict.passed and "Pacific (0%" in verdict.reason
    assert judge(GOOD, seg={})["whole_segment_voice"].passed


@pytest.mark.parametrize(
    "copy",
    [
        "I'm sorry, but I can't help with that.",
        f"{GOOD} As an AI language model, I cannot judge bikes.",
        f"I am unable to rewrite this. {GOOD}",
        f"{GOOD} I’m unable to verify the weight.",
    ],
)
def test_refusal_fails(copy):
    verdict = judge(copy)["no_refusal"]
    assert not verdict.passed and verdict.severity == ERROR
    assert "refusal" in verdict.reason


def test_refusal_reason_for_the_classic_refusal():
    assert judge("I'm sorry, but I can't help with that.")["no_refusal"].reason == (
        'reads like a refusal: "I\'m sorry", "I can\'t help"'
    )
    assert judge(f"{GOOD} You can't go wrong on a long day.")["no_refusal"].passed


def test_length_out_of_bounds_warns_with_the_numbers():
    n_orig = len(ORIGINAL.split())
    assert n_orig == 69
    short = judge("A light gravel bike, 8.1 kg.")["length_in_bounds"]
    assert not short.passed and short.severity == WARN
    assert (
        short.reason
        == "6 words, outside 30-250; 0.09x the original's 69 words (6 words), outside 0.6-1.5x"
    )
    long = judge(" ".join([GOOD] * 3))[
        "length_in_bounds"
    ]  # 3 x 73 words: within 250 words, not within 2x
    assert long.reason == "3.17x the original's 69 words (219 words), outside 0.6-1.5x"
    assert judge(" ".join([GOOD] * 3), settings=CheckSettings(max_length_ratio=4.0))[
        "length_in_bounds"
    ].passed
    assert not judge(
        " ".join([GOOD] * 3), settings=CheckSettings(max_length_ratio=4.0, max_words=200)
    )["length_in_bounds"].passed


def test_avoid_words_parsed_from_the_brand_voice_file():
    words = avoid_words_from_brand_voice(BRAND_VOICE.read_text())
    assert words == (
        "cheap",
        "bargain",
        "revolutionary",
        "game-changer",
        "best-in-class",
        "unbeatable",
        "guaranteed",
    )
    text = "Tone: warm.\n**AVOID:** Hype, `world-class`; and cheap.\nWords to avoid:\n  - epic\n  - insane\nOther: x"
    assert avoid_words_from_brand_voice(text) == ("hype", "world-class", "cheap", "epic", "insane")
    assert avoid_words_from_brand_voice("Avoid hype, prefer facts.") == ()


def test_brand_voice_flags_avoided_words_unless_the_original_uses_them():
    settings = CheckSettings(avoid_words=avoid_words_from_brand_voice(BRAND_VOICE.read_text()))
    verdict = judge(f"{GOOD} A real game changer, and not cheap.", settings=settings)["brand_voice"]
    assert not verdict.passed and verdict.severity == WARN
    assert verdict.reason == 'uses words the brand voice avoids: "cheap", "game-changer"'
    assert judge(f"{GOOD} Cheaper to run.", settings=settings)[
        "brand_voice"
    ].passed  # whole words only
    original = f"{ORIGINAL} Its best-in-class clearance is a bonus."
    assert judge(
        f"{GOOD} Its best-in-class clearance helps.", original=original, settings=settings
    )["brand_voice"].passed


# --------------------------------------------------------------------------------------
# The offline writer's output passes everything
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_segments() -> list[dict]:
    customers = pl.concat(list(generate_customers(20_000))).lazy()
    return compute_segment_summaries(customers).to_dicts()


def test_offline_writer_output_passes_all_checks(sample_segments):
    settings = CheckSettings(avoid_words=avoid_words_from_brand_voice(BRAND_VOICE.read_text()))
    named_a_region = 0
    for seg in sample_segments:
        for product in SAMPLE_PRODUCTS:
            parsed = split_copy_and_rationale(write_offline_variant(seg, product))
            verdicts = judge_variant(
                parsed.copy, parsed.rationale, product["description"], seg, settings
            )
            assert len(verdicts) == 9
            assert not [v for v in verdicts if not v.passed], (
                seg["segment_id"],
                product["product_id"],
                verdicts,
            )
            named_a_region += "seasons of the" in parsed.copy
    assert named_a_region >= len(SAMPLE_PRODUCTS)  # the region path is exercised (Mountain Bikes)


def test_offline_copy_naming_a_minority_region_would_fail(sample_segments):
    seg = next(s for s in sample_segments if s["segment_id"] == "tents--core")
    product = PRODUCTS["TN-100"]
    copy = split_copy_and_rationale(write_offline_variant(seg, product)).copy
    leader = seg["top_regions"][0]
    assert leader["share"] < 0.5
    verdict = judge(
        f"{copy} Made for the {leader['value']}.", original=product["description"], seg=seg
    )
    assert (
        f"{leader['value']} ({round(leader['share'] * 100)}% of the segment)"
        in verdict["whole_segment_voice"].reason
    )


# --------------------------------------------------------------------------------------
# A partition
# --------------------------------------------------------------------------------------


def variant_row(seg="s1", prod="TN-100", status="ok", copy=None, error=None, ihash="h") -> dict:
    text = PRODUCTS[prod]["description"] if copy is None and status == "ok" else copy
    return {
        "segment_id": seg,
        "product_id": prod,
        "input_hash": ihash,
        "variant_text": text,
        "rationale": RATIONALE if status == "ok" else None,
        "status": status,
        "error": error,
    }


def run_partition(rows, expected, segments=None):
    frame = pl.DataFrame(rows, schema=VARIANT_SCHEMA)
    originals = {pid: p["description"] for pid, p in PRODUCTS.items()}
    return judge_partition(
        frame, expected, originals, segments or {"s1": segment()}, CheckSettings()
    )


def verdict_of(table: pl.DataFrame, prod: str, check: str) -> list[dict]:
    return table.filter((pl.col("product_id") == prod) & (pl.col("check") == check)).to_dicts()


def test_partition_table_shape_and_content_checks_for_ok_rows():
    table = run_partition(
        [variant_row(prod="TN-100"), variant_row(prod="TN-200", status="failed", error="timeout")],
        [("s1", "TN-100"), ("s1", "TN-200")],
    )
    assert table.schema == VERDICT_SCHEMA
    assert list(table.columns) == [
        "segment_id",
        "product_id",
        "input_hash",
        "check",
        "passed",
        "severity",
        "reason",
        "variant_hash",
        "rules_hash",
    ]
    ok = table.filter(pl.col("product_id") == "TN-100")
    assert ok["variant_hash"].n_unique() == 1 and ok["variant_hash"][0] is not None
    judged = [c for c in CHECKS if c != "llm_judge"]  # the LLM judge is off here
    assert ok["check"].to_list() == judged
    assert ok["passed"].all() and (ok["reason"] == "").all()
    assert ok["severity"].to_list() == [CHECKS[c] for c in judged]
    failed_rows = table.filter(pl.col("product_id") == "TN-200")
    assert failed_rows["check"].to_list() == ["coverage", "well_formed"]  # no content checks


def test_coverage_fails_for_a_missing_pair_and_a_failed_status():
    table = run_partition(
        [
            variant_row(prod="TN-100"),
            variant_row(prod="TN-200", status="failed", error="timed out after 60 s"),
        ],
        [("s1", "TN-100"), ("s1", "TN-200"), ("s1", "SB-100")],
    )
    assert verdict_of(table, "TN-100", "coverage")[0]["passed"]
    failed_status = verdict_of(table, "TN-200", "coverage")[0]
    assert not failed_status["passed"] and "timed out after 60 s" in failed_status["reason"]
    missing = verdict_of(table, "SB-100", "coverage")
    assert missing == [
        {
            "segment_id": "s1",
            "product_id": "SB-100",
            "input_hash": None,
            "check": "coverage",
            "passed": False,
            "severity": ERROR,
            "reason": "no variant for this pair",
            "variant_hash": None,
            "rules_hash": None,
        }
    ]


def test_well_formed_fails_for_duplicate_and_unexpected_pairs_and_nulls():
    table = run_partition(
        [
            variant_row(prod="TN-100"),
            variant_row(prod="TN-100"),
            variant_row(prod="SB-100"),
            variant_row(prod="TN-200", ihash=None),
        ],
        [("s1", "TN-100"), ("s1", "TN-200")],
    )
    duplicate = verdict_of(table, "TN-100", "well_formed")
    assert len(duplicate) == 2 and all(
        not v["passed"] and v["reason"] == "2 rows for this pair" for v in duplicate
    )
    unexpected = verdict_of(table, "SB-100", "well_formed")[0]
    assert not unexpected["passed"] and "unexpected pair" in unexpected["reason"]
    null_hash = verdict_of(table, "TN-200", "well_formed")[0]
    assert not null_hash["passed"] and null_hash["reason"] == "null input_hash"
    # a failed row may lack its copy; an ok one may not
    fine = run_partition(
        [variant_row(prod="TN-200", status="failed", error="boom")], [("s1", "TN-200")]
    )
    assert verdict_of(fine, "TN-200", "well_formed")[0]["passed"]
    broken = run_partition(
        [variant_row(prod="TN-200", copy=None, status="ok") | {"variant_text": None}],
        [("s1", "TN-200")],
    )
    assert verdict_of(broken, "TN-200", "well_formed")[0]["reason"] == "null variant_text"


def test_missing_required_column_raises():
    frame = pl.DataFrame([variant_row()], schema=VARIANT_SCHEMA).drop("input_hash")
    with pytest.raises(ValueError, match="input_hash"):
        judge_partition(frame, [("s1", "TN-100")], {}, {}, CheckSettings())


def test_partition_content_verdicts_carry_reasons():
    copy = PRODUCTS["TN-100"]["description"].replace("The packed weight is 1.6 kg.", "Now 62% off.")
    table = run_partition([variant_row(prod="TN-100", copy=copy)], [("s1", "TN-100")])
    assert verdict_of(table, "TN-100", "facts_preserved")[0]["reason"] == (
        'missing facts: "1.6 kg"; "62%" is a number the original does not give'
    )
    assert '"62% off"' in verdict_of(table, "TN-100", "no_invented_offers")[0]["reason"]


def test_rows_already_judged_under_the_rules_get_only_structural_verdicts():
    from segcopy_assets.core.hashing import variant_hash

    rows = [variant_row(prod="TN-100"), variant_row(prod="TN-200")]
    vhash = variant_hash(rows[0]["variant_text"], rows[0]["rationale"], "ok")
    frame = pl.DataFrame(rows, schema=VARIANT_SCHEMA)
    originals = {pid: p["description"] for pid, p in PRODUCTS.items()}
    table = judge_partition(
        frame,
        [("s1", "TN-100"), ("s1", "TN-200")],
        originals,
        {"s1": segment()},
        CheckSettings(),
        rules_hash="r1",
        judged={("s1", "TN-100", rows[0]["input_hash"], vhash)},
    )
    assert verdict_of(table, "TN-100", "facts_preserved") == []
    assert [v["check"] for v in table.filter(pl.col("product_id") == "TN-100").to_dicts()] == [
        "coverage",
        "well_formed",
    ]
    assert len(verdict_of(table, "TN-200", "facts_preserved")) == 1
    assert set(table["rules_hash"]) == {"r1"}
