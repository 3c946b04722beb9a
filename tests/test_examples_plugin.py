"""The worked plug-in example (``examples/plugin``): the CMA heap as a Python class and in the
DSL are the same exporter, the example spec checks clean, and a broken variant is caught.

The example module is imported as ``examples.plugin.cma_heap`` (the name its spec uses)
with the repository root put on ``sys.path`` for the duration of this module.
"""

from __future__ import annotations

import doctest
import importlib
import io
import random
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from checker.cli import main
from checker.dsl.resolve import load
from model import Action, Exporter, Model
from model.plugin import CallView, as_exporter
from model.profiles import PROFILES
from model.violation import Party, Severity

REPO = Path(__file__).resolve().parents[1]
SPEC = REPO / "examples" / "plugin" / "cma_heap.dmabuf"
TRACES = 60  # per profile: 240 random legal traces in all
DEPTH = 10


@pytest.fixture(scope="module")
def example() -> Iterator[ModuleType]:
    """``examples.plugin.cma_heap``, importable as the spec names it."""
    added = str(REPO) not in sys.path
    if added:
        sys.path.insert(0, str(REPO))
    try:
        yield importlib.import_module("examples.plugin.cma_heap")
    finally:
        if added:
            sys.path.remove(str(REPO))


@pytest.fixture(scope="module")
def dsl_heap() -> Exporter:
    lib = load([str(SPEC)], allow_python=True)
    return lib.exporters["cma_heap"]


def run(argv: list[str]) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, stdout=out, stderr=err)
    return code, out.getvalue() + err.getvalue()


# ---------------------------------------------------------------- (a) the same exporter


def test_both_declare_the_same_exporter(example: ModuleType, dsl_heap: Exporter) -> None:
    py = as_exporter(example.CmaHeap())
    for attr in ("summary", "ops", "fallible", "profiles", "priv", "cache_sgt_mapping",
                 "buffer_fields", "attachment_fields", "dynamic"):
        assert getattr(py, attr) == getattr(dsl_heap, attr), attr
    assert set(py.callbacks) <= set(dsl_heap.ops) and py.move is dsl_heap.move is None
    assert (py.name, dsl_heap.name) == ("cma_heap_py", "cma_heap")
    assert dsl_heap.modelled_on in py.modelled_on
    assert dsl_heap.encodable and not py.encodable


@pytest.mark.parametrize("profile", list(PROFILES))
def test_python_and_dsl_take_the_same_steps(example: ModuleType, dsl_heap: Exporter,
                                            profile: str) -> None:
    """Seeded random legal traces (contract mode): the same enabled actions, states (by
    field name), return values and violations at every step."""
    dsl = Model(dsl_heap, None, profile, "1x2")
    py = Model(as_exporter(example.CmaHeap()), None, profile, "1x2")
    assert dsl.actions == py.actions
    py.compile_all()
    rng = random.Random(f"cma_heap {profile}")
    fired: set[str] = set()
    seen: set[tuple[str, int]] = set()
    for _ in range(TRACES):
        sd, sp = dsl.initial(), py.initial()
        for i in range(DEPTH):
            enabled = dsl.enabled(sd, "contract")
            assert py.enabled(sp, "contract") == enabled, (profile, i)
            if not enabled:
                break
            action = rng.choice(enabled)
            od, op = dsl.step(sd, action, i), py.step(sp, action, i)
            where = f"{profile}, step {i}: {action}"
            assert dsl.describe(od.state) == py.describe(op.state), where
            assert od.errno == op.errno, where
            assert od.violations == op.violations, where
            sd, sp = od.state, op.state
            fired.add(action.name)
            seen.update((k, v) for k, v in dsl.describe(sd).items() if ".x." in k)
    # the traces reach what the heap does: its callbacks and its fields' values
    assert {"attach", "dynamic_attach", "begin_cpu_access", "end_cpu_access", "put"} <= fired
    assert {"b0.x.vmaps", "b0.x.vaddr"} <= {k for k, _ in seen}
    assert any(k.endswith(".x.mapped") for k, _ in seen)


# ---------------------------------------------------------------- (b) the example is correct


def test_the_example_spec_checks_clean(example: ModuleType) -> None:
    """Both checks of the example (every profile they name) with the random explorer, at
    half the spec's budget: no violation, every sometimes property witnessed. (The DSL
    check's bounded model checking and k-induction, which the spec also asks for, take
    longer than a unit test should; the broken variant below runs BMC.)"""
    code, text = run(["check", str(SPEC), "--allow-python", "--engine", "hypothesis",
                      "--examples", "150",
                      "--jobs", "1", "--no-write", "--no-color"])
    assert code == 0, text
    for run_name in ("cma_heap[v6.1]", "cma_heap[v6.16+]", "cma_heap_python[v6.2-6.15]",
                     "cma_heap_python[v7.x]"):
        assert f"{run_name}" in text
    assert "36 verdicts: 20 holds, 16 witnessed; gate PASS (exit 0)" in text


