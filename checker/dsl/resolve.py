"""Resolution: files and imports become a ``Library`` of checked declarations.

This pass runs after parsing and before anything executes. It follows imports, rejects
duplicates, lowers exporters and importers (``checker.dsl.lower``), and checks scenarios,
properties and checks against the model: operations, objects and parameters against the
model's action table, errnos, rule ids and obligation tags against the catalogue, state
names against the layout. Every mistake becomes a located diagnostic with a did-you-mean;
all of a file's mistakes are reported together.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from checker.dsl import ast, sources
from checker.dsl.diagnostics import Diagnostic, SpecError, did_you_mean
from checker.dsl.lower import check_exporter, check_importer, lower_exporter, lower_importer
from checker.dsl.parser import parse
from model import expr as mx
from model.action import Action
from model.behaviour import Exporter, Importer
from model.exporters import EXPORTERS
from model.importers import IMPORTERS
from model.kernel import DIRECTIONS, ERRNOS
from model.layout import ATT_NAMES, LIFE_NAMES, AttRef, BufRef, Layout, pinned_total
from model.machine import MODES, Model, ModelError
from model.ops import REGISTRY
from model.ops.registry import DESCRIPTOR, VALUE, result_names, returns_of
from model.plugin import PythonExporter, PythonImporter, as_exporter, as_importer
from model.profiles import PROFILES, Profile
from model.profiles import profile as lookup_profile
from model.program import Report, walk
from model.rules import RULES
from model.scope import Scope

ENGINES = ("hypothesis", "bmc", "prove")
MAX_DEPTH = 1000  # steps of a check (the explorer's runs, the BMC bound)
DEFAULT_PROFILE = "v6.16+"
STATE_CONSTANTS = {**{v.upper(): k for k, v in LIFE_NAMES.items()},
                   **{v.upper(): k for k, v in ATT_NAMES.items()}}
OBJECT = re.compile(r"b(\d+)(?:\.a(\d+))?")
RULE_ID = re.compile(r"R\d+|SCOPE")  # a violates outcome naming a rule; anything else is a property
_DOTTED = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*"
PYTHON_REF = re.compile(rf"({_DOTTED}):({_DOTTED})")
# the shipped model's modules: Python references into them run without --allow-python
TRUSTED_MODULES = ("model.mutants", "model.exporters", "model.importers")


def result_outcome_text(o: ast.Outcome) -> str:
    """A result outcome as written: ``ok``, ``-EINVAL``, ``returns POLLIN``."""
    return {"ok": "ok", "errno": f"-{o.errno}"}.get(o.kind, f"returns {o.value}")


def _shipped_exporters() -> dict[str, Exporter]:
    """The reference exporters and those written with their driver's code, by name."""
    from checker.dsl.library import shipped_exporters

    return {**EXPORTERS, **{x.name: x for x in shipped_exporters("drivers")}}


def _shipped_importers() -> dict[str, Importer]:
    """The importer styles and the driver-code importers, by name."""
    from checker.dsl.library import shipped_importers

    return {**IMPORTERS, **{i.name: i for i in shipped_importers("drivers")}}


# ---------------------------------------------------------------- resolved declarations


RESULT_KINDS = ("ok", "errno", "returns")  # the outcomes that fix a step's result


def expected_result(outcomes: Iterable[ast.Outcome], op: str) -> int | None:
    """The result a step's outcomes fix (checked by the resolver): ``ok`` is 0, an errno
    its negative value, ``returns`` its number or the value of its name among ``op``'s
    results; None when they fix none."""
    for o in outcomes:
        if o.kind == "ok":
            return 0
        if o.kind == "errno":
            return -ERRNOS[o.errno]
        if o.kind == "returns":
            return o.value if isinstance(o.value, int) else result_names(op)[o.value]
    return None


@dataclass(frozen=True)
class ResolvedStep:
    action: Action
    outcomes: tuple[ast.Outcome, ...]
    span: ast.Span


@dataclass(frozen=True)
class ResolvedExpect:
    expr: ast.Expr
    predicate: mx.Expr
    span: ast.Span
    text: str  # as written


@dataclass(frozen=True)
class ResolvedScenario:
    """A scenario checked against its model. ``properties`` are the properties its steps
    name in ``violates PROPERTY`` outcomes: the runner evaluates each of them at every
    step."""

    decl: ast.ScenarioDecl
    model: Model
    mode: str
    body: tuple[ResolvedStep | ResolvedExpect, ...]
    properties: tuple[ResolvedProperty, ...] = ()

    @property
    def name(self) -> str:
        return self.decl.name


@dataclass(frozen=True)
class ResolvedProperty:
    """A property, checked for names; ``predicate(model)`` lowers an ``always`` or
    ``sometimes`` body onto a model's layout."""

    decl: ast.PropertyDecl

    @property
    def name(self) -> str:
        return self.decl.name

    @property
    def kind(self) -> str:
        return self.decl.kind

    def predicate(self, model: Model) -> mx.Expr:
        body = self.decl.body
        if isinstance(body, ast.Response):
            raise TypeError(f"property {self.name} is a response, not a state predicate")
        return StateExpr(model.layout, {}).lower(body)


@dataclass(frozen=True)
class ResolvedCheck:
    decl: ast.CheckDecl
    exporter: Exporter
    importers: tuple[Importer, ...]
    mode: str
    profiles: tuple[Profile, ...]
    scope: Scope
    depth: int
    engines: tuple[str, ...]
    seeds: tuple[int, ...]
    budget_s: float
    properties: tuple[ResolvedProperty, ...]


