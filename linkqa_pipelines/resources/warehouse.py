"""Dagster resource around the Parquet lake and its DuckDB view file."""

from __future__ import annotations

import os

from dagster import ConfigurableResource
from pydantic import Field

from linkqa_pipelines.core.lake import Lake
from linkqa_pipelines.settings import linkqa_home


class WarehouseResource(ConfigurableResource):
    """Lake root (local folder or `s3://bucket/prefix`) and the DuckDB query file.

    Empty `home` means `LINKQA_HOME` (default `./.linkqa`) and empty `lake_root` means
    `LINKQA_LAKE_ROOT` (default `<home>/lake`), resolved when a run starts so that the CLI,
    `dagster dev`, scheduled backfills on Kubernetes and tests can point the same code at
    different places without run config.
    """

    home: str = Field(default="", description="LINKQA_HOME override; empty = environment/default")
    lake_root: str = Field(
        default="", description="lake root; empty = LINKQA_LAKE_ROOT or <home>/lake; may be s3://bucket/prefix"
    )

    def lake(self) -> Lake:
        return Lake(home=self.home or linkqa_home(), root=self.lake_root or os.environ.get("LINKQA_LAKE_ROOT", ""))
