"""Text to syntax trees: the one place the grammar is loaded."""

from __future__ import annotations

import dataclasses
from functools import cache
from importlib import resources
from typing import Any

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedInput, VisitError
from lark.tree import Meta

from checker.dsl import ast
from checker.dsl.diagnostics import Diagnostic, SpecError, did_you_mean, syntax_error
from model.scope import BOUND_HELP, BOUNDS, MAX_COUNTER, check_bound


@cache
def grammar() -> Lark:
    text = resources.files("specs").joinpath("dmabuf.lark").read_text(encoding="utf-8")
    return Lark(text, parser="lalr", propagate_positions=True, strict=True,
                maybe_placeholders=False)


def parse(text: str, path: str = "<spec>") -> ast.SpecFile:
    """Parse one file. Raises ``SpecError`` (with a located diagnostic) on a syntax error."""
    try:
        tree = grammar().parse(text)
    except UnexpectedInput as e:
        raise SpecError([syntax_error(e, text, path)]) from None
    try:
        items = _Build(path).transform(tree)
    except VisitError as e:
        if isinstance(e.orig_exc, SpecError):
            raise e.orig_exc from None
        if isinstance(e.orig_exc, RecursionError):
            raise SpecError([_too_deep(path)]) from None
        raise
    except RecursionError:
        raise SpecError([_too_deep(path)]) from None
    assert isinstance(items, list)
    spec = ast.SpecFile(path, tuple(items), ast.Span(path, 1, 1, 1, 1))
    deep = _deepest(spec)
    if deep is not None:
        raise SpecError([deep])
    return spec


MAX_NESTING = 120  # syntax-tree levels: a chain of N 'and' terms is N levels deep


def _deepest(spec: ast.SpecFile) -> Diagnostic | None:
    """An E004 diagnostic at the first node nested more than ``MAX_NESTING`` levels deep
    (long flat chains such as ``a and b and c ...`` nest one level per term; every later
    pass walks the tree recursively), or None."""
    stack: list[tuple[object, int, ast.Span | None]] = [(spec, 0, None)]
    while stack:
        node, depth, where = stack.pop()
        if isinstance(node, tuple):
            stack.extend((c, depth, where) for c in reversed(node))
            continue
        if not dataclasses.is_dataclass(node) or isinstance(node, ast.Span | type):
            continue
        span = getattr(node, "span", None)
        here = span if isinstance(span, ast.Span) and span.line > 0 else where
        if depth > MAX_NESTING:
            at = here or ast.Span(spec.path, 1, 1, 1, 2)
            return Diagnostic("E004", at, f"this nests more than {MAX_NESTING} levels deep "
                              "(a chain of that many 'and', 'or' or '+' terms, or nested "
                              "blocks)", "split it into several properties, invariants or "
                              "conditions")
        for f in reversed(dataclasses.fields(node)):
            stack.append((getattr(node, f.name), depth + 1, here))
    return None


def _too_deep(path: str) -> Diagnostic:
    return Diagnostic("E004", ast.Span(path, 1, 1, 1, 2), "the file nests too deeply to read",
                      "split deeply nested conditions or expressions into smaller ones")


PARTIES = ("importer", "exporter", "core")


Args = tuple[tuple[ast.Expr, ...], tuple[tuple[str, ast.Expr], ...]]


def _split_args(children: list[Any]) -> Args:
    """Positional and keyword arguments of a call (kwarg nodes are (name, value) pairs)."""
    args = tuple(c for c in children if not isinstance(c, tuple))
    kwargs = tuple(c for c in children if isinstance(c, tuple))
    return args, kwargs


def _named(children: list[Any]) -> tuple[str, str, list[Any]]:
    """A declaration's name, its optional summary string, and the rest of its children."""
    name, rest = str(children[0]), children[1:]
    if rest and isinstance(rest[0], Token) and rest[0].type == "STRING":
        return name, _unquote(rest[0]), rest[1:]
    return name, "", rest


_EITHER = {"exporter": "exporter_py", "exporter_py": "exporter", "importers": "importers_py",
           "importers_py": "importers"}


def _setting(values: dict[str, Any], setting: tuple[str, Any]) -> None:
    """Record one ``key value`` setting; the last one written wins, and a behaviour given
    by name replaces one given as a Python reference (and the other way round)."""
    key, value = setting
    values.pop(_EITHER.get(key, ""), None)
    values[key] = value


