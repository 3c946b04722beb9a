"""The model as Z3 terms: one transition template, instantiated per time frame.

Everything here is derived from the model's single definition of semantics: each ground
action's effect is ``model.program.symbolic`` of its program, its enabledness is
``Model.guards(mode)``, the state invariants are ``Model.checks`` and properties are the
problem's predicates and response monitors. No rule is stated here.

A *frame* is one state: a Z3 constant per layout variable (``Bool`` for boolean variables,
``Int`` with its declared bounds otherwise) and one per response-monitor flag. A *step*
from frame ``i`` to ``i + 1`` has an action-choice variable ``act@i`` (the index of the
ground action taken) and ``ret@i`` (its errno: the error part of its result, 0 when it
succeeds). The template is built once per
problem over template frames ``t`` and ``t'`` and instantiated with ``z3.substitute``, so
deepening an unrolling never converts the model again.

A step that would push a counter past its declared bound (a ``scope-bound`` site, a limit
of the check rather than a kernel event) is outside the explored space: the transition
relation excludes it, as every other engine stops a trace there.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TypeAlias

import z3
from z3 import z3core as Z
from z3.z3 import _to_expr_ref

from checker.problem import Monitor, Problem, Property
from model import expr as mx
from model.machine import DeadlinePassed, Model, State
from model.program import Fired, NotEncodable, Site
from model.violation import Severity

Term: TypeAlias = z3.ExprRef
Num: TypeAlias = z3.ArithRef | z3.BitVecRef

# Integers are signed bit-vectors of this width ("bv"), or unbounded Z3 integers ("int").
# Every value of the model is a small counter, an enum code or an errno (above -4096), and
# sums of a few of them: 16 bits hold them all. Unrolled searches are decided by
# bit-blasting into Z3's incremental SAT solver: measured on one mutant at scope 1x1 (every
# rule violation refuted to 6 steps, then found at 7), 4.3 s against 47 s for integers in
# the SMT core. One-step questions over many arithmetic facts (Houdini's, in induction.py)
# go the other way (about 40 ms against 80 ms a question), so they use "int".
ARITH = "bv"
WIDTH = 16


@contextmanager
def arithmetic(kind: str) -> Iterator[None]:
    """Build terms with integers of ``kind`` ("bv" or "int") inside the block."""
    global ARITH
    saved, ARITH = ARITH, kind
    try:
        yield
    finally:
        ARITH = saved


_NUMS: dict[tuple[str, int], Num] = {}


def num(value: int) -> Num:
    """An integer constant."""
    key = (ARITH, value)
    out = _NUMS.get(key)
    if out is None:
        out = _NUMS[key] = z3.IntVal(value) if ARITH == "int" else z3.BitVecVal(value, WIDTH)
    return out


def num_var(name: str) -> Num:
    """An integer constant symbol."""
    return z3.Int(name) if ARITH == "int" else z3.BitVec(name, WIDTH)


def new_solver() -> z3.Solver:
    """An incremental solver for the encoding: Z3's SAT-based finite-domain solver for
    bit-vectors (bit-blasted once, assumptions answered natively), the SMT core for
    integers."""
    return z3.Solver() if ARITH == "int" else z3.SolverFor("QF_FD")


def value_of(t: Term) -> int:
    """The Python value of a Z3 numeral or Boolean in a model."""
    if z3.is_bool(t):
        return int(z3.is_true(t))
    if isinstance(t, z3.BitVecNumRef):
        return int(t.as_signed_long())
    assert isinstance(t, z3.IntNumRef), t
    return int(t.as_long())


def is_zero(t: Term) -> bool:
    return (isinstance(t, z3.BitVecNumRef | z3.IntNumRef)) and value_of(t) == 0


def not_encodable_reason(model: Model) -> str | None:
    """Why ``model`` cannot be encoded (a behaviour written as a Python class), or None."""
    if model.encodable:
        return None
    names = [model.exporter.name] if not model.exporter.encodable else []
    names += [i.name for i in model.importers if not i.encodable]
    return (f"{', '.join(names)} is not encodable (a Python behaviour): use the hypothesis "
            "engine")


class Converter:
    """Expr -> Z3 term, memoized by node identity (expressions are DAGs with heavy
    sharing; converting them as trees could be exponential). ``leaf`` gives each
    variable's term. Terms are built through Z3's C API (``z3core``): the sorts are known
    here, so the Python layer's coercions and checks are skipped."""

    def __init__(self, leaf: Callable[[mx.Var], Term]) -> None:
        self._leaf = leaf
        self._memo: dict[int, tuple[mx.Expr, Term, bool]] = {}
        self._ctx = z3.main_ctx()
        self._zero, self._one = num(0), num(1)

    def boolean(self, e: mx.Expr) -> z3.BoolRef:
        return as_bool(self.term(e))

    def integer(self, e: mx.Expr) -> Num:
        return as_int(self.term(e))

    def term(self, e: mx.Expr) -> Term:
        memo = self._memo
        hit = memo.get(id(e))
        if hit is not None:
            return hit[1]
        # iterative post-order walk: deep DAGs would overflow Python's recursion limit
        stack: list[tuple[mx.Expr, bool]] = [(e, False)]
        while stack:
            x, ready = stack.pop()
            if id(x) in memo:
                continue
            if isinstance(x, mx.Const):
                b = x.type == mx.BOOL
                t: Term = z3.BoolVal(bool(x.value)) if b else num(x.value)
            elif isinstance(x, mx.Var):
                t = self._leaf(x)
                b = z3.is_bool(t)
            else:
                assert isinstance(x, mx.Op)
                if not ready:
                    stack.append((x, True))
                    stack.extend((a, False) for a in x.args if id(a) not in memo)
                    continue
                t, b = self._apply(x.op, [memo[id(a)] for a in x.args])
            memo[id(x)] = (x, t, b)
        return memo[id(e)][1]

    # ------------------------------------------------------------ the C API
    def _bool(self, ast: z3.Ast) -> z3.BoolRef:
        return z3.BoolRef(ast, self._ctx)

    def _num(self, ast: z3.Ast) -> Num:
        return z3.ArithRef(ast, self._ctx) if ARITH == "int" else z3.BitVecRef(ast, self._ctx)

    def _as_bool(self, t: Term, b: bool) -> z3.Ast:
        if b:
            return t.as_ast()
        c = self._ctx.ref()
        return Z.Z3_mk_not(c, Z.Z3_mk_eq(c, t.as_ast(), self._zero.as_ast()))

    def _as_num(self, t: Term, b: bool) -> z3.Ast:
        if not b:
            return t.as_ast()
        return Z.Z3_mk_ite(self._ctx.ref(), t.as_ast(), self._one.as_ast(),
                           self._zero.as_ast())

    def _apply(self, op: str, a: list[tuple[mx.Expr, Term, bool]]) -> tuple[Term, bool]:
        c = self._ctx.ref()
        if op in ("and", "or"):
            arr = (z3.Ast * len(a))(*[self._as_bool(t, b) for _, t, b in a])
            mk = Z.Z3_mk_and if op == "and" else Z.Z3_mk_or
            return self._bool(mk(c, len(a), arr)), True
        if op == "not":
            return self._bool(Z.Z3_mk_not(c, self._as_bool(a[0][1], a[0][2]))), True
        if op == "ite":
            cond = self._as_bool(a[0][1], a[0][2])
            (_, x, bx), (_, y, by) = a[1], a[2]
            if bx and by:
                return self._bool(Z.Z3_mk_ite(c, cond, x.as_ast(), y.as_ast())), True
            return self._num(Z.Z3_mk_ite(c, cond, self._as_num(x, bx),
                                         self._as_num(y, by))), False
        (_, x, bx), (_, y, by) = a
        if op in ("eq", "ne"):
            if bx and by:
                eq = Z.Z3_mk_eq(c, x.as_ast(), y.as_ast())
            else:
                eq = Z.Z3_mk_eq(c, self._as_num(x, bx), self._as_num(y, by))
            return self._bool(eq if op == "eq" else Z.Z3_mk_not(c, eq)), True
        p, q = self._as_num(x, bx), self._as_num(y, by)
        if ARITH == "int":
            if op in ("add", "sub"):
                arr = (z3.Ast * 2)(p, q)
                mk = Z.Z3_mk_add if op == "add" else Z.Z3_mk_sub
                return self._num(mk(c, 2, arr)), False
            mk = Z.Z3_mk_lt if op == "lt" else Z.Z3_mk_le
            return self._bool(mk(c, p, q)), True
        if op in ("add", "sub"):
            mk = Z.Z3_mk_bvadd if op == "add" else Z.Z3_mk_bvsub
            return self._num(mk(c, p, q)), False
        if op in ("lt", "le"):
            mk = Z.Z3_mk_bvslt if op == "lt" else Z.Z3_mk_bvsle
            return self._bool(mk(c, p, q)), True
        raise ValueError(f"unknown operator {op!r}")


