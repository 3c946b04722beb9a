"""The mutation self-test: every engine kills the mutants it is given, the matrix is
complete, and a mutant that survives (or a witness that is not minimal) fails the
command."""

from __future__ import annotations

import io
import json

import pytest

from checker import selftest as st
from checker.cli import main
from model.exporters import SYSTEM_HEAP
from model.importers import STATIC
from model.mutants import MUTANTS, Mutant

pytestmark = pytest.mark.no_cover

QUICK = ("double_put", "heap_vunmap_keeps_mapping", "exporter_without_unmap")


def test_every_engine_kills_the_quick_mutants_with_replayed_traces() -> None:
    mx = st.selftest(QUICK)
    assert mx.mutants == QUICK and mx.engines == ("hypothesis", "bmc", "prove")
    assert len(mx.cells) == len(QUICK) * 3, "one cell per (mutant, engine)"
    for c in mx.cells:
        assert c.ok, c
        assert c.length is not None and c.length >= len(MUTANTS[c.mutant].witness)
        if c.engine == "bmc":
            assert c.length == len(MUTANTS[c.mutant].witness)
    assert mx.exit_code == 0
    text = st.matrix_text(mx)
    assert "every mutant is killed by every engine" in text
    for name in QUICK:
        assert name in text
    doc = json.loads(st.matrix_json(mx))
    assert [m["name"] for m in doc["mutants"]] == list(QUICK)
    assert set(doc["mutants"][0]["engines"]) == {"hypothesis", "bmc", "prove"}


def test_a_surviving_mutant_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 'mutant' that is the correct system heap: no engine can kill it."""
    fake = Mutant("not_a_bug", "R25", "vmap-leak", "the correct system heap", SYSTEM_HEAP,
                  (STATIC,), "v6.16+", ("export(b0)", "vmap_unlocked(b0)",
                                        "vunmap_unlocked(b0)"))
    monkeypatch.setattr(st, "MUTANTS", {**MUTANTS, "not_a_bug": fake})
    mx = st.selftest(["not_a_bug"], settings=st.Settings(depth=4, examples=50))
    assert mx.exit_code == 1
    assert {c.engine for c in mx.failures} == {"hypothesis", "bmc", "prove"}
    assert all(not c.killed and c.problem.startswith("survived") for c in mx.failures)
    assert "SURVIVED" in st.matrix_text(mx)


def test_a_witness_longer_than_the_shortest_trace_fails(monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    m = MUTANTS["double_put"]
    padded = Mutant(m.name, m.rule, m.tag, m.summary, m.exporter, m.importers, m.profile,
                    ("export(b0)", "get_dma_buf(b0)", "put(b0)", *m.witness[1:]))
    monkeypatch.setattr(st, "MUTANTS", {**MUTANTS, m.name: padded})
    cell = st.run_cell((m.name, "bmc", st.Settings()))
    assert cell.killed and not cell.ok
    assert "the catalogue's witness 5" in cell.problem


def test_the_command_line() -> None:
    out, err = io.StringIO(), io.StringIO()
    assert main(["selftest", "--mutant", "double_put", "--engine", "bmc", "--jobs", "1"],
                stdout=out, stderr=err) == 0
    assert "double_put" in out.getvalue() and "killed" in out.getvalue()
    out = io.StringIO()
    assert main(["selftest", "--mutant", "nope"], stdout=out, stderr=err) == 2
    assert "--mutant nope: no such mutant" in err.getvalue()
    out = io.StringIO()
    assert main(["selftest", "--mutant", "double_put", "--engine", "prove", "--format",
                 "json", "--jobs", "1"], stdout=out, stderr=err) == 0
    assert json.loads(out.getvalue())["failures"] == 0
