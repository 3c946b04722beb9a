"""The DSL's scope line: ``scope BxA with NAME=N, ...`` sets counter bounds in scenarios,
checks and file defaults; a bad bound is a located E113."""

from __future__ import annotations

import pytest

from checker.dsl.diagnostics import SpecError
from checker.dsl.parser import parse
from checker.dsl.resolve import load_text
from checker.scenario import run_scenario

THIRD_START = """scenario s {
  scope 1x1 with cpu=3, size=4
  exporter gem_prime
  importers static
  export(b0)
  fd(b0)
  sync(b0, flags=1) -> ok
  sync(b0, flags=1) -> ok
  sync(b0, flags=1) -> ok
  mmap(b0, pgoff=1, pages=3) -> ok
  expect b0.cpu == 3
}
"""


def test_a_scenario_scope_sets_bounds() -> None:
    sc = load_text(THIRD_START, "s.dmabuf").scenarios["s"]
    assert (sc.model.scope.cpu, sc.model.scope.size_pages) == (3, 4)
    r = run_scenario(sc)
    assert r.passed, r.render()


def test_a_file_scope_and_a_check_scope_set_bounds() -> None:
    lib = load_text("scope 1x2 with pins=1\nscenario s { exporter ttm export(b0) }\n"
                    "check c { exporter ttm scope 1x1 with vmas=2 }\n", "s.dmabuf")
    assert lib.scenarios["s"].model.scope.pins == 1
    assert lib.checks["c"].scope.vmas == 2


def test_the_written_text_is_kept() -> None:
    f = parse("scope 2x3 with size=4, cpu=3\n", "s.dmabuf")
    assert f.items[0].scope == "2x3 with size=4, cpu=3"  # type: ignore[union-attr]


@pytest.mark.parametrize(("text", "col", "message"), [
    ("scope 1x1 with cpux=3\n", 16, "unknown scope bound 'cpux' (did you mean 'cpu'?)"),
    ("scope 1x1 with cpu=0\n", 20, "cpu=0 is out of range"),
    ("scope 1x1 with cpu=65\n", 20, "cpu=65 is out of range"),
    ("scope 1x1 with cpu=3, cpu=4\n", 23, "scope bound 'cpu' is given twice"),
])
def test_bad_bounds_are_located(text: str, col: int, message: str) -> None:
    with pytest.raises(SpecError) as e:
        parse(text, "s.dmabuf")
    d = e.value.diagnostics[0]
    assert (d.code, d.span.line, d.span.col) == ("E113", 1, col)
    assert message in d.message


def test_an_operation_parameter_may_be_any_64_bit_value() -> None:
    f = parse("scenario s { sync(b0, flags=9223372036854775809) }", "s.dmabuf")
    step = f.items[0].body[0]  # type: ignore[union-attr]
    assert step.action.params[0].value == (1 << 63) | 1
    with pytest.raises(SpecError) as e:
        parse(f"scenario s {{ sync(b0, flags={1 << 64}) }}", "s.dmabuf")
    assert e.value.diagnostics[0].code == "E005"

