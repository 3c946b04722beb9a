"""The cluster benchmark's projection (the benchmark itself starts clusters and prints
figures; it is run by hand)."""

from __future__ import annotations

from checker.cluster_bench import project


def test_the_projection_schedules_longest_first_on_the_first_free_worker() -> None:
    runs = [5.0, 4.0, 3.0, 3.0, 1.0]
    assert project(runs, 1, 0.0) == 16.0
    assert project(runs, 2, 0.0) == 8.0  # 5+3, 4+3+1
    assert project(runs, 8, 0.0) == 5.0  # never below the longest run
    assert project(runs, 2, 0.5) == 9.5  # 5+3+1 runs' overhead on the busier worker
