"""Every contracted table is schema-checked, QA tables' answers are checked, and the walks' usable
share is judged per discipline."""

import polars as pl
from dagster import AssetCheckResult, TableMetadataValue

from linkqa_pipelines.core.contracts import PATH_SCHEMA, conform
from linkqa_pipelines.core.tables import TABLE_SCHEMAS
from linkqa_pipelines.definitions import build_definitions
from linkqa_pipelines.defs.contract_checks import QA_TABLES, answers_out_of_range
from linkqa_pipelines.defs.walks.checks import walk_paths_usable_share


def test_every_contracted_asset_has_a_schema_check_and_qa_tables_an_answer_check() -> None:
    defs = build_definitions()
    checks = {(k.asset_key.path[-1], k.name) for c in defs.asset_checks or [] for k in c.check_keys}
    assets = {s.key.path[-1] for s in defs.resolve_all_asset_specs()}
    contracted = {a for a in assets if a in TABLE_SCHEMAS or a.endswith("_llm_failures")}
    assert {a for a, name in checks if name == f"{a}_schema"} == contracted
    assert {a for a, name in checks if name == f"{a}_answers_in_choices"} == set(QA_TABLES)


def test_answers_out_of_range_finds_letters_past_the_choices() -> None:
    frame = pl.DataFrame(
        {
            "qa_type": ["multiple_choice", "multiple_choice", "multiple_choice", "free_form"],
            "choices": [["a", "b"], ["a", "b"], ["a", "b"], []],
            "answer": ["B", "C", "yes", "42"],
        }
    )
    assert answers_out_of_range(frame)["answer"].to_list() == ["C", "yes"]


def test_usable_share_fails_the_discipline_whose_paths_mostly_lack_seeds() -> None:
    def paths(discipline: str, n: int) -> pl.DataFrame:
        rows = {"path_id": [f"{discipline}{i}" for i in range(n)], "discipline": [discipline] * n}
        return pl.DataFrame(rows).with_columns(
            kp_ids=pl.lit([], pl.List(pl.String)), seed_ids=pl.lit([], pl.List(pl.String)), score=pl.lit(0.0)
        )

    usable = conform(pl.concat([paths("physics", 8), paths("law", 1)]), PATH_SCHEMA)
    unseeded = conform(pl.concat([paths("physics", 2), paths("law", 3)]), PATH_SCHEMA)
    result = walk_paths_usable_share(walk_paths=usable, walk_paths_unseeded=unseeded)
    assert isinstance(result, AssetCheckResult) and not result.passed
    assert result.metadata["usable_share"].value == 9 / 14
    low = result.metadata["below_minimum"]
    assert isinstance(low, TableMetadataValue)
    assert [r.data["discipline"] for r in low.records] == ["law"]  # physics has 80% usable
