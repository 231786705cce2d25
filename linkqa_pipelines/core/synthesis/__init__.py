"""Pure logic of the synthesis stage (no Dagster)."""
