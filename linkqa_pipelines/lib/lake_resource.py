"""Where the lake and the warehouse live: one resource the IO manager, the LLM cache and the
release share, so a run never writes tables to one home and caches to another."""

from __future__ import annotations

from pathlib import Path

from dagster import ConfigurableResource
from pydantic import Field

from linkqa_pipelines.core.lake import Lake
from linkqa_pipelines.settings import DEFAULT_HOME


class LakeResource(ConfigurableResource):
    """`home` holds the warehouse, caches and release; `lake_root` may be an `s3://` prefix."""

    home: str = Field(default=DEFAULT_HOME, description="LINKQA_HOME: warehouse, caches, release")
    lake_root: str = Field(
        default="", description="LINKQA_LAKE_ROOT: lake root folder or s3://bucket/prefix (empty = <home>/lake)"
    )

    def lake(self) -> Lake:
        return Lake(home=Path(self.home), root=self.lake_root)

    @property
    def home_path(self) -> Path:
        return self.lake().home
