"""Dagster definitions, one folder per stage: assets.py, checks.py, config.py (logic lives in core/<stage>/)."""