@dataclass
class Library:
    """Everything the loaded files declare, checked."""

    exporters: dict[str, Exporter] = field(default_factory=lambda: dict(_shipped_exporters()))
    importers: dict[str, Importer] = field(default_factory=lambda: dict(_shipped_importers()))
    scenarios: dict[str, ResolvedScenario] = field(default_factory=dict)
    properties: dict[str, ResolvedProperty] = field(default_factory=dict)
    checks: dict[str, ResolvedCheck] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    files: list[ast.SpecFile] = field(default_factory=list)


# ---------------------------------------------------------------- state expressions


class StateExpr:
    """Expressions over a model state: ``b0.kref``, ``b0.a1.cached``, ``b0.x.pin_count``,
    quantifiers over ``buffers`` and ``b.attachments``, the functions ``refcount``, ``pins``,
    ``attachments`` and ``maps``, and constants (errnos, directions, ``RELEASED``...)."""

    def __init__(self, layout: Layout, bound: dict[str, BufRef | AttRef]) -> None:
        self.layout, self.bound = layout, bound

    def lower(self, e: ast.Expr) -> mx.Expr:
        if isinstance(e, ast.IntLit):
            return mx.Const(e.value)
        if isinstance(e, ast.BoolLit):
            return mx.TRUE if e.value else mx.FALSE
        if isinstance(e, ast.Neg):
            return mx.Const(0) - self.lower(e.operand)
        if isinstance(e, ast.Not):
            return ~self.lower(e.operand)
        if isinstance(e, ast.BinOp):
            x, y = self.lower(e.left), self.lower(e.right)
            table: dict[str, Callable[[mx.Expr, mx.Expr], mx.Expr]] = {
                "and": lambda p, q: p & q, "or": lambda p, q: p | q, "+": lambda p, q: p + q,
                "-": lambda p, q: p - q, "==": lambda p, q: p.eq(q),
                "!=": lambda p, q: p.ne(q), "<": lambda p, q: p < q,
                "<=": lambda p, q: p <= q, ">": lambda p, q: p > q, ">=": lambda p, q: p >= q}
            return table[e.op](x, y)
        if isinstance(e, ast.FuncCall):
            obj = self.obj(e.args[0])
            if e.name == "refcount":
                assert isinstance(obj, BufRef)
                return obj.refcount
            if e.name == "pins":
                assert isinstance(obj, BufRef)
                return pinned_total(obj)
            if e.name == "attachments":
                assert isinstance(obj, BufRef)
                return mx.total([a.live for a in obj.atts])
            assert isinstance(obj, AttRef)
            return mx.ite(obj.live, obj.maps, 0)
        if isinstance(e, ast.Quantified):
            items: list[BufRef | AttRef]
            if e.collection == ("buffers",):
                items = list(self.layout.buffers)
            else:
                owner = self.obj(ast.Ref(e.collection[:1]))
                assert isinstance(owner, BufRef)
                items = list(owner.atts)
            parts = []
            for item in items:
                inner = StateExpr(self.layout, {**self.bound, e.var: item})
                live = item.life.ne(0) if isinstance(item, BufRef) else item.st.ne(0)
                cond = live if e.where is None else live & inner.lower(e.where)
                body = inner.lower(e.body)
                parts.append(~cond | body if e.kind == "forall" else cond & body)
            return mx.all_(parts) if e.kind == "forall" else mx.any_(parts)
        assert isinstance(e, ast.Ref)
        return self.ref(e)

    def obj(self, e: ast.Expr) -> BufRef | AttRef:
        assert isinstance(e, ast.Ref)
        if e.parts[0] in self.bound:
            return self.bound[e.parts[0]]
        m = OBJECT.fullmatch(".".join(e.parts))
        assert m is not None
        b = self.layout.buffers[int(m.group(1))]
        return b.atts[int(m.group(2))] if m.group(2) is not None else b

    def ref(self, e: ast.Ref) -> mx.Expr:
        parts = e.parts
        if len(parts) == 1 and parts[0] not in self.bound:
            name = parts[0]
            if name in ERRNOS:
                return mx.Const(ERRNOS[name])
            if name in DIRECTIONS:
                return mx.Const(DIRECTIONS[name])
            return mx.Const(STATE_CONSTANTS[name])
        if parts[0] in self.bound:
            prefix = self.bound[parts[0]].name
            return self.layout.by_name[".".join((prefix, *parts[1:]))]
        return self.layout.by_name[".".join(parts)]


