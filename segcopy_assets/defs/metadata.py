"""Asset metadata that helps a reader of the Dagster UI: markdown previews of frames, costs."""

import dagster as dg
import polars as pl


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


def cost_value(cost: float | None, model: str) -> dg.MetadataValue:
    """An estimated cost in USD, or why it is unknown."""
    if cost is None:
        return dg.MetadataValue.text(f"unknown: no price for {model} in pricing.toml")
    return dg.MetadataValue.float(round(cost, 6))
