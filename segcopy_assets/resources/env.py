"""Every resource built from the environment (README, "Configuration").

A bad value fails here, with one message naming the variable, before any run starts.
"""

import os

import dagster as dg
from pydantic import ValidationError

from segcopy_assets import settings
from segcopy_assets.errors import SettingsError
from segcopy_assets.resources.maintenance import maintenance_from_env
from segcopy_assets.resources.models import Copywriter, Judge
from segcopy_assets.resources.rules import Publication, QualityRules, Segmentation
from segcopy_assets.resources.sources import CdpSource, ProductRepository
from segcopy_assets.resources.warehouse import Warehouse
from segcopy_assets.storage.io_manager import warehouse_io_manager


def _env_number(name: str, kind: type) -> float | int:
    value = os.environ[name]
    try:
        return kind(value)
    except ValueError:
        raise SettingsError(f"{name} must be a number, not {value!r}") from None


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("", "0", "false", "no", "off")


def env_flag(name: str) -> bool:
    """A yes/no variable: 1/true/yes/on or 0/false/no/off (any case); unset is no."""
    value = os.environ.get(name, "").strip().lower()
    if value in _TRUE or value in _FALSE:
        return value in _TRUE
    raise SettingsError(f"{name} must be 1 or 0 (true/false, yes/no), not {os.environ[name]!r}")


def _env_list(name: str) -> list[str] | None:
    value = os.environ.get(name)
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def _call_settings(names: dict[str, str]) -> dict[str, object]:
    """Concurrency, timeout and rate settings of a model client that the environment sets."""
    extra: dict[str, object] = {}
    for field_name, kind in (("max_concurrency", int), ("timeout_s", float), ("max_rps", float)):
        if os.environ.get(names[field_name]):
            extra[field_name] = _env_number(names[field_name], kind)
    return extra


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


def publication_from_env() -> Publication:
    """SEGCOPY_SUPERSEDED_GRACE_DAYS: how long replaced approved copy stays published."""
    fields = {}
    if os.environ.get("SEGCOPY_SUPERSEDED_GRACE_DAYS"):
        fields["superseded_grace_days"] = _env_number("SEGCOPY_SUPERSEDED_GRACE_DAYS", float)
    return _built(Publication, {"superseded_grace_days": "SEGCOPY_SUPERSEDED_GRACE_DAYS"}, **fields)


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
    return Warehouse(root=settings.warehouse_uri())


COPYWRITER_ENV = {
    "backend": "SEGCOPY_LLM_BACKEND",
    "max_concurrency": "SEGCOPY_LLM_MAX_CONCURRENCY",
    "timeout_s": "SEGCOPY_LLM_TIMEOUT_S",
    "max_rps": "SEGCOPY_LLM_MAX_RPS",
    "mode": "SEGCOPY_LLM_MODE",
    "batch_min_pairs": "SEGCOPY_BATCH_MIN_PAIRS",
    "batch_fallback": "SEGCOPY_BATCH_FALLBACK",
    "batch_poll_s": "SEGCOPY_BATCH_POLL_S",
    "max_attempts": "SEGCOPY_MAX_ATTEMPTS",
    "variants_per_pair": "SEGCOPY_VARIANTS_PER_PAIR",
    "repair_attempts": "SEGCOPY_REPAIR_ATTEMPTS",
}


def _batch_settings() -> dict[str, object]:
    """SEGCOPY_LLM_MODE, SEGCOPY_BATCH_MIN_PAIRS, SEGCOPY_BATCH_FALLBACK, SEGCOPY_BATCH_POLL_S,
    SEGCOPY_MAX_ATTEMPTS, SEGCOPY_VARIANTS_PER_PAIR, SEGCOPY_REPAIR_ATTEMPTS."""
    extra: dict[str, object] = {}
    for field_name in ("mode", "batch_fallback"):
        value = os.environ.get(COPYWRITER_ENV[field_name], "").strip()
        if value:
            extra[field_name] = value.lower()
    for field_name, kind in (
        ("batch_min_pairs", int),
        ("batch_poll_s", float),
        ("max_attempts", int),
        ("variants_per_pair", int),
        ("repair_attempts", int),
    ):
        if os.environ.get(COPYWRITER_ENV[field_name]):
            extra[field_name] = _env_number(COPYWRITER_ENV[field_name], kind)
    return extra


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
    extra = {**_call_settings(COPYWRITER_ENV), **_batch_settings()}
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


JUDGE_ENV = {
    "model": "SEGCOPY_JUDGE_MODEL",
    "max_concurrency": "SEGCOPY_JUDGE_MAX_CONCURRENCY",
    "max_rps": "SEGCOPY_JUDGE_MAX_RPS",
    "timeout_s": "SEGCOPY_JUDGE_TIMEOUT_S",
}


def judge_from_env() -> Judge:
    """SEGCOPY_JUDGE_MODEL turns the judge on; its endpoint and key default to the copywriter's
    (SEGCOPY_JUDGE_BASE_URL / SEGCOPY_JUDGE_API_KEY override them)."""
    model = os.environ.get("SEGCOPY_JUDGE_MODEL") or None
    api_key = None
    for name in ("SEGCOPY_JUDGE_API_KEY", "SEGCOPY_LLM_API_KEY", "OPENAI_API_KEY"):
        if model and os.environ.get(name):
            api_key = dg.EnvVar(name)
            break
    extra = _call_settings(JUDGE_ENV)
    return _built(
        Judge,
        JUDGE_ENV,
        model=model,
        base_url=os.environ.get("SEGCOPY_JUDGE_BASE_URL")
        or os.environ.get("SEGCOPY_LLM_BASE_URL")
        or None,
        api_key=api_key,
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
        "publication": publication_from_env(),
        "judge": judge_from_env(),
        "warehouse": warehouse,
        "warehouse_io_manager": warehouse_io_manager(warehouse.root),
        "maintenance": maintenance_from_env(),
    }
