"""Dagster resources: the configurable edges of segcopy, validated by pydantic.

Each resource is thin; the reading and writing live in plain modules (``core``, ``generation``,
``quality``, ``storage``). ``resources_from_env`` builds them all from the environment (README,
"Configuration"); a bad value fails there with one message naming the variable.
"""

import os
from pathlib import Path
from typing import Literal

import dagster as dg
import polars as pl
from pydantic import Field, ValidationError

from segcopy_assets import settings
from segcopy_assets.core import cdp_source
from segcopy_assets.core.products import load_products
from segcopy_assets.core.segments import SegmentationSpec
from segcopy_assets.errors import GenerationError, SettingsError, SourceUnavailableError
from segcopy_assets.generation.prompts import PromptSet, load_prompt_set
from segcopy_assets.quality.brand_voice import avoid_words_from_brand_voice
from segcopy_assets.quality.judge import CheckSettings
from segcopy_assets.storage import delta
from segcopy_assets.storage.io_manager import warehouse_io_manager


class CdpSource(dg.ConfigurableResource):
    """The CDP customer table: a Delta Sharing URL or a Delta table path (exactly one)."""

    share_url: str | None = Field(
        default=None, description="Delta Sharing table URL '<profile file>#share.schema.table'."
    )
    delta_path: str | None = Field(
        default=None, description="Local or object-store Delta table path."
    )
    version_timeout_s: float = Field(default=5.0, gt=0, description="Timeout of a version poll.")

    def _check(self) -> None:
        if bool(self.share_url) == bool(self.delta_path):
            raise SourceUnavailableError(
                "configure exactly one CDP source: SEGCOPY_CDP_SHARE_URL or SEGCOPY_CDP_DELTA_PATH"
            )

    @property
    def table_name(self) -> str:
        if self.share_url:
            t = cdp_source.parse_sharing_url(self.share_url)
            return f"{t.share}.{t.schema}.{t.table}"
        return str(self.delta_path)

    def describe(self) -> str:
        """Where customers come from, safe for logs and metadata (no token)."""
        self._check()
        if self.share_url:
            return cdp_source.describe_sharing_url(self.share_url)
        return f"delta {self.delta_path}"

    def current_version(self) -> int:
        """The source table's version, cheaply (one HTTP request or one log listing)."""
        self._check()
        if self.share_url:
            return cdp_source.sharing_table_version(self.share_url, self.version_timeout_s)
        return cdp_source.delta_table_version(str(self.delta_path))

    def read(self, version: int | None = None) -> pl.LazyFrame:
        self._check()
        if self.share_url:
            return cdp_source.read_sharing_table(self.share_url, version).lazy()
        return cdp_source.scan_delta_table(str(self.delta_path), version)


class ProductRepository(dg.ConfigurableResource):
    """The content repository of standard product descriptions (Delta, CSV or Parquet)."""

    path: str = Field(description="Delta table path, or a .csv / .parquet file.")
    max_description_chars: int = Field(
        default=2000, ge=1, description="Longest description accepted."
    )

    def load(self) -> pl.DataFrame:
        return load_products(self.path, max_description_chars=self.max_description_chars)

    def current_version(self) -> str:
        """Cheap change marker: the Delta version, or a file's size and modification time."""
        if delta.table_exists(self.path):
            return f"delta@{cdp_source.delta_table_version(self.path)}"
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            raise SourceUnavailableError(f"product repository not found at {self.path}") from None
        return f"file@{stat.st_size}:{stat.st_mtime_ns}"


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


class Warehouse(dg.ConfigurableResource):
    """Where segcopy's own Delta tables live: ``<root>/segcopy/<table>``."""

    root: str = Field(description="Warehouse root directory ($SEGCOPY_HOME/warehouse by default).")

    def table_path(self, table: str) -> str:
        return os.path.join(self.root, settings.WAREHOUSE_SCHEMA, table)


