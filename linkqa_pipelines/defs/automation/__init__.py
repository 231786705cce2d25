"""Automation: what starts runs without anyone at the keyboard, and where failures are recorded.

- `seed_files` (sensor): new, changed or removed seed files -> one backfill, through the whole
  graph, of the discipline partitions those files touch (and their new partitions registered).
- `nightly_stale_refresh` (sensor, cron-driven): after 02:00 UTC, one backfill of the seeded
  partitions that are missing or were made by another code version.
- `record_run_failures` (run-failure sensor): each failed run as a row of the `run_failures`
  table and a runless materialization of the `run_failures` asset.

All three are off by default (a fresh `dagster dev` launches nothing); turn them on in the UI
(Automation) or with `dagster sensor start <name>`; they need the daemon (`dagster dev` runs one).
`backfill.py` argues why a backfill and not automation conditions or one job's runs.
"""

from dagster import SensorDefinition

from linkqa_pipelines.defs.automation.failures import record_run_failures, run_failures_spec
from linkqa_pipelines.defs.automation.refresh import nightly_stale_refresh
from linkqa_pipelines.defs.automation.seed_sensor import seed_files

SENSORS: list[SensorDefinition] = [seed_files, nightly_stale_refresh, record_run_failures]

__all__ = ["SENSORS", "run_failures_spec"]
