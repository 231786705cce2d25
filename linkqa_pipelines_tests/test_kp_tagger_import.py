"""The English tagger loads without scipy.stats, and leaves it importable where scipy is installed
(`documents._pattern_tagger`; a core install has no scipy, the bench extra brings it)."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import sys
from linkqa_pipelines.core.knowledge_points.documents import _pattern_tagger
tags = _pattern_tagger()("The kinetic energy of a moving car")
assert ("energy", "NN") in tags, tags
assert "scipy.stats" not in sys.modules  # the None entry that hid it is gone
from importlib.util import find_spec
if find_spec("scipy") is not None:  # installed (the bench extra brings it): imports as usual
    import scipy.stats
    assert scipy.stats.fisher_exact is not None
else:  # a core install has no scipy: the usual ModuleNotFoundError, not "halted; None in sys.modules"
    try:
        import scipy.stats
    except ModuleNotFoundError as exc:
        assert exc.name == "scipy", exc
    else:
        raise AssertionError("scipy.stats imported without scipy installed")
print("ok")
"""


def test_tagger_loads_without_scipy_stats_and_leaves_it_importable() -> None:
    """In a fresh interpreter: nothing else there has imported scipy.stats or textblob yet."""
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
