"""What an engine is asked, and what it answers.

A ``Problem`` is one model (exporter, importer styles, kernel profile, scope), an exploration
mode, a depth and the DSL properties to check on it. Every engine answers the same
questions about it:

* the **rules**: any violation the model reports on a step (in contract mode every one is
  the exporter's fault; in misuse mode they say which misuse has which consequence);
* each ``always`` property: its predicate holds in every reachable state;
* each ``sometimes`` property: some reachable state satisfies it (a witness);
* each response property (``after T: forall a ...: E before D``): after a successful ``T``,
  no ``D`` on a pending object before a successful ``E`` on it.

A response property is checked through a ``Monitor``: one pending flag per object it
quantifies over, with updates written as model expressions. The concrete engines evaluate
them and the symbolic engines encode them, so a response has a single meaning too.

The answers are ``Verdict`` values; a failing one carries a ``Counterexample``: the actions
from the initial state, which the counterexample writer and replay turn into files.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from checker.dsl import ast
from checker.dsl.resolve import ResolvedCheck, ResolvedProperty, StateExpr
from model import expr as mx
from model.action import Action
from model.behaviour import Exporter, Importer
from model.layout import AttRef, BufRef
from model.machine import Model

RULES = "rules"  # the name under which the model's own rule violations are reported


# ---------------------------------------------------------------- properties


@dataclass(frozen=True)
class Property:
    """A property as the engines see it: ``predicate`` for ``always`` and ``sometimes``,
    ``monitor`` for a response. ``where`` is the DSL text for reports."""

    name: str
    kind: str  # always | sometimes | response
    summary: str = ""
    predicate: mx.Expr | None = None
    monitor: Monitor | None = None
    where: str = ""  # "file:line:col" of the declaration
    # when an ``always`` property is exercised: some object is in its quantifier's domain
    antecedent: mx.Expr = mx.TRUE


def op_matches(pattern: str, op: str) -> bool:
    """A response pattern names an operation; it matches the operation and its
    ``_unlocked`` variant (the same kernel call taking the reservation lock itself)."""
    return op == pattern or op == f"{pattern}_unlocked"


@dataclass(frozen=True)
class Binding:
    """One object a response watches: the trigger's buffer, and the quantified attachment."""

    names: dict[str, str]  # pattern variable -> object name ("b0", "b0.a1")
    where: mx.Expr  # when a trigger arms it (over the state before the trigger)


class Monitor:
    """A response property over one model, as pending flags and their updates.

    For ground action ``k``: ``violated(k)`` is true when the action is a deadline on an
    armed binding (checked before the step's updates); ``next(k)`` gives each flag's new
    value: cleared by a successful event on the binding, set by a successful trigger on its
    buffer when ``where`` holds. Expressions range over the model's state before the step
    (``Var.index`` < layout size), the flags (``flags[j].index``) and ``ret``, the action's
    errno (``Outcome.errno``: the negative errno it returned, 0 when it succeeded, whatever
    value it returned).
    """

    def __init__(self, name: str, model: Model, trigger: tuple[str, str],
                 event: tuple[str, str], deadline: tuple[str, str],
                 binder: tuple[str, ast.Expr | None] | None,
                 lower: Callable[[ast.Expr, dict[str, BufRef | AttRef]], mx.Expr]) -> None:
        self.name = name
        self.trigger, self.event, self.deadline = trigger, event, deadline
        layout = model.layout
        self.bindings: list[Binding] = []
        for b in layout.buffers:
            if binder is None:
                self.bindings.append(Binding({trigger[1]: b.name}, mx.TRUE))
                continue
            var, cond = binder
            for a in b.atts:
                where = a.live if cond is None else a.live & lower(cond, {var: a})
                self.bindings.append(Binding({trigger[1]: b.name, var: a.name}, where))
        base = layout.size
        self.flags: tuple[mx.Var, ...] = tuple(
            mx.Var(f"{name}.pending[{','.join(bd.names.values())}]", base + j, 0, 1, "bool")
            for j, bd in enumerate(self.bindings))
        self.ret = mx.Var(f"{name}.ret", base + len(self.flags), -4095, 0, "int")
        self._next: list[tuple[mx.Expr, ...]] = []
        self._violated: list[mx.Expr] = []
        ok = self.ret.eq(0)
        for g in model.ground:
            act = g.action
            bad: list[mx.Expr] = []
            nxt: list[mx.Expr] = []
            for bd, flag in zip(self.bindings, self.flags, strict=True):
                if self._hits(deadline, act, bd):
                    bad.append(flag)
                value: mx.Expr = flag
                if self._hits(event, act, bd):
                    value = mx.ite(ok, mx.FALSE, value)
                if self._hits(trigger, act, bd):
                    value = mx.ite(ok & bd.where, mx.TRUE, value)
                nxt.append(value)
            self._next.append(tuple(nxt))
            self._violated.append(mx.or_(*bad))

    @staticmethod
    def _hits(pattern: tuple[str, str], act: Action, binding: Binding) -> bool:
        op, var = pattern
        return op_matches(op, act.name) and binding.names.get(var) == act.obj

    def initial(self) -> tuple[int, ...]:
        return (0,) * len(self.flags)

    def next(self, k: int) -> tuple[mx.Expr, ...]:
        return self._next[k]

    def violated(self, k: int) -> mx.Expr:
        return self._violated[k]

    def step(self, k: int, state: Sequence[int], pending: tuple[int, ...],
             ret: int) -> tuple[tuple[int, ...], bool]:
        """The concrete meaning: the new flags, and whether the step breaks the response
        (``ret``: the step's ``Outcome.errno``)."""
        values = (*state, *pending, ret)
        bad = bool(mx.evaluate(self._violated[k], values))
        return tuple(mx.evaluate(e, values) for e in self._next[k]), bad

    def armed(self, pending: tuple[int, ...]) -> list[dict[str, str]]:
        return [bd.names for bd, p in zip(self.bindings, pending, strict=True) if p]


