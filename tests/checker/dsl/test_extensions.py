"""Python behaviour references (``exporter "module:attr"``) and ``violates PROPERTY``."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from checker.dsl import ast
from checker.dsl.diagnostics import SpecError
from checker.dsl.format import format_spec
from checker.dsl.parser import parse
from checker.dsl.resolve import Library, load, load_text
from checker.scenario import run_scenario
from model.mutants import MUTANTS

CORE = Path(__file__).resolve().parents[3] / "specs" / "rules" / "core.dmabuf"

PLUGIN = '''
from model.plugin import PythonExporter, PythonImporter, counter
from model.importers import STATIC

class Counting(PythonExporter):
    name = "counting"
    buffer_fields = (counter("maps", 4),)
    def map_dma_buf(self, call):
        call.buf.x["maps"] += 1
        return 0
    def unmap_dma_buf(self, call):
        call.buf.x["maps"] -= 1
        return 0

class Lazy(PythonImporter):
    name = "lazy_py"

IMPORTERS = [STATIC, Lazy]
SAME_NAMES = (STATIC, STATIC)
EMPTY = ()
NUMBER = 3
'''


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """An importable module of Python behaviours; its name."""
    (tmp_path / "cex_behaviours.py").write_text(PLUGIN)
    (tmp_path / "cex_broken.py").write_text("raise RuntimeError('half-written driver')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    return "cex_behaviours"


def scenario(body: str, head: str = "") -> str:
    lines = textwrap.dedent(body).strip("\n") + "\n"
    return head + "scenario s {\n" + textwrap.indent(lines, "  ") + "}\n"


def resolve(text: str, tmp_path: Path) -> Library:
    path = tmp_path / "s.dmabuf"
    path.write_text(text)
    return load([str(path)], allow_python=True)


def errors(text: str, tmp_path: Path) -> list[str]:
    with pytest.raises(SpecError) as info:
        resolve(text, tmp_path)
    return [f"{d.code} {d.span.line}:{d.span.col} {d.message}" for d in info.value.diagnostics]


# ---------------------------------------------------------------- syntax


def test_python_references_parse_and_format() -> None:
    text = scenario('''
        exporter "model.mutants:MUTANTS.double_unmap.exporter"
        importers "model.mutants:MUTANTS.double_unmap.importers"
        export(b0) -> violates my_prop
    ''')
    tree = parse(text)
    sc = tree.items[0]
    assert isinstance(sc, ast.ScenarioDecl)
    assert sc.exporter_py == ast.PyRef("model.mutants:MUTANTS.double_unmap.exporter")
    assert sc.exporter_py is not None and (sc.exporter_py.span.line, sc.exporter_py.span.col) \
        == (2, 12)
    assert sc.importers_py is not None and sc.exporter == "" and sc.importers == ()
    assert sc.body[0] == ast.Step(ast.ActionCall("export", "b0"),
                                  (ast.Outcome("violates", rule="my_prop"),))
    assert format_spec(tree) == text
    assert parse(format_spec(tree)) == tree


def test_the_last_behaviour_setting_wins() -> None:
    tree = parse(scenario('exporter "a:b"\nexporter system_heap\nimporters static\n'
                          'importers "c:d"\n'))
    sc = tree.items[0]
    assert isinstance(sc, ast.ScenarioDecl)
    assert (sc.exporter, sc.exporter_py) == ("system_heap", None)
    assert (sc.importers, sc.importers_py) == ((), ast.PyRef("c:d"))


# ---------------------------------------------------------------- resolving Python behaviours


def test_mutant_behaviours_by_reference(tmp_path: Path) -> None:
    m = MUTANTS["double_unmap"]
    text = scenario('''
        scope 1x1
        exporter "model.mutants:MUTANTS.double_unmap.exporter"
        importers "model.mutants:MUTANTS.double_unmap.importers"
        mode contract
    ''' + "\n".join(m.witness[:-1]) + f"\n{m.witness[-1]} -> ok, violates R15 unmap-unmapped\n")
    sc = resolve(text, tmp_path).scenarios["s"]
    assert sc.model.exporter is m.exporter and sc.model.importers == m.importers
    result = run_scenario(sc)
    assert result.passed, result.render()


def test_python_classes_are_adapted(plugin: str, tmp_path: Path) -> None:
    text = scenario(f'''
        exporter "{plugin}:Counting"
        importers "{plugin}:IMPORTERS"
        export(b0)
        attach(b0.a0, importer=static)
        map_unlocked(b0.a0, dir=TO_DEVICE)
        expect b0.x.maps == 1
    ''')
    lib = resolve(text, tmp_path)
    sc = lib.scenarios["s"]
    assert sc.model.exporter.name == "counting" and not sc.model.encodable
    assert [i.name for i in sc.model.importers] == ["static", "lazy_py"]
    assert run_scenario(sc).passed
    again = resolve(text, tmp_path).scenarios["s"]
    assert again.model is sc.model  # a class is adapted once: the model is shared


def test_a_single_importer(plugin: str, tmp_path: Path) -> None:
    lib = resolve(scenario(f'exporter system_heap\nimporters "{plugin}:Lazy"\nexport(b0)\n'),
                  tmp_path)
    assert [i.name for i in lib.scenarios["s"].model.importers] == ["lazy_py"]


@pytest.mark.parametrize("exporter, importers, expected", [
    ('"nomodule_xyz:X"', "static", "E124 2:12 no Python module named 'nomodule_xyz'"),
    ('"cex_broken:X"', "static", "E124 2:12 importing module 'cex_broken' failed: "
     "RuntimeError: half-written driver"),
    ('"not a reference"', "static", "E124 2:12 'not a reference' is not a Python reference"),
    ('"cex_behaviours:Countin"', "static", "E125 2:12 'cex_behaviours' has no attribute "
     "'Countin' (did you mean 'Counting'?)"),
    ('"cex_behaviours:Counting.name.nope"', "static", "E125 2:12 'cex_behaviours:Counting.name' "
     "has no attribute 'nope'"),
    ('"cex_behaviours:NUMBER"', "static", "E126 2:12 'cex_behaviours:NUMBER' is an int, not "
     "an exporter"),
    ('"cex_behaviours:Lazy"', "static", "E126 2:12 'cex_behaviours:Lazy' is the class Lazy, "
     "not an exporter"),
    ("system_heap", '"cex_behaviours:EMPTY"', "E126 3:13 'cex_behaviours:EMPTY' is an empty "
     "sequence"),
    ("system_heap", '"cex_behaviours:Counting"', "E126 3:13 'cex_behaviours:Counting' is the "
     "class Counting, not an importer"),
    ("system_heap", '"model.mutants:MUTANTS"', "E126 3:13 'model.mutants:MUTANTS' is a "
     "mappingproxy, not an importer"),
    ("system_heap", '"cex_behaviours:SAME_NAMES"', "E126 3:13 these behaviours do not make a "
     "model: importer names must be distinct"),
])
def test_python_reference_errors(plugin: str, tmp_path: Path, exporter: str, importers: str,
                                 expected: str) -> None:
    text = scenario(f"exporter {exporter}\nimporters {importers}\nexport(b0)\n")
    found = errors(text, tmp_path)
    assert len(found) == 1 and found[0].startswith(expected), found


def test_checks_take_python_references_too(tmp_path: Path) -> None:
    text = ('check c {\n  exporter "model.mutants:MUTANTS.double_put.exporter"\n'
            '  importers "model.mutants:MUTANTS.double_put.importers"\n}\n')
    check = resolve(text, tmp_path).checks["c"]
    assert check.exporter is MUTANTS["double_put"].exporter
    assert check.importers == MUTANTS["double_put"].importers


# ---------------------------------------------------------------- violates PROPERTY

ALWAYS = '''property one_ref "at most one caller reference" {
  always b0.kref <= 1
}

'''


def run(text: str, tmp_path: Path) -> list[str]:
    result = run_scenario(resolve(text, tmp_path).scenarios["s"])
    return [p for s in result.steps for p in s.problems]


def test_always_property_named_where_it_fails(tmp_path: Path) -> None:
    ok = ALWAYS + scenario('''
        exporter system_heap
        export(b0)
        get_dma_buf(b0) -> ok, violates one_ref
        get_dma_buf(b0) -> violates one_ref
        put(b0) -> violates one_ref
        put(b0) -> ok
    ''')
    assert run(ok, tmp_path) == []


def test_always_property_failing_unnamed(tmp_path: Path) -> None:
    text = ALWAYS + scenario('''
        exporter system_heap
        export(b0)
        get_dma_buf(b0) -> violates one_ref
        get_dma_buf(b0)
    ''')
    assert run(text, tmp_path) == [
        "property one_ref fails here; the step does not name it (add: violates one_ref)"]


def test_always_property_named_where_it_holds(tmp_path: Path) -> None:
    text = ALWAYS + scenario("exporter system_heap\nexport(b0) -> violates one_ref\n")
    assert run(text, tmp_path) == ["expected property one_ref to fail here, it holds"]


def test_unnamed_properties_are_not_evaluated(tmp_path: Path) -> None:
    text = ALWAYS + scenario("exporter system_heap\nexport(b0)\nget_dma_buf(b0)\n")
    assert run(text, tmp_path) == []


def test_response_property(tmp_path: Path) -> None:
    m = MUTANTS["access_after_move_notify"]
    head = f'import "{CORE}"\n\n'
    body = '''
        profile v7.x
        scope 1x1
        exporter "model.mutants:MUTANTS.access_after_move_notify.exporter"
        importers "model.mutants:MUTANTS.access_after_move_notify.importers"
        mode contract
    ''' + "\n".join(m.witness[:-1]) + "\n"
    last = m.witness[-1]
    good = head + scenario(body + f"{last} -> violates R18, violates remap_after_move\n")
    assert run(good, tmp_path) == []
    early = head + scenario(body.replace("move(b0)", "move(b0) -> violates remap_after_move")
                            + f"{last} -> violates R18, violates remap_after_move\n")
    assert run(early, tmp_path) == ["expected property remap_after_move to fail here, it holds"]
    named_elsewhere = head + scenario(
        body.replace("move(b0)", "move(b0) -> violates remap_after_move")
        + f"{last} -> violates R18\n")
    assert run(named_elsewhere, tmp_path) == [
        "expected property remap_after_move to fail here, it holds"]
    unnamed = head + scenario(body + f"{last} -> violates R18\n")
    assert run(unnamed, tmp_path) == []  # a property no step names is not evaluated


def test_property_outcome_errors(tmp_path: Path) -> None:
    text = ALWAYS + scenario('''
        exporter system_heap
        export(b0) -> violates one_reff
        get_dma_buf(b0) -> violates one_ref double-unmap
        put(b0) -> violates R99
    ''')
    assert errors(text, tmp_path) == [
        "E127 7:17 unknown rule or property 'one_reff' (did you mean 'one_ref'?)",
        "E128 8:22 a property is named without a tag: 'double-unmap' belongs to rules",
        "E107 9:14 unknown rule 'R99' (did you mean 'R9'?)",
    ]


def test_resolved_scenario_lists_its_properties() -> None:
    lib = load_text(ALWAYS + scenario("exporter system_heap\nexport(b0)\n"
                                      "get_dma_buf(b0) -> violates one_ref\n"), "s.dmabuf")
    assert [p.name for p in lib.scenarios["s"].properties] == ["one_ref"]
