"""``validate-exporter``: how an EXPORTER argument is read, the spec text it becomes, and
the command line's errors (exit 2, a message saying how to fix it, no traceback)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from checker.cli import main
from checker.validate import (
    SOLVER_CHECK,
    Settings,
    TargetError,
    parse_target,
    plan,
    spec_text,
)

ROOT = Path(__file__).resolve().parents[2]


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_a_shipped_name_a_spec_file_and_a_python_reference() -> None:
    assert parse_target("ttm").clause == "exporter ttm"
    shipped = parse_target(str(ROOT / "specs/exporters/udmabuf.dmabuf") + ":udmabuf")
    assert shipped.clause == "exporter udmabuf" and shipped.spec_file == ""
    assert parse_target(str(ROOT / "specs/exporters/udmabuf.dmabuf")).clause == \
        "exporter udmabuf"
    py = parse_target("model.mutants:MUTANTS.double_put.exporter")
    assert py.clause == 'exporter "model.mutants:MUTANTS.double_put.exporter"'


def test_a_user_spec_file_is_imported(tmp_path: Path) -> None:
    spec = tmp_path / "mine.dmabuf"
    spec.write_text(
        'exporter mine "a heap of my own" {\n'
        "  ops map_dma_buf, unmap_dma_buf, release\n"
        "  profiles v6.16+, v7.x\n"
        "}\n"
        'check mine_check "its own check: not part of the validation" {\n'
        "  exporter mine\n  importers static\n  profiles v6.16+\n  scope 1x1\n"
        "  depth 2\n  engines bmc\n}\n", encoding="utf-8")
    target = parse_target(f"{spec}:mine")
    assert target.spec_file == str(spec.resolve())
    text = spec_text(target, ("v6.16+",), Settings())
    assert f'import "{spec.resolve()}"' in text
    p = plan(target, Settings(engines=("bmc",)))
    assert p.declared == ("v6.16+", "v7.x") == p.profiles
    assert {u.engine for u in p.units} == {"bmc"}
    assert {u.check for u in p.units} == {SOLVER_CHECK}, "the file's own checks do not run"
    assert all(pr.imports == (str(spec.resolve()),) for pr in p.problems.values())


@pytest.mark.parametrize(("arg", "message"), [
    ("nope", "names no exporter"),
    ("missing.dmabuf:x", "missing.dmabuf: no such spec file"),
    ("no_such_module_here:Thing", "no Python module named 'no_such_module_here'"),
])
def test_bad_exporter_arguments(arg: str, message: str) -> None:
    with pytest.raises(TargetError, match=message):
        plan(parse_target(arg), Settings(), allow_python=True)


def test_a_python_exporter_needs_allow_python(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "loud_plugin.py").write_text(
        "import pathlib\npathlib.Path(__file__).with_name('IMPORTED').write_text('x')\n",
        encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(TargetError, match="run only with --allow-python"):
        plan(parse_target("loud_plugin:Exporter"), Settings())
    assert not (tmp_path / "IMPORTED").exists(), "the module was imported without the flag"
    # the shipped model's mutants are trusted code: no flag needed
    mutant = plan(parse_target("model.mutants:MUTANTS.double_unmap.exporter"),
                  Settings(engines=("bmc",)))
    assert mutant.units


def test_a_spec_importing_core_twice_over_is_one_file(tmp_path: Path) -> None:
    """validate-exporter imports the shipped core; a spec that imports it too (by name,
    and by a path of its own) loads it once: no E111 duplicates."""
    core = ROOT / "specs" / "rules" / "core.dmabuf"
    spec = tmp_path / "mine.dmabuf"
    spec.write_text(
        f'import "core"\nimport "{core}"\n'
        'exporter mine "a heap" {\n  ops map_dma_buf, unmap_dma_buf, release\n}\n',
        encoding="utf-8")
    p = plan(parse_target(f"{spec}:mine"), Settings(engines=("bmc",)))
    assert p.units and "released_exactly_at_zero" in {
        q.name for pr in p.problems.values() for q in pr.properties}


def test_a_file_with_two_exporters_needs_a_name(tmp_path: Path) -> None:
    spec = tmp_path / "two.dmabuf"
    spec.write_text("".join(
        f'exporter {n} "x" {{\n  ops map_dma_buf, unmap_dma_buf, release\n}}\n'
        for n in ("one", "two")), encoding="utf-8")
    with pytest.raises(TargetError, match=r"declares 2 exporters \(one, two\); name one"):
        parse_target(str(spec))


def test_command_line_errors_exit_2_with_a_message() -> None:
    code, _, err = run("validate-exporter")
    assert code == 2 and "name one EXPORTER, or give --reference" in err
    code, _, err = run("validate-exporter", "--reference")
    assert code == 2 and "add --output-dir DIR" in err
    code, _, err = run("validate-exporter", "nope")
    assert code == 2 and "EXPORTER 'nope' names no exporter" in err
    assert "Traceback" not in err
    code, _, err = run("validate-exporter", "ttm", "--profile", "v9")
    assert code == 2 and "--profile v9: unknown profile" in err
    code, _, err = run("validate-exporter", "system_heap", "--profile", "v6.1", "--output",
                       "x", "--output-dir", "y")
    assert code == 2 and "use one" in err


def test_the_command_writes_the_certificate(tmp_path: Path) -> None:
    target = tmp_path / "heap.json"
    code, out, _ = run("validate-exporter", "system_heap", "--profile", "v6.1",
                       "--engine", "bmc", "--scope", "1x2", "--depth", "3",
                       "--format", "json", "--output", str(target), "--jobs", "1")
    assert code == 0, out
    doc = json.loads(target.read_text(encoding="utf-8"))
    assert doc["exporter"] == "system_heap" and doc["exit_code"] == 0
    (v61,) = [p for p in doc["profiles"] if p["profile"] == "v6.1"]
    assert v61["certified"] and v61["obligations"]
    assert "system_heap:" in out and str(target) in out
