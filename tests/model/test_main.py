"""``python -m model`` self-check: passes on the shipped model and fails loudly otherwise."""

from __future__ import annotations

import io

import pytest

import model.__main__ as selfcheck
from model.mutants import MUTANTS, Mutant


@pytest.mark.no_cover  # runs the model at length: untraced (see tests/conftest.py)
def test_all_pass() -> None:
    out = io.StringIO()
    assert selfcheck.main([], out) == 0
    lines = out.getvalue().splitlines()
    assert lines[-1].startswith(f"{16 + len(MUTANTS)} passed, 0 failed")
    assert any("canonical sequence  ttm" in line for line in lines)


@pytest.mark.no_cover  # runs the model at length: untraced (see tests/conftest.py)
def test_a_mutant_that_escapes_fails_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    m = MUTANTS["double_put"]
    escaped = Mutant(m.name, m.rule, "no-such-tag", m.summary, m.exporter, m.importers,
                     m.profile, m.witness)
    monkeypatch.setattr(selfcheck, "MUTANTS", {m.name: escaped})
    out = io.StringIO()
    assert selfcheck.main([], out) == 1
    assert "FAIL mutant double_put" in out.getvalue()
