"""Calls to any OpenAI-compatible chat-completions endpoint (OpenAI, Azure OpenAI, Databricks
Model Serving, vLLM, Ollama, llama.cpp server) through the official ``openai`` client.

Retries are the client's own: exponential backoff (0.5 s doubling, capped at 8 s) that honours
``Retry-After`` / ``retry-after-ms`` on 429 and retries 408/409/5xx and connection errors.
Concurrency is bounded by a semaphore; with ``max_rps`` request starts are also spaced evenly,
at most ``max_rps`` per second (an endpoint's request-rate limit is then met by waiting, not by
429s: the client retries every 429 at exactly its ``Retry-After``, so rejected calls come back
together and are mostly rejected again). The API key never leaves the client object.
"""

import asyncio
import time
from dataclasses import dataclass
from typing import Any, cast

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
