"""Expressions to Z3 terms, and the transition templates built from the model."""

from __future__ import annotations

import random
import time

import pytest
import z3

from checker.engines.symbolic import encode as E
from checker.engines.symbolic.bmc import bmc
from checker.problem import Problem, Status
from model import Model
from model import expr as mx
from model.action import Action
from model.exporters import SYSTEM_HEAP
from model.mutants import MUTANTS
from model.plugin import PythonExporter, as_exporter
from model.program import NotEncodable

# the engines' tests run the model millions of steps; line coverage of model/ comes from
# its own tests, and tracing here would only slow the suite
pytestmark = pytest.mark.no_cover

X = [mx.Var(f"x{i}", i, -3, 3) for i in range(3)]
B = [mx.Var(f"p{i}", 3 + i, 0, 1, mx.BOOL) for i in range(2)]


def z3_value(e: mx.Expr, values: tuple[int, ...]) -> int:
    """``e`` converted, with the variables replaced by the values, simplified."""
    leaves: dict[int, z3.ExprRef] = {}

    def leaf(v: mx.Var) -> z3.ExprRef:
        if v.index not in leaves:
            leaves[v.index] = z3.Bool(v.name) if v.type == mx.BOOL else E.num_var(v.name)
        return leaves[v.index]

    term = E.Converter(leaf).term(e)
    pairs = [(t, z3.BoolVal(bool(values[i])) if z3.is_bool(t) else E.num(values[i]))
             for i, t in leaves.items()]
    return E.value_of(z3.simplify(E.Substitution(pairs)(term)))


def random_expr(rng: random.Random, depth: int, want: str) -> mx.Expr:
    if depth == 0 or rng.random() < 0.2:
        if want == mx.BOOL:
            return rng.choice([*B, mx.TRUE, mx.FALSE, X[0] < X[1]])
        return rng.choice([*X, mx.Const(rng.randint(-5, 5))])
    if want == mx.BOOL:
        op = rng.choice(["and", "or", "not", "cmp", "eq_mixed", "ite"])
        if op == "and":
            return mx.and_(random_expr(rng, depth - 1, mx.BOOL),
                           random_expr(rng, depth - 1, mx.BOOL))
        if op == "or":
            return mx.or_(random_expr(rng, depth - 1, mx.BOOL),
                          random_expr(rng, depth - 1, mx.BOOL))
        if op == "not":
            return mx.not_(random_expr(rng, depth - 1, mx.BOOL))
        if op == "ite":
            return mx.Op("ite", (random_expr(rng, depth - 1, mx.BOOL),
                                 random_expr(rng, depth - 1, mx.BOOL),
                                 random_expr(rng, depth - 1, mx.BOOL)))
        if op == "eq_mixed":  # a Boolean compared with an integer: 0/1 semantics
            return mx.Op(rng.choice(["eq", "ne"]), (random_expr(rng, depth - 1, mx.BOOL),
                                                     random_expr(rng, depth - 1, mx.INT)))
        return mx.Op(rng.choice(["lt", "le", "eq", "ne"]),
                     (random_expr(rng, depth - 1, mx.INT), random_expr(rng, depth - 1, mx.INT)))
    op = rng.choice(["add", "sub", "ite", "ite_mixed", "total"])
    if op in ("add", "sub"):
        return mx.Op(op, (random_expr(rng, depth - 1, mx.INT),
                          random_expr(rng, depth - 1, mx.INT)))
    if op == "total":
        return mx.total([random_expr(rng, depth - 1, mx.BOOL),
                         random_expr(rng, depth - 1, mx.INT)])
    other = mx.BOOL if op == "ite_mixed" else mx.INT  # a branch of the other sort
    return mx.Op("ite", (random_expr(rng, depth - 1, mx.BOOL),
                         random_expr(rng, depth - 1, mx.INT),
                         random_expr(rng, depth - 1, other)))


@pytest.mark.parametrize("arith", ["bv", "int"])
def test_random_expressions_evaluate_like_the_model(monkeypatch: pytest.MonkeyPatch,
                                                    arith: str) -> None:
    monkeypatch.setattr(E, "ARITH", arith)
    rng = random.Random(5)
    for _ in range(300):
        e = random_expr(rng, 4, rng.choice([mx.BOOL, mx.INT]))
        values = tuple(rng.randint(-3, 3) for _ in X) + tuple(rng.randint(0, 1) for _ in B)
        assert z3_value(e, values) == mx.evaluate(e, values), str(e)


def test_shared_subtrees_are_converted_once() -> None:
    c = B[0]
    e: mx.Expr = X[0]
    for _ in range(80):  # 2**80 nodes as a tree
        e = mx.Op("ite", (c, mx.Op("add", (e, mx.Const(1))), mx.Op("sub", (e, mx.Const(1)))))
    assert mx.unfolded_size(e) >= 10_000
    start = time.monotonic()
    assert z3_value(e, (2, 0, 0, 1, 0)) == 82
    assert z3_value(e, (2, 0, 0, 0, 0)) == -78
    assert time.monotonic() - start < 5


def test_templates_leave_untouched_variables_to_the_frame_condition() -> None:
    m = Model(SYSTEM_HEAP, profile="v6.16+", scope="2x2")
    terms = E.model_terms(m, "contract")
    assert E.model_terms(m, "contract") is terms  # built once per model and mode
    k = m.actions.index(next(a for a in m.actions if str(a) == "export(b0)"))
    written = {m.layout.vars[i].name for i in terms.actions[k].changes}
    assert "b0.life" in written
    assert not any(name.startswith("b1.") for name in written)
    enc = E.encode(Problem("p", m, "contract"))
    f0, s, f1 = enc.frame("0"), enc.step("0"), enc.frame("1")
    trans = enc.bool_at(enc.trans_t, f0, s, f1)
    names = {str(d) for d in _constants(trans)}
    assert not any(n.endswith("!t") or n.endswith("!t2") for n in names)


