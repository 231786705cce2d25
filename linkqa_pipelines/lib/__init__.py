"""Dagster-side helpers shared by the stage folders: IO manager, resources, metadata, partitions,
the model-stage factory."""
