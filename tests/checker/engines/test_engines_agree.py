"""The engines agree on every seeded bug: the explorer finds each mutant with default
settings (seed 0, or the next seed for the deepest ones), the bounded model checker finds
it within the explorer's trace length, its trace is a shortest one (the mutant's witness
length), and the explorer's is at most two steps longer. Both traces replay on the model
through the same judge."""

from __future__ import annotations

import pytest

from checker.engines.explore import ExploreSettings, explore
from checker.engines.symbolic.bmc import bmc
from checker.judge import Judge
from checker.problem import RULES, Finding, Problem, Status
from model.mutants import MUTANTS

# the engines' tests run the model millions of steps; line coverage of model/ comes from
# its own tests, and tracing here would only slow the suite
pytestmark = pytest.mark.no_cover

SEEDS = (0, 1, 2)


@pytest.mark.parametrize("name", list(MUTANTS))
def test_explorer_and_bmc_find_every_mutant(name: str) -> None:
    m = MUTANTS[name]
    target = Finding(RULES, m.rule, m.tag)
    problem = Problem(m.name, m.model("1x1"), "contract", 40,
                      exporter_ref=f"model.mutants:MUTANTS.{m.name}.exporter",
                      importer_refs=(f"model.mutants:MUTANTS.{m.name}.importers",))
    # default settings; a deep mutant can need a second seed's 2,000 runs
    tried = []
    for seed in SEEDS:
        explored = explore(problem, ExploreSettings(seed=seed, stop_after=frozenset({target})))
        found = [c for c in explored.counterexamples if c.finding == target]
        tried.append(f"seed {seed}: {explored.examples} runs, "
                     f"{[str(c.finding) for c in explored.counterexamples]}")
        if found:
            break
    assert found, f"{name}: the explorer did not find it ({'; '.join(tried)})"
    (random_cex,) = found
    # bounded by the explorer's trace, the solver finds it too, no longer
    bounded = Problem(m.name, problem.model, "contract", len(random_cex.actions))
    (v,) = [v for v in bmc(bounded, rules={(m.rule, m.tag)}) if v.prop == RULES]
    assert v.status is Status.VIOLATED and v.counterexample is not None, str(v)
    shortest = v.counterexample
    assert len(shortest.actions) == len(m.witness)
    assert len(shortest.actions) <= len(random_cex.actions) <= len(shortest.actions) + 2
    judge = Judge(problem)
    for cex in (random_cex, shortest):
        assert judge.first(cex.actions, target) == len(cex.actions) - 1
