"""How an SMS is encoded and billed: GSM-7 or UCS-2, and how many messages (segments) it takes.

A carrier sends a text in GSM-7 (3GPP TS 23.038) when every character is in the GSM-7 default
alphabet or its extension table; one character outside both makes the whole text UCS-2. A single
message holds 160 GSM-7 septets or 70 UCS-2 code units; a longer text is split into parts of 153
septets or 67 code units (the rest is the concatenation header), and each part is billed as one
message. Extension characters (``€ [ ] { } | ^ ~ \\`` and form feed) are sent as an escape plus
the character: two septets, never split across two parts. In UCS-2, a character beyond the Basic
Multilingual Plane (most emoji) is a surrogate pair: two code units, never split either.
"""

from dataclasses import dataclass

GSM7, UCS2 = "GSM-7", "UCS-2"

#: The GSM-7 default alphabet (one septet each), in table order.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
#: The GSM-7 extension table: two septets each (escape + character).
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

SINGLE = {GSM7: 160, UCS2: 70}
PART = {GSM7: 153, UCS2: 67}


@dataclass(frozen=True)
class SmsCount:
    encoding: str  # GSM-7 or UCS-2
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int  # messages billed (0 for an empty text)
    single_limit: int  # what fits in one message in this encoding
    ucs2_characters: tuple[str, ...] = ()  # the characters that forced UCS-2 (first few)

    @property
    def fits_one(self) -> bool:
        return self.segments <= 1


def encoding(text: str) -> str:
    """GSM-7 when every character is in the default alphabet or its extension table."""
    return GSM7 if all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text) else UCS2


def _widths(text: str, enc: str) -> list[int]:
    if enc == GSM7:
        return [2 if c in GSM7_EXTENSION else 1 for c in text]
    return [2 if ord(c) > 0xFFFF else 1 for c in text]


def count(text: str) -> SmsCount:
    """Encoding, length in the encoding's units, and the messages the text is billed as."""
    enc = encoding(text)
    widths = _widths(text, enc)
    units = sum(widths)
    if units == 0:
        segments = 0
    elif units <= SINGLE[enc]:
        segments = 1
    else:
        # parts are filled greedily; a two-unit character that does not fit starts the next part
        segments, used = 1, 0
        for width in widths:
            if used + width > PART[enc]:
                segments, used = segments + 1, 0
            used += width
    forcing = tuple(dict.fromkeys(c for c in text if c not in GSM7_BASIC | GSM7_EXTENSION))[:5]
    return SmsCount(enc, units, segments, SINGLE[enc], forcing)