def as_bool(t: Term) -> z3.BoolRef:
    if z3.is_bool(t):
        return t
    return t != 0


def as_int(t: Term) -> Num:
    if z3.is_bool(t):
        return z3.If(t, num(1), num(0))
    return t


def to_sort(var: mx.Var, t: Term) -> Term:
    """``t`` as a value of ``var``'s sort."""
    return as_bool(t) if var.type == mx.BOOL else as_int(t)


class Substitution:
    """A simultaneous substitution, prepared once and applied through Z3's C API (the
    Python layer re-checks every pair's sorts on each call)."""

    def __init__(self, pairs: Sequence[tuple[Term, Term]], keep: object = None) -> None:
        self._keep = (list(pairs), keep)  # the arrays point into these terms
        n = len(pairs)
        self._n = n
        self._from = (z3.Ast * n)(*[a.as_ast() for a, _ in pairs])
        self._to = (z3.Ast * n)(*[b.as_ast() for _, b in pairs])
        self._ctx = z3.main_ctx()

    def __call__(self, t: Term) -> Term:
        if not self._n:
            return t
        ast = Z.Z3_substitute(self._ctx.ref(), t.as_ast(), self._n, self._from, self._to)
        return _to_expr_ref(ast, self._ctx)


def check_assuming(solver: z3.Solver, lits: Sequence[z3.BoolRef]) -> z3.CheckSatResult:
    """``solver.check(*lits)`` without the Python layer's per-literal conversions (the
    literals are Boolean constants built here)."""
    arr = (z3.Ast * len(lits))(*[x.as_ast() for x in lits])
    r = Z.Z3_solver_check_assumptions(solver.ctx.ref(), solver.solver, len(lits), arr)
    return z3.CheckSatResult(r)


