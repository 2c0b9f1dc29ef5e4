"""The language models segcopy calls: the copywriter and the optional LLM judge."""

from pathlib import Path
from typing import Literal

import dagster as dg
from pydantic import Field

from segcopy_assets.errors import GenerationError
from segcopy_assets.generation.prompts import CONFIG, PromptSet, load_prompt_set, price_per_1m
from segcopy_assets.quality.llm_judge import JudgePrompt, load_judge_prompt


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

    mode: Literal["online", "batch", "auto"] = Field(
        default="online",
        description="online calls, the provider's Batch API (half price, results within 24 h), "
        "or auto: batch when a run has more than batch_min_pairs pairs to generate.",
    )
    batch_min_pairs: int = Field(default=5_000, ge=0, description="auto mode's threshold.")
    batch_fallback: Literal["online", "next_batch"] = Field(
        default="online",
        description="Pairs a batch answered with an error or left out (expired): generated "
        "online in the collecting run, or sent again with the next submission.",
    )
    batch_poll_s: float = Field(
        default=30.0, ge=1, description="Seconds between polls of open batches (batch_sensor)."
    )
    max_attempts: int = Field(
        default=3,
        ge=1,
        description="A pair whose generation failed this many runs in a row with the same inputs "
        "is parked: not sent again until its inputs change or a person asks (segcopy retry).",
    )

    variants_per_pair: int = Field(
        default=1,
        ge=1,
        le=5,
        description="Arms: variants of each channel pair, each with its own angle named by the "
        "channel's prompt (angles in its config.toml); the web description stays one.",
    )

    repair_attempts: int = Field(
        default=1,
        ge=0,
        le=3,
        description="Repairs of a fresh answer that fails an ERROR rule: it is sent back with the "
        "failing rules' reasons (prompts/repair.md.j2) and judged again; 0 turns repairs off.",
    )

    def repairer(self, prompt_set: PromptSet, failures):
        """The repair loop of a run (``generation.repair``), or None when it is off;
        ``failures``: the ERROR rules an answer fails."""
        from segcopy_assets.generation.repair import repairer

        return repairer(
            self.repair_attempts, failures, prompt_set.repair_source, prompt_set.brand_name
        )

    def prompt_set(self) -> PromptSet:
        return load_prompt_set(self.prompts_dir, backend=self.backend, model_override=self.model)

    def batch_policy(self):
        """How a run splits its pairs between online calls and the Batch API."""
        from segcopy_assets.generation.batch_flow import BatchPolicy

        if self.mode == "batch" and self.backend != "openai":
            raise GenerationError(
                "SEGCOPY_LLM_MODE=batch needs the openai backend (an OpenAI-compatible endpoint "
                "with /v1/batches); the offline writer has no Batch API"
            )
        mode = self.mode if self.backend == "openai" else "online"
        return BatchPolicy(mode=mode, min_pairs=self.batch_min_pairs, fallback=self.batch_fallback)

    def batch_client(self):
        """A sync client of the endpoint's Files and Batches API (close it after use)."""
        from segcopy_assets.generation.batch_client import BatchClient

        return BatchClient(
            base_url=self.base_url,
            api_key=self._key(),
            timeout_s=self.timeout_s,
            max_retries=self.max_retries,
        )

    def _key(self) -> str:
        key: object = self.api_key
        if isinstance(key, dg.EnvVar):  # used outside a run (segcopy run --wait, preview)
            key = key.get_value()
        if key:
            return str(key)
        if not self.base_url:
            raise GenerationError(
                "the openai backend needs SEGCOPY_LLM_API_KEY (or OPENAI_API_KEY) or a "
                "SEGCOPY_LLM_BASE_URL of a server that needs no key"
            )
        return "no-key"  # local servers (Ollama, vLLM, llama.cpp) accept any key

    def channel(self, name: str):
        """The channel ``name`` of ``prompts/channels/`` (generation.channels), loaded and checked."""
        from segcopy_assets.generation.channels import load_channel

        return load_channel(self.prompts_dir, name, backend=self.backend, model_override=self.model)

    def writer(self, prompt_set: PromptSet, channel=None):
        """A fresh async writer for one run (use it with ``async with``); ``channel``: the
        channel it writes (the offline writer composes per channel; a model reads the prompt)."""
        if self.backend == "offline":
            from segcopy_assets.generation.offline_writer import OfflineWriter

            return OfflineWriter(channel)
        from segcopy_assets.generation.openai_writer import ChatCompletionsWriter

        return ChatCompletionsWriter(
            base_url=self.base_url,
            api_key=self._key(),
            model=prompt_set.params.name,
            temperature=prompt_set.params.temperature,
            max_tokens=prompt_set.params.max_tokens,
            max_concurrency=self.max_concurrency,
            timeout_s=self.timeout_s,
            max_retries=self.max_retries,
            max_rps=self.max_rps,
        )

    def preflight(self) -> None:
        """One cheap request to the endpoint before any run (none for the offline backend):
        GenerationError naming the variable to fix if it is unreachable, refuses the key or does
        not serve the model."""
        if self.backend != "openai":
            return
        from segcopy_assets.generation.openai_writer import EndpointSettings, env_source, preflight

        model_var = "SEGCOPY_LLM_MODEL"
        if not self.model:
            model_var += (
                f" (not set: the model is [model] name in {Path(self.prompts_dir, CONFIG)})"
            )
        names = EndpointSettings(
            who="copywriter endpoint",
            base_url_var=env_source(self.base_url, ("SEGCOPY_LLM_BASE_URL",)),
            api_key_var=env_source(self.api_key, ("SEGCOPY_LLM_API_KEY", "OPENAI_API_KEY")),
            model_var=model_var,
        )
        preflight(
            base_url=self.base_url,
            api_key=self._key(),
            model=self.prompt_set().params.name,
            names=names,
        )

    def describe(self) -> str:
        if self.backend == "offline":
            return self.backend
        return f"openai-compatible {self.base_url or 'api.openai.com'}"


