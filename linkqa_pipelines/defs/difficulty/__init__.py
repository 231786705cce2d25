"""Difficulty scoring and hardening (logic: core/difficulty)."""
