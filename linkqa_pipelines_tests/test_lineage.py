"""Every read is a declared dependency: during a whole `linkqa run`, each lake read is attributed to
the asset step that made it, and every (asset, table read) pair must be an edge of the asset graph.

Reads are recorded at the lowest level (`Lake.scan`, which every table read goes through), so an
asset that bypassed the IO manager and read the lake by name would be caught too.
"""

import sys
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from dagster import AssetChecksDefinition, AssetKey, AssetsDefinition, InputContext

from linkqa_pipelines import cli
from linkqa_pipelines.core.lake import Lake
from linkqa_pipelines.definitions import build_definitions
from linkqa_pipelines.lib.io_manager import TABLE_KEY

pytestmark = pytest.mark.slow


def _frames() -> Iterator[FrameType]:
    frame = sys._getframe(2)
    while frame is not None:
        yield frame
        frame = frame.f_back  # type: ignore[assignment]


def test_every_lake_read_during_a_run_is_a_declared_dependency(
    linkqa_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    defs = build_definitions()
    specs = {s.key: s for s in defs.resolve_all_asset_specs()}
    parents = {key: {d.asset_key for d in spec.deps} for key, spec in specs.items()}
    # An op (step) produces one or more assets: its reads may feed any of them.
    op_assets: dict[str, set[AssetKey]] = {}
    for assets_def in defs.assets or []:
        if isinstance(assets_def, AssetsDefinition):
            op_assets.setdefault(assets_def.op.name, set()).update(assets_def.keys)
    # A check's step may read the checked asset and the checks' declared additional inputs.
    check_reads: dict[str, set[AssetKey]] = {}
    for checks_def in defs.asset_checks or []:
        if isinstance(checks_def, AssetChecksDefinition):
            for spec in checks_def.check_specs:
                allowed = {spec.asset_key, *(d.asset_key for d in spec.additional_deps)}
                check_reads.setdefault(checks_def.node_def.name, set()).update(allowed)
    table_asset = {key.path[-1]: key for key in specs}
    table_asset["llm_failures"] = AssetKey("llm_failures")  # a shared store of the *_llm_failures assets
    stored_in = {key: str(getattr(t, "value", t)) for key, s in specs.items() if (t := s.metadata.get(TABLE_KEY))}

    reads: set[tuple[str, str]] = set()
    unattributed: list[str] = []
    original = Lake.scan
    cli_package = Path(cli.__file__).parent  # every module of the CLI

    def recording_scan(self: Lake, table: str, *args: Any, **kwargs: Any) -> Any:
        for frame in _frames():
            context = frame.f_locals.get("context")
            if frame.f_code.co_name == "load_input" and isinstance(context, InputContext):
                reads.add((context.op_def.name, table))
                break
            if frame.f_code.co_name in op_assets or frame.f_code.co_name in check_reads:
                reads.add((frame.f_code.co_name, table))
                break
            if Path(frame.f_code.co_filename).parent == cli_package:
                break  # the CLI's own reads around the runs (which disciplines have seeds, the summary)
        else:
            unattributed.append(table)
        return original(self, table, *args, **kwargs)

    monkeypatch.setattr(Lake, "scan", recording_scan)
    assert cli.main(["run", "--disciplines", "physics,mathematics,economics", "--paths", "30"]) == 0

    assert {op for op, _ in reads} >= {
        "seed_qa",
        "seed_knowledge_points",
        "kp_catalog",
        "walk_paths",
        "synthesized_qa",
        "qa_verification",
        "difficulty_scored_qa",
        "linkqa_dataset",
        "linkqa_release",
    }

    def declared(op: str, table: str) -> bool:
        if op in check_reads:  # a check reads the lake table its asset (or an additional input) is stored in
            return any(stored_in.get(key, key.path[-1]) == table for key in check_reads[op])
        return any(table_asset[table] in parents[asset] for asset in op_assets[op])

    assert {op for op, _ in reads} & set(check_reads), "no asset check step was recorded"
    undeclared = sorted((op, table) for op, table in reads if not declared(op, table))
    assert undeclared == [], f"lake reads that are not declared dependencies: {undeclared}"
    assert unattributed == [], f"lake reads from neither a step nor the CLI: {unattributed}"
