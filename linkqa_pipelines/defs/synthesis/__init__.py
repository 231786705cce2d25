"""Synthesis of new QA along walk paths (logic: core/synthesis)."""
