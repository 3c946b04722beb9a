"""The explorer's benchmark (checker/engines/bench.py) prints its two tables: throughput
against a bare Hypothesis state machine, and the runs each mutant takes to find."""

from __future__ import annotations

import re

import pytest

from checker.engines import bench

pytestmark = pytest.mark.no_cover


def test_the_benchmark_prints_throughput_and_runs_per_mutant(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(["--scopes", "1x1", "--examples", "5", "--depth", "5", "--seeds", "2",
                       "--mutants", "double_put,exporter_without_unmap"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("explorer throughput (ttm, v6.16+, contract, core properties, "
                               "depth 5, 5 runs, seed 0)")
    row = next(line.split() for line in lines if line.strip().startswith("1x1"))
    steps, rate, bare, ratio = int(row[3]), float(row[4]), float(row[5]), float(row[6])
    assert steps > 0 and rate > 0 and bare > 0
    # the rates are printed as whole numbers and the ratio from the unrounded ones: half a
    # step per second of rounding in each, and half a hundredth in the ratio
    slack = 0.005 + (rate / bare) * (0.5 / rate + 0.5 / bare) * 1.01
    assert ratio == pytest.approx(rate / bare, abs=slack)
    # both mutants are found by both seeds; runs and seconds are the medians
    for name in ("double_put", "exporter_without_unmap"):
        found = re.search(rf"^\s+{name}\s+2/2\s+(\d+)\s+([\d.]+)$", out, re.MULTILINE)
        assert found is not None, out
        assert int(found.group(1)) >= 0  # 0: an operation's start found it


def test_the_bare_machine_counts_the_steps_it_runs() -> None:
    # Hypothesis decides how many of the runs asked for it makes, each of at most `depth`
    # steps; the rate is the steps it did make over the time they took
    rate, steps = bench.bare_rate(ops=5, examples=3, depth=4)
    assert 0 < steps <= 3 * 4 and rate > 0