def test_an_action_s_terms_are_built_on_first_use_and_are_the_listed_ones() -> None:
    m = Model(SYSTEM_HEAP, profile="v6.16+", scope="1x2")
    k = m.actions.index(next(a for a in m.actions if str(a) == "attach(b0.a1, importer=static)"))
    first = E.action_terms(m, "contract", k)
    assert set(E.model_template(m, "contract").actions) == {k}  # nothing else converted
    assert E.model_terms(m, "contract").actions[k] is first
    assert E.model_template(m, "contract").state is E.model_terms(m, "contract").state
    with E.arithmetic("int"):  # a template per arithmetic
        assert E.action_terms(m, "contract", k) is not first
        assert all(z3.is_int(x) or z3.is_bool(x) for x in E.model_template(m, "contract").state)
    assert not all(z3.is_int(x) or z3.is_bool(x) for x in E.model_template(m, "contract").state)


def _constants(t: z3.ExprRef) -> set[z3.ExprRef]:
    out: set[z3.ExprRef] = set()
    seen: set[int] = set()
    stack = [t]
    while stack:
        x = stack.pop()
        if x.get_id() in seen:
            continue
        seen.add(x.get_id())
        if z3.is_const(x) and x.decl().kind() == z3.Z3_OP_UNINTERPRETED:
            out.add(x)
        stack.extend(x.children())
    return out


class _Py(PythonExporter):
    name = "pyexp"


def test_a_python_behaviour_is_refused_with_its_name() -> None:
    m = Model(as_exporter(_Py()), profile="v6.16+", scope="1x1")
    assert E.not_encodable_reason(m) == (
        "pyexp is not encodable (a Python behaviour): use the hypothesis engine")
    with pytest.raises(NotEncodable, match="pyexp is not encodable"):
        E.encode(Problem("p", m))


def test_integer_and_bit_vector_encodings_find_the_same_trace(
        monkeypatch: pytest.MonkeyPatch) -> None:
    m = MUTANTS["detach_while_mapped"]
    lengths = {}
    for arith in ("bv", "int"):
        monkeypatch.setattr(E, "ARITH", arith)
        v = bmc(Problem(m.name, m.model("1x1"), "contract", depth=5),
                rules={(m.rule, m.tag)})[0]
        assert v.status is Status.VIOLATED and v.counterexample is not None
        lengths[arith] = len(v.counterexample.actions)
    assert lengths == {"bv": 4, "int": 4}


def test_the_benchmark_prints_every_section(capsys: pytest.CaptureFixture[str]) -> None:
    from checker.engines.symbolic import bench

    assert bench.main(["--mutants", "put_with_vmap", "--repeat", "1", "--budget", "2",
                       "--scopes", "1x1", "--exporter", "system_heap",
                       "--proof-scope", "1x1", "--proof-exporters", "system_heap",
                       "--proof-profiles", "v6.16+"]) == 0
    out = capsys.readouterr().out
    assert "## time to the shortest counterexample per mutant" in out
    assert "put_with_vmap" in out
    assert "## BMC depth reached in 2 s" in out
    assert "## k-induction of all core invariants at 1x1" in out
    assert "system_heap  v6.16+" in out


@pytest.mark.parametrize("pages", [2, 8, 64])
def test_an_actions_result_is_encoded_as_its_errno(pages: int) -> None:
    """llseek(SEEK_END) returns the size (8 pages: 32768, past a 16-bit signed integer);
    the encoding keeps the error part only, so a monitor never reads a value as an error."""
    m = Model(SYSTEM_HEAP, profile="v6.16+", scope=f"1x1 with size={pages}")
    for text, errno in (("llseek(b0, offset=0, whence=SEEK_END)", 0),
                        ("llseek(b0, offset=0, whence=SEEK_CUR)", -22),
                        ("poll(b0, events=EPOLLIN)", 0)):
        k = m.index(Action.parse(text))
        ret = E.effect_of(m, k)[2]
        state = m.run(["export(b0)", "fd(b0)"])[-1].state
        out = m.step(state, Action.parse(text))
        assert mx.evaluate(ret, state.values) == out.errno == errno, text
        assert z3_value(ret, state.values) == errno, text
    size = m.step(m.run(["export(b0)", "fd(b0)"])[-1].state,
                  Action.parse("llseek(b0, offset=0, whence=SEEK_END)"))
    assert (size.ret, size.errno) == (pages * 4096, 0)


def test_error_part() -> None:
    c = mx.Var("c", 0, 0, 1, mx.BOOL)
    v = mx.Var("v", 1, -4095, 4095)
    e = mx.ite(c, 32768, mx.ite(v.eq(0), -22, 1))
    assert mx.error_part(e) == mx.ite(c, 0, mx.ite(v.eq(0), -22, 0))
    assert mx.error_part(mx.Const(-9)) == mx.Const(-9)
    assert mx.error_part(mx.Const(262144)) == mx.Const(0)
    for values in ((0, 5), (1, 0), (0, -7), (0, 0)):
        assert mx.evaluate(mx.error_part(v), values) == min(values[1], 0)
