"""The Models API of the fake endpoint: ``GET /v1/models`` (the list) and ``GET
/v1/models/{model}`` (one model, else 404 ``model_not_found``), both checking the API key.

With ``strict_models`` (off by default) a chat completion for a model not in ``models`` is
answered 404 ``model_not_found`` too, like the real API (a batch line always is).
``models_call_count`` counts the requests to both routes (every status).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .faults import error_body
from .stats import RequestStats


class ModelsAPI(RequestStats):
    """``/v1/models`` handlers and the ``strict_models`` check of chat requests."""

    models: list[str]
    strict_models: bool
    _lock: threading.Lock
    _authorized: Callable[[Request], bool]  # ChatCompletionsApp
    _error: Callable[..., JSONResponse]  # ChatCompletionsApp

    def _init_stats(self) -> None:
        super()._init_stats()
        self._models_calls = 0

    @property
    def models_call_count(self) -> int:
        """Requests to ``GET /v1/models`` and ``GET /v1/models/{model}`` (every status)."""
        with self._lock:
            return self._models_calls

    @staticmethod
    def _model_object(model: str) -> dict[str, Any]:
        return {"id": model, "object": "model", "created": 1700000000, "owned_by": "fake-openai"}

    def _models_request(self, request: Request) -> Response | None:
        """Count the request; a 401 answer if its key is wrong."""
        with self._lock:
            self._models_calls += 1
        if not self._authorized(request):
            return JSONResponse(error_body(401, "Incorrect API key provided."), status_code=401)
        return None

    async def _list_models(self, request: Request) -> Response:
        refused = self._models_request(request)
        if refused is not None:
            return refused
        return JSONResponse(
            {"object": "list", "data": [self._model_object(m) for m in self.models]}
        )

    async def _retrieve_model(self, request: Request) -> Response:
        refused = self._models_request(request)
        if refused is not None:
            return refused
        model = request.path_params["model"]
        if model not in self.models:
            return JSONResponse(_model_not_found(model), status_code=404)
        return JSONResponse(self._model_object(model))

    def _unknown_model(self, body: dict[str, Any]) -> Response | None:
        """With ``strict_models``: the 404 answer to a chat request for a model not served."""
        if not self.strict_models or body["model"] in self.models:
            return None
        model = body["model"]
        return self._error(
            404,
            _model_not_found(model)["error"]["message"],
            "model_not_found",
            code="model_not_found",
        )


def _model_not_found(model: object) -> dict[str, Any]:
    return error_body(
        404,
        f"The model `{model}` does not exist or you do not have access to it.",
        code="model_not_found",
    )
