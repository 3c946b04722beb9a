"""The front-end fuzz command that CI runs (``python3 -m checker.dsl.fuzz --seed 0 --count
10000``): deterministic for a seed, every input a mutation of a shipped spec, and it reports
a crash or a hang as a failure (exit 1)."""

from __future__ import annotations

import time

import pytest

from checker.dsl import fuzz


def test_a_short_run_is_clean_and_reaches_the_resolver() -> None:
    report = fuzz.fuzz(0, 400)
    assert report.failures == [], report.render()
    assert report.inputs == 400 and report.parsed > 0 and report.resolved > 0
    assert len(report.codes) >= 8, report.codes


def test_inputs_are_deterministic_and_mutated() -> None:
    first = list(fuzz.inputs(3, 200))
    assert first == list(fuzz.inputs(3, 200))
    shipped = set(fuzz.corpus())
    assert sum(text in shipped for text in first) < 10


def test_a_crash_and_a_hang_are_failures(monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(text: str, path: str) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(fuzz, "parse", crash)
    report = fuzz.fuzz(0, 3)
    assert len(report.failures) == 3 and "crash in parse: RuntimeError: boom" in \
        report.failures[0][0]

    def slow(text: str, path: str) -> None:
        time.sleep(5)

    monkeypatch.setattr(fuzz, "parse", slow)
    report = fuzz.fuzz(0, 1, hang_s=0.2)
    assert report.failures and report.failures[0][0].startswith("hang: parse")
    assert fuzz.main(["--count", "1", "--hang-seconds", "0.2"]) == 1