# Boolean connectives through the C API, for terms of known sorts (the Python layer's
# coercions dominate building the transition relation of a large model, and the
# auxiliary-invariant search's questions)
def _wrap(ast: z3.Ast) -> Term:
    return _to_expr_ref(ast, z3.main_ctx())


def and_(xs: Sequence[z3.BoolRef]) -> z3.BoolRef:
    arr = (z3.Ast * len(xs))(*[x.as_ast() for x in xs])
    out = _wrap(Z.Z3_mk_and(z3.main_ctx().ref(), len(xs), arr))
    assert isinstance(out, z3.BoolRef)
    return out


def or_(xs: Sequence[z3.BoolRef]) -> z3.BoolRef:
    arr = (z3.Ast * len(xs))(*[x.as_ast() for x in xs])
    out = _wrap(Z.Z3_mk_or(z3.main_ctx().ref(), len(xs), arr))
    assert isinstance(out, z3.BoolRef)
    return out


def not_(x: z3.BoolRef) -> z3.BoolRef:
    out = _wrap(Z.Z3_mk_not(z3.main_ctx().ref(), x.as_ast()))
    assert isinstance(out, z3.BoolRef)
    return out


def _implies(a: z3.BoolRef, b: z3.BoolRef) -> z3.BoolRef:
    out = _wrap(Z.Z3_mk_implies(z3.main_ctx().ref(), a.as_ast(), b.as_ast()))
    assert isinstance(out, z3.BoolRef)
    return out


def _eq(a: Term, b: Term) -> z3.BoolRef:
    out = _wrap(Z.Z3_mk_eq(z3.main_ctx().ref(), a.as_ast(), b.as_ast()))
    assert isinstance(out, z3.BoolRef)
    return out


def _ite(c: z3.BoolRef, a: Term, b: Term) -> Term:
    return _wrap(Z.Z3_mk_ite(z3.main_ctx().ref(), c.as_ast(), a.as_ast(), b.as_ast()))


@dataclass
class ActionTerms:
    """One ground action over the template frame ``t``: its guard (in the problem's mode,
    the step staying within scope), its changed variables, its violation sites, its errno
    (``effect_of``)."""

    guard: z3.BoolRef
    changes: dict[int, Term]
    fired: list[tuple[Site, z3.BoolRef]]
    ret: Num
    reads: frozenset[int] = frozenset()  # the state variables its guard and updates read


