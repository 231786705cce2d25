"""Knowledge points: per-discipline extraction and the cross-discipline catalog (logic: core/knowledge_points)."""
