"""Short, stable content hashes: data versions, run keys and sensor cursors."""

import hashlib
import json


def combined_hash(values: list[str]) -> str:
    """One hash of a set of hashes (order does not matter)."""
    return hashlib.sha256("\n".join(sorted(values)).encode()).hexdigest()[:16]


def digest(value: object) -> str:
    """A hash of any JSON-serialisable value (keys sorted)."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


def variant_hash(variant_text: str | None, rationale: str | None, status: str | None) -> str:
    """What the quality checks read of one variant row (its verdicts are keyed by it)."""
    text = "\x1f".join(v or "" for v in (status, variant_text, rationale))
    return hashlib.sha256(text.encode()).hexdigest()[:16]