class _NameCheck:
    """Checks state expressions against a layout (or, for properties, against the core's
    field names), collecting diagnostics."""

    def __init__(self, layout: Layout | None, errors: list[Diagnostic]) -> None:
        self.layout, self.errors = layout, errors
        probe = layout or Layout(Scope(buffers=1, attachments=1, maps=1), 1)
        self.buf_fields = sorted({v.name.split(".", 1)[1] for v in probe.vars
                                  if v.name.startswith("b0.") and not v.name.startswith("b0.a")})
        self.att_fields = sorted({v.name.split(".", 2)[2] for v in probe.vars
                                  if v.name.startswith("b0.a0.")})

    def error(self, code: str, span: ast.Span, message: str, hint: str = "") -> None:
        self.errors.append(Diagnostic(code, span, message, hint))

    def expr(self, e: ast.Expr, bound: dict[str, str]) -> None:
        if isinstance(e, (ast.IntLit, ast.BoolLit)):
            return
        if isinstance(e, (ast.Neg, ast.Not)):
            self.expr(e.operand, bound)
        elif isinstance(e, ast.BinOp):
            self.expr(e.left, bound)
            self.expr(e.right, bound)
        elif isinstance(e, ast.FuncCall):
            kinds = {"refcount": "buffer", "pins": "buffer", "attachments": "buffer",
                     "maps": "attachment"}
            if e.name not in kinds:
                self.error("E109", e.span, f"unknown function '{e.name}'"
                           + did_you_mean(e.name, kinds),
                           "functions: " + ", ".join(f"{k}()" for k in kinds))
                return
            if len(e.args) != 1 or self.kind(e.args[0], bound) != kinds[e.name]:
                self.error("E109", e.span, f"{e.name}() takes one {kinds[e.name]}",
                           f"write {e.name}(b0)" if kinds[e.name] == "buffer"
                           else f"write {e.name}(b0.a0)")
        elif isinstance(e, ast.Quantified):
            if e.collection == ("buffers",):
                kind = "buffer"
            elif (len(e.collection) == 2 and e.collection[1] == "attachments"
                  and self.kind(ast.Ref(e.collection[:1], e.span), bound) == "buffer"):
                kind = "attachment"
            else:
                self.error("E108", e.span, f"cannot quantify over {'.'.join(e.collection)}",
                           "quantify over buffers or B.attachments")
                return
            inner = {**bound, e.var: kind}
            if e.where is not None:
                self.expr(e.where, inner)
            self.expr(e.body, inner)
        else:
            assert isinstance(e, ast.Ref)
            self.ref(e, bound)

    def kind(self, e: ast.Expr, bound: dict[str, str]) -> str:
        if not isinstance(e, ast.Ref):
            return "?"
        if len(e.parts) == 1 and e.parts[0] in bound:
            return bound[e.parts[0]]
        m = OBJECT.fullmatch(str(e))
        if m is None:
            return "?"
        return "attachment" if m.group(2) is not None else "buffer"

    def ref(self, e: ast.Ref, bound: dict[str, str]) -> None:
        parts = e.parts
        if len(parts) == 1 and parts[0] not in bound:
            name = parts[0]
            if name not in ERRNOS and name not in DIRECTIONS and name not in STATE_CONSTANTS:
                self.error("E108", e.span, f"unknown name '{name}'" + did_you_mean(
                    name, [*STATE_CONSTANTS, *DIRECTIONS, *ERRNOS]))
            return
        if parts[0] in bound:
            kind, rest = bound[parts[0]], parts[1:]
        else:
            m = OBJECT.fullmatch(".".join(parts[:2]))
            if m and m.group(2) is not None:
                kind, rest = "attachment", parts[2:]
            elif OBJECT.fullmatch(parts[0]):
                kind, rest = "buffer", parts[1:]
            else:
                self.error("E108", e.span, f"unknown name '{e}'",
                           "name a state variable like b0.kref or b0.a1.cached, or a "
                           "variable bound by forall/exists")
                return
            if self.layout is not None and ".".join(parts) not in self.layout.by_name:
                close = did_you_mean(str(e), self.layout.by_name)
                self.error("E108", e.span, f"no state variable '{e}'{close}",
                           f"the scope has {self.layout.scope.buffers} buffer(s) with "
                           f"{self.layout.scope.attachments} attachment slot(s) each")
            return
        field_name = ".".join(rest)
        known = self.buf_fields if kind == "buffer" else self.att_fields
        if field_name not in known and not field_name.startswith("x."):
            self.error("E108", e.span, f"unknown {kind} field '{field_name}'"
                       + did_you_mean(field_name, known),
                       f"{kind} fields: " + ", ".join(known) + ", and x.NAME for the "
                       "exporter's own")


# ---------------------------------------------------------------- the pass


@cache
def _tags(model: Model) -> frozenset[str]:
    out = {st.site.tag for g in model.ground for st in walk(g.program) if isinstance(st, Report)}
    out |= {inv.tag for inv in model.exporter.invariants}
    out |= {"release-once", "vmap-cache", "static-unpinned", "scope-bound", "counter-underflow"}
    return frozenset(out)


_MODELS: dict[tuple[object, ...], Model] = {}


def _model(exporter: Exporter, importers: tuple[Importer, ...], prof: Profile,
           scope: Scope) -> Model:
    key = (id(exporter), tuple(id(i) for i in importers), prof, scope)
    if key not in _MODELS:
        _MODELS[key] = Model(exporter, importers, prof, scope)
    return _MODELS[key]


