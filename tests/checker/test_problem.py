"""``checker.problem.problems``: one problem per profile of a check, naming its behaviours
as the check names them, so that a counterexample file names them the same way."""

from __future__ import annotations

from pathlib import Path

from checker.dsl.resolve import load_text
from checker.problem import Problem, problems

CORE = (Path(__file__).resolve().parents[2] / "specs" / "rules" / "core.dmabuf").as_posix()


def _check(body: str) -> list[Problem]:
    lib = load_text(f'import "{CORE}"\ncheck c {{\n{body}\n  profiles v6.1, v7.x\n'
                    "  scope 1x1\n}\n", "<test>")
    return list(problems(lib.checks["c"]))


def test_python_behaviours_keep_their_references() -> None:
    ps = _check('  exporter "model.mutants:MUTANTS.double_put.exporter"\n'
                '  importers "model.mutants:MUTANTS.double_put.importers"')
    assert [p.check for p in ps] == ["c[v6.1]", "c[v7.x]"]
    for p in ps:
        assert p.exporter_ref == "model.mutants:MUTANTS.double_put.exporter"
        assert p.importer_refs == ("model.mutants:MUTANTS.double_put.importers",)
        assert p.model.exporter.name == "system_heap"


def test_dsl_behaviours_keep_their_names() -> None:
    (p, _) = _check("  exporter ttm\n  importers static, pinned")
    assert p.exporter_ref == "ttm"
    assert p.importer_refs == ("static", "pinned")