# ---------------------------------------------------------------- the problem


@dataclass(frozen=True)
class Problem:
    """One engine run's question. ``exporter_ref`` and ``importer_refs`` say how a
    counterexample file names the behaviours (a DSL name, or ``"module:attr"`` for Python
    behaviours); ``imports`` are the spec files it must import to resolve them and the
    properties."""

    check: str
    model: Model
    mode: str = "contract"
    depth: int = 20
    properties: tuple[Property, ...] = ()
    exporter_ref: str = ""
    importer_refs: tuple[str, ...] = ()
    imports: tuple[str, ...] = ()
    where: str = ""  # "file:line:col" of the check

    def __post_init__(self) -> None:
        if not self.exporter_ref:
            object.__setattr__(self, "exporter_ref", self.model.exporter.name)
        if not self.importer_refs:
            object.__setattr__(self, "importer_refs",
                               tuple(i.name for i in self.model.importers))

    @property
    def exporter(self) -> Exporter:
        return self.model.exporter

    @property
    def importers(self) -> tuple[Importer, ...]:
        return self.model.importers

    def property(self, name: str) -> Property:
        for p in self.properties:
            if p.name == name:
                return p
        raise KeyError(name)


def engine_property(prop: ResolvedProperty, model: Model) -> Property:
    """A resolved DSL property lowered onto ``model``."""
    d = prop.decl
    where = str(d.span)
    if isinstance(d.body, ast.Response):
        r = d.body

        def lower(e: ast.Expr, bound: dict[str, BufRef | AttRef]) -> mx.Expr:
            return StateExpr(model.layout, bound).lower(e)

        binder = None if r.binder is None else (r.binder.var, r.binder.where)
        monitor = Monitor(d.name, model, (r.trigger.action, r.trigger.var),
                          (r.event.action, r.event.var), (r.deadline.action, r.deadline.var),
                          binder, lower)
        return Property(d.name, "response", d.summary, monitor=monitor, where=where)
    antecedent: mx.Expr = mx.TRUE
    if d.kind == "always" and isinstance(d.body, ast.Quantified) and d.body.kind == "forall":
        q = d.body
        domain = ast.Quantified("exists", q.var, q.collection, q.where, ast.BoolLit(True))
        antecedent = StateExpr(model.layout, {}).lower(domain)
    return Property(d.name, d.kind, d.summary, predicate=prop.predicate(model), where=where,
                    antecedent=antecedent)


