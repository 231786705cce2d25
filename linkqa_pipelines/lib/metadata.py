"""Turn frames, figures and counters into Dagster metadata a person reads in the UI, and give
every asset what a Dagster user expects of it (`standard_asset`): owners, a code version, the
column schema of its table.

What the UI (Dagster 1.13) shows where: table metadata (`table_preview`) renders as a table on the
asset page and in the run log, row counts (`dagster/row_count`, set by the IO manager) are
numeric and plotted over materializations, a column schema shows as the asset's columns.
Markdown renders inline only below 1,000 characters; a PNG plot is far longer, so it stays behind
"[Show Markdown]" (Dagster has no image metadata type), while `line_chart_md` draws curves as a
small SVG that fits and shows inline (and costs no matplotlib figure).
"""

from __future__ import annotations

import base64
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from importlib.metadata import version
from typing import Any

import polars as pl
from dagster import AssetOut, AssetsDefinition, AssetSpec, MetadataValue, TableColumn, TableRecord, TableSchema

from linkqa_pipelines.core.difficulty.calibrated import CALIBRATED_MODEL
from linkqa_pipelines.core.knowledge_points.keyphrases import OFFLINE_MODEL as KEYPHRASE_MODEL
from linkqa_pipelines.core.synthesis.offline import OFFLINE_SYNTH_MODEL
from linkqa_pipelines.core.tables import TABLE_SCHEMAS
from linkqa_pipelines.lib.io_manager import TABLE_KEY

OWNERS = ("team:linkqa",)
PACKAGE_VERSION = version("linkqa-pipelines")
# The offline backend's algorithm per model-backed stage: its output changes when the algorithm does.
OFFLINE_ALGORITHMS = {
    "seed_knowledge_points": KEYPHRASE_MODEL,
    "synthesized_qa": OFFLINE_SYNTH_MODEL,
    "difficulty_scored_qa": CALIBRATED_MODEL,
}
_CELL_CHARS = 120
INLINE_MARKDOWN_CHARS = 1_000  # the UI renders shorter Markdown metadata inline, longer behind a link
_CHART_W, _CHART_H = 240, 60
_CHART_COLOURS = (("indigo", "#4f46e5"), ("amber", "#d97706"), ("green", "#059669"), ("red", "#dc2626"))


def _cell(value: Any) -> str | int | float | bool | None:
    if isinstance(value, bool | int | float) or value is None:
        return value
    text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
    return text if len(text) <= _CELL_CHARS else text[: _CELL_CHARS - 3] + "..."


def _column_type(dtype: pl.DataType) -> str:
    if dtype.is_integer():
        return "int"
    if dtype.is_float():
        return "float"
    return "bool" if dtype == pl.Boolean else "string"


def table_preview(df: pl.DataFrame, max_rows: int = 25) -> MetadataValue:
    """The first rows as table metadata, which the UI shows as a table (lists joined, long text cut;
    a last row says how many rows were left out)."""
    shown = df.head(max_rows)
    columns = [TableColumn(name=c, type=_column_type(t)) for c, t in shown.schema.items()]
    records = [TableRecord({c: _cell(v) for c, v in row.items()}) for row in shown.iter_rows(named=True)]
    if df.height > max_rows:
        note = dict.fromkeys(shown.columns) | {shown.columns[0]: f"… {df.height - max_rows} more rows"}
        records.append(TableRecord(note))
    return MetadataValue.table(records, schema=TableSchema(columns=columns))


def png_md(png: bytes, alt: str) -> MetadataValue:
    """A PNG embedded in Markdown metadata (shown behind "[Show Markdown]": see the module note)."""
    return MetadataValue.md(f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode()})")


def line_chart_md(series: Mapping[str, Sequence[float]], alt: str) -> MetadataValue:
    """Lines (one per series, shared y scale) as an SVG small enough that the UI shows it inline,
    with a colour legend and the y range the height spans (the chart has no axes)."""
    shown = dict(list(series.items())[: len(_CHART_COLOURS)])
    values = [float(v) for ys in shown.values() for v in ys if math.isfinite(float(v))]
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    span = (high - low) or 1.0
    legend = " · ".join(
        f"{colour}: {name}" for (name, _), (colour, _) in zip(shown.items(), _CHART_COLOURS, strict=False)
    )
    for points in (40, 24, 16, 10, 6, 3):
        lines = []
        for (_, ys), (_, hex_colour) in zip(shown.items(), _CHART_COLOURS, strict=False):
            picked = (
                [float(ys[round(i * (len(ys) - 1) / (points - 1))]) for i in range(points)] if len(ys) > points else ys
            )
            step = _CHART_W / max(len(picked) - 1, 1)
            coords = " ".join(
                f"{round(i * step)},{round(_CHART_H - 2 - (v - low) / span * (_CHART_H - 4))}"
                for i, v in enumerate(picked)
                if math.isfinite(float(v))
            )
            lines.append(f"<polyline fill='none' stroke='{hex_colour}' stroke-width='2' points='{coords}'/>")
        svg = f"<svg xmlns='http://www.w3.org/2000/svg' width='{_CHART_W}' height='{_CHART_H}'>{''.join(lines)}</svg>"
        image = f"![{alt}](data:image/svg+xml;base64,{base64.b64encode(svg.encode()).decode()})"
        text = f"{image}  \n{legend}  \ny from {low:.3g} to {high:.3g}"
        if len(text) < INLINE_MARKDOWN_CHARS:
            return MetadataValue.md(text)
    raise ValueError(f"{alt}: {len(shown)} series do not fit an inline chart ({INLINE_MARKDOWN_CHARS} characters)")


def counts_table(counts: Mapping[str, int], key: str = "value", value: str = "rows") -> MetadataValue:
    return table_preview(pl.DataFrame({key: list(counts), value: list(counts.values())}))


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


def code_version(stage: str, pool: str | None) -> str:
    """The package version, and for a model-backed stage what answers it: the offline algorithm,
    or the endpoint and model its concurrency pool is named after (`llm_<host>_<model>`)."""
    if pool is None:
        return PACKAGE_VERSION
    model = OFFLINE_ALGORITHMS.get(stage, "offline") if pool == "llm_offline" else pool.removeprefix("llm_")
    return f"{PACKAGE_VERSION}+{model}"


def standard_asset(assets_def: AssetsDefinition) -> AssetsDefinition:
    """The asset(s) with owners, a code version (unless one is set) and, for a lake table without
    one, its column schema; applied to every asset of the code location, so no asset repeats it."""
    stage = assets_def.node_def.name
    pool = assets_def.op.pool

    def standard(spec: AssetSpec) -> AssetSpec:
        table = spec.metadata.get(TABLE_KEY, spec.key.path[-1])
        schema = {} if "dagster/column_schema" in spec.metadata else table_metadata(str(getattr(table, "value", table)))
        return spec.replace_attributes(
            owners=[*spec.owners, *(o for o in OWNERS if o not in spec.owners)],
            code_version=spec.code_version or code_version(stage, pool),
            metadata={**spec.metadata, **schema},
        )

    return assets_def.map_asset_specs(standard)
