"""Counterexamples the counterexample tests share, built from fixed traces on the
mutants: the fixtures ``mutant_cex(name, steps=None)`` and ``property_cex``."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path

import pytest

from checker.dsl.resolve import load
from checker.problem import RULES, Counterexample, Finding, Problem, engine_property
from model.action import Action
from model.mutants import MUTANTS

CORE = Path(__file__).resolve().parents[3] / "specs" / "rules" / "core.dmabuf"

# traces the goldens and replay messages are written against (longer than the mutants'
# shortest witnesses, so that they also exercise locked calls and repeated steps)
TRACES = {
    "heap_vunmap_keeps_mapping": ("export(b0)", "lock(b0)", "vmap(b0)", "vunmap(b0)"),
    "double_put": ("export(b0)", "fd(b0)", "get(b0)", "put(b0)", "put(b0)"),
    "double_unmap": ("export(b0)", "attach(b0.a0, importer=double_unmap)",
                     "map_unlocked(b0.a0, dir=TO_DEVICE)",
                     "unmap_unlocked(b0.a0, dir=TO_DEVICE, slot=0)",
                     "unmap_unlocked(b0.a0, dir=TO_DEVICE, slot=0)"),
}


@cache
def make_mutant_cex(name: str, steps: int | None = None) -> Counterexample:
    """The mutant's trace (its first ``steps`` actions) as a contract-mode counterexample
    of its rule, naming the behaviours as Python references (built once: models are slow
    to build)."""
    m = MUTANTS[name]
    ref = f"model.mutants:MUTANTS.{name}"
    p = Problem(f"mutant {name}", m.model("1x1"), "contract", exporter_ref=f"{ref}.exporter",
                importer_refs=(f"{ref}.importers",))
    actions = tuple(Action.parse(a) for a in TRACES.get(name, m.witness)[:steps])
    return Counterexample(p, Finding(RULES, m.rule, m.tag), actions, "hand-written", seed=7)


def make_property_cex() -> Counterexample:
    """A dynamic importer that accesses after move_notify breaks ``remap_after_move``."""
    m = MUTANTS["access_after_move_notify"]
    model = m.model("1x1")
    prop = engine_property(load([str(CORE)]).properties["remap_after_move"], model)
    ref = "model.mutants:MUTANTS.access_after_move_notify"
    p = Problem("remap", model, "contract", properties=(prop,), exporter_ref=f"{ref}.exporter",
                importer_refs=(f"{ref}.importers",), imports=(str(CORE),))
    return Counterexample(p, Finding("remap_after_move"),
                          tuple(Action.parse(a) for a in m.witness), "hand-written")


@pytest.fixture(scope="session")
def mutant_cex() -> Callable[..., Counterexample]:
    return make_mutant_cex


@pytest.fixture(scope="session")
def property_cex() -> Counterexample:
    return make_property_cex()