@dataclass
class Frame:
    """The Z3 constants of one state (``state`` by layout index, ``flags`` of every
    monitor, concatenated in problem order)."""

    state: list[Term]
    flags: list[Term]


@dataclass
class Step:
    """One transition: ``choice[k]`` is true when ground action ``k`` is taken (exactly one
    is), ``ret`` is its errno (0 when it succeeds)."""

    choice: list[z3.BoolRef]
    ret: Num


@dataclass
class Encoding:
    """A problem's transition system as Z3 templates.

    Templates range over ``t`` (state and flags before the step), ``act``/``ret`` and
    ``t2`` (after). ``frame(name)`` makes fresh constants; ``transition(i, j, s)`` the
    relation between frames ``i`` and ``j`` through step ``s``.
    """

    problem: Problem
    model: Model
    t: Frame
    t2: Frame
    step_t: Step
    actions: list[ActionTerms]
    checks: list[tuple[Site, z3.BoolRef, z3.BoolRef]]  # site, predicate over t, over t2
    monitors: list[tuple[Property, Monitor, int]]  # property, monitor, first flag index
    trans_t: z3.BoolRef = field(init=False)
    violation_t: z3.BoolRef = field(init=False)  # some rule violation fires on the step
    bounds_t: z3.BoolRef = field(init=False)

    def __post_init__(self) -> None:
        self._subs: dict[tuple[int, int, int], Substitution] = {}
        self.trans_t = self._transition()
        by_pair: dict[tuple[str, str], list[z3.BoolRef]] = {}
        for k, a in enumerate(self.actions):
            per: dict[tuple[str, str], list[z3.BoolRef]] = {}
            for site, c in a.fired:
                per.setdefault((site.rule, site.tag), []).append(c)
            for pair, cs in per.items():
                by_pair.setdefault(pair, []).append(and_([self.step_t.choice[k], or_(cs)]))
        for site, p, p2 in self.checks:
            by_pair.setdefault((site.rule, site.tag), []).append(and_([p, not_(p2)]))
        self.pairs: dict[tuple[str, str], z3.BoolRef] = {
            pair: or_(cs) for pair, cs in by_pair.items()}
        self.violation_t = self.violation(self.pairs)
        self.bounds_t = z3.And(*self._bounds(self.t))

    def violation(self, pairs: Collection[tuple[str, str]]) -> z3.BoolRef:
        """Some violation whose (rule, tag) is in ``pairs`` fires on the step (template)."""
        return z3.Or(*[self.pairs[p] for p in pairs if p in self.pairs])

    # ------------------------------------------------------------ templates
    def _bounds(self, f: Frame) -> list[z3.BoolRef]:
        out = []
        for v, x in zip(self.model.layout.vars, f.state, strict=True):
            if v.type != mx.BOOL:
                out.append(z3.And(x >= v.lo, x <= v.hi))
        return out

    def _transition(self) -> z3.BoolRef:
        choice, ret = self.step_t.choice, self.step_t.ret
        n = len(self.actions)
        parts: list[z3.BoolRef] = [z3.PbEq([(c, 1) for c in choice], 1)]
        parts += [_implies(choice[k], a.guard) for k, a in enumerate(self.actions)]
        for i, (x, x2) in enumerate(zip(self.t.state, self.t2.state, strict=True)):
            value: Term = x
            for k in reversed(range(n)):
                c = self.actions[k].changes.get(i)
                if c is not None:
                    value = _ite(choice[k], c, value)
            parts.append(_eq(x2, value))
        value_r: Term = num(0)
        for k in reversed(range(n)):
            r = self.actions[k].ret
            if not is_zero(r):
                value_r = _ite(choice[k], r, value_r)
        parts.append(_eq(ret, value_r))
        parts += self._monitor_updates()
        return and_(parts)

    def _monitor_updates(self) -> list[z3.BoolRef]:
        parts: list[z3.BoolRef] = []
        for _, mon, base in self.monitors:
            conv = self._monitor_converter(mon, base)
            for j, flag in enumerate(mon.flags):
                value: Term = self.t.flags[base + j]
                for k in reversed(range(len(self.actions))):
                    e = mon.next(k)[j]
                    if e is not flag:
                        value = z3.If(self.step_t.choice[k], conv.boolean(e), value)
                parts.append(self.t2.flags[base + j] == value)
        return parts

    def _monitor_converter(self, mon: Monitor, base: int) -> Converter:
        n = self.model.layout.size
        flags = {f.index: self.t.flags[base + j] for j, f in enumerate(mon.flags)}

        def leaf(v: mx.Var) -> Term:
            if v.index < n:
                return self.t.state[v.index]
            if v.index == mon.ret.index:
                return self.step_t.ret
            return flags[v.index]

        return Converter(leaf)

    def response_bad_t(self, prop: str) -> z3.BoolRef:
        """The step breaks response ``prop`` (a deadline on an armed binding)."""
        for p, mon, base in self.monitors:
            if p.name == prop:
                conv = self._monitor_converter(mon, base)
                return z3.Or(*[z3.And(self.step_t.choice[k], conv.boolean(mon.violated(k)))
                               for k in range(len(self.actions))
                               if mx.const(mon.violated(k)) != 0])
        raise KeyError(prop)

    def predicate_t(self, e: mx.Expr) -> z3.BoolRef:
        """A state predicate over the template frame ``t``."""
        return self.state_converter.boolean(e)

    @property
    def state_converter(self) -> Converter:
        conv: Converter | None = getattr(self, "_state_conv", None)
        if conv is None:
            conv = Converter(lambda v: self.t.state[v.index])
            self._state_conv = conv
        return conv

    # ------------------------------------------------------------ instantiation
    def frame(self, tag: str) -> Frame:
        state: list[Term] = [
            z3.Bool(f"{v.name}@{tag}") if v.type == mx.BOOL else num_var(f"{v.name}@{tag}")
            for v in self.model.layout.vars]
        flags: list[Term] = [
            z3.Bool(f"{f.name}@{tag}") for _, mon, _ in self.monitors for f in mon.flags]
        return Frame(state, flags)

    def step(self, tag: str) -> Step:
        return Step([z3.Bool(f"{a}@{tag}") for a in self.model.actions],
                    num_var(f"ret@{tag}"))

    def _pairs(self, f: Frame | None, s: Step | None, f2: Frame | None
               ) -> list[tuple[Term, Term]]:
        pairs: list[tuple[Term, Term]] = []
        if f is not None:
            pairs += zip(self.t.state, f.state, strict=True)
            pairs += zip(self.t.flags, f.flags, strict=True)
        if s is not None:
            pairs += zip(self.step_t.choice, s.choice, strict=True)
            pairs.append((self.step_t.ret, s.ret))
        if f2 is not None:
            pairs += zip(self.t2.state, f2.state, strict=True)
            pairs += zip(self.t2.flags, f2.flags, strict=True)
        return pairs

    def at(self, template: Term, f: Frame | None = None, s: Step | None = None,
           f2: Frame | None = None) -> Term:
        """``template`` with the template frames replaced by ``f``, ``s`` and ``f2``."""
        key = (id(f), id(s), id(f2))
        sub = self._subs.get(key)
        if sub is None:
            sub = self._subs[key] = Substitution(self._pairs(f, s, f2), (f, s, f2))
        return sub(template)

    def bool_at(self, template: z3.BoolRef, f: Frame | None = None, s: Step | None = None,
                f2: Frame | None = None) -> z3.BoolRef:
        out = self.at(template, f, s, f2)
        assert isinstance(out, z3.BoolRef)
        return out

    def initial(self, f: Frame) -> z3.BoolRef:
        """``f`` is the model's initial state (and every monitor flag is clear)."""
        values = self.model.initial().values
        return z3.And(*[x == _value(v, c) for v, x, c in
                        zip(self.model.layout.vars, f.state, values, strict=True)],
                      *[z3.Not(x) for x in f.flags])

    def state_of(self, m: z3.ModelRef, f: Frame) -> State:
        """The model's state that frame ``f`` has in a Z3 model."""
        out = []
        for x in f.state:
            v = m.eval(x, model_completion=True)
            out.append(value_of(v))
        return State(tuple(out))

    def flags_of(self, m: z3.ModelRef, f: Frame) -> tuple[int, ...]:
        return tuple(int(z3.is_true(m.eval(x, model_completion=True))) for x in f.flags)


