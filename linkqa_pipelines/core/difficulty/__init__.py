"""Pure logic of the difficulty stage (no Dagster)."""
