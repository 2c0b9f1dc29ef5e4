"""What a verdict depends on besides the variant: the rules that judged it.

A stored verdict is reused only while the rules hash it was judged under is the current one:
the check code and word lists of this package, the thresholds of ``CheckSettings`` and the
LLM judge's identity (model and prompt). Any edit to a rule re-judges every variant once.
"""

import hashlib
from dataclasses import asdict
from functools import cache
from pathlib import Path

from segcopy_assets.core.hashing import digest, variant_hash

__all__ = ["rules_hash", "variant_hash"]
from segcopy_assets.quality.judge import CheckSettings

_PACKAGE = Path(__file__).resolve().parent


@cache
def _code_hash() -> str:
    """The quality package's source and data files (computed once per process)."""
    h = hashlib.sha256()
    for path in sorted([*_PACKAGE.glob("*.py"), *_PACKAGE.glob("data/*")]):
        if path.name == "corpus.py":  # the evaluation corpus loader judges nothing
            continue
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def rules_hash(settings: CheckSettings, judge_identity: str | None = None) -> str:
    """The hash stored with every verdict: code, thresholds, brand words, LLM judge."""
    return digest({"code": _code_hash(), "settings": asdict(settings), "judge": judge_identity})
