"""Programs: guarded updates over the state vector, the form every operation is written in.

A program is a tuple of statements: ``Assign`` (with the variable's declared bounds checked),
``If``, ``Report`` (a violation site), ``Block`` and ``Exit`` (a kernel function that returns
early: ``Exit`` leaves the innermost ``Block`` with its result, a negative errno or a value).
Programs are data; the concrete step compiles them to Python (``model.compile``) and
``symbolic`` turns them into one expression per state variable, per violation site and for
the result, which is what derived guards and the solver engines consume.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from model.expr import (
    BOOL,
    FALSE,
    TRUE,
    Const,
    Expr,
    ExprLike,
    Var,
    and_,
    ite,
    lift,
    not_,
    substitute,
)
from model.kernel import MAX_ERRNO
from model.violation import Party, Severity

MAX_RESULT = (1 << 31) - 1  # the largest value a call returns (a C int's)


@dataclass(frozen=True, slots=True)
class Site:
    """Where a violation can be reported: the rule, its cost, who is to blame, and the text.

    ``template`` is formatted with the values of the report's arguments, in order
    (``"unmap of attachment {0} with no outstanding map: maps was {1}"``).
    """

    rule: str
    severity: Severity
    party: Party
    objects: tuple[str, ...]
    template: str
    tag: str = ""  # a short name of the obligation, e.g. "double-put"; importer mutants
    # name the tags they ignore
    where: str = ""  # "file:line:col" of the driver code that made the call (routines)

    def message(self, args: tuple[int, ...]) -> str:
        return self.template.format(*args)


class Stmt:
    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Assign(Stmt):
    var: Var
    value: Expr


@dataclass(frozen=True, slots=True)
class If(Stmt):
    cond: Expr
    then: tuple[Stmt, ...]
    orelse: tuple[Stmt, ...] = ()


@dataclass(frozen=True, slots=True)
class Report(Stmt):
    site: Site
    args: tuple[Expr, ...] = ()


@dataclass(frozen=True, slots=True)
class Block(Stmt):
    """A kernel function body: ``Exit`` inside it stores the result in ``ret`` and leaves
    it."""

    ret: Var
    body: tuple[Stmt, ...]


@dataclass(frozen=True, slots=True)
class Exit(Stmt):
    value: Expr


@dataclass(frozen=True, slots=True)
class Extern(Stmt):
    """A call into plain Python at step time: ``fn(values, fired)`` may update the state
    and locals in ``values`` and append (site, args) to ``fired``. Only the concrete step
    can run it; ``symbolic`` refuses it, naming ``owner``."""

    owner: str
    fn: Callable[[list[int], list[tuple[Site, tuple[int, ...]]]], None]


class NotEncodable(Exception):
    """A behaviour written as a Python class: only the random explorer and replay can run
    it, not a symbolic engine."""


Program = tuple[Stmt, ...]


def bound_site(var: Var, over: bool = True) -> Site:
    """The site reported when an update would push ``var`` past its declared bounds: over
    the top is a limit of the check (raise the scope); below the bottom is an unbalanced
    decrement, a finding in its own right."""
    obj = var.name.rsplit(".", 1)[0]
    if over:
        return Site(
            "SCOPE", Severity.SCOPE, Party.MODEL, (obj,),
            f"{var.name} would become {{0}}, above its declared bound {var.hi}; the value is "
            "held at the bound (raise the scope to explore further)", "scope-bound")
    return Site(
        "SCOPE", Severity.SILENT, Party.MODEL, (obj,),
        f"{var.name} would drop to {{0}}, below {var.lo}: an unbalanced decrement (the value "
        "is held at the bound)", "counter-underflow")


def needs_bound_check(var: Var, value: Expr) -> bool:
    if var.type == BOOL:
        return False
    return not (isinstance(value, Const) and var.lo <= value.value <= var.hi)


# --------------------------------------------------------------------------- building


class Builder:
    """Collects statements; ``with b.when(cond):`` nests them under a condition.

    Locals are scratch variables numbered after the state; they start at 0 on every step
    and are dropped at its end.
    """

    def __init__(self, nstate: int) -> None:
        self._stack: list[list[Stmt]] = [[]]
        self._nstate = nstate
        self.locals: list[Var] = []

    # structure
    def emit(self, stmt: Stmt) -> None:
        self._stack[-1].append(stmt)

    @contextmanager
    def when(self, cond: ExprLike) -> Iterator[None]:
        self._stack.append([])
        try:
            yield
        finally:
            body = tuple(self._stack.pop())
        c = lift(cond)
        if body and c != FALSE:
            self.emit(If(c, body))

    @contextmanager
    def otherwise(self) -> Iterator[None]:
        """The else branch of the ``when`` just closed."""
        last = self._stack[-1][-1] if self._stack[-1] else None
        self._stack.append([])
        try:
            yield
        finally:
            body = tuple(self._stack.pop())
        if not isinstance(last, If) or last.orelse:
            raise RuntimeError("otherwise() must follow a when() block")
        self._stack[-1][-1] = If(last.cond, last.then, body)

    @contextmanager
    def block(self, name: str) -> Iterator[Var]:
        """A function body; yields the local that receives its result (a negative errno,
        0, or a value)."""
        ret = self.local(f"{name}.ret", -MAX_ERRNO, MAX_RESULT)
        self._stack.append([])
        try:
            yield ret
        finally:
            body = tuple(self._stack.pop())
        self.emit(Block(ret, body))

    # statements
    def set(self, var: Var, value: ExprLike) -> None:
        self.emit(Assign(var, lift(value)))

    def inc(self, var: Var, by: int = 1) -> None:
        self.set(var, var + by)

    def dec(self, var: Var, by: int = 1) -> None:
        self.set(var, var - by)

    def report(self, site: Site, *args: ExprLike) -> None:
        self.emit(Report(site, tuple(lift(a) for a in args)))

    def exit(self, result: ExprLike) -> None:
        self.emit(Exit(lift(result)))

    def local(self, name: str, lo: int = -4096, hi: int = 4096, type_: str = "int") -> Var:
        v = Var(f"local.{name}", self._nstate + len(self.locals), lo, hi, type_)
        self.locals.append(v)
        return v

    def program(self) -> Program:
        if len(self._stack) != 1:
            raise RuntimeError("unclosed block while building a program")
        return tuple(self._stack[0])


# --------------------------------------------------------------------------- symbolic


@dataclass
class Fired:
    """A violation site with the condition under which it fires and its argument values."""

    site: Site
    cond: Expr
    args: tuple[Expr, ...]


@dataclass
class Effect:
    """A program's meaning as expressions over the state it starts from."""

    next: list[Expr]
    fired: list[Fired] = field(default_factory=list)