class Judge(dg.ConfigurableResource):
    """The optional LLM judge (off while ``model`` is unset): one call per variant, temperature 0."""

    model: str | None = Field(default=None, description="Judge model; None turns the judge off.")
    base_url: str | None = Field(default=None, description="OpenAI-compatible base URL (…/v1).")
    api_key: str | None = Field(default=None, description="API key; set it through dg.EnvVar only.")
    prompts_dir: str = Field(description="Directory with judge.md.j2, config.toml, pricing.toml.")
    max_concurrency: int = Field(default=32, ge=1, description="Calls in flight at once.")
    timeout_s: float = Field(default=60.0, gt=0, description="Per-call timeout in seconds.")
    max_retries: int = Field(default=4, ge=0)
    max_rps: float | None = Field(default=None, gt=0, description="Request starts per second.")
    max_tokens: int = Field(default=600, ge=50, description="Longest answer accepted.")

    @property
    def enabled(self) -> bool:
        return bool(self.model)

    def prompt(self, place_share_threshold: float) -> JudgePrompt:
        brand = load_prompt_set(self.prompts_dir, backend="offline").brand_name
        return load_judge_prompt(
            self.prompts_dir,
            model=str(self.model),
            brand_name=brand,
            place_share_threshold=place_share_threshold,
        )

    def price_per_1m(self) -> tuple[float, float] | None:
        pricing = load_prompt_set(self.prompts_dir, backend="offline").pricing
        return price_per_1m(pricing, str(self.model))

    def preflight(self) -> None:
        """One cheap request to the judge's endpoint before any run (none while it is off), as
        ``Copywriter.preflight``; its endpoint and key may be the copywriter's variables."""
        if not self.enabled:
            return
        from segcopy_assets.generation.openai_writer import EndpointSettings, env_source, preflight

        key: object = self.api_key
        if isinstance(key, dg.EnvVar):  # outside a run (segcopy run, preview)
            key = key.get_value()
        if not key and not self.base_url:
            raise GenerationError(
                "the LLM judge needs SEGCOPY_JUDGE_API_KEY (or the copywriter's key) or a "
                "SEGCOPY_JUDGE_BASE_URL of a server that needs no key"
            )
        names = EndpointSettings(
            who="LLM judge endpoint",
            base_url_var=env_source(
                self.base_url, ("SEGCOPY_JUDGE_BASE_URL", "SEGCOPY_LLM_BASE_URL")
            ),
            api_key_var=env_source(
                self.api_key, ("SEGCOPY_JUDGE_API_KEY", "SEGCOPY_LLM_API_KEY", "OPENAI_API_KEY")
            ),
            model_var="SEGCOPY_JUDGE_MODEL",
        )
        preflight(
            base_url=self.base_url, api_key=str(key or "no-key"), model=str(self.model), names=names
        )

    def client(self):
        """A fresh chat-completions client for one run (use it with ``async with``)."""
        from segcopy_assets.generation.openai_writer import ChatCompletionsWriter

        if not self.api_key and not self.base_url:
            raise GenerationError(
                "the LLM judge needs SEGCOPY_JUDGE_API_KEY (or the copywriter's key) or a "
                "SEGCOPY_JUDGE_BASE_URL of a server that needs no key"
            )
        return ChatCompletionsWriter(
            base_url=self.base_url,
            api_key=self.api_key or "no-key",
            model=str(self.model),
            temperature=0.0,
            max_tokens=self.max_tokens,
            max_concurrency=self.max_concurrency,
            timeout_s=self.timeout_s,
            max_retries=self.max_retries,
            max_rps=self.max_rps,
        )