class Resolver:
    """Resolves files into a library. ``roots`` are the directories imports may reach
    (``checker.dsl.sources``); ``allow_python`` lets ``"module:attr"`` references outside
    the shipped model import Python code."""

    def __init__(self, roots: Iterable[Path] = (), allow_python: bool = False) -> None:
        self.lib = Library()
        self.errors: list[Diagnostic] = []
        self._declared: dict[str, ast.Span] = {}
        self._broken: set[str] = set()  # behaviours with errors of their own, already reported
        self.roots = tuple(roots) or sources.project_roots(())
        self.allow_python = allow_python
        self._real: dict[str, str] = {}  # a file's real path -> the key it was loaded as

    def error(self, code: str, span: ast.Span, message: str, hint: str = "") -> None:
        self.errors.append(Diagnostic(code, span, message, hint))

    # files and imports
    def load(self, path: str, text: str | None = None, chain: tuple[str, ...] = (),
             span: ast.Span | None = None) -> None:
        """Load a file named on the command line (``span`` None) or imported at ``span``;
        ``text`` stands for the file's content when given."""
        key = str(Path(path))
        try:
            if span is not None:
                real = sources.check_import(key, self.roots)
            else:
                real = sources.real_key(key) if Path(key).exists() else key
            if real in chain:
                shown = [self._real.get(c, c) for c in chain]
                self.error("E114", span or ast.NOWHERE, "import cycle: "
                           + " -> ".join([*shown[chain.index(real):], key]),
                           "remove one of the imports")
                return
            if real in self._real:
                return  # the same file, reached through another path
            if text is None:
                text = sources.read_spec(key)
        except sources.SourceError as e:
            where = span or ast.Span(key, e.line, e.col, e.line, e.col + 1)
            self.error("E114", where, str(e),
                       "import paths are relative to the importing file; import \"core\" "
                       "names the shipped core properties" if span is not None else "")
            return
        self._real[real] = key
        self.lib.sources[key] = text
        try:
            spec = parse(text, key)
        except SpecError as e:
            self.errors.extend(e.diagnostics)
            return
        self.lib.files.append(spec)
        for item in spec.items:
            if isinstance(item, ast.ImportDecl):
                if sources.is_bare(item.path):
                    try:
                        target = str(sources.shipped_import(item.path))
                    except sources.SourceError as e:
                        self.error("E114", item.span, str(e))
                        continue
                else:
                    target = os.path.normpath(Path(key).parent / item.path)
                self.load(target, None, (*chain, real), item.span)
        self.declare(spec)

    def declare(self, spec: ast.SpecFile) -> None:
        defaults: dict[str, object] = {}
        for item in spec.items:
            if isinstance(item, ast.ProfileDecl):
                defaults["profile"] = item.profile
            elif isinstance(item, ast.ScopeDecl):
                defaults["scope"] = item
            elif isinstance(item, ast.ExporterDecl | ast.ImporterDecl):
                self.behaviour(item)
        for item in spec.items:
            if isinstance(item, ast.PropertyDecl) and self.unique("property", item.name,
                                                                   item.span):
                self.property(item)
        for item in spec.items:
            if isinstance(item, ast.ScenarioDecl) and self.unique("scenario", item.name,
                                                                   item.span):
                self.scenario(item, defaults)
            elif isinstance(item, ast.CheckDecl) and self.unique("check", item.name, item.span):
                self.check(item, defaults)

    def behaviour(self, item: ast.ExporterDecl | ast.ImporterDecl) -> None:
        if isinstance(item, ast.ExporterDecl):
            if self.unique("exporter", item.name, item.span):
                errors = check_exporter(item)
                self.errors.extend(errors)
                if errors:
                    self._broken.add(item.name)
                else:
                    self.lib.exporters[item.name] = lower_exporter(item)
        elif self.unique("importer", item.name, item.span):
            errors = check_importer(item)
            self.errors.extend(errors)
            if errors:
                self._broken.add(item.name)
            else:
                self.lib.importers[item.name] = lower_importer(item)

    def unique(self, kind: str, name: str, span: ast.Span) -> bool:
        key = f"{kind} {name}"
        if key in self._declared:
            self.error("E111", span, f"{kind} '{name}' is already declared at "
                       f"{self._declared[key]}", "rename one of them")
            return False
        if (kind == "exporter" and name in _shipped_exporters()) or (
                kind == "importer" and name in _shipped_importers()):
            if _is_shipped(span.path):
                return False  # the shipped definition itself, already in the library
            self.error("E111", span, f"{kind} '{name}' is a shipped {kind}'s name",
                       "choose another name")
            return False
        self._declared[key] = span
        return True

    def written(self, span: ast.Span) -> str:
        """The source text of a one-line span."""
        lines = self.lib.sources.get(span.path, "").splitlines()
        if not 0 < span.line <= len(lines):
            return ""
        return lines[span.line - 1][span.col - 1: span.end_col - 1 if span.end_line == span.line
                                    else None].strip()

    # settings
    def profile(self, ref: ast.ProfileRef) -> Profile | None:
        if ref.name not in PROFILES:
            self.error("E106", ref.span, f"unknown kernel profile '{ref.name}'"
                       + did_you_mean(ref.name, PROFILES), "profiles: " + ", ".join(PROFILES))
            return None
        prof = lookup_profile(ref.name)
        for key, value in ref.options:
            if key != "move_notify":
                self.error("E106", ref.span, f"unknown profile option '{key}'"
                           + did_you_mean(key, ["move_notify"]),
                           "the only option is move_notify = true|false")
                continue
            try:
                prof = prof.configured(move_notify=value)
            except ValueError as e:
                self.error("E106", ref.span, str(e))
        return prof

    def scope(self, text: str, span: ast.Span) -> Scope | None:
        try:
            return Scope.parse(text)
        except ValueError as e:
            self.error("E113", span, str(e))
            return None

    def exporter(self, name: str, span: ast.Span, where: str) -> Exporter | None:
        if not name:
            self.error("E104", span, f"{where} names no exporter",
                       f"add: exporter NAME (one of {', '.join(self.lib.exporters)})")
            return None
        if name in self._broken:
            return None
        if name not in self.lib.exporters:
            self.error("E104", span, f"unknown exporter '{name}'"
                       + did_you_mean(name, self.lib.exporters),
                       "exporters: " + ", ".join(self.lib.exporters))
            return None
        return self.lib.exporters[name]

    def importers(self, names: tuple[str, ...], span: ast.Span) -> tuple[Importer, ...] | None:
        if not names:
            return tuple(IMPORTERS.values())  # the reference styles: the same in every file
        out = []
        for n in names:
            if n in self._broken:
                return None
            if n not in self.lib.importers:
                self.error("E105", span, f"unknown importer '{n}'"
                           + did_you_mean(n, self.lib.importers),
                           "importers: " + ", ".join(self.lib.importers))
                return None
            out.append(self.lib.importers[n])
        return tuple(out)

    def mode(self, name: str, span: ast.Span, default: str) -> str:
        if not name:
            return default
        if name not in MODES:
            self.error("E116", span, f"unknown mode '{name}'" + did_you_mean(name, MODES),
                       "modes: contract, misuse")
            return default
        return name

    # scenarios
    def scenario(self, d: ast.ScenarioDecl, defaults: dict[str, object]) -> None:
        before = len(self.errors)
        ref = d.profile or defaults.get("profile") or ast.ProfileRef(DEFAULT_PROFILE)
        assert isinstance(ref, ast.ProfileRef)
        prof = self.profile(ref)
        exporter = (self.python_exporter(d.exporter_py) if d.exporter_py is not None
                    else self.exporter(d.exporter, d.span, f"scenario {d.name}"))
        importers = (self.python_importers(d.importers_py) if d.importers_py is not None
                     else self.importers(d.importers, d.span))
        mode = self.mode(d.mode, d.span, "misuse")
        scope_decl = defaults.get("scope")
        text = d.scope or (scope_decl.scope if isinstance(scope_decl, ast.ScopeDecl) else "")
        try:
            scope = self.scope(text, d.span) if text else _fitting_scope(d.body)
        except ValueError as e:
            self.error("E113", d.span, str(e), "name objects within the scope's limits")
            scope = None
        if prof is None or exporter is None or importers is None or scope is None:
            return
        if len(self.errors) > before:
            return
        model = self.model(exporter, importers, prof, scope,
                           d.importers_py or d.exporter_py or d.span)
        if model is None:
            return
        body: list[ResolvedStep | ResolvedExpect] = []
        named: dict[str, ResolvedProperty] = {}
        for item in d.body:
            if isinstance(item, ast.Step):
                action = self.action(item.action, model)
                named.update(self.outcomes(item.outcomes, model,
                                           None if action is None else action.name))
                if action is not None:
                    body.append(ResolvedStep(action, item.outcomes, item.span))
            else:
                _NameCheck(model.layout, self.errors).expr(item.expr, {})
                if len(self.errors) == before:
                    body.append(ResolvedExpect(item.expr, StateExpr(model.layout, {}).lower(
                        item.expr), item.span, self.written(item.span)))
        if len(self.errors) == before:
            self.lib.scenarios[d.name] = ResolvedScenario(d, model, mode, tuple(body),
                                                          tuple(named.values()))

    def model(self, exporter: Exporter, importers: tuple[Importer, ...], prof: Profile,
              scope: Scope, where: ast.PyRef | ast.Span) -> Model | None:
        """The model, or a diagnostic when the behaviours cannot make one (a Python
        behaviour with importer names used twice, or fields that do not fit)."""
        try:
            return _model(exporter, importers, prof, scope)
        except (ModelError, ValueError, TypeError) as e:
            span = where.span if isinstance(where, ast.PyRef) else where
            self.error("E126", span, f"these behaviours do not make a model: {e}",
                       "give each importer a distinct name and declare fields with valid "
                       "bounds")
            return None

    # Python behaviours
    def python(self, ref: ast.PyRef) -> object | None:
        """The object a ``"module:attr.path"`` reference names: the module imported, then
        each attribute followed (a mapping is indexed by key)."""
        m = PYTHON_REF.fullmatch(ref.target)
        if m is None:
            self.error("E124", ref.span, f"'{ref.target}' is not a Python reference",
                       'write "module.path:attribute.path", e.g. '
                       '"model.mutants:MUTANTS.double_unmap.exporter"')
            return None
        module, path = m.group(1), m.group(2).split(".")
        if not (self.allow_python or module in TRUSTED_MODULES):
            self.error("E140", ref.span, f"'{ref.target}' is Python code, which is run only "
                       "with --allow-python",
                       "pass --allow-python to import it (it runs with your permissions: "
                       "only for specs you trust); the shipped model's modules ("
                       + ", ".join(TRUSTED_MODULES) + ") need no flag")
            return None
        try:
            obj: object = importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name is not None and (module == e.name or module.startswith(e.name + ".")):
                self.error("E124", ref.span, f"no Python module named '{e.name}'",
                           "the module must be importable from this Python (installed, or "
                           "on PYTHONPATH); write its dotted name as in an import statement")
            else:
                self.error("E124", ref.span, f"importing module '{module}' failed: "
                           f"{type(e).__name__}: {e}",
                           f"fix the module; python3 -c 'import {module}' shows the traceback")
            return None
        except (Exception, SystemExit) as e:
            self.error("E124", ref.span, f"importing module '{module}' failed: "
                       f"{type(e).__name__}: {e}",
                       f"fix the module; python3 -c 'import {module}' shows the traceback")
            return None
        here = module
        for k, part in enumerate(path):
            sep = ":" if k == 0 else "."
            if isinstance(obj, Mapping):
                keys = [str(key) for key in obj]
                if part not in obj:
                    self.error("E125", ref.span, f"'{here}' has no key '{part}'"
                               + did_you_mean(part, keys),
                               "keys: " + ", ".join(keys[:8]) + (", ..." if len(keys) > 8
                                                                  else ""))
                    return None
                obj = obj[part]
            else:
                try:
                    obj = getattr(obj, part)
                except Exception:
                    names = [n for n in dir(obj) if not n.startswith("_")]
                    self.error("E125", ref.span, f"'{here}' has no attribute '{part}'"
                               + did_you_mean(part, names),
                               "check the spelling against the module's source")
                    return None
            here += sep + part
        return obj

    def python_exporter(self, ref: ast.PyRef) -> Exporter | None:
        obj = self.python(ref)
        if obj is None:
            return None
        try:
            x = _as_exporter(obj)
        except Exception as e:
            self.error("E126", ref.span, f"'{ref.target}' cannot be used as an exporter: "
                       f"{type(e).__name__}: {e}", "fix the class; it is instantiated "
                       "without arguments and adapted with model.plugin.as_exporter")
            return None
        if x is None:
            self.error("E126", ref.span, f"'{ref.target}' is {_kind(obj)}, not an exporter",
                       "name an Exporter (model.behaviour), or a PythonExporter subclass "
                       "or instance (model.plugin)")
        return x

    def python_importers(self, ref: ast.PyRef) -> tuple[Importer, ...] | None:
        obj = self.python(ref)
        if obj is None:
            return None
        many = isinstance(obj, Sequence) and not isinstance(obj, str)
        items: list[object] = list(obj) if isinstance(obj, Sequence) and many else [obj]
        out: list[Importer] = []
        for item in items:
            try:
                imp = _as_importer(item)
            except Exception as e:
                self.error("E126", ref.span, f"'{ref.target}' cannot be used as an importer: "
                           f"{type(e).__name__}: {e}", "fix the class; it is instantiated "
                           "without arguments and adapted with model.plugin.as_importer")
                return None
            if imp is None:
                what = f"holds {_kind(item)}" if many else f"is {_kind(item)}"
                self.error("E126", ref.span, f"'{ref.target}' {what}, not an importer",
                           "name an Importer (model.behaviour), a PythonImporter subclass "
                           "or instance (model.plugin), or a sequence of them")
                return None
            out.append(imp)
        if not out:
            self.error("E126", ref.span, f"'{ref.target}' is an empty sequence",
                       "a model needs at least one importer")
            return None
        return tuple(out)

    def action(self, a: ast.ActionCall, model: Model) -> Action | None:
        params = {p.name: p.value for p in a.params}
        action = Action.make(a.name, a.obj, **params)
        if action in set(model.actions):
            return action
        names = sorted({x.name for x in model.actions})
        if a.name not in names:
            spec = next((s for s in REGISTRY if s.name == a.name), None)
            if spec is None:
                self.error("E101", a.span, f"unknown operation '{a.name}'"
                           + did_you_mean(a.name, names),
                           "operations: " + ", ".join(names))
            else:
                self.error("E101", a.span, f"'{a.name}' does not exist here: "
                           + _why_unavailable(a.name, model),
                           f"{spec.kernel} ({', '.join(spec.rules)})")
            return None
        same = [x for x in model.actions if x.name == a.name]
        objects = sorted({x.obj for x in same})
        if a.obj not in objects:
            kind = "buffer" if "." not in objects[0] else "attachment"
            self.error("E102", a.span, f"'{a.name}' takes a {kind}; '{a.obj}' is not one of "
                       f"this scope's ({model.scope})" + did_you_mean(a.obj, objects),
                       f"{kind}s: " + ", ".join(objects[:6]) + (", ..." if len(objects) > 6
                                                                else ""))
            return None
        choices: dict[str, set[str]] = {}
        for x in same:
            if x.obj == a.obj:
                for k in _param_names(x):
                    choices.setdefault(k, set()).add(str(x.param(k)))
        for p in a.params:
            if p.name not in choices:
                self.error("E103", p.span, f"'{a.name}' has no parameter '{p.name}'"
                           + did_you_mean(p.name, choices),
                           "parameters: " + (", ".join(sorted(choices)) or "none"))
                return None
            if str(p.value) not in choices[p.name]:
                self.error("E103", p.span, f"'{p.name}={p.value}' is not a value '{a.name}' "
                           "takes" + did_you_mean(str(p.value), choices[p.name]),
                           f"{p.name}: " + ", ".join(sorted(choices[p.name])))
                return None
        missing = [k for k in choices if k not in params and k not in ("fault", "map")]
        self.error("E103", a.span, f"'{a.name}' needs " + ", ".join(
            f"{k}=..." for k in missing) if missing else f"'{a}' is not a possible call",
            "; ".join(f"{k}: {', '.join(sorted(v))}" for k, v in choices.items()))
        return None

    def outcomes(self, outcomes: Sequence[ast.Outcome], model: Model, op: str | None
                 ) -> dict[str, ResolvedProperty]:
        """Checks a step's outcomes (``op``: its operation, None when it did not resolve);
        returns the properties they name."""
        named: dict[str, ResolvedProperty] = {}
        results = [o for o in outcomes if o.kind in RESULT_KINDS]
        if len(results) > 1:
            first, second = (result_outcome_text(o) for o in results[:2])
            self.error("E129", results[1].span, f"a step has one result: '{first}' and "
                       f"'{second}' are two", "keep one: ok (0), an errno, or returns VALUE")
        for o in outcomes:
            if o.kind == "errno" and o.errno not in ERRNOS:
                self.error("E119", o.span, f"unknown errno '-{o.errno}'"
                           + did_you_mean(o.errno, ERRNOS), "errnos: " + ", ".join(ERRNOS))
            elif o.kind == "returns" and op is not None:
                self.returns(o, op)
            elif o.kind == "violates" and not RULE_ID.fullmatch(o.rule):
                prop = self.lib.properties.get(o.rule)
                if prop is None:
                    self.error("E127", o.span, f"unknown rule or property '{o.rule}'"
                               + did_you_mean(o.rule, [*self.lib.properties, *RULES]),
                               "rules are R1..R32; a property must be declared (property "
                               "NAME { always ... }) in this file or one it imports")
                elif prop.kind == "sometimes":
                    self.error("E128", o.span, f"'{o.rule}' is a sometimes property: no step "
                               "violates it", "name an always or response property, or a rule")
                elif o.tag:
                    self.error("E128", o.span, f"a property is named without a tag: "
                               f"'{o.tag}' belongs to rules", f"write violates {o.rule}")
                else:
                    named[o.rule] = prop
            elif o.kind == "violates":
                if o.rule not in RULES and o.rule != "SCOPE":
                    self.error("E107", o.span, f"unknown rule '{o.rule}'"
                               + did_you_mean(o.rule, RULES), "rules are R1..R32")
                elif o.tag and model.encodable and o.tag not in _tags(model):
                    # (a Python behaviour may report any tag: only its run knows them)
                    self.error("E118", o.span, f"no obligation '{o.tag}' in this model"
                               + did_you_mean(o.tag, _tags(model)),
                               "tags name what was broken, as violations print them")
        return named

    def returns(self, o: ast.Outcome, op: str) -> None:
        """A ``returns VALUE`` outcome: ``op`` must return a value, and a name must be one
        of its results."""
        kind, names = returns_of(op), result_names(op)
        if kind != VALUE:
            what = (f"'{op}' returns a descriptor, which the model does not number (its "
                    "result is 0, standing for the descriptor)" if kind == DESCRIPTOR
                    else f"'{op}' returns no value: it returns 0 or an errno")
            self.error("E129", o.span, what, "write ok (0) or the errno")
        elif isinstance(o.value, str) and o.value not in names:
            self.error("E129", o.span, f"unknown result '{o.value}' of '{op}'"
                       + did_you_mean(o.value, names),
                       f"{op} returns a number or one of " + ", ".join(names) if names
                       else f"{op} returns a number: write returns 0, returns 8192...")

    # properties
    def property(self, d: ast.PropertyDecl) -> None:
        before = len(self.errors)
        if isinstance(d.body, ast.Response):
            r = d.body
            ops = sorted({s.name for s in REGISTRY})
            for pat in (r.trigger, r.event, r.deadline):
                if pat.action not in ops:
                    self.error("E101", pat.span, f"unknown operation '{pat.action}'"
                               + did_you_mean(pat.action, ops))
            bound = {r.trigger.var}
            if r.binder is not None:
                if r.binder.collection != (r.trigger.var, "attachments"):
                    self.error("E108", r.binder.span, "a response quantifies over the "
                               f"trigger's attachments: write {r.trigger.var}.attachments")
                if r.binder.where is not None:
                    _NameCheck(None, self.errors).expr(r.binder.where,
                                                       {r.binder.var: "attachment"})
                bound.add(r.binder.var)
            for pat in (r.event, r.deadline):
                if pat.var not in bound:
                    self.error("E108", pat.span, f"'{pat.var}' is not bound here",
                               "use the trigger's variable or the forall variable")
        else:
            _NameCheck(None, self.errors).expr(d.body, {})
        if len(self.errors) == before:
            self.lib.properties[d.name] = ResolvedProperty(d)

    # checks
    def check(self, d: ast.CheckDecl, defaults: dict[str, object]) -> None:
        before = len(self.errors)
        exporter = (self.python_exporter(d.exporter_py) if d.exporter_py is not None
                    else self.exporter(d.exporter, d.span, f"check {d.name}"))
        importers = (self.python_importers(d.importers_py) if d.importers_py is not None
                     else self.importers(d.importers, d.span))
        mode = self.mode(d.mode, d.span, "contract")
        default = defaults.get("profile")
        refs = d.profiles or ((default,) if isinstance(default, ast.ProfileRef) else ())
        profiles = tuple(p for p in (self.profile(r) for r in refs) if p is not None) or (
            lookup_profile(DEFAULT_PROFILE),)
        scope_decl = defaults.get("scope")
        text = d.scope or (scope_decl.scope if isinstance(scope_decl, ast.ScopeDecl) else "2x3")
        scope = self.scope(text, d.span)
        for e in d.engines:
            if e not in ENGINES:
                self.error("E116", d.span, f"unknown engine '{e}'" + did_you_mean(e, ENGINES),
                           "engines: " + ", ".join(ENGINES))
        if d.depth is not None and not 1 <= d.depth <= MAX_DEPTH:
            self.error("E113", d.span, f"depth {d.depth}: a check explores 1 to {MAX_DEPTH} "
                       "steps", "write depth N with N at least 1 (leave it out for 20)")
        budget = _seconds(d.budget) if d.budget else 60.0
        if budget <= 0:
            self.error("E113", d.span, f"budget {d.budget}: a budget is more than 0",
                       "write budget 30s (leave it out for 60s)")
        props: list[ResolvedProperty] = []
        for name in d.properties or ("all",):
            if name == "all":
                props.extend(self.lib.properties.values())
            elif name == "rules":
                continue  # the model's rules: every check checks them
            elif name in self.lib.properties:
                props.append(self.lib.properties[name])
            else:
                self.error("E115", d.span, f"unknown property '{name}'"
                           + did_you_mean(name, self.lib.properties),
                           "declare it with property NAME { ... } or import its file "
                           "(properties all, or rules for the model's rules alone)")
        if len(self.errors) > before or exporter is None or importers is None or scope is None:
            return
        self.lib.checks[d.name] = ResolvedCheck(
            d, exporter, importers, mode, profiles, scope, d.depth or 20,
            d.engines or ENGINES, d.seeds or (0,), budget, tuple(props))


