"""Errors a user can act on: each names the table, the column and an example row."""


class SegcopyError(Exception):
    """Base class for errors segcopy reports to users (no traceback needed to act on them)."""


class InputValidationError(SegcopyError):
    """Input data that segcopy refuses, before anything is written."""

    def __init__(self, table: str, column: str | None, message: str, row: dict | None = None):
        self.table = table
        self.column = column
        self.row = row
        where = f"table {table!r}" + (f", column {column!r}" if column else "")
        text = f"{where}: {message}"
        if row:
            shown = ", ".join(f"{k}={v!r}" for k, v in row.items())
            text += f" (example row: {shown})"
        super().__init__(text)


class SourceUnavailableError(SegcopyError):
    """A source (CDP share, Delta table, product file) could not be reached or read."""


class PromptError(SegcopyError):
    """The prompt templates or model parameters are unusable; raised before any model call."""


class GenerationError(SegcopyError):
    """The model endpoint refused the whole job (bad key, unknown model): nothing is written."""


class SettingsError(SegcopyError):
    """A setting (environment variable or resource field) has an unusable value."""