def _value(v: mx.Var, c: int) -> Term:
    return z3.BoolVal(bool(c)) if v.type == mx.BOOL else num(c)


def reads_of(exprs: Sequence[mx.Expr]) -> frozenset[int]:
    """The state variables some expression reads (a DAG walk, each node once)."""
    seen: set[int] = set()
    out: set[int] = set()
    stack = list(exprs)
    while stack:
        x = stack.pop()
        if id(x) in seen:
            continue
        seen.add(id(x))
        if isinstance(x, mx.Var):
            out.add(x.index)
        elif isinstance(x, mx.Op):
            stack.extend(x.args)
    return frozenset(out)


def effect_of(model: Model, k: int) -> tuple[list[mx.Expr], list[Fired], mx.Expr]:
    """Ground action ``k``'s effect over the state: each state variable's next value, its
    violation sites, and its errno (the error part of its result, 0 when it succeeds: what
    a response property's monitor reads, as ``Outcome.errno``; a value such as llseek's
    size is left out, so it need not fit the encoding's integers)."""
    g = model.ground[k]
    effect = model.effect(k)
    n = model.layout.size
    return effect.next[:n], effect.fired, mx.error_part(effect.next[g.ret])


@dataclass
class ModelTerms:
    """What an encoding takes from the model alone (not from the problem's properties):
    the template state frames, each ground action's terms and the state invariants."""

    state: list[Term]
    state2: list[Term]
    actions: list[ActionTerms]
    checks: list[tuple[Site, z3.BoolRef, z3.BoolRef]]
    conv: Converter


