"""Labelled evaluation cases for the quality checks: the format of ``tests/data/copy_eval.jsonl``.

A case is one variant of a product description for a segment, labelled ``good`` (publishable)
or ``bad`` with exactly one defect of a known class. ``bench.quality`` measures the checks on
the corpus; ``segcopy review export --disagreements`` writes cases in the same format, so the
corpus grows from what reviewers decided.
"""

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

#: Defect class → the ERROR check meant to catch it.
CHECK_FOR_CLASS: dict[str, str] = {
    "formatting": "plain_prose",
    "invented_feature": "no_invented_features",
    "dropped_number": "facts_preserved",
    "dropped_name": "facts_preserved",
    "dropped_feature": "facts_preserved",
    "changed_number": "facts_preserved",
    "swapped_numbers": "facts_preserved",
    "wrong_conversion": "facts_preserved",
    "new_number": "facts_preserved",
    "hard_offer": "no_invented_offers",
    "soft_offer": "no_invented_offers",
    "guarantee_award": "no_invented_offers",
    "persona": "whole_segment_voice",
    "flattery": "whole_segment_voice",
    "segment_leak": "whole_segment_voice",
    "minority_place": "whole_segment_voice",
    "subregion_nickname": "whole_segment_voice",
    "refusal": "no_refusal",
    "impersonal_refusal": "no_refusal",
    "empty_rationale": "rationale_present",
    # issue 25: an answer that talks to the operator ("Here's a rewrite …", "Want a shorter
    # take?"), a rationale of generic words that names no segment fact
    "operator_talk": "no_refusal",
    "filler_rationale": "rationale_present",
}
#: A defect a reviewer found that no class names yet (exported disagreements).
UNCLASSIFIED = "unclassified"
LABELS = ("good", "bad")
#: ``fresh``: the part written after the checks were tuned, by a writer that had not seen them,
#: measured once (issue 25) and never tuned on
SPLITS = ("tune", "heldout", "fresh", "fresh_earlier")
#: Segment fields a case carries (what the checks read of a segment).
SEGMENT_FIELDS = ("segment_id", "segment_description", "top_regions", "top_states", "top_cities")


@dataclass(frozen=True)
class Case:
    id: str
    product_id: str
    segment: dict
    variant_text: str
    rationale: str
    label: str
    defect_class: str
    note: str = ""
    split: str = "tune"
    original: str | None = None  # when the product is not one of the sample products
    extra: dict = field(default_factory=dict)

    @property
    def expected_check(self) -> str | None:
        """The ERROR check that must fail on this case (None for a good case)."""
        return CHECK_FOR_CLASS.get(self.defect_class) if self.label == "bad" else None

    def to_json(self) -> str:
        data = asdict(self)
        data.pop("extra")
        if data["original"] is None:
            data.pop("original")
        return json.dumps({**data, **self.extra}, ensure_ascii=False)


class CorpusError(ValueError):
    """A corpus line that is not a valid case (names the file and line)."""


def segment_fields(segment: dict) -> dict:
    """The part of a segment summary row a case keeps (place shares rounded)."""
    out: dict = {}
    for name in SEGMENT_FIELDS:
        value = segment.get(name)
        if name.startswith("top_") and value is not None:
            value = [
                {"value": e["value"], "share": round(float(e["share"] or 0.0), 3)} for e in value
            ]
        out[name] = value
    return out


def parse_case(data: dict, where: str = "") -> Case:
    required = ("id", "product_id", "segment", "variant_text", "rationale", "label")
    missing = [k for k in required if k not in data]
    if missing:
        raise CorpusError(f"{where}: missing field(s) {missing}")
    if data["label"] not in LABELS:
        raise CorpusError(f"{where}: label must be one of {LABELS}, not {data['label']!r}")
    defect = data.get("defect_class") or ""
    if data["label"] == "bad" and defect not in CHECK_FOR_CLASS and defect != UNCLASSIFIED:
        raise CorpusError(f"{where}: bad case with unknown defect_class {defect!r}")
    split = data.get("split", "tune")
    if split not in SPLITS:
        raise CorpusError(f"{where}: split must be one of {SPLITS}, not {split!r}")
    known = {
        "id", "product_id", "segment", "variant_text", "rationale", "label",
        "defect_class", "note", "split", "original",
    }  # fmt: skip
    return Case(
        id=str(data["id"]),
        product_id=str(data["product_id"]),
        segment=dict(data["segment"]),
        variant_text=str(data["variant_text"]),
        rationale=str(data["rationale"] or ""),
        label=data["label"],
        defect_class=defect,
        note=str(data.get("note") or ""),
        split=split,
        original=data.get("original"),
        extra={k: v for k, v in data.items() if k not in known},
    )


def load_cases(path: str | Path) -> list[Case]:
    cases, seen = [], set()
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CorpusError(f"{where}: not JSON ({exc})") from None
        case = parse_case(data, where)
        if case.id in seen:
            raise CorpusError(f"{where}: duplicate id {case.id!r}")
        seen.add(case.id)
        cases.append(case)
    return cases


def write_cases(path: str | Path, cases: Iterable[Case]) -> int:
    lines = [case.to_json() for case in cases]
    Path(path).write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return len(lines)