_ADAPTED: dict[int, tuple[object, object]] = {}  # id -> (Python behaviour, its adaptation)


def _adapted(obj: object, base: type, adapt: Callable[[Any], object]) -> object | None:
    """A ``base`` subclass or instance adapted once (so every load shares one behaviour,
    and one model); None when ``obj`` is neither."""
    is_class = isinstance(obj, type) and issubclass(obj, base)
    if not (is_class or isinstance(obj, base)):
        return None
    cached = _ADAPTED.get(id(obj))
    if cached is not None and cached[0] is obj:
        return cached[1]
    instance = obj() if isinstance(obj, type) else obj
    out = adapt(instance)
    _ADAPTED[id(obj)] = (obj, out)
    return out


def _as_exporter(obj: object) -> Exporter | None:
    """An ``Exporter`` as is, or a ``PythonExporter`` class or instance adapted."""
    if isinstance(obj, Exporter):
        return obj
    out = _adapted(obj, PythonExporter, as_exporter)
    return out if isinstance(out, Exporter) else None


def _as_importer(obj: object) -> Importer | None:
    """An ``Importer`` as is, or a ``PythonImporter`` class or instance adapted."""
    if isinstance(obj, Importer):
        return obj
    out = _adapted(obj, PythonImporter, as_importer)
    return out if isinstance(out, Importer) else None