MAX_INT = 10**9  # no counter, bound or depth is anywhere near this
MAX_PARAM = 2**64  # an operation's parameter: ioctl arguments are up to 64 bits wide
MAX_RESULT = 2**31  # a call's result (returns N) is a C int


def _int(tok: Token, path: str, limit: int = MAX_INT) -> int:
    """An integer literal, refused when it is too long to mean anything here."""
    text = str(tok)
    digits = text.lstrip("-")
    if len(digits) > len(str(limit)) or int(digits) >= limit:
        span = ast.Span(path, tok.line or 0, tok.column or 0, tok.end_line or 0,
                        tok.end_column or 0)
        raise SpecError([Diagnostic("E005", span, f"number {text[:12]}... is too large",
                                    f"numbers here are below {limit}")])
    return int(text)


def _unquote(token: str) -> str:
    body = token[1:-1]
    return body.replace('\\"', '"').replace("\\\\", "\\")


@v_args(meta=True, inline=True)
class _Build(Transformer[Token, Any]):
    """lark tree -> ast nodes. Rules are named after the grammar's."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path

    def _span(self, meta: Meta) -> ast.Span:
        if getattr(meta, "empty", True):
            return ast.Span(self.path, 0, 0, 0, 0)
        return ast.Span(self.path, meta.line, meta.column, meta.end_line, meta.end_column)

    def _tok(self, tok: Token) -> ast.Span:
        return ast.Span(self.path, tok.line or 0, tok.column or 0, tok.end_line or 0,
                        tok.end_column or 0)

    # file level
    @v_args(meta=True, inline=False)
    def start(self, meta: Meta, items: list[Any]) -> list[Any]:
        return items

    def import_decl(self, meta: Meta, path: Token) -> ast.ImportDecl:
        return ast.ImportDecl(_unquote(path), self._span(meta))

    def profile_decl(self, meta: Meta, ref: ast.ProfileRef) -> ast.ProfileDecl:
        return ast.ProfileDecl(ref, self._span(meta))

    def scope_decl(self, meta: Meta, scope: Token, *bounds: tuple[Token, Token]
                   ) -> ast.ScopeDecl:
        """``scope 2x3`` or ``scope 2x3 with size=4, cpu=3``: the text kept is the scope's
        canonical form (``model.scope.Scope.parse`` reads it)."""
        seen: dict[str, int] = {}
        for name, value in bounds:
            key, n = str(name), _int(value, self.path)
            if key not in BOUNDS:
                raise SpecError([Diagnostic(
                    "E113", self._tok(name), f"unknown scope bound '{key}'"
                    + did_you_mean(key, BOUNDS),
                    "bounds: " + ", ".join(f"{k} ({v})" for k, v in BOUND_HELP.items()))])
            try:
                check_bound(key, n)
            except ValueError as e:
                raise SpecError([Diagnostic("E113", self._tok(value), str(e),
                                            f"write {key}=N with N from 1 to {MAX_COUNTER}")]
                                ) from None
            if key in seen:
                raise SpecError([Diagnostic("E113", self._tok(name),
                                            f"scope bound '{key}' is given twice",
                                            "keep one of them")])
            seen[key] = n
        text = str(scope)
        if seen:
            text += " with " + ", ".join(f"{k}={v}" for k, v in seen.items())
        return ast.ScopeDecl(text, self._span(meta))

    def scope_bound(self, meta: Meta, name: Token, value: Token) -> tuple[Token, Token]:
        return (name, value)

    def profile_ref(self, meta: Meta, name: Token, *opt: Any) -> ast.ProfileRef:
        options = ((str(opt[0]), bool(opt[1])),) if opt else ()
        return ast.ProfileRef(str(name), options, self._span(meta))

    def true(self, meta: Meta) -> bool:
        return True

    def false(self, meta: Meta) -> bool:
        return False

    @v_args(meta=True, inline=False)
    def name_list(self, meta: Meta, names: list[Token]) -> tuple[str, ...]:
        return tuple(str(n) for n in names)

    # behaviours
    @v_args(meta=True, inline=False)
    def exporter(self, meta: Meta, children: list[Any]) -> ast.ExporterDecl:
        name, summary, rest = _named(children)
        values: dict[str, Any] = {"ops": (), "fields": [], "fallible": (), "handlers": [],
                                  "invariants": [], "profiles": (), "routines": []}
        for kind, value in rest:
            if kind in ("fields", "handlers", "invariants", "routines"):
                values[kind].append(value)
            else:
                values[kind] = value
        return ast.ExporterDecl(
            name, summary, values["ops"], tuple(values["fields"]), values["fallible"],
            values.get("cache_sgt_mapping", False), values.get("priv", True),
            values.get("modelled_on", ""), values["profiles"], tuple(values["handlers"]),
            tuple(values["invariants"]), self._span(meta), tuple(values["routines"]),
            values.get("cpu_coherent", False))

    @v_args(meta=True, inline=False)
    def routine_decl(self, meta: Meta, children: list[Any]) -> tuple[str, Any]:
        kind, name, target, rest = children[0], str(children[1]), str(children[2]), children[3:]
        summary = ""
        if isinstance(rest[0], Token):
            summary, rest = _unquote(rest[0]), rest[1:]
        return ("routines", ast.RoutineDecl(kind, name, target, rest[0], summary,
                                            self._span(meta)))

    def setup_routine(self, meta: Meta) -> str:
        return "setup"

    def ioctl_routine(self, meta: Meta) -> str:
        return "ioctl"

    def teardown_routine(self, meta: Meta) -> str:
        return "teardown"

    @v_args(meta=True, inline=False)
    def object_decl(self, meta: Meta, children: list[Any]) -> tuple[str, Any]:
        name, summary, fields = _named(children)
        return ("object", ast.ObjectDecl(name, tuple(fields), summary, self._span(meta)))

    def object_field(self, meta: Meta, name: Token, ty: tuple[int, int, bool],
                     *doc: Token) -> ast.FieldDecl:
        lo, hi, is_bool = ty
        text = _unquote(doc[0]) if doc else ""
        return ast.FieldDecl("object", str(name), lo, hi, is_bool, text, self._span(meta))

    def ops_decl(self, meta: Meta, names: tuple[str, ...]) -> tuple[str, Any]:
        return ("ops", names)

    def fallible_decl(self, meta: Meta, names: tuple[str, ...]) -> tuple[str, Any]:
        return ("fallible", names)

    def cache_decl(self, meta: Meta, value: bool) -> tuple[str, Any]:
        return ("cache_sgt_mapping", value)

    def coherent_decl(self, meta: Meta, value: bool) -> tuple[str, Any]:
        return ("cpu_coherent", value)

    def priv_decl(self, meta: Meta, value: bool) -> tuple[str, Any]:
        return ("priv", value)

    def modelled_decl(self, meta: Meta, text: Token) -> tuple[str, Any]:
        return ("modelled_on", _unquote(text))

    @v_args(meta=True, inline=False)
    def profiles_decl(self, meta: Meta, refs: list[ast.ProfileRef]) -> tuple[str, Any]:
        return ("profiles", tuple(refs))

    def buffer_owner(self, meta: Meta) -> str:
        return "buffer"

    def attachment_owner(self, meta: Meta) -> str:
        return "attachment"

    def bool_type(self, meta: Meta) -> tuple[int, int, bool]:
        return (0, 1, True)

    def range_type(self, meta: Meta, lo: Token, hi: Token) -> tuple[int, int, bool]:
        return (_int(lo, self.path), _int(hi, self.path), False)

    def field_decl(self, meta: Meta, owner: str, name: Token, ty: tuple[int, int, bool],
                   *doc: Token) -> tuple[str, Any]:
        lo, hi, is_bool = ty
        text = _unquote(doc[0]) if doc else ""
        return ("fields", ast.FieldDecl(owner, str(name), lo, hi, is_bool, text,
                                        self._span(meta)))

    def handler(self, meta: Meta, name: Token, body: tuple[ast.Stmt, ...]) -> tuple[str, Any]:
        return ("handlers", ast.Handler(str(name), body, self._span(meta)))

    @v_args(meta=True, inline=False)
    def value_list(self, meta: Meta, values: list[ast.Expr]) -> tuple[ast.Expr, ...]:
        return tuple(values)

    @v_args(meta=True, inline=False)
    def invariant_decl(self, meta: Meta, children: list[Any]) -> tuple[str, Any]:
        rule, tag, rest = str(children[0]), str(children[1]), children[2:]
        severity = ""
        if isinstance(rest[0], Token) and rest[0].type == "NAME":
            severity, rest = str(rest[0]), rest[1:]
        message, holds = _unquote(rest[0]), rest[1]
        values = rest[2] if len(rest) > 2 else ()
        return ("invariants", ast.InvariantDecl(rule, tag, message, holds, values, severity,
                                                self._span(meta)))

    @v_args(meta=True, inline=False)
    def importer(self, meta: Meta, children: list[Any]) -> ast.ImporterDecl:
        name, summary, rest = _named(children)
        values: dict[str, Any] = {"handlers": [], "routines": []}
        for kind, value in rest:
            if kind in ("handlers", "routines"):
                values[kind].append(value)
            else:
                values[kind] = value
        return ast.ImporterDecl(
            name, summary, values.get("dynamic", False), values.get("allow_peer2peer", False),
            values.get("revocable", True), values.get("ignores", ()),
            values.get("modelled_on", ""), tuple(values["handlers"]),
            values.get("has_move_notify", True), self._span(meta), tuple(values["routines"]),
            values.get("object"), values.get("profiles", ()))

    def static_kind(self, meta: Meta) -> tuple[str, Any]:
        return ("dynamic", False)

    def dynamic_kind(self, meta: Meta) -> tuple[str, Any]:
        return ("dynamic", True)

    def notify_decl(self, meta: Meta) -> tuple[str, Any]:
        return ("has_move_notify", False)

    def p2p_decl(self, meta: Meta, value: bool) -> tuple[str, Any]:
        return ("allow_peer2peer", value)

    def revocable_decl(self, meta: Meta, value: bool) -> tuple[str, Any]:
        return ("revocable", value)

    @v_args(meta=True, inline=False)
    def ignores_decl(self, meta: Meta, tags: list[Token]) -> tuple[str, Any]:
        return ("ignores", tuple(str(t) for t in tags))

    # statements
    @v_args(meta=True, inline=False)
    def block(self, meta: Meta, stmts: list[ast.Stmt]) -> tuple[ast.Stmt, ...]:
        return tuple(stmts)

    def if_stmt(self, meta: Meta, cond: ast.Expr, then: tuple[ast.Stmt, ...],
                *orelse: tuple[ast.Stmt, ...]) -> ast.IfStmt:
        return ast.IfStmt(cond, then, orelse[0] if orelse else (), self._span(meta))

    def else_clause(self, meta: Meta, body: Any) -> tuple[ast.Stmt, ...]:
        return body if isinstance(body, tuple) else (body,)

    def assign_stmt(self, meta: Meta, target: ast.Ref, op: Token, value: ast.Expr
                    ) -> ast.AssignStmt:
        return ast.AssignStmt(target, str(op), value, self._span(meta))

    def return_stmt(self, meta: Meta, value: ast.Expr) -> ast.ReturnStmt:
        return ast.ReturnStmt(value, self._span(meta))

    @v_args(meta=True, inline=False)
    def report_stmt(self, meta: Meta, children: list[Any]) -> ast.ReportStmt:
        rule, tag, rest = str(children[0]), str(children[1]), children[2:]
        words: list[str] = []
        while isinstance(rest[0], Token) and rest[0].type == "NAME":
            words, rest = [*words, str(rest[0])], rest[1:]
        parties = [w for w in words if w in PARTIES]
        severities = [w for w in words if w not in PARTIES]
        if len(parties) > 1 or len(severities) > 1:
            raise SpecError([Diagnostic(
                "E123", self._span(meta), f"report takes one severity and one party, got "
                f"{' '.join(words)}", "write report RULE tag [severity] [party] \"text\"")])
        party = parties[0] if parties else ""
        severity = severities[0] if severities else ""
        values = rest[1] if len(rest) > 1 else ()
        return ast.ReportStmt(rule, tag, _unquote(rest[0]), values, severity, party,
                              self._span(meta))

    @v_args(meta=True, inline=False)
    def core_call(self, meta: Meta, children: list[Any]) -> ast.CoreCall:
        args, kwargs = _split_args(children[1:])
        return ast.CoreCall(str(children[0]), self._span(meta), args, kwargs)

    def kwarg(self, meta: Meta, name: Token, value: ast.Expr) -> tuple[str, ast.Expr]:
        return (str(name), value)

    def yield_stmt(self, meta: Meta, label: Token) -> ast.YieldStmt:
        return ast.YieldStmt(str(label), self._span(meta))

    def for_stmt(self, meta: Meta, var: Token, coll: tuple[str, ...],
                 body: tuple[ast.Stmt, ...]) -> ast.ForStmt:
        return ast.ForStmt(str(var), coll, body, self._span(meta))

    # scenarios
    @v_args(meta=True, inline=False)
    def scenario(self, meta: Meta, children: list[Any]) -> ast.ScenarioDecl:
        name, summary, rest = _named(children)
        values: dict[str, Any] = {}
        body: list[ast.ScenarioItem] = []
        for child in rest:
            if isinstance(child, (ast.Step, ast.ExpectState)):
                body.append(child)
            elif isinstance(child, ast.ProfileDecl):
                values["profile"] = child.profile
            elif isinstance(child, ast.ScopeDecl):
                values["scope"] = child.scope
            else:
                _setting(values, child)
        return ast.ScenarioDecl(
            name, summary, values.get("profile"), values.get("scope", ""),
            values.get("exporter", ""), values.get("importers", ()), values.get("mode", ""),
            tuple(body), self._span(meta), exporter_py=values.get("exporter_py"),
            importers_py=values.get("importers_py"))

    def uses_exporter(self, meta: Meta, name: Token) -> tuple[str, Any]:
        return ("exporter", str(name))

    def uses_importers(self, meta: Meta, names: tuple[str, ...]) -> tuple[str, Any]:
        return ("importers", names)

    def python_exporter(self, meta: Meta, target: Token) -> tuple[str, Any]:
        return ("exporter_py", ast.PyRef(_unquote(target), self._tok(target)))

    def python_importers(self, meta: Meta, target: Token) -> tuple[str, Any]:
        return ("importers_py", ast.PyRef(_unquote(target), self._tok(target)))

    def mode_decl(self, meta: Meta, name: Token) -> tuple[str, Any]:
        return ("mode", str(name))

    @v_args(meta=True, inline=False)
    def step(self, meta: Meta, children: list[Any]) -> ast.Step:
        return ast.Step(children[0], tuple(children[1:]), self._span(meta))

    @v_args(meta=True, inline=False)
    def action(self, meta: Meta, children: list[Any]) -> ast.ActionCall:
        return ast.ActionCall(str(children[0]), children[1], tuple(children[2:]),
                              self._span(meta))

    @v_args(meta=True, inline=False)
    def object(self, meta: Meta, parts: list[Token]) -> str:
        return ".".join(str(p) for p in parts)

    def param(self, meta: Meta, name: Token, value: Token) -> ast.Param:
        v: str | int = (_int(value, self.path, MAX_PARAM) if value.type in ("INT", "SIGNED_INT")
                        else str(value))
        return ast.Param(str(name), v, self._span(meta))

    def ok_outcome(self, meta: Meta) -> ast.Outcome:
        return ast.Outcome("ok", span=self._span(meta))

    def clean_outcome(self, meta: Meta) -> ast.Outcome:
        return ast.Outcome("clean", span=self._span(meta))

    def errno_outcome(self, meta: Meta, errno: Token) -> ast.Outcome:
        return ast.Outcome("errno", errno=str(errno)[1:], span=self._span(meta))

    def returns_outcome(self, meta: Meta, value: Token) -> ast.Outcome:
        v: str | int = (_int(value, self.path, MAX_RESULT) if value.type == "INT"
                        else str(value))
        return ast.Outcome("returns", value=v, span=self._span(meta))

    def violation_outcome(self, meta: Meta, rule: Token, *tag: Token) -> ast.Outcome:
        return ast.Outcome("violates", rule=str(rule), tag=str(tag[0]) if tag else "",
                           span=self._span(meta))

    def expect_state(self, meta: Meta, expr: ast.Expr) -> ast.ExpectState:
        return ast.ExpectState(expr, self._span(meta))

    # properties
    @v_args(meta=True, inline=False)
    def property(self, meta: Meta, children: list[Any]) -> ast.PropertyDecl:
        name, summary, rest = _named(children)
        kind, body = rest[0]
        return ast.PropertyDecl(name, kind, body, summary, self._span(meta))

    def always(self, meta: Meta, expr: ast.Expr) -> tuple[str, Any]:
        return ("always", expr)

    def sometimes(self, meta: Meta, expr: ast.Expr) -> tuple[str, Any]:
        return ("sometimes", expr)

    @v_args(meta=True, inline=False)
    def response(self, meta: Meta, children: list[Any]) -> tuple[str, Any]:
        trigger, rest = children[0], children[1:]
        binder = rest[0] if isinstance(rest[0], ast.Binder) else None
        event, deadline = rest[-2], rest[-1]
        return ("response", ast.Response(trigger, binder, event, deadline, self._span(meta)))

    @v_args(meta=True, inline=False)
    def binders(self, meta: Meta, children: list[Any]) -> ast.Binder:
        where = children[2] if len(children) > 2 else None
        return ast.Binder(str(children[0]), children[1], where, self._span(meta))

    def pattern(self, meta: Meta, action: Token, var: Token) -> ast.Pattern:
        return ast.Pattern(str(action), str(var), self._span(meta))

    # checks
    @v_args(meta=True, inline=False)
    def check(self, meta: Meta, children: list[Any]) -> ast.CheckDecl:
        name, summary, rest = _named(children)
        values: dict[str, Any] = {}
        for child in rest:
            if isinstance(child, ast.ScopeDecl):
                values["scope"] = child.scope
            else:
                _setting(values, child)
        return ast.CheckDecl(
            name, summary, values.get("exporter", ""), values.get("importers", ()),
            values.get("mode", ""), values.get("profiles", ()), values.get("scope", ""),
            values.get("depth"), values.get("engines", ()), values.get("seeds", ()),
            values.get("budget", ""), values.get("properties", ()), self._span(meta),
            exporter_py=values.get("exporter_py"), importers_py=values.get("importers_py"))

    def depth_decl(self, meta: Meta, n: Token) -> tuple[str, Any]:
        return ("depth", _int(n, self.path))

    def engines_decl(self, meta: Meta, names: tuple[str, ...]) -> tuple[str, Any]:
        return ("engines", names)

    @v_args(meta=True, inline=False)
    def seeds_decl(self, meta: Meta, seeds: list[Token]) -> tuple[str, Any]:
        return ("seeds", tuple(_int(s, self.path) for s in seeds))

    def budget_decl(self, meta: Meta, d: Token) -> tuple[str, Any]:
        return ("budget", str(d))

    def properties_decl(self, meta: Meta, names: tuple[str, ...]) -> tuple[str, Any]:
        return ("properties", names)

    # expressions
    @v_args(meta=True, inline=False)
    def or_expr(self, meta: Meta, xs: list[ast.Expr]) -> ast.Expr:
        return self._chain("or", xs, meta)

    @v_args(meta=True, inline=False)
    def and_expr(self, meta: Meta, xs: list[ast.Expr]) -> ast.Expr:
        return self._chain("and", xs, meta)

    def _chain(self, op: str, xs: list[ast.Expr], meta: Meta) -> ast.Expr:
        out = xs[0]
        for x in xs[1:]:
            out = ast.BinOp(op, out, x, self._span(meta))
        return out

    def not_(self, meta: Meta, x: ast.Expr) -> ast.Not:
        return ast.Not(x, self._span(meta))

    def comparison(self, meta: Meta, left: ast.Expr, op: Token, right: ast.Expr) -> ast.BinOp:
        return ast.BinOp(str(op), left, right, self._span(meta))

    @v_args(meta=True, inline=False)
    def sum(self, meta: Meta, xs: list[Any]) -> ast.Expr:
        out: ast.Expr = xs[0]
        for op, x in zip(xs[1::2], xs[2::2], strict=True):
            out = ast.BinOp(str(op), out, x, self._span(meta))
        return out

    def neg(self, meta: Meta, x: ast.Expr) -> ast.Neg:
        return ast.Neg(x, self._span(meta))

    def int_lit(self, meta: Meta, tok: Token) -> ast.IntLit:
        return ast.IntLit(_int(tok, self.path), self._span(meta))

    def bool_lit(self, meta: Meta, value: bool) -> ast.BoolLit:
        return ast.BoolLit(value, self._span(meta))

    @v_args(meta=True, inline=False)
    def ref(self, meta: Meta, parts: list[Token]) -> ast.Ref:
        return ast.Ref(tuple(str(p) for p in parts), self._span(meta))

    @v_args(meta=True, inline=False)
    def func_call(self, meta: Meta, children: list[Any]) -> ast.FuncCall:
        args, kwargs = _split_args(children[1:])
        return ast.FuncCall(str(children[0]), args, self._span(meta), kwargs)

    @v_args(meta=True, inline=False)
    def quantified(self, meta: Meta, children: list[Any]) -> ast.Quantified:
        kind, var, coll = children[0], str(children[1]), children[2]
        where = children[3] if len(children) == 5 else None
        return ast.Quantified(kind, var, coll, where, children[-1], self._span(meta))

    def forall(self, meta: Meta) -> str:
        return "forall"

    def exists(self, meta: Meta) -> str:
        return "exists"

    @v_args(meta=True, inline=False)
    def collection(self, meta: Meta, parts: list[Token]) -> tuple[str, ...]:
        return tuple(str(p) for p in parts)


__all__ = ["SpecError", "Tree", "grammar", "parse"]
