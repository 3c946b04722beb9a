"""Compile programs and predicates to Python functions: the concrete step's fast path.

The generated source is built only from the model's own trees (variable indices, integer
constants and operators); no user text is ever part of it. ``program.symbolic`` gives the
same programs their symbolic meaning, and the tests check that the two agree.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from model.expr import BOOL, Const, Expr, Op, shared_python, to_python, unfolded_size
from model.program import (
    Assign,
    Block,
    Exit,
    Extern,
    If,
    Program,
    Report,
    Site,
    Stmt,
    bound_site,
    needs_bound_check,
)

Fire = tuple[Site, tuple[int, ...]]
StepFn = Callable[[tuple[int, ...]], tuple[list[int], list[Fire]]]


class _Emitter:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.sites: list[Site] = []
        self._site_ids: dict[Site, int] = {}
        self.externs: list[object] = []

    def site(self, site: Site) -> str:
        k = self._site_ids.get(site)
        if k is None:
            k = self._site_ids[site] = len(self.sites)
            self.sites.append(site)
        return f"S[{k}]"

    def line(self, depth: int, text: str) -> None:
        self.lines.append("    " * depth + text)

    def stmts(self, stmts: Sequence[Stmt], depth: int, ret: int | None) -> None:
        if not stmts:
            self.line(depth, "pass")
        for st in stmts:
            self.stmt(st, depth, ret)

    def stmt(self, st: Stmt, depth: int, ret: int | None) -> None:
        if isinstance(st, Assign):
            i, value = st.var.index, to_python(st.value)
            if needs_bound_check(st.var, st.value):
                hi = self.site(bound_site(st.var))
                lo = self.site(bound_site(st.var, over=False))
                self.line(depth, f"t = {value}")
                self.line(depth, f"if t > {st.var.hi}: out.append(({hi}, (t,))); t = {st.var.hi}")
                self.line(depth, f"elif t < {st.var.lo}: out.append(({lo}, (t,))); t = {st.var.lo}")
                self.line(depth, f"v[{i}] = t")
            elif st.var.type == BOOL and not isinstance(st.value, Const):
                self.line(depth, f"v[{i}] = 1 if {value} else 0")  # states hold ints only
            else:
                self.line(depth, f"v[{i}] = {value}")
        elif isinstance(st, If):
            self.line(depth, f"if {to_python(st.cond)}:")
            self.stmts(st.then, depth + 1, ret)
            if st.orelse:
                self.line(depth, "else:")
                self.stmts(st.orelse, depth + 1, ret)
        elif isinstance(st, Report):
            args = "".join(f"{to_python(a)}, " for a in st.args)
            self.line(depth, f"out.append(({self.site(st.site)}, ({args})))")
        elif isinstance(st, Block):
            self.line(depth, "while True:")
            self.stmts(st.body, depth + 1, st.ret.index)
            self.line(depth + 1, "break")
        elif isinstance(st, Extern):
            self.externs.append(st.fn)
            self.line(depth, f"X[{len(self.externs) - 1}](v, out)")
        elif isinstance(st, Exit):
            if ret is None:
                raise ValueError("Exit outside of a Block")
            self.line(depth, f"v[{ret}] = {to_python(st.value)}")
            self.line(depth, "break")
        else:  # pragma: no cover - the statement set is closed
            raise TypeError(f"unknown statement {st!r}")


def _build(name: str, source: str, namespace: dict[str, Any]) -> Any:
    code = compile(source, f"<dmabuf-model {name}>", "exec")
    exec(code, namespace)
    return namespace[name]


def compile_programs(programs: Sequence[tuple[Program, int]]) -> list[StepFn]:
    """One function per (program, number of locals): ``f(state) -> (values, fired)``.
    ``values`` holds the next state followed by the locals; ``fired`` lists
    (site, argument values) in the order they were reported. All functions are compiled
    as one module."""
    em = _Emitter()
    for k, (program, nlocals) in enumerate(programs):
        em.line(0, f"def step{k}(s):")
        em.line(1, f"v = list(s) + {[0] * nlocals!r}" if nlocals else "v = list(s)")
        em.line(1, "out = []")
        em.stmts(program, 1, None)
        em.line(1, "return v, out")
    em.line(0, f"STEPS = [{', '.join(f'step{k}' for k in range(len(programs)))}]")
    fns: list[StepFn] = _build("STEPS", "\n".join(em.lines), {"S": em.sites, "X": em.externs})
    return fns


def compile_program(program: Program, nlocals: int) -> StepFn:
    return compile_programs([(program, nlocals)])[0]


# Guards up to this many nodes (as trees) compile to plain expressions, which short-circuit;
# larger ones, built symbolically with much sharing, compile with shared temporaries so that
# their source stays linear in the size of the DAG.
PLAIN_LIMIT = 2_000


def _guard(g: Expr, target: str, prefix: str) -> list[str]:
    """Lines that set ``target`` to the value of guard ``g``. A small guard is one plain,
    short-circuiting expression. A large one is split: its small conjuncts are tested first,
    and only when they hold are its shared temporaries computed."""
    if unfolded_size(g, PLAIN_LIMIT + 1) <= PLAIN_LIMIT:
        return [f"{target} = {to_python(g)}"]
    conjuncts = g.args if isinstance(g, Op) and g.op == "and" else (g,)
    small = [c for c in conjuncts if unfolded_size(c, PLAIN_LIMIT + 1) <= PLAIN_LIMIT]
    large = [c for c in conjuncts if unfolded_size(c, PLAIN_LIMIT + 1) > PLAIN_LIMIT]
    temps, sources = shared_python(large, prefix=prefix)
    lines = [f"{target} = False", f"if {' and '.join(map(to_python, small)) or 'True'}:"]
    lines.extend(f"    {t}" for t in temps)
    lines.append(f"    {target} = {' and '.join(sources)}")
    return lines


def compile_predicates(preds: Sequence[Expr]) -> list[Callable[[Sequence[int]], bool]]:
    """One ``f(state) -> bool`` per predicate, compiled as one module."""
    lines: list[str] = []
    for k, p in enumerate(preds):
        lines.append(f"def p{k}(v):")
        lines.extend(f"    {line}" for line in _guard(p, "r", "t"))
        lines.append("    return r")
    lines.append(f"PREDS = [{', '.join(f'p{k}' for k in range(len(preds)))}]")
    fns: list[Callable[[Sequence[int]], bool]] = _build("PREDS", "\n".join(lines), {})
    return fns


def compile_checks(
    checks: Sequence[tuple[Site, Expr, tuple[Expr, ...]]], name: str = "check"
) -> Callable[[Sequence[int], Sequence[int]], list[Fire]]:
    """``f(before, after) -> fired`` for state invariants: a check fires on the step where
    its predicate goes from true to false (so a broken state is reported once)."""
    em = _Emitter()
    em.line(0, f"def {name}(p, v):")
    em.line(1, "out = []")
    for site, pred, args in checks:
        now, before = to_python(pred, "v"), to_python(pred, "p")
        vals = "".join(f"{to_python(a, 'v')}, " for a in args)
        em.line(1, f"if not {now} and {before}:")
        em.line(2, f"out.append(({em.site(site)}, ({vals})))")
    em.line(1, "return out")
    fn: Callable[[Sequence[int], Sequence[int]], list[Fire]] = _build(
        name, "\n".join(em.lines), {"S": em.sites})
    return fn


def compile_selector(
    guards: Sequence[Expr], name: str = "enabled"
) -> Callable[[Sequence[int]], list[int]]:
    """``f(state) -> indices`` of the guards that hold, in order. Equal guards are
    evaluated once."""
    em = _Emitter()
    em.line(0, f"def {name}(v):")
    em.line(1, "r = []")
    # consecutive indices that share a guard form a group; equal guards are evaluated once.
    # Small guards are compared by structure, large ones (symbolic DAGs) by identity only.
    def key(g: Expr) -> object:
        return g if unfolded_size(g, PLAIN_LIMIT + 1) <= PLAIN_LIMIT else id(g)

    groups: list[tuple[Expr, list[int]]] = []
    for i, g in enumerate(guards):
        if groups and key(groups[-1][0]) == key(g):
            groups[-1][1].append(i)
        else:
            groups.append((g, [i]))
    distinct: list[Expr] = []
    index: dict[object, int] = {}
    for g, _ in groups:
        if key(g) not in index:
            index[key(g)] = len(distinct)
            distinct.append(g)
    for k, g in enumerate(distinct):
        for line in _guard(g, f"g{k}", f"t{k}_"):
            em.line(1, line)
    for g, idx in groups:
        add = f"r.append({idx[0]})" if len(idx) == 1 else f"r.extend({tuple(idx)!r})"
        em.line(1, f"if g{index[key(g)]}: {add}")
    em.line(1, "return r")
    fn: Callable[[Sequence[int]], list[int]] = _build(name, "\n".join(em.lines), {})
    return fn