class Copywriter(dg.ConfigurableResource):
    """Who writes the variants: an OpenAI-compatible endpoint, or the offline template writer."""

    backend: Literal["openai", "offline"] = Field(default="offline")
    base_url: str | None = Field(default=None, description="OpenAI-compatible base URL (…/v1).")
    api_key: str | None = Field(default=None, description="API key; set it through dg.EnvVar only.")
    model: str | None = Field(
        default=None, description="Overrides [model] name in prompts/config.toml."
    )
    prompts_dir: str = Field(description="Directory with the prompt templates and config.toml.")
    max_concurrency: int = Field(default=32, ge=1, description="Calls in flight at once.")
    timeout_s: float = Field(default=60.0, gt=0, description="Per-call timeout in seconds.")
    max_retries: int = Field(
        default=4, ge=0, description="Client retries (backoff honours Retry-After)."
    )
    max_rps: float | None = Field(
        default=None,
        gt=0,
        description="At most this many requests started per second (the endpoint's rate limit).",
    )

    def prompt_set(self) -> PromptSet:
        return load_prompt_set(self.prompts_dir, backend=self.backend, model_override=self.model)

    def writer(self, prompt_set: PromptSet):
        """A fresh async writer for one run (use it with ``async with``)."""
        if self.backend == "offline":
            from segcopy_assets.generation.offline_writer import OfflineWriter

            return OfflineWriter()
        from segcopy_assets.generation.openai_writer import ChatCompletionsWriter

        key = self.api_key
        if not key:
            if not self.base_url:
                raise GenerationError(
                    "the openai backend needs SEGCOPY_LLM_API_KEY (or OPENAI_API_KEY) or a "
                    "SEGCOPY_LLM_BASE_URL of a server that needs no key"
                )
            key = "no-key"  # local servers (Ollama, vLLM, llama.cpp) accept any key
        return ChatCompletionsWriter(
            base_url=self.base_url,
            api_key=key,
            model=prompt_set.params.name,
            temperature=prompt_set.params.temperature,
            max_tokens=prompt_set.params.max_tokens,
            max_concurrency=self.max_concurrency,
            timeout_s=self.timeout_s,
            max_retries=self.max_retries,
            max_rps=self.max_rps,
        )

    def describe(self) -> str:
        if self.backend == "offline":
            return self.backend
        return f"openai-compatible {self.base_url or 'api.openai.com'}"


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
        default=2.0, gt=0, description="Variant words / original words, highest."
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


# ----------------------------------------------------------------------------- from the environment


def _env_number(name: str, kind: type) -> float | int:
    value = os.environ[name]
    try:
        return kind(value)
    except ValueError:
        raise SettingsError(f"{name} must be a number, not {value!r}") from None


def _env_list(name: str) -> list[str] | None:
    value = os.environ.get(name)
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def _built(resource: type[dg.ConfigurableResource], env_names: dict[str, str], **fields):
    """``resource(**fields)``, a validation error named by the environment variable it came from."""
    try:
        return resource(**fields)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field_name = str(error["loc"][0]) if error["loc"] else "?"
            source = env_names.get(field_name, f"{resource.__name__}.{field_name}")
            problems.append(f"{source}: {error['msg']} (got {error.get('input')!r})")
        raise SettingsError("invalid setting: " + "; ".join(problems)) from None


def cdp_source_from_env() -> CdpSource:
    share_url = os.environ.get("SEGCOPY_CDP_SHARE_URL") or None
    delta_path = os.environ.get("SEGCOPY_CDP_DELTA_PATH") or None
    if share_url or delta_path:
        return CdpSource(share_url=share_url, delta_path=delta_path)
    return CdpSource(delta_path=str(settings.sample_customers_path()))


def product_repository_from_env() -> ProductRepository:
    return ProductRepository(
        path=os.environ.get("SEGCOPY_PRODUCTS_PATH") or str(settings.sample_products_path())
    )


