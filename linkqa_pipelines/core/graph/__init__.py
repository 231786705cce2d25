"""Pure logic of the graph stage (no Dagster)."""
