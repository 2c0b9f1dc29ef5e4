"""The prompt set in ``prompts/``: templates a marketer edits, model parameters, and the hash.

Everything is checked when the set is loaded (missing files, unknown placeholders, bad
parameters), so a broken prompt fails before a single model call is paid for.
"""

import functools
import hashlib
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import jinja2.meta

from segcopy_assets.errors import PromptError

SYSTEM_TEMPLATE = "system.md.j2"
USER_TEMPLATE = "user.md.j2"
BRAND_VOICE = "brand_voice.md"
CONFIG = "config.toml"
PRICING = "pricing.toml"

PLACEHOLDERS = frozenset(
    {
        "brand_name",
        "brand_voice",
        "segment_id",
        "segment_description",
        "product_id",
        "product_name",
        "product_category",
        "product_subcategory",
        "product_description",
        "angle",  # the arm's angle (channels with SEGCOPY_VARIANTS_PER_PAIR > 1), else empty
    }
)
DESCRIPTION_TAG = "product_description"


@dataclass(frozen=True)
class ModelParams:
    name: str
    temperature: float
    max_tokens: int


@dataclass(frozen=True)
class PromptSet:
    """Loaded, validated templates plus the parameters they are sent with."""

    directory: Path
    system_source: str
    user_source: str
    brand_voice: str
    brand_name: str
    params: ModelParams
    backend: str
    pricing: dict = field(default_factory=dict, compare=False)
    #: More that the copy depends on (a channel's config: its limits are instructions too);
    #: hashed when set, so the root set's hash is what it always was.
    extra: str = ""
    #: ``repair.md.j2`` (generation.repair): a repaired answer depends on it; hashed when set.
    repair_source: str = ""

    @functools.cached_property
    def hash(self) -> str:
        """Covers the template files, brand voice, brand, parameters, model and backend
        (computed once: generation reads it for every pair)."""
        content = {
            "system": self.system_source,
            "user": self.user_source,
            "brand_voice": self.brand_voice,
            "brand_name": self.brand_name,
            "params": [self.params.name, self.params.temperature, self.params.max_tokens],
            "backend": self.backend,
        }
        if self.extra:
            content["extra"] = self.extra
        if self.repair_source:
            content["repair"] = self.repair_source
        blob = json.dumps(content, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def render(self, segment: dict, product: dict) -> list[dict[str, str]]:
        """Chat messages for one segment × product pair."""
        description = str(product["description"]).replace(
            f"</{DESCRIPTION_TAG}>", f"</ {DESCRIPTION_TAG}>"
        )
        variables = {
            "brand_name": self.brand_name,
            "brand_voice": self.brand_voice,
            "segment_id": segment["segment_id"],
            "segment_description": segment["segment_description"],
            "product_id": product["product_id"],
            "product_name": product["name"],
            "product_category": product["category"],
            "product_subcategory": product["subcategory"],
            "product_description": description,
            "angle": product.get("angle") or "",
        }
        return [
            {"role": "system", "content": _template(self.system_source).render(variables).strip()},
            {"role": "user", "content": _template(self.user_source).render(variables).strip()},
        ]

    def price_per_1m(self, batch: bool = False) -> tuple[float, float] | None:
        return price_per_1m(self.pricing, self.params.name, batch)


def render_template(source: str, variables: dict) -> str:
    """``source`` rendered with ``variables`` (compiled once per text)."""
    return _template(source).render(variables).strip()


@functools.lru_cache(maxsize=64)
def _template(source: str) -> jinja2.Template:
    """Compiled once per template text: compiling costs ~1 ms, rendering is called per pair."""
    return _environment().from_string(source)


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=False
    )


def read_template(directory: Path, name: str) -> str:
    path = directory / name
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PromptError(f"prompt file missing: {path}") from None


