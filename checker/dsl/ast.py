"""Typed syntax trees of the specification language.

Every node is a frozen dataclass with a ``span`` that takes no part in equality, so a tree
printed by the formatter and parsed again compares equal to the original. Nodes hold what
was written (names as text); the resolution pass (``checker.dsl.resolve``) checks them.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Span:
    """Where a node was written: 1-based lines and columns, end exclusive."""

    path: str
    line: int
    col: int
    end_line: int
    end_col: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}"


NOWHERE = Span("<built-in>", 0, 0, 0, 0)


def _span() -> Span:
    span: Span = field(default=NOWHERE, compare=False, repr=False)
    return span


# ---------------------------------------------------------------- expressions


@dataclass(frozen=True, slots=True)
class IntLit:
    value: int
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class BoolLit:
    value: bool
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Ref:
    """A dotted name: ``buf.pin_count``, ``a.dyn``, ``b0.a1.cached``, ``EINVAL``."""

    parts: tuple[str, ...]
    span: Span = _span()

    def __str__(self) -> str:
        return ".".join(self.parts)


@dataclass(frozen=True, slots=True)
class Neg:
    operand: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Not:
    operand: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class BinOp:
    """``op`` is one of + - == != < <= > >= and or."""

    op: str
    left: Expr
    right: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class FuncCall:
    """``name(args, key=value...)``: keyword arguments are for core calls in routines."""

    name: str
    args: tuple[Expr, ...]
    span: Span = _span()
    kwargs: tuple[tuple[str, Expr], ...] = ()


@dataclass(frozen=True, slots=True)
class Quantified:
    """``forall x in collection where cond: (body)`` (``kind`` is forall or exists)."""

    kind: str
    var: str
    collection: tuple[str, ...]
    where: Expr | None
    body: Expr
    span: Span = _span()


Expr = IntLit | BoolLit | Ref | Neg | Not | BinOp | FuncCall | Quantified


# ---------------------------------------------------------------- behaviour statements


@dataclass(frozen=True, slots=True)
class IfStmt:
    cond: Expr
    then: tuple[Stmt, ...]
    orelse: tuple[Stmt, ...] = ()
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class AssignStmt:
    """``target op value`` with ``op`` one of = += -=."""

    target: Ref
    op: str
    value: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class ReturnStmt:
    value: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class ReportStmt:
    """``report RULE tag [severity] [party] "message" [values ...]``; without a severity the
    rule's typical consequence is used, without a party the behaviour's own side is blamed
    (an exporter may blame the importer whose mistake it catches)."""

    rule: str
    tag: str
    message: str
    values: tuple[Expr, ...] = ()
    severity: str = ""
    party: str = ""
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class CoreCall:
    """A call into the core from a behaviour: move_notify(), moved(), lock(), unlock(),
    unmap_all(); in a routine, any core operation with its object and parameters
    (``map(att, dir=BIDIRECTIONAL)``)."""

    name: str
    span: Span = _span()
    args: tuple[Expr, ...] = ()
    kwargs: tuple[tuple[str, Expr], ...] = ()


@dataclass(frozen=True, slots=True)
class YieldStmt:
    """``yield LABEL``: other steps may run here; ``NAME(obj, at=LABEL)`` resumes."""

    label: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class ForStmt:
    """``for a in buf.attachments { ... }``: the body once per live attachment."""

    var: str
    collection: tuple[str, ...]
    body: tuple[Stmt, ...]
    span: Span = _span()


Stmt = IfStmt | AssignStmt | ReturnStmt | ReportStmt | CoreCall | YieldStmt | ForStmt


# ---------------------------------------------------------------- behaviours


@dataclass(frozen=True, slots=True)
class ProfileRef:
    """``v6.16+`` or ``v6.16+ with move_notify = true``."""

    name: str
    options: tuple[tuple[str, bool], ...] = ()
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class FieldDecl:
    owner: str  # buffer | attachment
    name: str
    lo: int
    hi: int
    is_bool: bool
    doc: str = ""
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Handler:
    name: str
    body: tuple[Stmt, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class InvariantDecl:
    """``invariant RULE tag [severity] "message": holds [values ...]``; the severity
    defaults to silent (a broken fact about the exporter's own state)."""

    rule: str
    tag: str
    message: str
    holds: Expr
    values: tuple[Expr, ...] = ()
    severity: str = ""
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class RoutineDecl:
    """``KIND routine NAME(TARGET) ["summary"] { ... }``: driver code that calls the core."""

    kind: str  # setup | ioctl | teardown
    name: str
    target: str  # buf | att
    body: tuple[Stmt, ...]
    summary: str = ""
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class ObjectDecl:
    """``object NAME ["summary"] { field: type ... }``: the importer's object per import."""

    name: str
    fields: tuple[FieldDecl, ...] = ()
    summary: str = ""
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class ExporterDecl:
    name: str
    summary: str = ""
    ops: tuple[str, ...] = ()
    fields: tuple[FieldDecl, ...] = ()
    fallible: tuple[str, ...] = ()
    cache_sgt_mapping: bool = False
    priv: bool = True
    modelled_on: str = ""
    profiles: tuple[ProfileRef, ...] = ()
    handlers: tuple[Handler, ...] = ()
    invariants: tuple[InvariantDecl, ...] = ()
    span: Span = _span()
    routines: tuple[RoutineDecl, ...] = ()
    cpu_coherent: bool = False  # begin/end_cpu_access owe no sync of the mappings (R21)


@dataclass(frozen=True, slots=True)
class ImporterDecl:
    name: str
    summary: str = ""
    dynamic: bool = False
    allow_peer2peer: bool = False
    revocable: bool = True
    ignores: tuple[str, ...] = ()
    modelled_on: str = ""
    handlers: tuple[Handler, ...] = ()
    has_move_notify: bool = True  # "no_move_notify": importer_ops without the callback (R7)
    span: Span = _span()
    routines: tuple[RoutineDecl, ...] = ()
    object: ObjectDecl | None = None
    profiles: tuple[ProfileRef, ...] = ()


# ---------------------------------------------------------------- scenarios


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    value: str | int
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class ActionCall:
    name: str
    obj: str
    params: tuple[Param, ...] = ()
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class PyRef:
    """A behaviour written in Python, named ``"module:attr.path"`` (``exporter "..."``,
    ``importers "..."``); the resolver imports the module and follows the path."""

    target: str
    span: Span = _span()

    def __str__(self) -> str:
        return self.target


@dataclass(frozen=True, slots=True)
class Outcome:
    """``ok`` (the call returns exactly 0), an errno (``-EBUSY``), ``returns VALUE`` (a
    number, or a name of the operation's results: ``returns POLLIN``), ``violates R13
    [tag]``, ``violates PROPERTY`` (the step breaks that property; ``rule`` holds its name)
    or ``clean`` (no violation)."""

    kind: str  # ok | errno | returns | violates | clean
    errno: str = ""
    value: int | str = 0  # returns: the number, or the name as written
    rule: str = ""
    tag: str = ""
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Step:
    action: ActionCall
    outcomes: tuple[Outcome, ...] = ()
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class ExpectState:
    expr: Expr
    span: Span = _span()


ScenarioItem = Step | ExpectState


@dataclass(frozen=True, slots=True)
class ScenarioDecl:
    name: str
    summary: str = ""
    profile: ProfileRef | None = None
    scope: str = ""
    exporter: str = ""
    importers: tuple[str, ...] = ()
    mode: str = ""
    body: tuple[ScenarioItem, ...] = ()
    span: Span = _span()
    exporter_py: PyRef | None = None  # exporter "module:attr" (instead of a name)
    importers_py: PyRef | None = None  # importers "module:attr" (instead of names)


# ---------------------------------------------------------------- properties and checks


@dataclass(frozen=True, slots=True)
class Pattern:
    """An action name applied to a bound variable: ``move(b)``."""

    action: str
    var: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Binder:
    var: str
    collection: tuple[str, ...]
    where: Expr | None = None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Response:
    """``after trigger: [forall x in c where p:] event before deadline``."""

    trigger: Pattern
    binder: Binder | None
    event: Pattern
    deadline: Pattern
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class PropertyDecl:
    name: str
    kind: str  # always | sometimes | response
    body: Expr | Response
    summary: str = ""
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class CheckDecl:
    name: str
    summary: str = ""
    exporter: str = ""
    importers: tuple[str, ...] = ()
    mode: str = ""
    profiles: tuple[ProfileRef, ...] = ()
    scope: str = ""
    depth: int | None = None
    engines: tuple[str, ...] = ()
    seeds: tuple[int, ...] = ()
    budget: str = ""
    properties: tuple[str, ...] = ()
    span: Span = _span()
    exporter_py: PyRef | None = None
    importers_py: PyRef | None = None


# ---------------------------------------------------------------- files


@dataclass(frozen=True, slots=True)
class ImportDecl:
    path: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class ProfileDecl:
    profile: ProfileRef
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class ScopeDecl:
    scope: str
    span: Span = _span()


Item = (ImportDecl | ProfileDecl | ScopeDecl | ExporterDecl | ImporterDecl | ScenarioDecl
        | PropertyDecl | CheckDecl)


@dataclass(frozen=True, slots=True)
class SpecFile:
    path: str
    items: tuple[Item, ...]
    span: Span = _span()

    def of(self, kind: type) -> list[Item]:
        return [i for i in self.items if isinstance(i, kind)]
