"""Bounded model checking: shortest counterexamples, replayed on the model; never a false
"holds".

Every mutant of ``model.mutants`` is found in contract mode at scope 1x1 with a trace of
exactly the length of its hand-written witness (which is therefore minimal: every shorter
bound is refuted by the solver), and the trace is legal and shows the mutant's rule and
tag on the model.
"""

from __future__ import annotations

import time
from functools import cache

import pytest

from checker.dsl.resolve import load
from checker.engines.symbolic.bmc import Target, WitnessError, bmc, replay
from checker.engines.symbolic.encode import encode
from checker.problem import RULES, Problem, Property, Status, engine_property
from model import Model
from model.action import Action
from model.exporters import EXPORTERS, SYSTEM_HEAP, TTM
from model.mutants import MUTANTS, Mutant
from model.plugin import PythonExporter, as_exporter

# the engines' tests run the model millions of steps; line coverage of model/ comes from
# its own tests, and tracing here would only slow the suite
pytestmark = pytest.mark.no_cover


@cache
def core() -> tuple[object, ...]:
    return tuple(load(["specs/rules/core.dmabuf"]).properties.values())


def core_props(model: Model) -> tuple[Property, ...]:
    return tuple(engine_property(p, model) for p in core())  # type: ignore[arg-type]


def mutant_problem(m: Mutant) -> Problem:
    return Problem(m.name, m.model("1x1"), "contract", depth=len(m.witness) + 1)


def replays(model: Model, actions: tuple[Action, ...], rule: str, tag: str) -> bool:
    """The trace is legal in contract mode and its last step fires (rule, tag)."""
    s = model.initial()
    for i, a in enumerate(actions):
        assert model.is_enabled(s, a, "contract"), f"step {i}: {a}"
        out = model.step(s, a, i)
        s = out.state
    return any((v.rule, v.tag) == (rule, tag) for v in out.violations)


# one mutant per kind of bug (an exporter callback, the exporter's own move, the ops table,
# an importer's refcount, lock and response obligations, the deepest witness); the whole
# catalogue is the mutation self-test's (`dmabuf-check selftest`, run by CI), which holds
# bmc to the same exact length
SAMPLE = ("ttm_unpin_twice", "ttm_move_without_notify", "exporter_without_unmap",
          "double_put", "map_without_resv", "access_after_move_notify",
          "error_path_skips_unpin",
          # driver code: an unwind, a teardown, an exporter's allocation ioctl
          "unwind_double_put", "bo_freed_before_detach", "fd_failure_put_and_free")


def test_the_sample_is_in_the_catalogue() -> None:
    assert set(SAMPLE) <= set(MUTANTS)


@pytest.mark.parametrize("name", SAMPLE)
def test_a_mutant_is_found_with_a_shortest_trace(name: str) -> None:
    m = MUTANTS[name]
    assert m.caught() is not None  # the hand-written witness shows the bug
    problem = mutant_problem(m)
    v = bmc(problem, rules={(m.rule, m.tag)})[0]
    assert v.prop == RULES and v.status is Status.VIOLATED, str(v)
    cex = v.counterexample
    assert cex is not None
    assert (cex.finding.rule, cex.finding.tag) == (m.rule, m.tag)
    assert len(cex.actions) == len(m.witness), [str(a) for a in cex.actions]
    assert v.depth == len(m.witness)
    assert replays(problem.model, cex.actions, m.rule, m.tag)


def test_the_rules_target_reports_every_violation_with_its_own_shortest_trace() -> None:
    m = MUTANTS["put_with_vmap"]
    v = bmc(mutant_problem(m))[0]
    assert v.status is Status.VIOLATED
    findings = v.details["findings"]
    assert isinstance(findings, dict)
    cex = findings[f"{m.rule} {m.tag}"]
    assert len(cex.actions) == len(m.witness)
    assert v.counterexample is not None
    assert len(v.counterexample.actions) == min(len(c.actions) for c in findings.values())
    assert v.depth == len(v.counterexample.actions)
    assert v.details["bounded_to"] == len(m.witness) + 1  # the others: up to the bound


@pytest.mark.parametrize("name", ["put_with_vmap", "begin_cpu_without_end"])
def test_a_violation_ending_where_nothing_is_enabled_is_found_at_its_bound(name: str) -> None:
    m = MUTANTS[name]
    problem = mutant_problem(m)
    v = bmc(problem, rules={(m.rule, m.tag)})[0]
    assert v.counterexample is not None
    actions = v.counterexample.actions
    assert len(actions) == len(m.witness) == v.depth
    model = problem.model
    last = model.run(actions, mode="contract")[-1].state
    assert model.enabled(last, "contract") == ()  # a dead end: no successor is needed


