"""SMS encoding and billing at the boundaries: 160 / 153 GSM-7 septets, 70 / 67 UCS-2 units,
extension characters as two septets, surrogate pairs as two units, never split across parts."""

import pytest

from segcopy_assets.core import sms


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("", sms.GSM7, 0, 0),
        ("a" * 160, sms.GSM7, 160, 1),
        ("a" * 161, sms.GSM7, 161, 2),
        ("a" * 306, sms.GSM7, 306, 2),
        ("a" * 307, sms.GSM7, 307, 3),
        ("€" * 80, sms.GSM7, 160, 1),  # extension characters: two septets each
        ("a" * 159 + "€", sms.GSM7, 161, 2),
        ("a" * 158 + "[", sms.GSM7, 160, 1),
        ("é" * 160, sms.GSM7, 160, 1),  # é is in the default alphabet
        ("ç" + "a" * 69, sms.UCS2, 70, 1),  # ç is not (only Ç is): the whole text is UCS-2
        ("ç" + "a" * 70, sms.UCS2, 71, 2),
        ("—" + "a" * 133, sms.UCS2, 134, 2),
        ("—" + "a" * 134, sms.UCS2, 135, 3),
        ("🚲" + "a" * 68, sms.UCS2, 70, 1),  # an emoji is a surrogate pair: two units
        ("🚲" + "a" * 69, sms.UCS2, 71, 2),
    ],
)
def test_encoding_units_and_segments(text, encoding, units, segments):
    counted = sms.count(text)
    assert (counted.encoding, counted.units, counted.segments) == (encoding, units, segments)
    assert counted.single_limit == sms.SINGLE[encoding]


def test_a_two_septet_character_is_never_split_across_parts():
    # 152 septets, then € (2): it does not fit the first part's 153 and starts the second, so
    # 306 septets take three parts (152, 153, 1) where 306 plain ones take two
    text = "a" * 152 + "€" + "a" * 152
    assert sms.count(text).units == 306
    assert sms.count(text).segments == 3
    assert sms.count("a" * 151 + "€" + "a" * 153).segments == 2


def test_names_the_characters_that_force_ucs2():
    counted = sms.count("Trail “ready” gear")
    assert counted.encoding == sms.UCS2
    assert counted.ucs2_characters == ("“", "”")
    assert sms.count("Reply STOP to opt out").ucs2_characters == ()
