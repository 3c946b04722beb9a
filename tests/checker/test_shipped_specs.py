"""The shipped specifications load, and every shipped scenario passes on the model.

Every ``.dmabuf`` file under ``specs/`` is resolved together with
``checker.dsl.resolve.load``; the shipped behaviours (``specs/exporters/``,
``specs/importers/``) are the definitions every ``Library`` starts out holding.

Scenarios under ``specs/scenarios/`` are the executable statement of the rulebook
(``shared/reference/dmabuf-rules.md``) and of the corpus bugs expressible at the model's
level: a failing one means the model, an exporter or the DSL disagrees with it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from checker.dsl import ast
from checker.dsl.diagnostics import SpecError
from checker.dsl.library import shipped_exporters, shipped_importers
from checker.dsl.parser import parse
from checker.dsl.resolve import Library, load
from checker.scenario import run_scenario

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "specs"
SCENARIO_DIR = SPECS / "scenarios"
BEHAVIOUR_DIRS = (SPECS / "exporters", SPECS / "importers")
MIN_SCENARIOS = 30

ALL_FILES = sorted(SPECS.rglob("*.dmabuf"))
BEHAVIOUR_FILES = [p for p in ALL_FILES if any(d in p.parents for d in BEHAVIOUR_DIRS)]
LOADED_FILES = ALL_FILES


def _load() -> tuple[Library | None, SpecError | None]:
    try:
        return load(str(p) for p in LOADED_FILES), None
    except SpecError as e:  # reported by test_specs_load, not as a collection error
        return None, e


LIBRARY, LOAD_ERROR = _load()
SCENARIOS = sorted(LIBRARY.scenarios) if LIBRARY is not None else []


def _shipped(name: str) -> bool:
    assert LIBRARY is not None
    return SCENARIO_DIR in Path(LIBRARY.scenarios[name].decl.span.path).parents


def test_specs_load() -> None:
    assert LOAD_ERROR is None, LOAD_ERROR.render() if LOAD_ERROR else ""


def test_enough_scenarios() -> None:
    assert LIBRARY is not None, "specs do not load (see test_specs_load)"
    shipped = [n for n in SCENARIOS if _shipped(n)]
    assert len(shipped) >= MIN_SCENARIOS, f"only {len(shipped)} scenarios under {SCENARIO_DIR}"


def test_behaviour_files_are_the_shipped_ones() -> None:
    """The behaviour files declare exactly the behaviours every Library holds."""
    exporters: set[str] = set()
    importers: set[str] = set()
    for path in BEHAVIOUR_FILES:
        for item in parse(path.read_text(encoding="utf-8"), str(path)).items:
            if isinstance(item, ast.ExporterDecl):
                exporters.add(item.name)
            elif isinstance(item, ast.ImporterDecl):
                importers.add(item.name)
    assert exporters == {x.name for x in shipped_exporters()}
    assert importers == {i.name for i in shipped_importers()}
    assert LIBRARY is not None
    assert exporters <= set(LIBRARY.exporters) and importers <= set(LIBRARY.importers)


def test_a_user_file_may_not_reuse_a_shipped_name(tmp_path: Path) -> None:
    f = tmp_path / "mine.dmabuf"
    f.write_text('exporter ttm {\n  ops map_dma_buf, unmap_dma_buf, release\n}\n')
    with pytest.raises(SpecError, match="E111"):
        load([str(f)])


@pytest.mark.parametrize("name", [n for n in SCENARIOS if _shipped(n)])
def test_scenario_documents_itself(name: str) -> None:
    """A summary naming its rule(s) or corpus bug(s), and a comment line right above."""
    assert LIBRARY is not None
    decl = LIBRARY.scenarios[name].decl
    assert re.search(r"\b[RB]\d+\b", decl.summary), f"{name}: the summary names no rule or bug"
    lines = LIBRARY.sources[decl.span.path].splitlines()
    above = lines[decl.span.line - 2].strip() if decl.span.line >= 2 else ""
    assert above.startswith("#"), f"{decl.span}: no comment line above scenario {name}"


@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario_passes(name: str) -> None:
    assert LIBRARY is not None
    result = run_scenario(LIBRARY.scenarios[name])
    assert result.passed, "\n" + result.render()
