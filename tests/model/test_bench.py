"""The benchmark command runs and prints its figures (no timing is asserted)."""

from __future__ import annotations

import json

import pytest

from model.bench import main


def test_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--scopes", "1x1", "1x2", "--steps", "300", "--exporter", "system_heap"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("random contract-mode walks, exporter system_heap")
    assert "steps/s" in out[1] and len(out) == 5


@pytest.mark.no_cover  # runs the model at length: untraced (see tests/conftest.py)
def test_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--scopes", "1x2", "--steps", "200", "--mode", "misuse", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["steps"] == 200 and row["mode"] == "misuse" and row["steps_per_s"] > 0
