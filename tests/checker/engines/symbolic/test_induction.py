"""k-induction: the reference exporters' core invariants are proved for every depth; a
failed proof names the property and its counterexample to induction; a false property is
never proved; unknown is never reported as holding.

The core invariants are the ``rules`` target (no rule violation fires on any step) and the
``always`` properties of ``specs/rules/core.dmabuf``. Every exporter is proved at scope 2x3
under one profile, the four exporters covering the four profiles between them; all sixteen
pairs take a few minutes (``python -m checker.engines.symbolic.bench`` proves them and prints
each verdict), too long for the suite.

The auxiliary-invariant search works per orbit of the scope's symmetries: the tests check
the symmetries on the concrete model, that a swap whose terms differ is left out, and
that the set kept is initiated, closed under them and inductive for every action.
"""

from __future__ import annotations

import time
from functools import cache

import pytest
import z3

from checker.dsl.resolve import ResolvedProperty, load
from checker.engines.symbolic import encode as E
from checker.engines.symbolic import induction as I
from checker.engines.symbolic.induction import prove
from checker.problem import RULES, Problem, Property, Status, Verdict, engine_property
from model import PROFILES, Model, State
from model import expr as mx
from model.compile import compile_predicates
from model.exporters import EXPORTERS, SYSTEM_HEAP
from model.mutants import MUTANTS
from model.plugin import PythonExporter, as_exporter

# the engines' tests run the model millions of steps; line coverage of model/ comes from
# its own tests, and tracing here would only slow the suite
pytestmark = pytest.mark.no_cover


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
def test_reference_exporters_prove_every_core_invariant_at_2x3(exporter: str) -> None:
    profile = PROOFS[exporter]
    assert_proved(Model(EXPORTERS[exporter], profile=profile, scope="2x3"),
                  f"{exporter}[{profile}]")


# ---------------------------------------------------------------- symmetries


def test_the_swaps_of_buffers_and_of_attachment_slots_are_symmetries() -> None:
    """Each symmetry found is checked here on the concrete model: with ``swap(s)[i] =
    s[vars[i]]``, action ``k`` is enabled in ``swap(s)`` exactly when its image is in ``s``,
    and its step from ``swap(s)`` is the swapped step of its image from ``s``."""
    m = Model(SYSTEM_HEAP, profile="v6.16+", scope="2x3")
    syms = I.symmetries(m, "contract")
    assert [s.name for s in syms] == ["b0<->b1", "b0.a0<->b0.a1", "b0.a1<->b0.a2"]
    assert I.symmetries(m, "contract") is syms  # checked once per model and mode
    states = I.sample_states(m, "contract", 400, seed=3)[::20]
    for sym in syms:
        assert sorted(sym.vars) == list(range(m.layout.size))
        assert sorted(sym.actions) == list(range(len(m.actions)))
        for s in states:
            swapped = State(tuple(s.values[j] for j in sym.vars))
            for k, a in enumerate(m.actions):
                image = m.actions[sym.actions[k]]
                assert m.is_enabled(swapped, a) == m.is_enabled(s, image), (sym.name, a)
                if m.is_enabled(s, image):
                    after = m.step(s, image).state.values
                    assert m.step(swapped, a).state.values == tuple(
                        after[j] for j in sym.vars), (sym.name, a)


def test_a_swap_whose_terms_differ_is_not_a_symmetry() -> None:
    """An action of the second buffer whose guard no longer mirrors the first buffer's: the
    buffer swap is left out, the attachment swaps stay. A guard rewritten into an
    equivalent term that is not the same term is still a symmetry (the solver says so)."""
    m = Model(SYSTEM_HEAP, profile="v6.16+", scope="2x2")
    terms = E.model_terms(m, "contract")  # the bit-vector terms symmetries() compares
    k = m.actions.index(next(a for a in m.actions if str(a) == "put(b1)"))
    terms.actions[k].guard = z3.And(terms.actions[k].guard, z3.BoolVal(True))
    j = m.actions.index(next(a for a in m.actions if str(a) == "fd(b1)"))
    terms.actions[j].guard = z3.BoolVal(False)
    assert [s.name for s in I.symmetries(m, "contract")] == ["b0.a0<->b0.a1"]
    m2 = Model(SYSTEM_HEAP, profile="v6.16+", scope="2x2")
    terms2 = E.model_terms(m2, "contract")
    k2 = m2.actions.index(next(a for a in m2.actions if str(a) == "put(b1)"))
    terms2.actions[k2].guard = z3.And(terms2.actions[k2].guard, z3.BoolVal(True))
    assert [s.name for s in I.symmetries(m2, "contract")] == ["b0<->b1", "b0.a0<->b0.a1"]


def test_houdini_per_orbit_keeps_an_initiated_inductive_set_closed_under_the_symmetries(
        ) -> None:
    m = Model(SYSTEM_HEAP, profile="v7.x", scope="2x2")
    problem = Problem("heap", m, "contract", properties=always(m))
    syms = I.symmetries(m, "contract")
    assert len(syms) == 2
    samples = I.sample_states(m, "contract", 5000)
    cands = I.candidates(problem, samples, syms)
    kept, done = I.houdini(m, "contract", cands, time.monotonic() + 300, syms=syms)
    assert done and kept
    # initiated, and true in every sample
    fns = compile_predicates([c.expr for c in kept])
    assert all(fn(s.values) for fn in fns for s in [m.initial(), *samples[::50]])
    # closed: every image under a symmetry is a kept candidate (up to operand order)
    keys = I._Keys(m, "contract", "int")
    have = {keys.key(keys.term(c.expr)) for c in kept}
    for c in kept:
        for s in syms:
            assert keys.key(keys.image(keys.term(c.expr), s)) in have, (c.text, s.name)
    # inductive for every action, each asked on its own
    again, done = I.houdini(m, "contract", kept, time.monotonic() + 300)
    assert done and [c.text for c in again] == [c.text for c in kept]


def test_canonical_keys_ignore_the_order_of_operands() -> None:
    m = Model(SYSTEM_HEAP, profile="v6.16+", scope="1x2")
    keys = I._Keys(m, "contract", "int")
    a0, a1 = m.layout.buffers[0].atts
    x, y, z = a0.pins, a1.pins, m.layout.buffers[0].kref
    one = mx.or_(mx.add(mx.add(x, y), z).eq(2), a0.st.eq(1))
    two = mx.or_(a0.st.eq(1), mx.Const(2).eq(mx.add(mx.add(z, y), x)))
    other = mx.or_(mx.add(mx.sub(x, y), z).eq(2), a0.st.eq(1))
    assert keys.key(keys.term(one)) == keys.key(keys.term(two))
    assert keys.key(keys.term(one)) != keys.key(keys.term(other))


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
    # a solver timeout, or the deadline passing while the model is encoded
    assert all("timeout" in v.reason or "spent encoding" in v.reason for v in verdicts)


class _Py(PythonExporter):
    name = "pyexp"


def test_a_python_behaviour_is_unknown_with_the_reason() -> None:
    model = Model(as_exporter(_Py()), profile="v6.16+", scope="1x1")
    verdicts = prove(Problem("py", model, "contract"))
    assert [(v.status, v.reason) for v in verdicts] == [(
        Status.UNKNOWN, "pyexp is not encodable (a Python behaviour): use the hypothesis engine")]
