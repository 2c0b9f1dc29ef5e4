"""Channels: the kinds of copy segcopy writes, each a prompt set under ``prompts/channels/<name>/``.

A channel folder holds ``config.toml`` (its fields, their limits, the checks it turns on, model
parameters that differ from the root set) and, unless it uses the root prompt set, its own
``system.md.j2`` and ``user.md.j2``; an optional ``brand_voice.md`` is added to the root one.
Nothing about a channel is in code except the checks it may turn on (``quality.channel_checks``):
a fifth channel is a folder. ``SEGCOPY_CHANNELS`` says which channels run (comma-separated).

The model answers a multi-field channel with one ``<Label>: <text>`` line per field, then the
``**Rationale:**``; a one-field channel with the text alone, then the rationale.
"""

import dataclasses
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from segcopy_assets.errors import PromptError, SettingsError
from segcopy_assets.generation.answer_parsing import split_copy_and_rationale
from segcopy_assets.generation.prompts import (
    SYSTEM_TEMPLATE,
    USER_TEMPLATE,
    ModelParams,
    PromptSet,
    check_template,
    load_prompt_set,
    load_toml,
    read_template,
)
from segcopy_assets.quality.channel_checks import judge_channel_copy
from segcopy_assets.quality.judge import Verdict

CHANNELS_DIR = "channels"
CHANNEL_CONFIG = "config.toml"
WEB_DESCRIPTION = "web_description"
#: ``templates = "root"``: the channel is written with the prompt set at the root of prompts/.
ROOT_TEMPLATES = "root"
#: How the review page may show a channel's copy (``[channel] preview``).
PREVIEWS = ("inbox", "sms", "push", "card")
#: What a field's limits may say (anything else in ``[limits.<field>]`` is refused).
LIMIT_KEYS = frozenset({"max_chars", "min_chars", "max_sms_segments"})
#: The checks a channel may turn on in ``[checks]`` (implemented in quality.channel_checks).
CHECK_KEYS = frozenset({"require_brand", "required_phrases", "shouting", "spam_phrases", "content"})
#: ``Subject: …``, ``**Subject:** …``, ``- subject: …`` (markdown around the label is dropped).
_LABELLED = re.compile(r"^[\s>*_#-]*([A-Za-z][\w ]{0,40}?)[\s*_]*:[\s*_]*(.*)$")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


