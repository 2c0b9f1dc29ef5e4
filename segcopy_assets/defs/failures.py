"""Turning segcopy's user-facing errors into Dagster failures that show just the message."""

import contextlib
from typing import Any

import dagster as dg

from segcopy_assets.errors import InputValidationError, SegcopyError


@contextlib.contextmanager
def reported_as_failure():
    """Turn a user-facing segcopy error into a ``dg.Failure`` that shows just the message."""
    try:
        yield
    except InputValidationError as exc:
        metadata: dict[str, Any] = {"table": exc.table}
        if exc.column:
            metadata["column"] = exc.column
        if exc.row:
            metadata["example_row"] = dg.MetadataValue.json({k: str(v) for k, v in exc.row.items()})
        raise dg.Failure(description=str(exc), metadata=metadata, allow_retries=False) from None
    except SegcopyError as exc:
        raise dg.Failure(description=str(exc), allow_retries=False) from None