@dataclass
class Template:
    """The template state frames of a model in one mode and arithmetic, the converter of
    expressions over ``state``, and the ground actions' terms built so far."""

    state: list[Term]
    state2: list[Term]
    conv: Converter
    guards: list[mx.Expr]
    actions: dict[int, ActionTerms] = field(default_factory=dict)


_TEMPLATES: weakref.WeakKeyDictionary[Model, dict[str, Template]] = (
    weakref.WeakKeyDictionary())
_TERMS: weakref.WeakKeyDictionary[Model, dict[str, ModelTerms]] = weakref.WeakKeyDictionary()


def fresh_context() -> None:
    """Start Z3 afresh: a new main context, and none of the terms made in the old one.
    Which of several equally good answers Z3 gives depends on everything made in its
    context before (term ids, learnt clauses), so an engine run that starts here answers
    the same whatever the process ran before it (another check, another ``--jobs``
    layout), and writes the same counterexamples."""
    z3.z3._main_ctx = None  # z3.main_ctx() makes the next one
    _NUMS.clear()
    _TEMPLATES.clear()
    _TERMS.clear()
    for hook in _ON_FRESH:
        hook()


_ON_FRESH: list[Callable[[], None]] = []  # other caches of Z3 terms, cleared with them


def model_template(model: Model, mode: str) -> Template:
    """The template frames of ``model`` in ``mode`` and the current arithmetic (made once
    per model, mode and arithmetic; ``model_terms`` and ``action_terms`` build on it)."""
    per_mode = _TEMPLATES.setdefault(model, {})
    key = f"{mode}/{ARITH}"
    tpl = per_mode.get(key)
    if tpl is None:
        layout = model.layout

        def template(tag: str) -> list[Term]:
            return [z3.Bool(f"{v.name}!{tag}") if v.type == mx.BOOL
                    else num_var(f"{v.name}!{tag}") for v in layout.vars]

        t, t2 = template("t"), template("t2")
        tpl = per_mode[key] = Template(t, t2, Converter(lambda v: t[v.index]),
                                       model.guards(mode))
    return tpl


def action_terms(model: Model, mode: str, k: int) -> ActionTerms:
    """Ground action ``k``'s terms over ``model_template(model, mode).state`` (the very
    terms ``model_terms`` lists), converted on first use: a question about a few actions
    need not convert them all."""
    tpl = model_template(model, mode)
    out = tpl.actions.get(k)
    if out is None:
        layout, conv = model.layout, tpl.conv
        nxt, fired, ret = effect_of(model, k)
        changes = {i: to_sort(v, conv.term(e)) for i, (v, e) in enumerate(
            zip(layout.vars, nxt, strict=True)) if e is not v}
        # a step out of scope is not in the guard, so its scope-bound site never fires
        sites = [(f.site, conv.boolean(f.cond)) for f in fired
                 if f.site.severity is not Severity.SCOPE and mx.const(f.cond) != 0]
        reads = reads_of([tpl.guards[k], *(e for v, e in zip(layout.vars, nxt, strict=True)
                                           if e is not v)])
        out = tpl.actions[k] = ActionTerms(conv.boolean(tpl.guards[k]), changes, sites,
                                           conv.integer(ret), reads)
    return out


class EncodeTimeout(Exception):
    """The deadline passed while the model was being encoded."""