@dataclass(frozen=True)
class Channel:
    """One channel's loaded, checked prompt set and rules."""

    name: str
    description: str
    fields: tuple[str, ...]
    labels: dict[str, str]  # field -> the label the model writes before it ("Subject")
    limits: dict[str, dict]  # field -> {max_chars, min_chars, max_sms_segments}
    checks: dict  # the [checks] table
    prompt_set: PromptSet  # the templates and model parameters it is written with
    own_templates: bool = True  # False: written with the root prompt set (the description)
    preview: str = "card"  # how the review page shows it: inbox, sms, push or card
    angles: tuple[str, ...] = ()  # the arms' angles, in order ([channel] angles)

    @property
    def hash(self) -> str:
        """The channel prompt set's hash: its templates, model, and everything the channel's
        config says (a changed limit is a changed instruction to the model)."""
        return self.prompt_set.hash

    def render(self, segment: dict, product: dict) -> list[dict[str, str]]:
        return self.prompt_set.render(segment, product)

    def parse(self, answer: str) -> tuple[dict[str, str], str, str | None]:
        """The fields, the rationale and why the answer is unusable (None: it is usable)."""
        parsed = split_copy_and_rationale(answer)
        if parsed.problem:
            return {}, parsed.rationale, parsed.problem
        if len(self.fields) == 1:
            return {self.fields[0]: parsed.copy}, parsed.rationale, None
        values: dict[str, str] = {}
        for line in parsed.copy.splitlines():
            match = _LABELLED.match(line)
            key = _field_of(match.group(1), self.labels) if match else None
            if match and key and key not in values:
                values[key] = re.sub(r"[*_]{2}$", "", match.group(2).strip()).strip()
        missing = [self.labels[f] for f in self.fields if not values.get(f)]
        if missing:
            return values, parsed.rationale, f"the answer has no {', '.join(missing)} line"
        return values, parsed.rationale, None

    def arms(self, k: int) -> list[tuple[int, str | None]]:
        """``(variant_index, angle)`` of ``k`` arms: one arm without an angle (the prompt as it
        is), or the first ``k`` angles the channel names."""
        if k <= 1:
            return [(0, None)]
        if len(self.angles) < k:
            raise PromptError(
                f"SEGCOPY_VARIANTS_PER_PAIR={k}, but channel {self.name!r} names "
                f"{len(self.angles)} angle(s) ([channel] angles in its config.toml)"
            )
        return list(enumerate(self.angles[:k]))

    def arm_prompt_set(self, angle: str | None) -> PromptSet:
        """The prompt set of one arm: its angle is part of what the copy depends on."""
        if angle is None:
            return self.prompt_set
        return dataclasses.replace(
            self.prompt_set, extra=self.prompt_set.extra + json.dumps({"angle": angle})
        )

    def judge(self, answer: str, segment: dict, product: dict) -> list[Verdict]:
        """The channel checks of one raw answer (``quality.channel_checks``)."""
        values, rationale, problem = self.parse(answer)
        return judge_channel_copy(
            values,
            rationale,
            fields=self.fields,
            limits=self.limits,
            checks=self.checks,
            brand_name=self.prompt_set.brand_name,
            original=str(product["description"]),
            segment=segment,
            product_name=str(product["name"]),
            parse_problem=problem,
            unparsed=answer.split("**Rationale")[0].strip() if not values else "",
        )

    def format_answer(self, values: dict[str, str], rationale: str) -> str:
        """The answer in the channel's format (what the offline writer returns)."""
        if len(self.fields) == 1:
            body = values[self.fields[0]]
        else:
            body = "\n".join(f"{self.labels[f]}: {values[f]}" for f in self.fields)
        return f"{body}\n\n**Rationale:** {rationale}"


def _field_of(label: str, labels: dict[str, str]) -> str | None:
    cleaned = " ".join(label.split()).lower()
    return next((f for f, text in labels.items() if text.lower() == cleaned), None)


def channel_names(prompts: Path) -> list[str]:
    """The channels defined under ``prompts/channels/`` (folders with a config.toml), sorted."""
    root = Path(prompts) / CHANNELS_DIR
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / CHANNEL_CONFIG).is_file())


def selected_channels(value: str | None, prompts: Path) -> list[str]:
    """The channels ``SEGCOPY_CHANNELS`` selects (unset or empty: every defined channel)."""
    known = channel_names(prompts)
    if not value or not value.strip():
        return known or [WEB_DESCRIPTION]
    names = list(dict.fromkeys(n.strip() for n in value.split(",") if n.strip()))
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SettingsError(
            f"SEGCOPY_CHANNELS: unknown channel(s) {', '.join(unknown)}; defined under "
            f"{Path(prompts) / CHANNELS_DIR}: {', '.join(known) or 'none'}"
        )
    return names


def generated_channels() -> list[str]:
    """The channels of ``SEGCOPY_CHANNELS`` other than the description (``description_variants``
    writes that one): the channel assets and tables. A bad value gives none here: ``segcopy
    run``'s preflight says what is wrong (``selected_channels``)."""
    from segcopy_assets import settings

    try:
        names = selected_channels(os.environ.get("SEGCOPY_CHANNELS"), settings.prompts_dir())
    except SettingsError:
        return []
    return [n for n in names if n != WEB_DESCRIPTION]