def quality_rules_from_env() -> QualityRules:
    """SEGCOPY_PLACE_SHARE_THRESHOLD overrides the 50% rule for naming places."""
    fields = {}
    if os.environ.get("SEGCOPY_PLACE_SHARE_THRESHOLD"):
        fields["place_share_threshold"] = _env_number("SEGCOPY_PLACE_SHARE_THRESHOLD", float)
    return _built(
        QualityRules, {"place_share_threshold": "SEGCOPY_PLACE_SHARE_THRESHOLD"}, **fields
    )


def segmentation_from_env() -> Segmentation:
    """SEGCOPY_SEGMENT_KEYS, SEGCOPY_HIGH_VALUE_TIERS (comma lists), SEGCOPY_MIN_SEGMENT_SIZE."""
    names = {
        "key_columns": "SEGCOPY_SEGMENT_KEYS",
        "high_value_tiers": "SEGCOPY_HIGH_VALUE_TIERS",
        "min_segment_size": "SEGCOPY_MIN_SEGMENT_SIZE",
    }
    fields: dict[str, object] = {}
    for field_name in ("key_columns", "high_value_tiers"):
        if _env_list(names[field_name]):
            fields[field_name] = _env_list(names[field_name])
    if os.environ.get("SEGCOPY_MIN_SEGMENT_SIZE"):
        fields["min_segment_size"] = _env_number("SEGCOPY_MIN_SEGMENT_SIZE", int)
    return _built(Segmentation, names, **fields)


def warehouse_from_env() -> Warehouse:
    return Warehouse(root=str(settings.warehouse_root()))


COPYWRITER_ENV = {
    "backend": "SEGCOPY_LLM_BACKEND",
    "max_concurrency": "SEGCOPY_LLM_MAX_CONCURRENCY",
    "timeout_s": "SEGCOPY_LLM_TIMEOUT_S",
    "max_rps": "SEGCOPY_LLM_MAX_RPS",
}


def copywriter_from_env() -> Copywriter:
    """SEGCOPY_LLM_BACKEND picks; else an endpoint or SEGCOPY_LLM_API_KEY selects 'openai'.

    OPENAI_API_KEY alone never switches the backend (a shell that happens to hold a key must
    not start paying for a demo run); it is only the fallback key once 'openai' is chosen.
    """
    base_url = os.environ.get("SEGCOPY_LLM_BASE_URL") or None
    backend = os.environ.get("SEGCOPY_LLM_BACKEND") or (
        "openai" if base_url or os.environ.get("SEGCOPY_LLM_API_KEY") else "offline"
    )
    api_key = None
    for name in ("SEGCOPY_LLM_API_KEY", "OPENAI_API_KEY"):
        if os.environ.get(name):
            api_key = dg.EnvVar(name)
            break
    extra: dict[str, object] = {}
    for field_name, kind in (("max_concurrency", int), ("timeout_s", float), ("max_rps", float)):
        if os.environ.get(COPYWRITER_ENV[field_name]):
            extra[field_name] = _env_number(COPYWRITER_ENV[field_name], kind)
    return _built(
        Copywriter,
        COPYWRITER_ENV,
        backend=backend,
        base_url=base_url,
        api_key=api_key if backend == "openai" else None,
        model=os.environ.get("SEGCOPY_LLM_MODEL") or None,
        prompts_dir=str(settings.prompts_dir()),
        **extra,
    )


def resources_from_env() -> dict:
    """Every resource of the code location, configured from the environment."""
    warehouse = warehouse_from_env()
    return {
        "cdp": cdp_source_from_env(),
        "product_repository": product_repository_from_env(),
        "segmentation": segmentation_from_env(),
        "copywriter": copywriter_from_env(),
        "quality_rules": quality_rules_from_env(),
        "warehouse": warehouse,
        "warehouse_io_manager": warehouse_io_manager(warehouse.root),
    }
