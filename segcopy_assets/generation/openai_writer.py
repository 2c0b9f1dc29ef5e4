"""Calls to any OpenAI-compatible chat-completions endpoint (OpenAI, Azure OpenAI, Databricks
Model Serving, vLLM, Ollama, llama.cpp server) through the official ``openai`` client.

Retries are the client's own: exponential backoff (0.5 s doubling, capped at 8 s) that honours
``Retry-After`` / ``retry-after-ms`` on 429 and retries 408/409/5xx and connection errors.
Concurrency is bounded by a semaphore; with ``max_rps`` request starts are also spaced evenly,
at most ``max_rps`` per second (an endpoint's request-rate limit is then met by waiting, not by
429s: the client retries every 429 at exactly its ``Retry-After``, so rejected calls come back
together and are mostly rejected again). The API key never leaves the client object.

``preflight`` checks an endpoint before a run with one cheap request (a short timeout, one
retry) and stops with one line naming the variable to fix.
"""

import asyncio
import os
import time
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

import openai
from aiolimiter import AsyncLimiter

from segcopy_assets.errors import GenerationError

# Errors that say the whole job cannot work (bad key, no access, unknown model): stop at once.
FATAL_ERRORS = (openai.AuthenticationError, openai.PermissionDeniedError, openai.NotFoundError)


@dataclass(frozen=True)
class Completion:
    text: str
    prompt_tokens: int
    completion_tokens: int
    latency_ms: float
    finish_reason: str | None


class ChatCompletionsWriter:
    """One async client shared by every call of a run, with at most ``max_concurrency`` in flight
    and, if ``max_rps`` is set, at most ``max_rps`` requests started per second."""

    backend = "openai"

    def __init__(
        self,
        *,
        base_url: str | None,
        api_key: str,
        model: str,
        temperature: float,
        max_tokens: int,
        max_concurrency: int = 32,
        timeout_s: float = 60.0,
        max_retries: int = 4,
        max_rps: float | None = None,
    ):
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        if max_rps is not None and not max_rps > 0:
            raise ValueError("max_rps must be positive (or None for no rate limit)")
        self.model = model
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.max_concurrency = max_concurrency
        self.max_rps = max_rps
        self._client_args: dict[str, Any] = dict(
            base_url=base_url or None, api_key=api_key, timeout=timeout_s, max_retries=max_retries
        )
        self._client: openai.AsyncOpenAI | None = None
        self._semaphore: asyncio.Semaphore | None = None
        self._limiter: AsyncLimiter | None = None

    async def __aenter__(self) -> "ChatCompletionsWriter":
        self._client = openai.AsyncOpenAI(**self._client_args)
        self._semaphore = asyncio.Semaphore(self.max_concurrency)
        if self.max_rps is not None:
            # A bucket of one: starts are 1/max_rps apart, never a burst. (A bucket of max_rps
            # would let up to 2 x max_rps through in the first second of a run.)
            self._limiter = AsyncLimiter(1, 1.0 / self.max_rps)
        return self

    async def __aexit__(self, *exc) -> None:
        if self._client is not None:
            await self._client.close()
        self._client = None

    async def write(
        self, segment: dict, product: dict, messages: list[dict[str, str]]
    ) -> Completion:
        """One variant (the messages already carry the segment and the product)."""
        return await self.complete(messages)

    async def complete(self, messages: list[dict[str, str]]) -> Completion:
        assert self._client is not None and self._semaphore is not None, "use 'async with'"
        async with self._semaphore:
            if self._limiter is not None:
                await self._limiter.acquire()
            started = time.perf_counter()
            try:
                response = await self._client.chat.completions.create(
                    model=self.model,
                    messages=cast(Any, messages),  # role/content dicts, as the API takes them
                    temperature=self.temperature,
                    max_tokens=self.max_tokens,
                )
            except FATAL_ERRORS as exc:
                raise GenerationError(
                    f"model endpoint {self._client_args['base_url'] or 'api.openai.com'} refused the "
                    f"request for model {self.model!r}: HTTP {exc.status_code} {type(exc).__name__}"
                ) from None
            latency_ms = (time.perf_counter() - started) * 1000
        choice = response.choices[0] if response.choices else None
        usage = response.usage
        return Completion(
            text=(choice.message.content or "") if choice else "",
            prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
            completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
            latency_ms=latency_ms,
            finish_reason=choice.finish_reason if choice else None,
        )


