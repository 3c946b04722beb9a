"""Routines in the specification language: what they lower to, and the mistakes they are
refused for (each a located diagnostic, never a traceback)."""

from __future__ import annotations

from pathlib import Path

import pytest

from checker.dsl.diagnostics import SpecError
from checker.dsl.resolve import load_text
from model import Action, Model
from model.exporters import EXPORTERS

PATH = "<routines>"


def importer(body: str, head: str = "static\n  object gem { n: 0..3 }") -> str:
    return f'importer drv "a driver" {{\n  {head}\n{body}\n}}\n'


def errors(text: str) -> list[tuple[str, int, str]]:
    with pytest.raises(SpecError) as e:
        load_text(text, PATH)
    return [(d.code, d.span.line, d.message) for d in e.value.diagnostics]


def test_a_loop_runs_once_per_live_attachment() -> None:
    lib = load_text(importer('''
  setup routine import(att) {
    r = get(buf)
    if r != 0 {
      return r
    }
    r = attach(buf)
    if r != 0 {
      put(buf)
      return r
    }
  }
  ioctl routine count(att) {
    obj.n = 0
    for a in buf.attachments {
      obj.n += 1
    }
  }
  teardown routine destroy(att) {
    detach(att)
    put(buf)
  }'''), PATH)
    m = Model(EXPORTERS["system_heap"], (lib.importers["drv"],), "v6.16+", "1x2")
    out = m.run(["export(b0)", "fd(b0)", "import(b0.a0)", "import(b0.a1)", "count(b0.a1)",
                 "destroy(b0.a0)", "count(b0.a1)"], mode="contract")
    assert all(not o.violations for o in out)
    assert m.value(out[4].state, "b0.a1.i.n") == 2
    assert m.value(out[6].state, "b0.a1.i.n") == 1


def test_a_helper_routine_is_inlined_and_its_return_is_the_call_s_result() -> None:
    lib = load_text(importer('''
  ioctl routine helper(buf) {
    return -EINVAL
  }
  ioctl routine probe(buf) {
    r = get(buf)
    if r != 0 {
      return r
    }
    r = helper()
    put(buf)
    return r
  }'''), PATH)
    m = Model(EXPORTERS["system_heap"], (lib.importers["drv"],), "v6.16+", "1x1")
    out = m.run(["export(b0)", "fd(b0)", "probe(b0)"], mode="contract")
    assert out[-1].errno == -22 and not out[-1].violations


@pytest.mark.parametrize(("body", "code", "needle"), [
    ("  ioctl routine r(buf) {\n    map(buf, dir=BIDIRECTIONAL)\n  }", "E131",
     "map() takes an attachment, not 'buf'"),
    ("  ioctl routine r(buf) {\n    x = get(buf)\n    yield later\n    if x != 0 {\n"
     "      return x\n    }\n  }", "E135", "do not survive a yield"),
    ("  ioctl routine r(buf) {\n    return y\n  }", "E108", "unknown name 'y'"),
    ("  ioctl routine r(buf) {\n    unmap(att, dir=BIDIRECTIONAL)\n  }", "E132",
     "'att' is not defined in a routine on a buffer"),
    ("  ioctl routine r(att) {\n    r = map(att)\n  }", "E131", "map() needs dir="),
    ("  ioctl routine r(att) {\n    r = map(att, dir=UP, size=3)\n  }", "E131",
     "map() has no parameter 'size'"),
    ("  ioctl routine r(att) {\n    dynamic_attach(buf)\n  }", "E131",
     "importer drv is static: it calls attach()"),
    ("  ioctl routine r(buf) {\n    export(buf)\n  }", "E130", "export() is the exporter's call"),
    ("  ioctl routine r(buf) {\n    if injected(a, b) {\n      return 0\n    }\n  }", "E131",
     "injected() in a routine names a failure point"),
    ("  ioctl routine r(buf) {\n    close(buf)\n  }", "E130",
     "'close' is not a core call driver code can make"),
    ("  teardown routine r(att) {\n    free(buf)\n  }", "E131", "free() takes the importer object"),
])
def test_routine_mistakes_are_located_diagnostics(body: str, code: str, needle: str) -> None:
    found = errors(importer(body))
    assert any(c == code and needle in m for c, _, m in found), found


def test_the_routine_language_is_documented_with_a_working_example() -> None:
    """The README's importer example loads, and its certificate-bound checks hold."""
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")
    start = readme.index('importer my_import "my driver\'s PRIME import" {')
    end = readme.index("\n}\n", start) + 3
    lib = load_text(readme[start:end], PATH)
    m = Model(EXPORTERS["system_heap"], (lib.importers["my_import"],), "v6.16+", "1x1")
    for fault in ("none", "attach__nomem", "map_unlocked__nomem", "import_sg_table"):
        s = m.run(["export(b0)", "fd(b0)"])[-1].state
        out = m.step(s, Action.parse(f"import(b0.a0, fault={fault})"))
        assert not out.violations, fault
