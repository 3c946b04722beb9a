"""The gate benchmark's command line (the benchmark itself takes minutes: it is run by hand,
``python3 -m checker.gate_bench``)."""

from __future__ import annotations

import pytest

from checker import gate_bench


def test_percentiles() -> None:
    xs = [5.0, 1.0, 3.0, 2.0, 4.0]
    assert gate_bench._percentile(xs, 0.0) == 1.0
    assert gate_bench._percentile(xs, 0.5) == 3.0
    assert gate_bench._percentile(xs, 1.0) == 5.0


def test_both_halves_can_be_skipped(capsys: pytest.CaptureFixture[str]) -> None:
    assert gate_bench.main(["--skip-matrix", "--skip-certificates", "--skip-drivers"]) == 0
    assert capsys.readouterr().out == ""
