"""Turn frames, figures and counters into Dagster metadata a person reads in the UI."""

from __future__ import annotations

import base64
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import polars as pl
from dagster import AssetOut, MetadataValue, TableColumn, TableSchema

from linkqa_pipelines.core.tables import TABLE_SCHEMAS


def md_table(df: pl.DataFrame, max_rows: int = 25) -> MetadataValue:
    """A Markdown table of the first rows (lists shown joined, long text cut)."""
    if df.is_empty():
        return MetadataValue.md("_(no rows)_")
    shown = df.head(max_rows)
    cols = shown.columns

    def cell(v: Any) -> str:
        if isinstance(v, list):
            v = ", ".join(map(str, v))
        text = "" if v is None else str(v)
        text = text.replace("|", "\\|").replace("\n", " ")
        return text if len(text) <= 80 else text[:77] + "..."

    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in shown.iter_rows()]
    if df.height > max_rows:
        lines.append(f"\n_{df.height - max_rows} more rows_")
    return MetadataValue.md("\n".join(lines))


def png_md(png: bytes, alt: str) -> MetadataValue:
    """Embed a PNG in Markdown metadata so the UI shows the picture inline."""
    return MetadataValue.md(f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode()})")


def counts_md(counts: Mapping[str, int], key: str = "value", value: str = "rows") -> MetadataValue:
    return md_table(pl.DataFrame({key: list(counts), value: list(counts.values())}))


def table_metadata(table: str, extra_columns: Mapping[str, pl.DataType] | None = None) -> dict[str, Any]:
    """Definition metadata of a table asset: its column schema, so the UI shows the contract."""
    schema = {**TABLE_SCHEMAS.get(table, {}), **(extra_columns or {})}
    if not schema:
        return {}
    columns = [TableColumn(name=name, type=str(dtype)) for name, dtype in schema.items()]
    return {"dagster/column_schema": TableSchema(columns=columns)}


_VARYING = re.compile(r"'[^']*'|\"[^\"]*\"|(?<![\w.-])\d+(?![\w.-])")


def top_reasons(reasons: Iterable[str | None], n: int = 5) -> dict[str, int]:
    """The `n` most frequent kinds of reason, with counts: quoted values and numbers are masked so
    that reasons differing only in them count together (JSON metadata; the CLI sums it over runs)."""
    kinds = Counter(_VARYING.sub(lambda m: "N" if m.group()[0].isdigit() else "'…'", r or "")[:160] for r in reasons)
    return dict(kinds.most_common(n))


def table_out(table: str, kinds: set[str], description: str) -> AssetOut:
    """A multi-asset output that is a lake table: its kinds, description and column schema."""
    return AssetOut(kinds=kinds, metadata=table_metadata(table), description=description)
