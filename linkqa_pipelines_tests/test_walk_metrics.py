"""Walk metrics: coverage, Gini, popularity and edge strength along paths, coverage curves."""

from __future__ import annotations

import numpy as np
import pytest

from linkqa_pipelines.core.walks import (
    WalkConfig,
    coverage_curve,
    edge_strengths,
    gini,
    graph_arrays_from_edges,
    kp_coverage,
    sample_paths,
    use_counts,
    walk_summary,
)

# 0-1 (w 2), 1-2 (w 4), 2-3 (w 6), 0-3 (w 1), 3-4 (w 3); popularity = node + 1
GRAPH = graph_arrays_from_edges(
    5, np.array([0, 1, 2, 0, 3]), np.array([1, 2, 3, 3, 4]), np.array([2.0, 4.0, 6.0, 1.0, 3.0]), np.arange(1.0, 6.0)
)
PATHS = [np.array([0, 1, 2]), np.array([3, 2, 1]), np.array([4, 3, 0])]


def test_gini_known_values() -> None:
    assert gini(np.array([3, 3, 3, 3])) == pytest.approx(0.0)
    assert gini(np.array([0, 0, 0, 4])) == pytest.approx(0.75)
    assert gini(np.array([1, 2, 3, 4])) == pytest.approx(0.25)
    assert np.isnan(gini(np.zeros(3))) and np.isnan(gini(np.array([])))


def test_coverage_counts_only_the_universe() -> None:
    mask = np.array([True, True, False, False, True])
    assert kp_coverage(PATHS[:1], mask) == pytest.approx(2 / 3)  # 0 and 1 of {0, 1, 4}
    assert kp_coverage(PATHS[:1], 5) == pytest.approx(3 / 5)
    assert kp_coverage(PATHS, mask) == 1.0
    np.testing.assert_array_equal(use_counts(PATHS, 5), [2, 2, 2, 2, 1])
    with pytest.raises(ValueError, match="outside"):
        use_counts([np.array([0, 9])], 5)


def test_coverage_curve_is_cumulative_first_use() -> None:
    x, y = coverage_curve(PATHS, 5, [0, 1, 2, 3, 10])
    np.testing.assert_array_equal(x, [0, 1, 2, 3, 3])
    np.testing.assert_allclose(y, [0.0, 0.6, 0.8, 1.0, 1.0])
    mask = np.array([False, False, False, True, True])
    np.testing.assert_allclose(coverage_curve(PATHS, mask, [1, 2, 3])[1], [0.0, 0.5, 1.0])


def test_edge_strengths_follow_the_paths_and_reject_non_edges() -> None:
    np.testing.assert_array_equal(edge_strengths(GRAPH, PATHS), [2.0, 4.0, 6.0, 4.0, 3.0, 1.0])
    with pytest.raises(ValueError, match="1 -> 4 is not an edge"):
        edge_strengths(GRAPH, [np.array([0, 1, 4])])


def test_walk_summary_values() -> None:
    mask = np.array([True, True, True, False, False])
    summary = walk_summary(GRAPH, PATHS, mask)
    assert summary == pytest.approx(
        {
            "paths": 3.0,
            "mean_length": 3.0,
            "kp_coverage": 1.0,
            "kps_used": 3.0,
            "gini": 0.0,  # 0, 1, 2 used twice each
            "mean_popularity": (1 + 2 + 3 + 4 + 3 + 2 + 5 + 4 + 1) / 9,
            "mean_edge_strength": 20.0 / 6,
        }
    )
    # a WalkResult gives the same numbers as its list of paths
    result = sample_paths(GRAPH, WalkConfig(n_paths=20, min_len=2, max_len=4, seed=1))
    assert walk_summary(GRAPH, result, 5) == walk_summary(GRAPH, result.paths(), 5)
