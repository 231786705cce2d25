"""Pure logic of the seeds stage (no Dagster)."""
