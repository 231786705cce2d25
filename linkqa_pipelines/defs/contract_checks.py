"""Checks every table gets from its contract, built from the assets themselves so a new table is
checked the day it is added: its columns and types (`core/tables.py`, blocking), and, for tables
of QA items, that every multiple-choice answer is a letter among its choices (blocking from
synthesis on: a key outside its options must not reach the release)."""

from collections.abc import Iterable, Sequence

import polars as pl
from dagster import AssetCheckResult, AssetChecksDefinition, AssetKey, AssetsDefinition, asset_check

from linkqa_pipelines.core.tables import TABLE_SCHEMAS
from linkqa_pipelines.lib.io_manager import TABLE_KEY
from linkqa_pipelines.lib.metadata import table_preview

# QA tables whose answers are checked, with the id column that names a violation
QA_TABLES: dict[str, str] = {
    "seed_qa": "seed_id",
    "synthesized_qa": "qa_id",
    "qa_verification": "qa_id",
    "difficulty_scored_qa": "qa_id",
    "linkqa_dataset": "qa_id",
}


def answers_out_of_range(frame: pl.DataFrame) -> pl.DataFrame:
    """Multiple-choice rows whose answer is not a letter naming one of their choices."""
    letters = {chr(65 + i): i for i in range(26)}
    index = pl.col("answer").str.strip_chars().str.to_uppercase().replace_strict(letters, default=None)
    return frame.filter(pl.col("qa_type") == "multiple_choice").filter(
        index.is_null() | (index >= pl.col("choices").list.len())
    )


def _tables(assets: Iterable[AssetsDefinition]) -> list[tuple[AssetKey, str, AssetsDefinition]]:
    """(asset key, lake table, definition) of every output stored under a contract."""
    found: list[tuple[AssetKey, str, AssetsDefinition]] = []
    for assets_def in assets:
        for key, spec in assets_def.specs_by_key.items():
            table = spec.metadata.get(TABLE_KEY, key.path[-1])
            table = str(getattr(table, "value", table))
            if table in TABLE_SCHEMAS:
                found.append((key, table, assets_def))
    return found


def _schema_check(key: AssetKey, table: str, assets_def: AssetsDefinition) -> AssetChecksDefinition:
    schema = TABLE_SCHEMAS[table]

    @asset_check(
        asset=key,
        name=f"{key.path[-1]}_schema",
        partitions_def=assets_def.partitions_def,
        blocking=True,
        description=f"{key.to_user_string()} has the columns and types of table {table}'s contract (core/tables.py)",
    )
    def check(frame: pl.LazyFrame) -> AssetCheckResult:
        found = frame.collect_schema()
        wrong = [f"{c}: {found.get(c, 'missing')} (want {t})" for c, t in schema.items() if found.get(c) != t]
        return AssetCheckResult(passed=not wrong, metadata={"mismatches": "; ".join(wrong) or "none"})

    return check


def _answer_check(key: AssetKey, id_column: str, assets_def: AssetsDefinition) -> AssetChecksDefinition:
    @asset_check(
        asset=key,
        name=f"{key.path[-1]}_answers_in_choices",
        partitions_def=assets_def.partitions_def,
        blocking=key.path[-1] != "seed_qa",  # a bad seed is quarantined upstream; this reports any that slip
        description="every multiple-choice answer is a letter among its choices (the partitions just built)",
    )
    def check(frame: pl.DataFrame) -> AssetCheckResult:
        bad = answers_out_of_range(frame).select(id_column, "answer", n_choices=pl.col("choices").list.len())
        metadata = {"rows": frame.height, "violations": table_preview(bad)}
        return AssetCheckResult(passed=bad.is_empty(), metadata=metadata)

    return check


def contract_checks(assets: Sequence[AssetsDefinition]) -> list[AssetChecksDefinition]:
    """A schema check for every contracted table and an answer check for every QA table."""
    tables = _tables(assets)
    checks = [_schema_check(key, table, assets_def) for key, table, assets_def in tables]
    checks += [
        _answer_check(key, QA_TABLES[key.path[-1]], assets_def)
        for key, _, assets_def in tables
        if key.path[-1] in QA_TABLES
    ]
    return checks
