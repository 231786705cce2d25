"""The English tagger loads without scipy.stats, and leaves it importable (`documents._pattern_tagger`)."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import sys
from linkqa_pipelines.core.knowledge_points.documents import _pattern_tagger
tags = _pattern_tagger()("The kinetic energy of a moving car")
assert ("energy", "NN") in tags, tags
assert "scipy.stats" not in sys.modules
import scipy.stats
assert scipy.stats.fisher_exact is not None
print("ok")
"""


def test_tagger_loads_without_scipy_stats_and_leaves_it_importable() -> None:
    """In a fresh interpreter: nothing else there has imported scipy.stats or textblob yet."""
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
