"""The one partitioning every per-discipline asset shares: the taxonomy's disciplines."""

from __future__ import annotations

from dagster import StaticPartitionsDefinition

from linkqa_pipelines.taxonomy import load_taxonomy

discipline_partitions = StaticPartitionsDefinition(list(load_taxonomy().discipline_ids))