def load_channel(
    prompts: str | Path, name: str, *, backend: str, model_override: str | None = None
) -> Channel:
    """Load and check one channel (errors name the file and the key)."""
    prompts = Path(prompts)
    directory = prompts / CHANNELS_DIR / name
    config_path = directory / CHANNEL_CONFIG
    if not _NAME.match(name):
        raise PromptError(f"{directory}: a channel name is lower-case letters, digits and _")
    if not config_path.is_file():
        known = ", ".join(channel_names(prompts)) or "none"
        raise PromptError(f"unknown channel {name!r}: no {config_path} (channels: {known})")
    config = load_toml(directory, CHANNEL_CONFIG, required=True)
    section = config.get("channel", {})
    fields = section.get("fields")
    if not isinstance(fields, list) or not fields or not all(_NAME.match(str(f)) for f in fields):
        raise PromptError(f"{config_path}: [channel] fields must be a list of lower-case names")
    labels_cfg = section.get("labels", {})
    labels = {f: str(labels_cfg.get(f, f.replace("_", " ").capitalize())) for f in fields}
    limits = _limits(config_path, config.get("limits", {}), fields)
    checks = config.get("checks", {})
    unknown = sorted(set(checks) - CHECK_KEYS)
    if unknown:
        raise PromptError(
            f"{config_path}: unknown [checks] key(s) {', '.join(unknown)} "
            f"(known: {', '.join(sorted(CHECK_KEYS))})"
        )
    preview = str(section.get("preview", "card"))
    if preview not in PREVIEWS:
        raise PromptError(
            f"{config_path}: [channel] preview must be one of {', '.join(PREVIEWS)}, not {preview!r}"
        )
    angles = section.get("angles", [])
    if (
        not isinstance(angles, list)
        or not all(isinstance(a, str) and 0 < len(a.strip()) <= 40 for a in angles)
        or len(set(angles)) != len(angles)
    ):
        raise PromptError(
            f"{config_path}: [channel] angles must be a list of distinct names (1-40 characters)"
        )
    root_set = load_prompt_set(prompts, backend=backend, model_override=model_override)
    source = config_path.read_text(encoding="utf-8")
    prompt_set = dataclasses.replace(
        _channel_prompt_set(directory, section, config, root_set),
        extra=json.dumps({"channel": name, "config": source}, sort_keys=True),
    )
    return Channel(
        name=name,
        description=str(section.get("description", name)),
        fields=tuple(fields),
        labels=labels,
        limits=limits,
        checks=checks,
        prompt_set=prompt_set,
        own_templates=section.get("templates") != ROOT_TEMPLATES,
        preview=preview,
        angles=tuple(a.strip() for a in angles),
    )


def _limits(config_path: Path, raw: dict, fields: list[str]) -> dict[str, dict]:
    limits: dict[str, dict] = {}
    for name, values in raw.items():
        if name not in fields:
            raise PromptError(f"{config_path}: [limits.{name}] names no field of [channel] fields")
        bad = sorted(set(values) - LIMIT_KEYS)
        if bad:
            raise PromptError(f"{config_path}: [limits.{name}] unknown key(s) {', '.join(bad)}")
        for key, value in values.items():
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise PromptError(
                    f"{config_path}: [limits.{name}] {key} must be a whole number > 0"
                )
        limits[name] = dict(values)
    return limits


def _channel_prompt_set(directory: Path, section: dict, config: dict, root: PromptSet) -> PromptSet:
    """The root set for ``templates = "root"``; otherwise the channel's templates, the root
    brand voice plus the channel's additions, the root model with the channel's parameters."""
    model = config.get("model", {})
    try:
        params = ModelParams(
            name=root.params.name,
            temperature=float(model.get("temperature", root.params.temperature)),
            max_tokens=int(model.get("max_tokens", root.params.max_tokens)),
        )
    except (TypeError, ValueError) as exc:
        raise PromptError(f"{directory / CHANNEL_CONFIG}: [model] {exc}") from None
    if section.get("templates") == ROOT_TEMPLATES:
        return dataclasses.replace(root, params=params)
    system_source = read_template(directory, SYSTEM_TEMPLATE)
    user_source = read_template(directory, USER_TEMPLATE)
    check_template(directory, SYSTEM_TEMPLATE, system_source)
    check_template(directory, USER_TEMPLATE, user_source)
    extra = directory / "brand_voice.md"
    voice = root.brand_voice
    if extra.is_file():
        voice = f"{voice}\n\n{extra.read_text(encoding='utf-8').strip()}".strip()
    return PromptSet(
        directory=directory,
        system_source=system_source,
        user_source=user_source,
        brand_voice=voice,
        brand_name=root.brand_name,
        params=params,
        backend=root.backend,
        pricing=root.pricing,
        repair_source=root.repair_source,
    )