def symbolic(program: Program, env: list[Expr]) -> Effect:
    """Execute ``program`` on expressions: ``env`` gives each state and local variable's
    starting value (locals should start at ``Const(0)``)."""
    effect = Effect(list(env))
    effect.next, _ = _run(program, effect, list(env), TRUE, [])
    return effect


def _run(
    stmts: tuple[Stmt, ...], eff: Effect, env: list[Expr], pc: Expr, exits: list[Var]
) -> tuple[list[Expr], Expr]:
    """Run ``stmts`` from ``env`` on the paths where ``pc`` holds.

    Returns the environment after them and the condition, relative to ``pc``, under which
    control reaches their end (false where an ``Exit`` left the enclosing block).
    """
    live: Expr = TRUE
    for st in stmts:
        if live == FALSE:
            break
        here = pc if live is TRUE else and_(pc, live)
        if isinstance(st, Assign):
            value = substitute(st.value, env)
            if needs_bound_check(st.var, value):
                over = value > st.var.hi
                under = value < st.var.lo
                if over != FALSE:
                    eff.fired.append(Fired(bound_site(st.var), and_(here, over), (value,)))
                if under != FALSE:
                    eff.fired.append(
                        Fired(bound_site(st.var, over=False), and_(here, under), (value,)))
                value = ite(over, st.var.hi, ite(under, st.var.lo, value))
            env[st.var.index] = ite(live, value, env[st.var.index])
        elif isinstance(st, If):
            cond = substitute(st.cond, env)
            t_env, t_live = _run(st.then, eff, list(env), and_(here, cond), exits)
            e_env, e_live = _run(st.orelse, eff, list(env), and_(here, not_(cond)), exits)
            for i, (t, e) in enumerate(zip(t_env, e_env, strict=False)):
                if t is e and t is env[i]:
                    continue  # untouched by either branch
                env[i] = ite(live, ite(cond, t, e), env[i])
            live = and_(live, ite(cond, t_live, e_live))
        elif isinstance(st, Report):
            args = tuple(substitute(a, env) for a in st.args)
            eff.fired.append(Fired(st.site, here, args))
        elif isinstance(st, Block):
            b_env, _ = _run(st.body, eff, list(env), here, [*exits, st.ret])
            for i, b in enumerate(b_env):
                if b is not env[i]:
                    env[i] = ite(live, b, env[i])
        elif isinstance(st, Exit):
            ret = exits[-1]
            env[ret.index] = ite(live, substitute(st.value, env), env[ret.index])
            live = FALSE
        elif isinstance(st, Extern):
            raise NotEncodable(
                f"{st.owner} is a Python class: it is not encodable; use the hypothesis "
                "engine or replay")
        else:  # pragma: no cover - the statement set is closed
            raise TypeError(f"unknown statement {st!r}")
    return env, live


def walk(stmts: tuple[Stmt, ...]) -> Iterator[Stmt]:
    """Every statement in a program, depth first."""
    for st in stmts:
        yield st
        if isinstance(st, If):
            yield from walk(st.then)
            yield from walk(st.orelse)
        elif isinstance(st, Block):
            yield from walk(st.body)


__all__ = [
    "Assign", "Block", "Builder", "Effect", "Exit", "Extern", "Fired", "If", "NotEncodable",
    "Program", "Report", "Site", "Stmt", "bound_site", "symbolic", "walk",
]