def check_template(
    directory: Path, name: str, source: str, placeholders: frozenset[str] = PLACEHOLDERS
) -> None:
    """A template that parses and uses only ``placeholders``, or a PromptError naming the file."""
    env = _environment()
    try:
        ast = env.parse(source)
    except jinja2.TemplateSyntaxError as exc:
        raise PromptError(
            f"{directory / name}, line {exc.lineno}: template syntax error: {exc.message}"
        ) from None
    unknown = sorted(jinja2.meta.find_undeclared_variables(ast) - placeholders)
    if unknown:
        raise PromptError(
            f"{directory / name}: unknown placeholder(s) {', '.join('{{ ' + u + ' }}' for u in unknown)}; "
            f"available: {', '.join(sorted(placeholders))}"
        )


def price_per_1m(pricing: dict, model: str, batch: bool = False) -> tuple[float, float] | None:
    """USD per million (input, output) tokens of ``model`` in pricing.toml, or None.

    ``batch``: the Batch API's price (``batch_input_per_1m`` / ``batch_output_per_1m``); a model
    without those columns is costed at its online price (an upper bound)."""
    entry = pricing.get(model)
    if not entry:
        return None
    online = float(entry.get("input_per_1m", 0.0)), float(entry.get("output_per_1m", 0.0))
    if not batch:
        return online
    return (
        float(entry.get("batch_input_per_1m", online[0])),
        float(entry.get("batch_output_per_1m", online[1])),
    )


def cost_usd(
    prompt_tokens: int, completion_tokens: int, price: tuple[float, float] | None
) -> float | None:
    """What the tokens cost at ``price`` (None when the model has no price)."""
    if price is None:
        return None
    return (prompt_tokens * price[0] + completion_tokens * price[1]) / 1e6


def load_toml(directory: Path, name: str, required: bool) -> dict:
    path = directory / name
    if not path.exists():
        if required:
            raise PromptError(f"prompt file missing: {path}")
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise PromptError(f"{path}: not valid TOML: {exc}") from None


def read_repair_template(directory: Path) -> str:
    from segcopy_assets.generation.repair import read_repair_template as read

    return read(directory)


def load_prompt_set(
    directory: str | Path, *, backend: str, model_override: str | None = None
) -> PromptSet:
    """Load and check ``prompts/``; the offline backend reports its own model name."""
    directory = Path(directory)
    if not directory.is_dir():
        raise PromptError(f"prompts directory not found: {directory}")
    system_source = read_template(directory, SYSTEM_TEMPLATE)
    user_source = read_template(directory, USER_TEMPLATE)
    check_template(directory, SYSTEM_TEMPLATE, system_source)
    check_template(directory, USER_TEMPLATE, user_source)
    if "product_description" not in jinja2.meta.find_undeclared_variables(
        _environment().parse(user_source)
    ):
        raise PromptError(
            f"{directory / USER_TEMPLATE}: must include {{{{ product_description }}}}"
        )
    brand_voice_path = directory / BRAND_VOICE
    brand_voice = (
        brand_voice_path.read_text(encoding="utf-8").strip() if brand_voice_path.exists() else ""
    )

    config = load_toml(directory, CONFIG, required=True)
    model = config.get("model", {})
    try:
        params = ModelParams(
            name=str(model_override or model["name"]),
            temperature=float(model.get("temperature", 0.3)),
            max_tokens=int(model.get("max_tokens", 700)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise PromptError(
            f"{directory / CONFIG}: [model] needs name, temperature, max_tokens ({exc})"
        ) from None
    if not 0 <= params.temperature <= 2 or params.max_tokens <= 0:
        raise PromptError(f"{directory / CONFIG}: temperature must be in [0, 2] and max_tokens > 0")
    if backend == "offline":
        from segcopy_assets.generation.offline_writer import OFFLINE_MODEL

        params = ModelParams(OFFLINE_MODEL, 0.0, params.max_tokens)
    return PromptSet(
        directory=directory,
        system_source=system_source,
        user_source=user_source,
        brand_voice=brand_voice,
        brand_name=str(config.get("brand", {}).get("name", "our store")),
        params=params,
        backend=backend,
        pricing=load_toml(directory, PRICING, required=False),
        repair_source=read_repair_template(directory),
    )
