"""The compiled step and the symbolic meaning of the same programs agree.

The concrete step runs generated Python; ``symbolic`` turns the same programs into
expressions (what derived guards and the solver engines use). On reachable states of every
reference exporter under every profile, both must give the same next state, the same return
value and the same violation sites, in the same order.
"""

from __future__ import annotations

import random
from functools import cache

import pytest

from checker.dsl.library import shipped_importers
from model import EXPORTERS, PROFILES, Model
from model.expr import Const, Expr, evaluate
from model.machine import State
from model.program import Builder, If, Report, Site, symbolic, walk
from model.violation import Party, Severity


@cache
def model(exporter: str, profile: str) -> Model:
    return Model(EXPORTERS[exporter], profile=profile, scope="2x2")


def reachable(m: Model, seed: int, count: int) -> list[State]:
    """States met on random misuse-mode walks."""
    rng = random.Random(seed)
    out: list[State] = []
    s = m.initial()
    while len(out) < count:
        enabled = m.enabled(s, "misuse")
        if not enabled or rng.random() < 0.05:
            s = m.initial()
            continue
        s = m.step(s, rng.choice(enabled)).state
        out.append(s)
    return out


def concrete_by_symbolic(m: Model, k: int, s: State) -> tuple[tuple[int, ...], int, list[Site]]:
    g = m.ground[k]
    env: list[Expr] = [Const(v) for v in s.values] + [Const(0)] * g.nlocals
    eff = symbolic(g.program, env)
    values = []
    for e in eff.next:
        assert isinstance(e, Const), f"not folded to a constant: {e}"
        values.append(e.value)
    fired = [f.site for f in eff.fired if isinstance(f.cond, Const) and f.cond.value]
    return tuple(values[: m.layout.size]), values[g.ret], fired


@pytest.mark.no_cover  # runs the model at length: untraced (see tests/conftest.py)
@pytest.mark.parametrize("profile", list(PROFILES))
@pytest.mark.parametrize("exporter", sorted(EXPORTERS))
def test_compiled_step_agrees_with_symbolic(exporter: str, profile: str) -> None:
    m = model(exporter, profile)
    rng = random.Random(7)
    checked = 0
    for s in reachable(m, seed=3, count=60):
        for action in rng.sample(m.enabled(s, "misuse"), k=min(6, len(m.enabled(s, "misuse")))):
            k = m.index(action)
            out = m.step(s, action)
            nxt, ret, sites = concrete_by_symbolic(m, k, s)
            assert out.state.values == nxt, f"{action}: next states differ"
            assert out.ret == ret, f"{action}: return values differ"
            step_sites = [v.tag for v in out.violations]
            # the step also reports state invariants; the program's own sites come first
            assert step_sites[: len(sites)] == [site.tag for site in sites], str(action)
            checked += 1
    assert checked >= 200


@pytest.mark.no_cover  # runs the model at length: untraced (see tests/conftest.py)
@pytest.mark.parametrize(("importer", "exporter"), [
    ("gem_prime_import", "system_heap"), ("amdgpu_import", "ttm"),
    ("rdma_umem", "ttm"), ("vb2_dma_contig", "udmabuf")])
def test_driver_routines_agree_with_symbolic(importer: str, exporter: str) -> None:
    """The same on models whose importer is driver code (routines, importer objects,
    suspended frames)."""
    driver = next(i for i in shipped_importers("drivers") if i.name == importer)
    m = Model(EXPORTERS[exporter], (driver,), "v6.16+", "1x2")
    rng = random.Random(5)
    driver_steps = 0
    for s in reachable(m, seed=2, count=50):
        enabled = m.enabled(s, "misuse")
        for action in rng.sample(enabled, k=min(5, len(enabled))):
            k = m.index(action)
            out = m.step(s, action)
            nxt, ret, sites = concrete_by_symbolic(m, k, s)
            assert out.state.values == nxt, f"{action}: next states differ"
            assert out.ret == ret, f"{action}: return values differ"
            assert [v.tag for v in out.violations][: len(sites)] == [x.tag for x in sites]
            driver_steps += m.ground[k].spec.actor == "driver"
    assert driver_steps >= 10


@pytest.mark.parametrize("exporter", ["ttm", "udmabuf"])
def test_guards_evaluate_like_symbolic_effects(exporter: str) -> None:
    """Symbolic execution over the state variables, then evaluation on a state, gives what
    the concrete step gives (the path the derived contract guards take)."""
    m = model(exporter, "v6.2-6.15")
    rng = random.Random(11)
    for s in reachable(m, seed=5, count=25):
        action = rng.choice(m.enabled(s, "misuse"))
        g = m.ground[m.index(action)]
        eff = symbolic(g.program, [*m.layout.vars, *([Const(0)] * g.nlocals)])
        out = m.step(s, action)
        assert tuple(evaluate(e, s.values) for e in eff.next[: m.layout.size]) == \
            out.state.values
        fired = [f.site.tag for f in eff.fired if evaluate(f.cond, s.values)]
        assert [v.tag for v in out.violations][: len(fired)] == fired


def test_exit_leaves_only_the_innermost_block() -> None:
    from model.compile import compile_program
    from model.expr import Var

    x = Var("x", 0, 0, 9)
    b = Builder(1)
    with b.block("outer") as outer:
        with b.block("inner"):
            b.set(x, 1)
            b.exit(-22)
            b.set(x, 2)  # not reached
        b.set(x, x + 3)  # reached: only the inner block was left
    prog = b.program()
    values, fired = compile_program(prog, len(b.locals))((0,))
    assert values[0] == 4 and fired == []
    eff = symbolic(prog, [Const(0)] + [Const(0)] * len(b.locals))
    assert eff.next[0] == Const(4)
    assert values[outer.index] == 0


def test_bounds_are_reported_not_wrapped() -> None:
    from model.compile import compile_program
    from model.expr import Var

    x = Var("b0.kref", 0, 0, 2)
    b = Builder(1)
    with b.block("f"):
        b.set(x, x + 1)
    fn = compile_program(b.program(), len(b.locals))
    values, fired = fn((2,))
    assert values[0] == 2
    assert [site.tag for site, _ in fired] == ["scope-bound"]
    assert fired[0][0].message(fired[0][1]).startswith("b0.kref would become 3")
    b = Builder(1)
    with b.block("f"):
        b.set(x, x - 1)
    values, fired = compile_program(b.program(), len(b.locals))((0,))
    assert values[0] == 0 and [s.tag for s, _ in fired] == ["counter-underflow"]


def test_otherwise_needs_a_preceding_when() -> None:
    b = Builder(0)
    with pytest.raises(RuntimeError, match="must follow a when"), b.otherwise():
        pass


def test_walk_visits_nested_statements() -> None:
    site = Site("R1", Severity.WARN, Party.EXPORTER, (), "x", "t")
    prog = (If(Const(1, "bool"), (Report(site),), (Report(site),)),)
    assert sum(isinstance(s, Report) for s in walk(prog)) == 2
