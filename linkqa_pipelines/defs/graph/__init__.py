"""The KP co-occurrence graph (logic: core/graph)."""
