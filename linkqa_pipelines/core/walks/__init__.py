"""Pure logic of the walks stage (no Dagster)."""