def describe_call_error(exc: BaseException) -> str:
    """A short, secret-free reason for a failed row."""
    if isinstance(exc, openai.APITimeoutError):
        return "timed out (after the client's retries)"
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code} {type(exc).__name__} (after the client's retries)"
    if isinstance(exc, openai.APIConnectionError):
        return "endpoint unreachable (after the client's retries)"
    return f"{type(exc).__name__}: {str(exc)[:200]}"


# ---------------------------------------------------------------------------------- preflight

NOTHING_DONE = "nothing was run or written"


@dataclass(frozen=True)
class EndpointSettings:
    """Where an endpoint's settings came from, as a preflight failure names them: the variable
    (or file) a user fixes for each kind of failure."""

    who: str = "model endpoint"
    base_url_var: str = "SEGCOPY_LLM_BASE_URL"
    api_key_var: str = "SEGCOPY_LLM_API_KEY"
    model_var: str = "SEGCOPY_LLM_MODEL"


def env_source(value: object, candidates: tuple[str, ...]) -> str:
    """The environment variable a setting came from: a ``dg.EnvVar``'s name, else the first of
    ``candidates`` holding that value, else the first candidate ("(not set)" if no value).
    Only names are returned, never the value (it may be a key)."""
    name = getattr(value, "env_var_name", None)  # dg.EnvVar, without importing Dagster here
    if isinstance(name, str) and name:
        return name
    if value:
        for candidate in candidates:
            if os.environ.get(candidate) == value:
                return candidate
        return candidates[0]
    return f"{candidates[0]} (not set)"


def shown_url(url: str) -> str:
    """``scheme://host:port`` of an endpoint URL: no user, password, path or query string."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "<an unparsable URL>"
    scheme, host = parts.scheme.lower(), parts.hostname
    if not scheme or not host:
        return "<not a scheme://host URL>"
    if ":" in host:  # IPv6
        host = f"[{host}]"
    port = port or {"http": 80, "https": 443}.get(scheme)
    return f"{scheme}://{host}" + (f":{port}" if port else "")


class _Preflight:
    """The one-line messages of a failed preflight (never a key, nor the URL's path or query)."""

    def __init__(self, names: EndpointSettings, url: str, model: str, timeout_s: float):
        self.names, self.url, self.model, self.timeout_s = names, url, model, timeout_s

    def _message(self, problem: str, fix: str) -> GenerationError:
        return GenerationError(
            f"{self.names.who} {self.url} {problem}: check {fix}; {NOTHING_DONE}"
        )

    def unreachable(self, exc: openai.APIConnectionError) -> GenerationError:
        if isinstance(exc, openai.APITimeoutError):
            reason = f"no answer within {self.timeout_s:g} s"
        else:
            reason = "connection failed"
        return self._message(f"is unreachable ({reason})", self.names.base_url_var)

    def bad_key(self, status: int) -> GenerationError:
        return self._message(f"refused the API key (HTTP {status})", self.names.api_key_var)

    def unknown_model(self, status: int, no_model_list: bool) -> GenerationError:
        fix = self.names.model_var
        if no_model_list:  # both 404: the model, or a base URL without the API's path (…/v1)
            fix += f", or the path of {self.names.base_url_var} (it has no /models either)"
        return self._message(f"does not serve model {self.model!r} (HTTP {status})", fix)

    def failing(self, status: int) -> GenerationError:
        return self._message(
            f"is failing (HTTP {status}, also when retried)",
            f"{self.names.base_url_var} and the server",
        )


def _probe_chat(client: openai.OpenAI, model: str, check: _Preflight, no_model_list: bool) -> str:
    """A minimal chat completion (one token): does the endpoint serve ``model``?"""
    try:
        client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "Hi"}], max_tokens=1
        )
    except openai.APITimeoutError:
        return "reachable (the chat probe timed out: model not confirmed)"
    except openai.APIConnectionError as exc:
        raise check.unreachable(exc) from None
    except openai.APIStatusError as exc:
        status = exc.status_code
        if status in (401, 403):
            raise check.bad_key(status) from None
        if status == 404 or (status in (400, 422) and exc.code == "model_not_found"):
            raise check.unknown_model(status, no_model_list) from None
        if status >= 500:
            raise check.failing(status) from None
        # 400/422 (the key and endpoint work; e.g. max_tokens refused), 429 (rate limited)
        return f"reachable (the chat probe answered HTTP {status})"
    return "model answered"


def preflight(
    *,
    base_url: str | None,
    api_key: str,
    model: str,
    names: EndpointSettings = EndpointSettings(),
    timeout_s: float = 10.0,
    max_retries: int = 1,
) -> str:
    """Check an endpoint before any run, with one cheap request where possible: ``GET /models``
    (the model listed: done), else a one-token chat completion decides (a model the list leaves
    out, or a server without /models such as a Databricks serving endpoint).

    Raises GenerationError with one line naming the variable to fix: endpoint unreachable, key
    refused (401/403), model unknown (404), or the endpoint failing (5xx after the retry). A
    rate-limited endpoint (429) is reachable: not an error. Returns what was confirmed."""
    client = openai.OpenAI(
        base_url=base_url or None, api_key=api_key, timeout=timeout_s, max_retries=max_retries
    )
    check = _Preflight(names, shown_url(str(client.base_url)), model, timeout_s)
    try:
        no_model_list = False
        try:
            listed = {m.id for m in client.models.list().data}
        except openai.APIConnectionError as exc:
            raise check.unreachable(exc) from None
        except openai.APIStatusError as exc:
            if exc.status_code in (401, 403):
                raise check.bad_key(exc.status_code) from None
            if exc.status_code == 429:
                return "reachable (rate limited: model not confirmed)"
            no_model_list = exc.status_code in (404, 405)
            listed = set()  # no list (404/405), or a failing one (5xx): the chat probe decides
        except (openai.OpenAIError, AttributeError, TypeError, ValueError):
            listed = set()  # an answer that is no model list
        if model in listed:
            return "model listed"
        return _probe_chat(client, model, check, no_model_list)
    finally:
        client.close()