# ---------------------------------------------------------------- (c) a broken variant


def test_a_python_vunmap_that_keeps_its_count_is_caught(example: ModuleType) -> None:
    """The Python class reports the leak where the driver WARNs: at release."""

    class LeakyVunmap(example.CmaHeap):  # type: ignore[misc]
        name = "cma_heap_leaky_vunmap"

        def vunmap(self, call: CallView) -> None:
            pass  # forgets "--buffer->vmap_cnt" (and so never vunmaps)

    m = Model(as_exporter(LeakyVunmap()), None, "v6.16+", "1x1")
    out = m.run(["export(b0)", "vmap_unlocked(b0)", "vunmap_unlocked(b0)", "put(b0)"],
                mode="contract")
    assert [o.violations for o in out[:3]] == [(), (), ()]
    (v,) = out[3].violations
    assert (v.rule, v.tag, v.severity, v.party) == ("R25", "vmap-leak", Severity.WARN,
                                                    Party.EXPORTER)
    assert "still holds 1 kernel mapping" in v.message


BROKEN = '''
from checker.dsl.resolve import load

HEAP = load([{spec!r}], allow_python=True).exporters["cma_heap"]
# the DSL heap with a vunmap that does nothing: it keeps its count and its mapping
EXPORTER = HEAP.derive("cma_heap_leaky_vunmap", "vunmap forgets its count",
                       callbacks={{"vunmap": lambda c, call: None}})
'''

CHECK = '''
check leaky_vunmap "the CMA heap with a vunmap that forgets its count" {
  exporter "cma_leaky:EXPORTER"
  importers static, dynamic, pinned
  mode contract
  profiles v6.16+
  scope 1x1
  depth 3
  engines bmc
}
'''


def test_a_dsl_vunmap_that_keeps_its_count_fails_its_check(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The DSL heap's invariant catches the same bug at the vunmap itself, as a failing
    check with the shortest counterexample; the counterexample replays."""
    (tmp_path / "cma_leaky.py").write_text(BROKEN.format(spec=str(SPEC)))
    (tmp_path / "leaky.dmabuf").write_text(textwrap.dedent(CHECK))
    monkeypatch.syspath_prepend(str(tmp_path))
    cex = tmp_path / "cex"
    code, text = run(["check", str(tmp_path / "leaky.dmabuf"), "--allow-python",
                      "--counterexamples", str(cex),
                      "--jobs", "1", "--no-color"])
    assert code == 1, text
    assert "R25 vmap-leak in 3 steps" in text
    assert "vunmap_unlocked(b0) -> ok, violates R25 vmap-leak" in text
    (written,) = cex.glob("R25-vmap-leak-*.dmabuf")
    monkeypatch.chdir(tmp_path)  # replayed from the project, which holds leaky.dmabuf
    code, text = run(["replay", "--allow-python", str(written)])
    assert code == 0, text  # still fails as recorded


def test_a_stale_mapped_flag_is_caught_by_both(example: ModuleType,
                                              dsl_heap: Exporter) -> None:
    """An unmap that leaves the attachment marked mapped: the DSL heap's invariant fires at
    the unmap; at begin_cpu_access both heaps sync the unmapped sg_table, which the core's
    check of every sync reports (R21)."""

    class KeepsFlag(example.CmaHeap):  # type: ignore[misc]
        name = "cma_heap_keeps_flag"

        def unmap_dma_buf(self, call: CallView) -> None:
            pass

    steps = ["export(b0)", "attach(b0.a0, importer=static)",
             "map_unlocked(b0.a0, dir=TO_DEVICE)",
             "unmap_unlocked(b0.a0, dir=TO_DEVICE, slot=0)", "begin_cpu_access(b0, dir=TO_DEVICE)"]
    dsl = dsl_heap.derive("cma_heap_keeps_flag", "unmap keeps the flag",
                          callbacks={"unmap_dma_buf": lambda c, call: None})
    at_sync = (4, "R21", "cpu-sync-unmapped", Severity.WARN)
    for exporter, expected in ((dsl, [(3, "R21", "heap-mapped-count", Severity.SILENT),
                                      at_sync]),
                               (as_exporter(KeepsFlag()), [at_sync])):
        out = Model(exporter, None, "v6.16+", "1x1").run(steps, mode="contract")
        found = [(i, v.rule, v.tag, v.severity) for i, o in enumerate(out) for v in o.violations]
        assert found == expected, exporter.name


def test_the_tutorials_examples_run(example: ModuleType) -> None:
    result = doctest.testmod(example, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 6 and result.failed == 0


def test_the_actions_the_traces_use_exist(dsl_heap: Exporter) -> None:
    m = Model(dsl_heap, None, "v6.16+", "1x1")
    assert Action.parse("attach(b0.a0, fault=exporter, importer=static)") in m.actions
    assert not any(a.param("fault") == "exporter" for a in m.actions
                   if a.name.startswith("vmap"))