def _kind(obj: object) -> str:
    """What a Python object is, for a message: 'a module', 'a class Foo', 'an int'."""
    import types

    if isinstance(obj, types.ModuleType):
        return f"the module {obj.__name__}"
    if isinstance(obj, type):
        return f"the class {obj.__qualname__}"
    name = type(obj).__name__
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


def _is_shipped(path: str) -> bool:
    """Whether ``path`` is a shipped behaviour file (specs/exporters, specs/importers,
    specs/drivers)."""
    root = Path(str(resources.files("specs"))).resolve()
    try:
        rel = Path(path).resolve().relative_to(root)
    except ValueError:
        return False
    return rel.parts[0] in ("exporters", "importers", "drivers")


def _param_names(action: Action) -> list[str]:
    """The parameters an action takes, the defaulted ones (``fault``) included."""
    return [k for k, _ in action.params] + [k for k in ("fault",) if k not in dict(
        action.params)]


def _why_unavailable(name: str, model: Model) -> str:
    if name in ("map_unlocked", "unmap_unlocked", "vmap_unlocked", "vunmap_unlocked"):
        return f"the _unlocked variants arrived in v6.2; this is {model.profile}"
    if name == "move":
        return f"exporter {model.exporter.name} has no move path"
    if name in ("attach", "dynamic_attach"):
        kind = "static" if name == "attach" else "dynamic"
        return f"none of this scenario's importers is {kind}"
    return f"not available with exporter {model.exporter.name} under {model.profile}"


