"""The one form of a person's name in segcopy: the review page's users file, a proxy's header,
sign-in, the login throttle, the review log, retry requests."""

import unicodedata


def normalise_name(name: str) -> str:
    """NFKC, trimmed, case-folded: ``Ana``, ``ANA`` and `` ana`` are one user."""
    return unicodedata.normalize("NFKC", name or "").strip().casefold()
