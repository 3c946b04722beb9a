"""The Z3 encoding and the concrete step agree.

For every profile, at least 1,000 (state, action) pairs: states met on random contract and
misuse walks of the reference exporters, actions drawn among those possible there and
among all. The encoded guard is evaluated against ``Model.is_enabled`` (contract mode);
for a possible action, the encoded next state, return value and set of violations (the
action's sites and the state invariants' edges, evaluated on the encoded next state) are
evaluated against ``Model.step``. Terms are evaluated by substituting the state's values
and simplifying: one substitution per pair over a bundle of every term involved.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

import pytest
import z3

from checker.engines.symbolic.encode import ModelTerms, Substitution, model_terms, num, value_of
from model import EXPORTERS, PROFILES, Model
from model import expr as mx
from model.machine import State
from model.violation import Severity

# the engines' tests run the model millions of steps; line coverage of model/ comes from
# its own tests, and tracing here would only slow the suite
pytestmark = pytest.mark.no_cover

if TYPE_CHECKING:
    from conftest import ModelFn

PAIRS = 1000


def walk_states(m: Model, rng: random.Random, count: int) -> list[State]:
    """States on random walks, half in contract mode and half in misuse mode."""
    out: list[State] = []
    s = m.initial()
    mode = "contract"
    while len(out) < count:
        enabled = m.enabled_indices(s, mode)
        if not enabled or rng.random() < 0.08:
            s = m.initial()
            mode = "misuse" if mode == "contract" else "contract"
            continue
        s = m.step(s, m.actions[rng.choice(enabled)]).state
        out.append(s)
    return out


class Bundles:
    """Per action, one term whose arguments are everything the agreement compares."""

    def __init__(self, m: Model, terms: ModelTerms) -> None:
        self.m, self.terms = m, terms
        self._acts: dict[int, z3.ExprRef] = {}
        checks = [p for _, p, _ in terms.checks]
        self.checks = z3.Function("checks", *[z3.BoolSort()] * len(checks),
                                  z3.BoolSort())(*checks) if checks else None

    def action(self, k: int) -> z3.ExprRef:
        if k not in self._acts:
            a = self.terms.actions[k]
            args = [a.guard, a.ret, *a.changes.values(), *[c for _, c in a.fired]]
            fn = z3.Function(f"agree{k}", *[x.sort() for x in args], z3.BoolSort())
            self._acts[k] = fn(*args)
        return self._acts[k]


def values_of(m: Model, s: tuple[int, ...], terms: ModelTerms) -> Substitution:
    return Substitution([
        (x, z3.BoolVal(bool(v)) if var.type == mx.BOOL else num(v))
        for var, x, v in zip(m.layout.vars, terms.state, s, strict=True)])


def evaluate(term: z3.ExprRef, sub: Substitution) -> list[int]:
    out = z3.simplify(sub(term))
    return [value_of(out.arg(i)) for i in range(out.num_args())]


@pytest.mark.parametrize("profile", list(PROFILES))
def test_encoding_agrees_with_the_concrete_step(models: ModelFn, profile: str) -> None:
    rng = random.Random(2024)
    exporters = [name for name, x in EXPORTERS.items() if profile in x.profiles]
    per = -(-PAIRS // len(exporters))
    checked = 0
    for name in exporters:
        m = models(name, profile)  # the shared model cache of the test suite (scope 1x2)
        terms = model_terms(m, "contract")
        bundles = Bundles(m, terms)
        n = m.layout.size
        for s in walk_states(m, rng, per):
            possible = m.enabled_indices(s, "misuse")
            k = rng.choice(possible) if rng.random() < 0.8 else rng.randrange(len(m.actions))
            action = m.actions[k]
            sub = values_of(m, s.values, terms)
            got = evaluate(bundles.action(k), sub)
            guard, ret = got[0], got[1]
            assert bool(guard) == m.is_enabled(s, action, "contract"), f"{action}: guard"
            checked += 1
            if k not in possible:
                continue
            a = terms.actions[k]
            nxt = list(s.values)
            for i, v in zip(a.changes, got[2:2 + len(a.changes)], strict=True):
                nxt[i] = v
            fired = {(site.rule, site.tag) for (site, _), v in
                     zip(a.fired, got[2 + len(a.changes):], strict=True) if v}
            out = m.step(s, action)
            assert tuple(nxt) == out.state.values, f"{action}: next state"
            assert ret == out.errno, f"{action}: return value"
            if bundles.checks is not None:
                before = evaluate(bundles.checks, sub)
                after = evaluate(bundles.checks, values_of(m, tuple(nxt[:n]), terms))
                fired |= {(site.rule, site.tag) for (site, _, _), b, c in
                          zip(terms.checks, before, after, strict=True) if b and not c}
            concrete = {(v.rule, v.tag) for v in out.violations
                        if v.severity is not Severity.SCOPE}
            assert fired == concrete, f"{action}: violations"
    assert checked >= PAIRS
