"""Short, stable content hashes: data versions, run keys and sensor cursors."""

import hashlib
import json


def combined_hash(values: list[str]) -> str:
    """One hash of a set of hashes (order does not matter)."""
    return hashlib.sha256("\n".join(sorted(values)).encode()).hexdigest()[:16]


def digest(value: object) -> str:
    """A hash of any JSON-serialisable value (keys sorted)."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]
