"""The repair loop (``SEGCOPY_REPAIR_ATTEMPTS``, default 1; 0 turns it off).

A fresh answer that fails an ERROR rule goes back to the same writer, in the same conversation:
the original messages, the answer as the assistant's turn, and the repair prompt
(``prompts/repair.md.j2``, part of the prompt hash) quoting the failing rules' reasons and
asking for the corrected copy in the same format. The new answer is judged again; up to
``attempts`` times. The row keeps the attempt count, the first answer and its reasons (for the
reviewer and for calibration); the answer kept is the last usable one (an unusable repair keeps
the answer before it). A repair's result is journalled and cached under the pair's input hash
like any answer, so a rerun pays for no repair twice. An answer a provider batch returned is
repaired in the next submission (``generation.batch_repairs``).
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from segcopy_assets.errors import PromptError

REPAIR_TEMPLATE = "repair.md.j2"
#: What the repair prompt may use.
REPAIR_PLACEHOLDERS = frozenset({"reasons", "answer", "brand_name", "product_name"})
MAX_REPAIR_ATTEMPTS = 3

#: ``(row, segment, product) -> ["check: reason", ...]``: the ERROR rules an answer fails.
Failures = Callable[[dict, dict, dict], list[str]]


def read_repair_template(directory: Path) -> str:
    """``prompts/repair.md.j2`` checked (an empty string when the file is absent)."""
    from segcopy_assets.generation.prompts import check_template

    path = Path(directory) / REPAIR_TEMPLATE
    if not path.is_file():
        return ""
    source = path.read_text(encoding="utf-8")
    check_template(Path(directory), REPAIR_TEMPLATE, source, REPAIR_PLACEHOLDERS)
    return source


@dataclass(frozen=True)
class Repairer:
    attempts: int
    failures: Failures
    template: str  # prompts/repair.md.j2
    brand_name: str = ""

    def messages(
        self, messages: list[dict[str, str]], answer: str, reasons: list[str], product: dict
    ) -> list[dict[str, str]]:
        """The conversation a repair sends: the original, the answer, the repair prompt."""
        from segcopy_assets.generation.prompts import render_template

        prompt = render_template(
            self.template,
            {
                "reasons": reasons,
                "answer": answer,
                "brand_name": self.brand_name,
                "product_name": str(product.get("name", "")),
            },
        )
        return [
            *messages,
            {"role": "assistant", "content": answer},
            {"role": "user", "content": prompt},
        ]


def repairer(attempts: int, failures: Failures, template: str, brand_name: str) -> Repairer | None:
    """A ``Repairer``, or None when repairs are off (``attempts`` 0); attempts without a
    template is a PromptError naming the file."""
    if attempts <= 0:
        return None
    if not template:
        raise PromptError(
            f"SEGCOPY_REPAIR_ATTEMPTS={attempts} needs the repair prompt {REPAIR_TEMPLATE} in the "
            "prompts folder (or SEGCOPY_REPAIR_ATTEMPTS=0)"
        )
    return Repairer(attempts, failures, template, brand_name)
