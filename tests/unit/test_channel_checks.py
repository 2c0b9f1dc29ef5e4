"""Channel checks at their boundaries: characters per field, SMS messages, the brand and the
opt-out, shouting and spam phrases (WARN), and the content rules short copy keeps."""

import pytest

from segcopy_assets.quality.channel_checks import (
    field_limit_problems,
    judge_channel_copy,
    required_text_problems,
    shouting,
    spam_phrases,
)

ORIGINAL = (
    "The Ridge 2 is a two-person tent with 2 doors. It weighs 1.9 kg. Poles are DAC NSL aluminium."
)
BRAND = "Ridgeline Cycle & Camp"
SEGMENT = {
    "segment_id": "tents--core",
    "top_regions": [{"value": "Pacific", "share": 0.3}],
    "top_states": [{"value": "CA", "share": 0.2}],
}
SUBJECT = {
    "fields": ("subject", "preheader"),
    "limits": {"subject": {"max_chars": 60}, "preheader": {"max_chars": 100}},
    "checks": {"shouting": True, "spam_phrases": True, "content": True},
}
SMS = {
    "fields": ("message",),
    "limits": {"message": {"max_sms_segments": 1}},
    "checks": {
        "require_brand": True,
        "required_phrases": ["Reply STOP to opt out"],
        "content": True,
    },
}
RATIONALE = "Led on the low weight because most of the segment prefers light mid-range gear."


def failed(values, channel, **kw):
    verdicts = judge_channel_copy(
        values,
        kw.pop("rationale", RATIONALE),
        brand_name=BRAND,
        original=ORIGINAL,
        segment=SEGMENT,
        product_name="Ridge 2 Tent",
        **channel,
        **kw,
    )
    return {v.check: (v.severity, v.reason) for v in verdicts if not v.passed}


@pytest.mark.parametrize(
    ("field", "limit", "length", "ok"),
    [
        ("subject", 60, 60, True),
        ("subject", 60, 61, False),
        ("preheader", 100, 100, True),
        ("preheader", 100, 101, False),
        ("title", 40, 40, True),
        ("title", 40, 41, False),
        ("body", 120, 120, True),
        ("body", 120, 121, False),
    ],
)
def test_character_limits(field, limit, length, ok):
    problems = field_limit_problems(field, "x" * length, {"max_chars": limit})
    assert (problems == []) is ok
    if not ok:
        assert problems == [f"{field}: {length} characters, over the limit of {limit}"]


def test_characters_not_bytes():
    assert field_limit_problems("subject", "é" * 60, {"max_chars": 60}) == []


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("a" * 160, True),
        ("a" * 161, False),
        ("€" * 80, True),  # extension characters count two: 160
        ("€" * 81, False),
        ("“" + "a" * 69, True),  # one UCS-2 character: 70 is the limit
        ("“" + "a" * 70, False),
    ],
)
def test_one_sms_message(text, ok):
    problems = field_limit_problems("message", text, {"max_sms_segments": 1})
    assert (problems == []) is ok
    if not ok:
        assert "2 SMS messages, over 1" in problems[0]


def test_ucs2_problem_names_the_character():
    (problem,) = field_limit_problems("message", "“" + "a" * 80, {"max_sms_segments": 1})
    assert "UCS-2 because of '“'" in problem and "one message holds 70" in problem


def test_sms_needs_brand_and_opt_out():
    checks = SMS["checks"]
    ok = f"{BRAND}: the Ridge 2 Tent weighs 1.9 kg. Reply STOP to opt out"
    assert required_text_problems(ok, BRAND, checks) == []
    assert required_text_problems(ok.lower(), BRAND, checks) == []  # any case
    assert required_text_problems("Ridge 2 Tent. Reply STOP to opt out", BRAND, checks) == [
        f'does not name the brand "{BRAND}"'
    ]
    assert required_text_problems(f"{BRAND}: Ridge 2 Tent.", BRAND, checks) == [
        'does not carry "Reply STOP to opt out"'
    ]


def test_shouting_and_spam_are_warnings():
    assert shouting("The AMAZING Ridge 2 with DAC poles!!", ORIGINAL) == ["AMAZING", "!!"]
    assert shouting("DAC NSL poles", ORIGINAL) == []  # the original writes them so
    assert spam_phrases("Act now: the Ridge 2, limited time", ORIGINAL) == [
        "act now",
        "limited time",
    ]
    found = failed(
        {"subject": "CLICK HERE: the Ridge 2 Tent!!", "preheader": "It weighs 1.9 kg."}, SUBJECT
    )
    assert found == {
        "no_shouting": ("WARN", 'shouting: "CLICK", "HERE", "!!"'),
        "no_spam_phrases": ("WARN", 'spam-filter phrases: "click here"'),
    }
    # an urgency that is an offer claim is an ERROR as well
    assert "no_invented_offers" in failed({"subject": "Act now", "preheader": "Light."}, SUBJECT)


def test_short_copy_may_drop_facts_but_not_change_them():
    fine = {"subject": "The Ridge 2 Tent for two", "preheader": "It weighs 1.9 kg."}
    assert failed(fine, SUBJECT) == {}
    changed = {"subject": "The Ridge 2 Tent for two", "preheader": "It weighs 1.7 kg."}
    assert "no_changed_facts" in failed(changed, SUBJECT)


@pytest.mark.parametrize(
    ("preheader", "check"),
    [
        ("Now 20% off, with free shipping.", "no_invented_offers"),
        ("As a loyal customer, you know light gear matters.", "whole_segment_voice"),
        ("Made for California's trails.", "whole_segment_voice"),
        ("I'm sorry, I can't write this.", "no_refusal"),
    ],
)
def test_content_rules(preheader, check):
    assert check in failed({"subject": "The Ridge 2 Tent", "preheader": preheader}, SUBJECT)


def test_opt_out_and_brand_are_no_claims():
    message = f"{BRAND}: the Ridge 2 Tent weighs 1.9 kg. Reply STOP to opt out"
    assert failed({"message": message}, SMS) == {}


def test_malformed_and_empty_rationale():
    found = failed({"subject": "The Ridge 2 Tent"}, SUBJECT, parse_problem="no Preheader line")
    assert found["well_formed"] == ("ERROR", "no Preheader line")
    found = failed({"subject": "Ridge 2", "preheader": "Light."}, SUBJECT, rationale="n/a")
    assert "rationale_present" in found
