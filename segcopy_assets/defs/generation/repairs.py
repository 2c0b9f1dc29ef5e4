"""The repair loop in a variants run (``generation.repair``): what an answer is judged by before
it is repaired, and what a run reports about its repairs."""

import dagster as dg

from segcopy_assets.defs.metadata import cost_value
from segcopy_assets.generation.prompts import PromptSet
from segcopy_assets.generation.variants import GenerationStats
from segcopy_assets.quality.judge import ERROR, CheckSettings, judge_variant


def description_rules(settings: CheckSettings):
    """``(row, segment, product) -> ["check: reason", ...]``: the description's ERROR rules an
    answer fails (the deterministic ones ``variant_checks`` applies)."""

    def failures(row: dict, segment: dict, product: dict) -> list[str]:
        verdicts = judge_variant(
            row["variant_text"] or "",
            row["rationale"] or "",
            str(product.get("description") or ""),
            segment,
            settings,
        )
        return [f"{v.check}: {v.reason}" for v in verdicts if not v.passed and v.severity == ERROR]

    return failures


def repair_metadata(stats: GenerationStats, prompt_set: PromptSet, attempts: int) -> dict:
    """Repairs counted apart from the first calls: calls, tokens, cost, how many answers pass
    after their repair."""
    cost = stats.repair_cost_usd(prompt_set.price_per_1m())
    return {
        "repair_attempts_allowed": dg.MetadataValue.int(attempts),
        "repair_calls": dg.MetadataValue.int(stats.repair_calls),
        "repaired": dg.MetadataValue.int(stats.repaired),
        "repair_prompt_tokens": dg.MetadataValue.int(stats.repair_prompt_tokens),
        "repair_completion_tokens": dg.MetadataValue.int(stats.repair_completion_tokens),
        "repair_cost_usd": cost_value(cost, prompt_set.params.name),
    }
