"""Pure logic of the knowledge_points stage (no Dagster)."""
