"""The channel part of ``bench.quality``: the channel checks (``quality.channel_checks``, as
each channel of ``prompts/channels/`` configures them) on the labelled channel corpus
(``tests/data/channel_eval.jsonl``), per channel and split.

A case is one raw answer of a channel (its fields, then the Rationale) for a sample product and
a segment of ``tests/data/copy_eval_segments.json``, labelled ``good`` or ``bad`` with one
defect class. Recall: of the bad cases, the share the check meant for their class failed (an
ERROR); false-positive rate: the share of good cases failing any ERROR check. Each channel's
held-out part (``split: heldout``, written after the rules were tuned: tests/data/README.md) is
measured, never read to tune: ``misses`` lists the tuning split only.
"""

import json
from collections import defaultdict
from pathlib import Path

from bench import REPO, ratio, table

CHANNEL_CORPUS = REPO / "tests" / "data" / "channel_eval.jsonl"
SEGMENTS = REPO / "tests" / "data" / "copy_eval_segments.json"

#: Defect class of a channel case → the channel check meant to catch it.
CHANNEL_CHECK_FOR_CLASS: dict[str, str] = {
    "over_limit": "within_limits",
    "ucs2_over": "within_limits",
    "missing_opt_out": "required_text",
    "missing_brand": "required_text",
    "changed_number": "no_changed_facts",
    "new_number": "no_changed_facts",
    "swapped_numbers": "no_changed_facts",
    "hard_offer": "no_invented_offers",
    "soft_offer": "no_invented_offers",
    "urgency_offer": "no_invented_offers",
    "guarantee_award": "no_invented_offers",
    "persona": "whole_segment_voice",
    "segment_leak": "whole_segment_voice",
    "minority_place": "whole_segment_voice",
    "refusal": "no_refusal",
    "empty_rationale": "rationale_present",
    "malformed": "well_formed",
}


def load(path: Path = CHANNEL_CORPUS) -> list[dict]:
    cases = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    unknown = {c["defect_class"] for c in cases if c["label"] == "bad"} - set(
        CHANNEL_CHECK_FOR_CLASS
    )
    if unknown:
        raise ValueError(f"{path}: defect classes without a check: {sorted(unknown)}")
    return cases


def judge(cases: list[dict]) -> list[dict]:
    """Per case: the failing ERROR checks with their reasons."""
    from segcopy_assets.devtools.sample_products import SAMPLE_PRODUCTS
    from segcopy_assets.generation.channels import load_channel
    from segcopy_assets.quality.judge import ERROR

    products = {p["product_id"]: p for p in SAMPLE_PRODUCTS}
    segments = {s["segment_id"]: s for s in json.loads(SEGMENTS.read_text())}
    channels = {
        name: load_channel(REPO / "prompts", name, backend="offline")
        for name in sorted({c["channel"] for c in cases})
    }
    out = []
    for case in cases:
        verdicts = channels[case["channel"]].judge(
            case["answer"], segments[case["segment_id"]], products[case["product_id"]]
        )
        errors = {v.check: v.reason for v in verdicts if not v.passed and v.severity == ERROR}
        out.append({"case": case, "errors": errors})
    return out


def measure(judged: list[dict]) -> dict:
    good = [j for j in judged if j["case"]["label"] == "good"]
    bad = [j for j in judged if j["case"]["label"] == "bad"]

    def meant(j: dict) -> str:
        return CHANNEL_CHECK_FOR_CLASS[j["case"]["defect_class"]]

    caught = [j for j in bad if meant(j) in j["errors"]]
    by_class: dict[str, list] = defaultdict(list)
    for j in bad:
        by_class[j["case"]["defect_class"]].append(j)
    return {
        "cases": len(judged),
        "good": len(good),
        "bad": len(bad),
        "recall": ratio(len(caught), len(bad)),
        "recall_any_check": ratio(sum(1 for j in bad if j["errors"]), len(bad)),
        "false_positive_rate": ratio(sum(1 for j in good if j["errors"]), len(good)),
        "per_class": {
            cls: {
                "cases": len(items),
                "caught": sum(1 for j in items if meant(j) in j["errors"]),
            }
            for cls, items in sorted(by_class.items())
        },
    }


def run(path: Path = CHANNEL_CORPUS) -> tuple[dict, list[dict]]:
    """{channel: {split: measures}} and the judged cases."""
    judged = judge(load(path))
    results: dict[str, dict] = {}
    for channel in sorted({j["case"]["channel"] for j in judged}):
        mine = [j for j in judged if j["case"]["channel"] == channel]
        results[channel] = {
            split: measure([j for j in mine if j["case"]["split"] == split])
            for split in ("tune", "heldout")
        }
    return results, judged


def report(results: dict) -> str:
    rows = [
        [
            channel,
            split,
            r["cases"],
            r["good"],
            r["bad"],
            r["recall"],
            r["false_positive_rate"],
        ]
        for channel, splits in results.items()
        for split, r in splits.items()
    ]
    return "\n== channels\n" + table(
        ["channel", "split", "cases", "good", "bad", "recall", "false-positive rate"], rows
    )


def misses(judged: list[dict]) -> str:
    """Misses and false alarms of the tuning split only."""
    lines = []
    for j in judged:
        case = j["case"]
        if case["split"] != "tune":
            continue
        if (
            case["label"] == "bad"
            and CHANNEL_CHECK_FOR_CLASS[case["defect_class"]] not in j["errors"]
        ):
            lines.append(f"MISSED {case['id']} [{case['defect_class']}] {j['errors']}")
        elif case["label"] == "good" and j["errors"]:
            lines.append(f"FALSE ALARM {case['id']} {j['errors']}")
    return "\n".join(lines)
