"""k-induction: the reference exporters' core invariants are proved for every depth; a
failed proof names the property and its counterexample to induction; a false property is
never proved; unknown is never reported as holding.

The core invariants are the ``rules`` target (no rule violation fires on any step) and the
``always`` properties of ``specs/rules/core.dmabuf``. Proving every exporter under every
profile at scope 2x3 takes minutes (``python -m checker.engines.symbolic.bench`` does it and
prints each verdict); to keep the suite short it proves every exporter at scope 1x2 under
one profile each, the four exporters covering the four profiles between them, and the
system heap at 2x3.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

import pytest

from checker.dsl.resolve import ResolvedProperty, load
from checker.engines.symbolic.induction import prove
from checker.problem import RULES, Problem, Property, Status, Verdict, engine_property
from model import PROFILES, Model
from model.exporters import EXPORTERS, SYSTEM_HEAP
from model.mutants import MUTANTS
from model.plugin import PythonExporter, as_exporter

# the engines' tests run the model millions of steps; line coverage of model/ comes from
# its own tests, and tracing here would only slow the suite
pytestmark = pytest.mark.no_cover

if TYPE_CHECKING:
    from conftest import ModelFn


@cache
def core() -> tuple[ResolvedProperty, ...]:
    return tuple(load(["specs/rules/core.dmabuf"]).properties.values())


def always(model: Model) -> tuple[Property, ...]:
    return tuple(engine_property(p, model) for p in core() if p.decl.kind == "always")


def explain(v: Verdict) -> str:
    return (f"{v.problem.check}: {v.prop} is {v.status.value} ({v.reason}); counterexample "
            f"to induction: {v.details.get('cti')} then {v.details.get('cti_steps')} "
            f"firing {v.details.get('cti_fires')}")


def assert_proved(model: Model, name: str) -> None:
    problem = Problem(name, model, "contract", properties=always(model))
    verdicts = prove(problem, timeout_s=300)
    assert [v.prop for v in verdicts] == [RULES, *(p.name for p in problem.properties)]
    for v in verdicts:
        assert v.status is Status.PROVED, explain(v)


# each exporter under one profile; together they cover every profile
PROOFS = {"system_heap": "v6.1", "udmabuf": "v6.2-6.15", "gem_prime": "v7.x",
          "ttm": "v6.16+"}


def test_the_proof_cases_cover_every_exporter_and_profile() -> None:
    assert set(PROOFS) == set(EXPORTERS) and set(PROOFS.values()) == set(PROFILES)
    assert all(p in EXPORTERS[x].profiles for x, p in PROOFS.items())


@pytest.mark.parametrize("exporter", list(PROOFS))
def test_reference_exporters_prove_every_core_invariant(models: ModelFn,
                                                        exporter: str) -> None:
    profile = PROOFS[exporter]
    assert_proved(models(exporter, profile), f"{exporter}[{profile}]")  # scope 1x2


def test_the_system_heap_is_proved_at_2x3() -> None:
    assert_proved(Model(SYSTEM_HEAP, profile="v6.16+", scope="2x3"), "system_heap")


def test_a_mutant_is_refuted_by_the_base_case_and_the_rest_is_proved() -> None:
    m = MUTANTS["put_with_vmap"]
    model = m.model("1x1")
    verdicts = {v.prop: v for v in prove(Problem(m.name, model, "contract",
                                                 properties=always(model)))}
    rules = verdicts[RULES]
    assert rules.status is Status.VIOLATED
    assert rules.counterexample is not None
    assert len(rules.counterexample.actions) == len(m.witness)
    findings = rules.details["findings"]
    assert isinstance(findings, dict) and f"{m.rule} {m.tag}" in findings
    assert "rest_proved" in rules.details


@pytest.mark.parametrize("strengthen", [False, True])
def test_a_violation_that_leaves_the_state_unchanged_is_never_proved(strengthen: bool
                                                                      ) -> None:
    """The second put of double_put is refused by the model without a change of state: the
    bad step is a self-loop. The simple-path constraint of the step case covers only the
    states before the bad step, so it cannot rule that step out (it once did, and the
    auxiliary invariants let the step case close at k = 1, before the base case reached
    the 3-step violation)."""
    m = MUTANTS["double_put"]
    (rules,) = [v for v in prove(Problem(m.name, m.model("1x1"), "contract"), max_k=4,
                                 strengthen=strengthen) if v.prop == RULES]
    assert rules.status is Status.VIOLATED, str(rules)
    findings = rules.details["findings"]
    assert isinstance(findings, dict) and f"{m.rule} {m.tag}" in findings


def test_a_false_invariant_beyond_the_bound_is_never_proved() -> None:
    # the buffer is released with an attachment on step 3: clean_at_release is false
    m = MUTANTS["missing_detach"]
    model = m.model("1x1")
    problem = Problem(m.name, model, "contract", properties=always(model))
    v = next(v for v in prove(problem, max_k=2) if v.prop == "clean_at_release")
    assert v.status is Status.HOLDS, str(v)  # the base case stops short of step 3
    v = next(v for v in prove(problem, max_k=3, strengthen=False)
             if v.prop == "clean_at_release")
    assert v.status is Status.VIOLATED and v.counterexample is not None
    assert len(v.counterexample.actions) == 3


def test_a_counterexample_to_induction_is_readable_and_itf() -> None:
    model = Model(SYSTEM_HEAP, profile="v6.16+", scope="1x2")
    problem = Problem("heap", model, "contract", properties=always(model))
    verdicts = prove(problem, max_k=1, strengthen=False)
    failed = [v for v in verdicts if v.status is Status.HOLDS]
    assert failed, "without auxiliary invariants some target is not 1-inductive"
    for v in failed:
        assert v.depth == 1 and "not 1-inductive" in v.reason
        cti = v.details["cti"]
        assert isinstance(cti, str) and "=" in cti
        itf = v.details["cti_itf"]
        assert isinstance(itf, dict)
        assert list(itf) == sorted(itf) and set(itf) == {x.name for x in model.layout.vars}
        for var in model.layout.vars:
            value = itf[var.name]
            if var.type == "bool":
                assert isinstance(value, bool)
            else:
                assert isinstance(value, dict) and set(value) == {"#bigint"}
        for part in cti.split(", "):
            name, value = part.split("=")
            raw = itf[name]
            assert str(raw["#bigint"] if isinstance(raw, dict) else int(raw)) == value


def test_unknown_is_never_reported_as_holds() -> None:
    model = Model(SYSTEM_HEAP, profile="v6.16+", scope="2x3")
    verdicts = prove(Problem("tiny", model, "contract", properties=always(model)),
                     timeout_s=0.01)
    assert verdicts and all(v.status is Status.UNKNOWN for v in verdicts)
    assert all("timeout" in v.reason for v in verdicts)


class _Py(PythonExporter):
    name = "pyexp"


def test_a_python_behaviour_is_unknown_with_the_reason() -> None:
    model = Model(as_exporter(_Py()), profile="v6.16+", scope="1x1")
    verdicts = prove(Problem("py", model, "contract"))
    assert [(v.status, v.reason) for v in verdicts] == [(
        Status.UNKNOWN, "pyexp is not encodable (a Python behaviour): use the hypothesis engine")]
