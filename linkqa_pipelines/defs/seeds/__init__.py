"""Seed ingestion: assets, checks and config (logic: core/seeds)."""