def model_terms(model: Model, mode: str, deadline: float | None = None) -> ModelTerms:
    """The model's actions as Z3 templates in ``mode`` (built once per model and mode);
    ``EncodeTimeout`` when ``deadline`` (a ``time.monotonic()`` value) passes first."""
    per_mode = _TERMS.setdefault(model, {})
    key = f"{mode}/{ARITH}"
    if key in per_mode:
        return per_mode[key]
    if deadline is not None:
        try:  # the guards the template holds are made of every action's effect
            model.derive_effects(deadline)
        except DeadlinePassed as e:
            raise EncodeTimeout(str(e)) from None
    tpl = model_template(model, mode)
    t, t2, conv = tpl.state, tpl.state2, tpl.conv
    actions = []
    for k in range(len(model.ground)):
        if deadline is not None and k % 16 == 0 and time.monotonic() > deadline:
            raise EncodeTimeout(f"the deadline passed after encoding {k} of "
                                f"{len(model.ground)} actions")
        actions.append(action_terms(model, mode, k))
    post = Substitution(list(zip(t, t2, strict=True)))
    checks = [(site, conv.boolean(pred), post(conv.boolean(pred)))
              for site, pred, _ in model.checks]
    out = per_mode[key] = ModelTerms(t, t2, actions, checks, conv)
    return out


def encode(problem: Problem, deadline: float | None = None) -> Encoding:
    """The problem's transition system. Raises ``NotEncodable`` for a model with a Python
    behaviour (``not_encodable_reason`` says which), ``EncodeTimeout`` when ``deadline``
    passes while the model's actions are encoded."""
    model = problem.model
    reason = not_encodable_reason(model)
    if reason is not None:
        raise NotEncodable(reason)
    terms = model_terms(model, problem.mode, deadline)

    def flags(tag: str) -> list[Term]:
        return [z3.Bool(f"{f.name}!{tag}") for p in problem.properties
                if p.monitor is not None for f in p.monitor.flags]

    t, t2 = Frame(terms.state, flags("t")), Frame(terms.state2, flags("t2"))
    monitors: list[tuple[Property, Monitor, int]] = []
    base = 0
    for p in problem.properties:
        if p.monitor is not None:
            monitors.append((p, p.monitor, base))
            base += len(p.monitor.flags)
    step_t = Step([z3.Bool(f"{a}!t") for a in model.actions], num_var("ret!t"))
    enc = Encoding(problem, model, t, t2, step_t, terms.actions, terms.checks, monitors)
    enc._state_conv = terms.conv
    return enc


def fired_sites(enc: Encoding, m: z3.ModelRef, f: Frame, s: Step, f2: Frame
                ) -> list[tuple[str, str]]:
    """The (rule, tag) of every violation the chosen action of step ``s`` fires in a Z3
    model, program sites first, then state invariants (the concrete step's order)."""
    k = chosen(m, s)
    out = [(site.rule, site.tag) for site, c in enc.actions[k].fired
           if z3.is_true(m.eval(enc.bool_at(c, f), model_completion=True))]
    for site, p, p2 in enc.checks:
        bad = z3.And(enc.bool_at(p, f), z3.Not(enc.bool_at(p2, f2=f2)))
        if z3.is_true(m.eval(bad, model_completion=True)):
            out.append((site.rule, site.tag))
    return out


def chosen(m: z3.ModelRef, s: Step) -> int:
    """The index of the ground action step ``s`` takes in a Z3 model."""
    taken = [k for k, c in enumerate(s.choice) if z3.is_true(m.eval(c, model_completion=True))]
    assert len(taken) == 1, taken
    return taken[0]


def describe_state(model: Model, values: Sequence[int]) -> str:
    """``name=value`` for the variables that differ from the initial state."""
    changed = model.describe(State(tuple(values)))
    return ", ".join(f"{k}={v}" for k, v in changed.items()) or "(the initial state)"


__all__ = [
    "ActionTerms",
    "Converter",
    "Encoding",
    "Frame",
    "ModelTerms",
    "Step",
    "Template",
    "action_terms",
    "and_",
    "arithmetic", "as_bool",
    "as_int",
    "chosen",
    "describe_state",
    "effect_of",
    "encode",
    "fired_sites",
    "model_template",
    "model_terms",
    "new_solver",
    "not_",
    "not_encodable_reason",
    "or_",
    "reads_of",
    "to_sort",
]
