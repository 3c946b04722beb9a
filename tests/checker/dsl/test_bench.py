"""The parse and resolve benchmark runs and prints its figures (no timing is asserted)."""

from __future__ import annotations

import json

import pytest

from checker.dsl.bench import build, build_valid, main
from checker.dsl.parser import parse
from checker.dsl.resolve import load_text


def test_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--lines", "60", "120", "--repeat", "1"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("random specs (seed 1)")
    assert "lines/s" in out[1] and len(out) == 7
    assert [line.split()[0] for line in out[3:]] == ["parse", "resolve", "parse", "resolve"]
    assert out[3].endswith("1.00x") and out[4].endswith("1.00x")


def test_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--lines", "80", "--repeat", "2", "--seed", "3", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["stage"] for r in rows] == ["parse", "resolve"]
    for row in rows:
        assert row["lines"] >= 80 and row["repeat"] == 2
        assert row["lines_per_s"] > 0 and row["growth"] == 1.0


def test_build_is_deterministic_and_grows_by_extension() -> None:
    small, large = build(100, seed=5), build(300, seed=5)
    assert small == build(100, seed=5)
    assert large.startswith(small)
    kinds = {type(i).__name__ for i in parse(large).items}
    assert kinds >= {"ExporterDecl", "ImporterDecl", "ScenarioDecl", "PropertyDecl", "CheckDecl"}


def test_the_resolved_spec_is_valid() -> None:
    lib = load_text(build_valid(200), "bench.dmabuf")
    assert len(lib.scenarios) >= 5