def test_a_race_at_a_routine_s_yield_is_found_and_replays() -> None:
    """The fd closed by another thread while the allocation ioctl is suspended right after
    dma_buf_fd(): three steps, resuming the routine at its yield."""
    lib = load(["specs/scenarios/routines.dmabuf"])
    heap = lib.exporters["racy_heap"]
    model = Model(heap, (lib.importers["gem_prime_import"],), "v6.16+", "1x1")
    v = bmc(Problem("race", model, "contract", depth=4), rules={("R5", "use-after-free")})[0]
    assert v.status is Status.VIOLATED and v.counterexample is not None
    assert [str(a) for a in v.counterexample.actions] == [
        "alloc(b0)", "close(b0)", "alloc(b0, at=installed)"]
    out = model.run(v.counterexample.actions)
    assert {x.where for x in out[-1].violations} == {
        "specs/scenarios/routines.dmabuf:38:5", "specs/scenarios/routines.dmabuf:39:5"}
    safe = Model(lib.exporters["publishing_heap"], model.importers, "v6.16+", "1x1")
    held = bmc(Problem("safe", safe, "contract", depth=4), rules={("R5", "use-after-free")})[0]
    assert held.status is Status.HOLDS and held.depth == 4


def test_properties_sometimes_always_and_response() -> None:
    model = Model(TTM, profile="v6.16+", scope="1x2")
    problem = Problem("ttm", model, "contract", depth=3, properties=core_props(model))
    verdicts = {v.prop: v for v in bmc(problem, timeout_s=120, rules=())}
    for name in (RULES, "released_exactly_at_zero", "clean_at_release", "one_cached_vmap",
                 "remap_after_move"):
        assert verdicts[name].status is Status.HOLDS and verdicts[name].depth == 3
    shortest = {"can_release": 2, "can_map": 3, "can_share": 3, "can_vmap": 2}
    for name, steps in shortest.items():
        v = verdicts[name]
        assert v.status is Status.WITNESSED, str(v)
        assert v.counterexample is not None and len(v.counterexample.actions) == steps


def test_a_broken_response_is_a_replayed_counterexample() -> None:
    m = MUTANTS["access_after_move_notify"]
    model = m.model("1x1")
    problem = Problem(m.name, model, "contract", depth=5, properties=core_props(model))
    v = next(v for v in bmc(problem, rules=()) if v.prop == "remap_after_move")
    assert v.status is Status.VIOLATED
    assert v.counterexample is not None
    assert [a.name for a in v.counterexample.actions][-2:] == ["move", "access"]


def test_unknown_is_never_reported_as_holds() -> None:
    model = Model(SYSTEM_HEAP, profile="v6.16+", scope="2x3")
    problem = Problem("tiny", model, "contract", depth=30, properties=core_props(model))
    start = time.monotonic()
    verdicts = bmc(problem, timeout_s=0.5)
    assert time.monotonic() - start < 30
    assert {v.prop for v in verdicts} == {RULES, *(p.name for p in problem.properties)}
    for v in verdicts:
        if v.status is not Status.WITNESSED:  # a witness found in time is still one
            assert v.status is Status.UNKNOWN, str(v)
            # a solver timeout, or the deadline passing while the model is encoded
            assert "timeout" in v.reason or "spent encoding" in v.reason, v.reason


class _Counting(PythonExporter):
    name = "counting"

    def map_dma_buf(self, call: object) -> int:
        return 0


def test_a_python_behaviour_is_unknown_with_the_reason() -> None:
    model = Model(as_exporter(_Counting()), profile="v6.16+", scope="1x1")
    verdicts = bmc(Problem("py", model, "contract", depth=2))
    assert [v.status for v in verdicts] == [Status.UNKNOWN]
    assert verdicts[0].reason == ("counting is not encodable (a Python behaviour): use the "
                                  "hypothesis engine")


def test_a_trace_the_model_does_not_reproduce_names_the_step() -> None:
    m = MUTANTS["detach_while_mapped"]
    problem = mutant_problem(m)
    enc = encode(problem)
    model = problem.model
    actions = [Action.parse(a) for a in m.witness]
    states = [model.initial().values]
    for o in model.run(actions, mode="contract"):
        states.append(o.state.values)
    target = Target(RULES, "rules", enc.violation_t)
    searched = {(m.rule, m.tag)}
    expected = [(m.rule, m.tag)]
    assert replay(enc, target, actions, states, expected, searched).tag == m.tag
    wrong = list(states)
    bad = list(wrong[2])
    bad[model.layout.by_name["b0.kref"].index] += 1
    wrong[2] = tuple(bad)
    with pytest.raises(WitnessError, match=r"step 1: attach\(b0.a0.*b0.kref: model"):
        replay(enc, target, actions, wrong, expected, searched)
    skipped = [actions[0], *actions[2:]]  # map before attach is not a legal call
    with pytest.raises(WitnessError, match=r"step 1: map_unlocked.*not enabled"):
        replay(enc, target, skipped, [states[0], states[1], states[3], states[4]], expected,
               searched)
    with pytest.raises(WitnessError, match=r"step 3: detach.* the solver says"):
        replay(enc, target, actions, states, [("R1", "export-ops")], searched)


def test_every_reference_exporter_holds_its_rules_to_a_small_depth() -> None:
    for name in EXPORTERS:
        model = Model(EXPORTERS[name], profile="v6.16+", scope="1x1")
        v = bmc(Problem(name, model, "contract", depth=3))[0]
        assert v.status is Status.HOLDS, str(v)
        assert v.details["findings"] == {}
