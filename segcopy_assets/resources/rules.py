"""The rules segcopy applies: how customers form segments, and the quality checks' thresholds."""

from pathlib import Path

import dagster as dg
from pydantic import Field

from segcopy_assets.core.continuity import DEFAULT_GRACE_DAYS
from segcopy_assets.core.segments import SegmentationSpec
from segcopy_assets.quality.brand_voice import avoid_words_from_brand_voice
from segcopy_assets.quality.judge import CheckSettings


class Segmentation(dg.ConfigurableResource):
    """How customers are cut into segments (default: the walkthrough's subcategory × value)."""

    key_columns: list[str] = Field(
        default=["preferred_subcategory", "value_group"],
        min_length=1,
        description="Customer columns that define a segment; 'value_group' derives from the tier.",
    )
    high_value_tiers: list[str] = Field(
        default=["Platinum", "Gold", "Silver"],
        description="CLV tiers grouped as 'high value'; the others are 'core'.",
    )
    min_segment_size: int = Field(
        default=25,
        ge=1,
        description="Segments with fewer customers are left out (too few to write for).",
    )

    def spec(self) -> SegmentationSpec:
        return SegmentationSpec(
            keys=tuple(self.key_columns),
            high_value_tiers=tuple(self.high_value_tiers),
            min_segment_size=self.min_segment_size,
        )


class QualityRules(dg.ConfigurableResource):
    """Thresholds of the automated checks on variants (brand words come from brand_voice.md)."""

    place_share_threshold: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="A region, state or city may be named only if it holds this share of the segment.",
    )
    min_words: int = Field(default=30, ge=0)
    max_words: int = Field(default=250, ge=1)
    min_length_ratio: float = Field(
        default=0.6, ge=0, description="Variant words / original words, lowest."
    )
    max_length_ratio: float = Field(
        default=1.5, gt=0, description="Variant words / original words, highest."
    )

    def settings(self, prompts_dir: str) -> CheckSettings:
        voice = Path(prompts_dir) / "brand_voice.md"
        avoid = (
            avoid_words_from_brand_voice(voice.read_text(encoding="utf-8"))
            if voice.exists()
            else ()
        )
        return CheckSettings(
            place_share_threshold=self.place_share_threshold,
            min_words=self.min_words,
            max_words=self.max_words,
            min_length_ratio=self.min_length_ratio,
            max_length_ratio=self.max_length_ratio,
            avoid_words=tuple(avoid),
        )


class Publication(dg.ConfigurableResource):
    """How approved copy stays published while its variant is replaced (core.continuity)."""

    superseded_grace_days: float = Field(
        default=DEFAULT_GRACE_DAYS,
        ge=0,
        description="Days the approved copy of a replaced variant stays published (marked "
        "superseded) while the new variant waits for review; 0 withdraws it at once.",
    )
