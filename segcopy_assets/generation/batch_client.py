"""The provider's Files and Batches endpoints through the official ``openai`` client (sync).

Only what batch generation needs: upload a request file, create a batch carrying our key in its
``metadata``, find a batch by that key (after a crash between create and our state write),
retrieve a batch, download a file. The client's own retries cover 429/5xx and connection errors;
a refused key, a missing permission or an unknown resource stops with a ``GenerationError`` that
names the endpoint (never the key).
"""

import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import openai
from openai.types import Batch

from segcopy_assets.errors import GenerationError
from segcopy_assets.generation.batch_requests import (
    COMPLETION_WINDOW,
    ENDPOINT,
    KEY_METADATA,
    PART_METADATA,
)
from segcopy_assets.generation.openai_writer import FATAL_ERRORS

#: How far back ``find`` pages through the provider's batch list (newest first).
FIND_LIMIT = 1_000


class BatchClient:
    """One sync client for the batch operations of a run or a sensor tick."""

    def __init__(
        self, *, base_url: str | None, api_key: str, timeout_s: float = 60.0, max_retries: int = 4
    ):
        self.endpoint = base_url or "api.openai.com"
        self._client = openai.OpenAI(
            base_url=base_url or None, api_key=api_key, timeout=timeout_s, max_retries=max_retries
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> "BatchClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextmanager
    def _refusals(self, what: str) -> Iterator[None]:
        try:
            yield
        except FATAL_ERRORS as exc:
            raise GenerationError(
                f"batch endpoint {self.endpoint} refused to {what}: "
                f"HTTP {exc.status_code} {type(exc).__name__}"
            ) from None

    def upload(self, content: bytes, filename: str) -> str:
        with self._refusals("accept the request file"):
            uploaded = self._client.files.create(
                file=(filename, io.BytesIO(content), "application/jsonl"), purpose="batch"
            )
        return uploaded.id

    def find_file(self, filename: str) -> str | None:
        """An uploaded request file of this name (a crash between upload and create left it)."""
        with self._refusals("list files"):
            for item in self._client.files.list(purpose="batch"):
                if item.filename == filename:
                    return item.id
        return None

    def create(self, input_file_id: str, key: str, part: int) -> Batch:
        with self._refusals("create a batch"):
            return self._client.batches.create(
                input_file_id=input_file_id,
                endpoint=ENDPOINT,
                completion_window=COMPLETION_WINDOW,
                metadata={KEY_METADATA: key, PART_METADATA: str(part)},
            )

    def find(self, key: str, part: int) -> Batch | None:
        """The newest batch created with this key and part in its metadata, if any."""
        with self._refusals("list batches"):
            for seen, batch in enumerate(self._client.batches.list(limit=100)):
                meta: dict[str, Any] = dict(batch.metadata or {})
                if meta.get(KEY_METADATA) == key and meta.get(PART_METADATA) == str(part):
                    return batch
                if seen >= FIND_LIMIT:
                    break
        return None

    def retrieve(self, batch_id: str) -> Batch:
        with self._refusals(f"show batch {batch_id}"):
            return self._client.batches.retrieve(batch_id)

    def cancel(self, batch_id: str) -> Batch:
        with self._refusals(f"cancel batch {batch_id}"):
            return self._client.batches.cancel(batch_id)

    def download(self, file_id: str | None) -> str | None:
        """A file's text; None when there is none or the provider no longer has it (outputs
        expire): its lines then count as missing and fall back."""
        if not file_id:
            return None
        with self._refusals(f"return file {file_id}"):
            try:
                return self._client.files.content(file_id).text
            except openai.NotFoundError:
                return None
