"""Small bridges between segcopy's plain modules and Dagster (errors, markdown metadata)."""

import contextlib
import hashlib

import dagster as dg
import polars as pl

from segcopy_assets.errors import InputValidationError, SegcopyError


@contextlib.contextmanager
def reported_as_failure():
    """Turn a user-facing segcopy error into a ``dg.Failure`` that shows just the message."""
    try:
        yield
    except InputValidationError as exc:
        metadata = {"table": exc.table}
        if exc.column:
            metadata["column"] = exc.column
        if exc.row:
            metadata["example_row"] = dg.MetadataValue.json({k: str(v) for k, v in exc.row.items()})
        raise dg.Failure(description=str(exc), metadata=metadata, allow_retries=False) from None
    except SegcopyError as exc:
        raise dg.Failure(description=str(exc), allow_retries=False) from None


def markdown_table(df: pl.DataFrame, max_rows: int = 20, max_chars: int = 160) -> str:
    """A markdown preview of a frame for asset metadata (cells shortened, pipes escaped)."""

    def cell(value: object) -> str:
        text = "" if value is None else str(value)
        text = text.replace("|", "\\|").replace("\n", " ")
        return text if len(text) <= max_chars else text[: max_chars - 1] + "…"

    head = df.head(max_rows)
    lines = ["| " + " | ".join(head.columns) + " |", "|" + "---|" * len(head.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in head.iter_rows()]
    if df.height > max_rows:
        lines.append(f"\n… {df.height - max_rows} more rows")
    return "\n".join(lines)


def combined_hash(values: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(values)).encode()).hexdigest()[:16]