def problems(check: ResolvedCheck) -> list[Problem]:
    """One problem per profile of a resolved ``check`` block. Its behaviours are named as
    the check names them: DSL names, or the ``"module:attr"`` references of Python
    behaviours."""
    out = []
    span = check.decl.span
    imports = () if span.path.startswith("<") else (span.path,)
    # how a counterexample names the behaviours: as the check wrote them, so that a Python
    # behaviour ("module:attr") is found again when the counterexample is replayed
    decl = check.decl
    exporter_ref = (decl.exporter_py.target if decl.exporter_py is not None
                    else check.exporter.name)
    importer_refs = ((decl.importers_py.target,) if decl.importers_py is not None
                     else tuple(i.name for i in check.importers))
    for profile in check.profiles:
        model = Model(check.exporter, check.importers, profile, check.scope)
        props = tuple(engine_property(p, model) for p in check.properties)
        name = check.decl.name if len(check.profiles) == 1 else f"{check.decl.name}[{profile}]"
        out.append(Problem(name, model, check.mode, check.depth, props,
                           exporter_ref=exporter_ref, importer_refs=importer_refs,
                           imports=imports, where=str(span)))
    return out


# ---------------------------------------------------------------- findings and verdicts


@dataclass(frozen=True)
class Finding:
    """What a counterexample shows: a rule violation the model reports (``prop`` is
    ``RULES``; ``rule`` and ``tag`` say which), or a property that fails (``prop`` names
    it)."""

    prop: str  # RULES for a rule violation, else the property's name
    rule: str = ""
    tag: str = ""

    def __str__(self) -> str:
        return f"{self.rule} {self.tag}" if self.prop == RULES else self.prop

    @property
    def slug(self) -> str:
        """A file-name stem: ``R18-access-after-move`` or the property's name."""
        return f"{self.rule}-{self.tag}" if self.prop == RULES else self.prop


@dataclass(frozen=True)
class Counterexample:
    """A trace from the initial state whose last step shows ``finding``."""

    problem: Problem
    finding: Finding
    actions: tuple[Action, ...]
    engine: str
    seed: int | None = None

    def canonical(self) -> str:
        """The trace in a canonical text form (what the file name's hash covers)."""
        p = self.problem
        head = [p.exporter_ref, *p.importer_refs, str(p.model.profile), str(p.model.scope),
                p.mode, str(self.finding)]
        return "\n".join([*head, *(str(a) for a in self.actions)]) + "\n"

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.canonical().encode()).hexdigest()[:8]

    @property
    def name(self) -> str:
        return f"{self.finding.slug}-{self.digest}"


class Status(enum.Enum):
    VIOLATED = "violated"  # a counterexample (always, rules, response)
    HOLDS = "holds"  # to the stated depth (bounded engines) or the budget (exploration)
    PROVED = "proved"  # for every depth
    WITNESSED = "witnessed"  # a sometimes property was reached
    UNWITNESSED = "unwitnessed"  # a sometimes property was not reached within the bound
    UNKNOWN = "unknown"  # the engine could not decide (timeout, solver unknown, budget)

    @property
    def failing(self) -> bool:
        return self in (Status.VIOLATED, Status.UNWITNESSED, Status.UNKNOWN)


@dataclass(frozen=True)
class Verdict:
    """One engine's answer for one property of one problem. ``depth`` is the bound the
    answer holds to (transitions), ``reason`` says why an answer is unknown or what was
    explored."""

    problem: Problem
    prop: str  # RULES or a property name
    status: Status
    engine: str
    depth: int | None = None
    counterexample: Counterexample | None = None
    reason: str = ""
    seconds: float = 0.0
    details: dict[str, object] = field(default_factory=dict)

    def __str__(self) -> str:
        bits = [f"{self.problem.check}: {self.prop}: {self.status.value}"]
        if self.depth is not None:
            bits.append(f"depth {self.depth}")
        if self.counterexample is not None:
            bits.append(f"{self.counterexample.finding} in {len(self.counterexample.actions)}"
                        " steps")
        if self.reason:
            bits.append(self.reason)
        return ", ".join(bits)


__all__ = [
    "RULES",
    "Binding",
    "Counterexample",
    "Finding",
    "Monitor",
    "Problem",
    "Property",
    "Status",
    "Verdict",
    "engine_property",
    "op_matches",
    "problems",
]