def _fitting_scope(body: Iterable[ast.ScenarioItem]) -> Scope:
    """The smallest scope holding every object the steps name (at least 1x1)."""
    bufs, atts = 1, 1
    for item in body:
        names = [item.action.obj] if isinstance(item, ast.Step) else _objects(item.expr)
        for n in names:
            m = OBJECT.match(n)
            if m:
                bufs = max(bufs, int(m.group(1)) + 1)
                if m.group(2) is not None:
                    atts = max(atts, int(m.group(2)) + 1)
    return Scope(buffers=bufs, attachments=atts)


def _objects(e: object) -> list[str]:
    """The object names (``b0``, ``b0.a1``) an expression mentions."""
    if isinstance(e, ast.Ref):
        return [".".join(e.parts[:2])]
    if not dataclasses.is_dataclass(e):
        return []
    out: list[str] = []
    for f in dataclasses.fields(e):
        child = getattr(e, f.name)
        for c in child if isinstance(child, tuple) else (child,):
            out.extend(_objects(c))
    return out


def _seconds(text: str) -> float:
    m = re.fullmatch(r"(\d+)(ms|s|m)", text)
    assert m is not None
    n = int(m.group(1))
    return {"ms": n / 1000, "s": float(n), "m": 60.0 * n}[m.group(2)]


def load(paths: Iterable[str], *, allow_python: bool = False,
         roots: Iterable[str | Path] = ()) -> Library:
    """Load and resolve files (following their imports, which stay inside the files'
    project and ``roots``). Raises ``SpecError`` listing every mistake found."""
    paths = list(paths)
    r = Resolver(sources.project_roots([*paths, *roots]), allow_python)
    for p in paths:
        r.load(p)
    if r.errors:
        raise SpecError(r.errors, r.lib.sources)
    return r.lib


def load_text(text: str, path: str = "<spec>", *, allow_python: bool = False,
              roots: Iterable[str | Path] = ()) -> Library:
    """Resolve one file given as text (imports are read from disk relative to ``path``,
    inside the directory of ``path``, ``roots``, the current directory and the shipped
    specs)."""
    r = Resolver(sources.project_roots([Path(path).parent, *roots]), allow_python)
    r.load(path, text)
    if r.errors:
        raise SpecError(r.errors, r.lib.sources)
    return r.lib
