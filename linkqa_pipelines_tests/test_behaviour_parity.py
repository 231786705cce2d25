"""No unintended change: `linkqa run` on the bundled sample seeds reproduces the golden lake row for row.

The golden (`golden/sample_run.json`) holds per-table row counts, columns and canonical digests
(see `lake_digest` for what is normalised). It first proved the move to the IO-manager layout
changed nothing: the restructured code matched a golden of the pre-restructure code on all 17
tables. It now holds a run of the code after the deliberate quality changes that followed (KP
extraction, difficulty, release screening, offline composition), and catches any change nobody
meant. After an intended change, regenerate it and say why in the commit:
`python -m linkqa_pipelines_tests.lake_digest <home>/lake > linkqa_pipelines_tests/golden/sample_run.json`.
New columns and new tables are allowed; every golden table must match on the golden's columns.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from linkqa_pipelines_tests.lake_digest import compare

GOLDEN = Path(__file__).parent / "golden" / "sample_run.json"
BIN = Path(sys.executable).parent
pytestmark = pytest.mark.slow


def _env(home: Path) -> dict[str, str]:
    """A clean environment: no inherited LINKQA_/DAGSTER_ settings, offline LLM, a fresh home."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LINKQA_", "DAGSTER_"))}
    env.update(LINKQA_HOME=str(home), DAGSTER_HOME=str(home / "dagster"), LINKQA_LLM_BACKEND="offline")
    return env


@pytest.mark.timeout(900)
def test_sample_run_matches_the_golden_lake(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "dagster").mkdir(parents=True)
    proc = subprocess.run(
        [str(BIN / "linkqa"), "run"], env=_env(home), cwd=tmp_path, capture_output=True, text=True, timeout=800
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    problems = compare(home / "lake", json.loads(GOLDEN.read_text(encoding="utf-8")))
    assert not problems, "lake differs from the golden sample run:\n" + "\n".join(problems)
