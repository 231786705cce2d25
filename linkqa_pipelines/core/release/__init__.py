"""Pure logic of the release stage (no Dagster)."""
