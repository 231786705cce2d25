"""The progress bar `linkqa run` shows per stage: discipline steps done of all, elapsed and ETA.

A stage is one in-process run over every discipline; each time a per-discipline step finishes a
discipline, `lib.partitions.per_discipline` logs it on `PROGRESS_LOGGER`, and this handler
advances the stage's bar. Unpartitioned stages count as one step.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from linkqa_pipelines.lib.partitions import PROGRESS_LOGGER


def partitioned_steps(job: Any) -> int:
    """How many per-discipline steps (asset definitions) the job runs for each partition."""
    layer = job.asset_layer
    return sum(1 for a in layer.asset_graph.assets_defs_for_keys(layer.selected_asset_keys) if a.partitions_def)


class StageProgress(logging.Handler):
    def __init__(self, console: Any) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        super().__init__(logging.INFO)
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("elapsed"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )
        self._task: Any = None

    def emit(self, record: logging.LogRecord) -> None:
        del record  # every record is one discipline step done
        if self._task is not None:
            self.progress.advance(self._task)

    @contextmanager
    def stage(self, label: str, total: int) -> Iterator[None]:
        """Show one stage's bar while its run executes; the caller prints the stage's result line."""
        logger = logging.getLogger(PROGRESS_LOGGER)
        level = logger.level
        logger.setLevel(logging.INFO)
        logger.addHandler(self)
        self._task = self.progress.add_task(label, total=max(total, 1))
        self.progress.start()
        try:
            yield
        finally:
            self.progress.stop()
            self.progress.remove_task(self._task)
            self._task = None
            logger.removeHandler(self)
            logger.setLevel(level)
