"""The lake IO manager: how every table moves between assets, so the UI lineage is the data flow.

Assets return Polars frames and take their upstream tables as parameters; this IO manager
stores each asset partition as its own Parquet file in the lake (`core.lake.Lake`: local
folder or `s3://` prefix, atomic writes, a DuckDB view per table) and loads upstream tables
as a DataFrame, or as a LazyFrame when the parameter is annotated so.

Partitions: an output for one discipline key writes `discipline=<key>/`; an output for
several keys (a single-run backfill) is split by its `discipline` column (the failure ledger's
`partition` column); an input loads the
partitions its mapping asks for and skips keys that were never materialized (a discipline
without seeds), falling back to the contract schema when nothing exists.

Two pieces of output metadata steer storage: `linkqa/table` stores an asset under another
table name (each model-backed stage's failures asset writes the one `llm_failures` table)
and `linkqa/partition` adds fixed Hive keys in front of the discipline (`stage=<stage>/`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl
from dagster import ConfigurableIOManager, InputContext, OutputContext
from pydantic import Field

from linkqa_pipelines.core.lake import Lake
from linkqa_pipelines.core.tables import TABLE_SCHEMAS
from linkqa_pipelines.lib.lake_resource import LakeResource

TABLE_KEY = "linkqa/table"
PARTITION_KEY = "linkqa/partition"
PARTITION_COLUMN = "discipline"
SPLIT_COLUMNS = (PARTITION_COLUMN, "partition")  # the first a multi-partition output has is split by


def _storage(metadata: Mapping[str, Any], asset_name: str) -> tuple[str, dict[str, str]]:
    """Table name and fixed Hive keys of an asset's output."""
    table = metadata.get(TABLE_KEY, asset_name)
    fixed = metadata.get(PARTITION_KEY) or {}
    return str(getattr(table, "value", table)), dict(getattr(fixed, "value", fixed))


class LakeIOManager(ConfigurableIOManager):
    """Parquet partitions in the lake, DuckDB views refreshed on every write."""

    lake_resource: LakeResource = Field(description="where the lake lives")

    def lake(self) -> Lake:
        return self.lake_resource.lake()

    def handle_output(self, context: OutputContext, obj: pl.DataFrame | pl.LazyFrame | None) -> None:
        if obj is None:  # an output that only carries metadata
            return
        frame = obj.collect() if isinstance(obj, pl.LazyFrame) else obj
        table, fixed = _storage(context.definition_metadata, context.asset_key.path[-1])
        lake = self.lake()
        if not context.has_asset_partitions:
            uris = [lake.write(table, frame, fixed or None)]
        else:
            keys = list(context.asset_partition_keys)
            if len(keys) == 1:
                uris = [lake.write(table, frame, {**fixed, PARTITION_COLUMN: keys[0]})]
            else:
                column = next((c for c in SPLIT_COLUMNS if c in frame.columns), None)
                if column is None:
                    raise ValueError(
                        f"{context.asset_key.to_user_string()}: an output for {len(keys)} partitions needs one "
                        f"of the columns {list(SPLIT_COLUMNS)} to be split by"
                    )
                uris = [
                    lake.write(table, frame.filter(pl.col(column) == key), {**fixed, PARTITION_COLUMN: key}, view=False)
                    for key in keys
                ]
                lake.ensure_view(table)  # once, not per partition: each refresh opens the warehouse
        context.add_output_metadata(
            {
                "dagster/row_count": frame.height,
                "lake_uri": uris[0] if len(uris) == 1 else f"{len(uris)} partition files under {lake.table_uri(table)}",
            }
        )

    def load_input(self, context: InputContext) -> pl.DataFrame | pl.LazyFrame:
        upstream = context.upstream_output
        name = context.asset_key.path[-1]
        table, fixed = _storage(upstream.definition_metadata if upstream is not None else {}, name)
        keys = list(context.asset_partition_keys) if context.has_asset_partitions else None
        schema = TABLE_SCHEMAS.get(table)
        lake = self.lake()
        if keys is None:
            scan = lake.scan(table, [fixed] if fixed else None, schema=schema)
        else:
            scan = lake.scan(table, [{**fixed, PARTITION_COLUMN: k} for k in keys], schema=schema or {})
        lazy = getattr(context.dagster_type, "typing_type", None) is pl.LazyFrame
        return scan if lazy else scan.collect()
