"""Random syntax trees that the parser can produce, for round-trip tests, fuzzing and the
benchmark.

``TreeGen`` draws every choice from one function ``pick(lo, hi) -> int`` (both ends
included): ``random.Random(seed).randint`` for reproducible files, or a hypothesis ``draw``
(``checker/dsl`` tests wrap it in a strategy, which then shrinks). The first option of each
choice is the simplest one, so shrinking leads to small trees. Names are never keywords of the
grammar, and literals have the forms the lexer reads (tags ``a-b``, profiles, scopes ``2x3``,
durations ``30s``, errnos ``EBUSY`` stored without the minus).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import cache
from typing import TypeVar

from checker.dsl import ast
from checker.dsl.parser import MAX_INT, PARTIES, grammar

T = TypeVar("T")
Pick = Callable[[int, int], int]

PROFILES = ("v6.1", "v6.2-6.15", "v6.16+", "v7.x")
OUTCOMES = ("ok", "errno", "returns", "violates", "clean")
COMPARE = ("==", "!=", "<", "<=", ">", ">=")
BINARY = ("and", "or", "+", "-", *COMPARE)
# Names as specs write them, names that start with a keyword, and keywords (made names by a
# trailing underscore).
NAMES = ("buf", "att", "b0", "a0", "pin_count", "placement", "vmaps", "R13", "map", "attach",
         "dir", "TO_DEVICE", "EINVAL", "pins", "maps", "x", "_", "Z9", "order", "notes", "inx",
         "okay", "truest", "values2", "exporters", "if", "ops", "with")
TEXT = 'a b"\\#{}:-é\t\r→0'
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FIRST = "abcxyzABCXYZ_"
_REST = "abcxyz0189_XYZ"
_LOWER = "abcpqxyz"
_DIGITS = "0123456789"


@cache
def keywords() -> frozenset[str]:
    """The grammar's keywords: its plain-string terminals that look like names."""
    return frozenset(t.pattern.value for t in grammar().terminals
                     if t.pattern.type == "str" and _NAME.fullmatch(t.pattern.value))


class TreeGen:
    """Draws syntax trees; ``depth`` bounds the nesting of expressions and statements."""

    def __init__(self, pick: Pick, depth: int = 3) -> None:
        self.pick = pick
        self.depth = depth

    # ---------------------------------------------------------------- primitives

    def choice(self, options: Sequence[T]) -> T:
        return options[self.pick(0, len(options) - 1)]

    def flag(self) -> bool:
        return self.pick(0, 1) == 1

    def some(self, draw: Callable[[], T], most: int = 3, least: int = 0) -> tuple[T, ...]:
        return tuple(draw() for _ in range(self.pick(least, most)))

    def maybe(self, draw: Callable[[], str]) -> str:
        """A value, or the empty string (an optional setting left out)."""
        return draw() if self.flag() else ""

    def chars(self, alphabet: str, least: int, most: int) -> str:
        return "".join(self.choice(alphabet) for _ in range(self.pick(least, most)))

    def name(self) -> str:
        text = self.choice(NAMES) if self.flag() else self.choice(_FIRST) + self.chars(_REST, 0, 6)
        return text + "_" if text in keywords() else text

    def names(self, most: int = 3) -> tuple[str, ...]:
        return self.some(self.name, most, least=1)

    def tag(self) -> str:
        head = self.choice(_LOWER) + self.chars(_LOWER + _DIGITS, 0, 4)
        return head + "".join("-" + self.chars(_LOWER + _DIGITS, 1, 4)
                              for _ in range(self.pick(1, 2)))

    def text(self) -> str:
        return self.chars(TEXT, 0, 8) if self.flag() else self.choice(NAMES)

    def natural(self) -> int:
        return self.pick(0, 20) if self.pick(0, 5) else self.pick(0, MAX_INT - 1)

    def scope(self) -> str:
        head = f"{self.pick(0, 9)}x{self.pick(0, 9)}"
        if self.flag():
            return head
        names = [self.choice(("cpu", "size", "maps", "pins")) for _ in range(self.pick(1, 2))]
        return head + " with " + ", ".join(f"{n}={self.pick(1, 5)}" for n in dict.fromkeys(names))

    def profile(self) -> ast.ProfileRef:
        options = ((self.name(), self.flag()),) if self.flag() else ()
        return ast.ProfileRef(self.choice(PROFILES), options)

    # ---------------------------------------------------------------- expressions

    def ref(self) -> ast.Ref:
        return ast.Ref(self.names())

    def expr(self, depth: int | None = None) -> ast.Expr:
        depth = self.depth if depth is None else depth
        kind = self.pick(0, 3 if depth <= 0 else 8)
        sub = depth - 1
        match kind:
            case 0:
                return self.ref()
            case 1:
                return ast.IntLit(self.natural())
            case 2:
                return ast.BoolLit(self.flag())
            case 3:
                if not depth:
                    return ast.FuncCall(self.name(), ())
                return ast.FuncCall(self.name(), self.some(lambda: self.expr(sub)),
                                    kwargs=self.kwargs(sub))
            case 4 | 5:
                return ast.BinOp(self.choice(BINARY), self.expr(sub), self.expr(sub))
            case 6:
                return ast.Not(self.expr(sub))
            case 7:
                return ast.Neg(self.expr(sub))
        where = self.expr(sub) if self.flag() else None
        return ast.Quantified(self.choice(("forall", "exists")), self.name(), self.names(),
                              where, self.expr(sub))

    def kwargs(self, depth: int) -> tuple[tuple[str, ast.Expr], ...]:
        return self.some(lambda: (self.name(), self.expr(depth)), 2)

    def values(self) -> tuple[ast.Expr, ...]:
        return self.some(lambda: self.expr(1), 2)

    # ---------------------------------------------------------------- behaviours

    def stmt(self, depth: int | None = None) -> ast.Stmt:
        depth = self.depth if depth is None else depth
        match self.pick(0, 3 if depth <= 0 else 6):
            case 0:
                if self.flag():
                    return ast.CoreCall(self.name())
                return ast.CoreCall(self.name(), args=self.some(lambda: self.expr(1), 2),
                                    kwargs=self.kwargs(1))
            case 5:
                return ast.YieldStmt(self.name())
            case 6:
                return ast.ForStmt(self.name(), self.names(), self.block(depth - 1))
            case 1:
                return ast.AssignStmt(self.ref(), self.choice(("=", "+=", "-=")), self.expr(1))
            case 2:
                return ast.ReturnStmt(self.expr(1))
            case 3:
                severity = self.maybe(self.name)
                return ast.ReportStmt(self.name(), self.tag(), self.text(), self.values(),
                                      severity + "_" if severity in PARTIES else severity,
                                      self.maybe(lambda: self.choice(PARTIES)))
        return self.if_stmt(depth)

    def if_stmt(self, depth: int) -> ast.IfStmt:
        cond, then = self.expr(2), self.block(depth - 1)
        match self.pick(0, 2):
            case 0:
                return ast.IfStmt(cond, then)
            case 1:
                return ast.IfStmt(cond, then, self.block(depth - 1))
        chained = self.if_stmt(depth - 1) if depth > 1 else self.stmt(0)  # else if / else {x}
        return ast.IfStmt(cond, then, (chained,))

    def block(self, depth: int) -> tuple[ast.Stmt, ...]:
        return self.some(lambda: self.stmt(depth))

    def handler(self) -> ast.Handler:
        return ast.Handler(self.name(), self.block(self.depth - 1))

    def field(self) -> ast.FieldDecl:
        owner = self.choice(("buffer", "attachment"))
        if self.flag():
            return ast.FieldDecl(owner, self.name(), 0, 1, True, self.maybe(self.text))
        return ast.FieldDecl(owner, self.name(), self.natural(), self.natural(), False,
                             self.maybe(self.text))

    def routine(self) -> ast.RoutineDecl:
        return ast.RoutineDecl(self.choice(("setup", "ioctl", "teardown")), self.name(),
                               self.name(), self.block(self.depth - 1), self.maybe(self.text))

    def object(self) -> ast.ObjectDecl | None:
        if not self.flag():
            return None
        fields = tuple(ast.FieldDecl("object", f.name, f.lo, f.hi, f.is_bool, f.doc)
                       for f in self.some(self.field, 2))
        return ast.ObjectDecl(self.name(), fields, self.maybe(self.text))

    def invariant(self) -> ast.InvariantDecl:
        return ast.InvariantDecl(self.name(), self.tag(), self.text(), self.expr(),
                                 self.values(), self.maybe(self.name))

    def exporter(self) -> ast.ExporterDecl:
        return ast.ExporterDecl(
            self.name(), self.maybe(self.text), self.some(self.name, 4), self.some(self.field),
            self.some(self.name, 2), self.flag(), self.flag(), self.maybe(self.text),
            self.some(self.profile, 2), self.some(self.handler), self.some(self.invariant, 2),
            routines=self.some(self.routine, 2), cpu_coherent=self.flag())

    def importer(self) -> ast.ImporterDecl:
        return ast.ImporterDecl(
            self.name(), self.maybe(self.text), self.flag(), self.flag(), self.flag(),
            self.some(self.tag, 2), self.maybe(self.text), self.some(self.handler, 2),
            has_move_notify=self.flag(), routines=self.some(self.routine, 2),
            object=self.object(), profiles=self.some(self.profile, 2))

    # ---------------------------------------------------------------- scenarios

    def param(self) -> ast.Param:
        value: str | int = self.name() if self.flag() else self.pick(-1000, 1000)
        return ast.Param(self.name(), value)

    def outcome(self) -> ast.Outcome:
        match self.choice(OUTCOMES):
            case "errno":
                return ast.Outcome("errno", errno="E" + self.chars("ABINVALSUY", 1, 6))
            case "returns":
                value: str | int = self.name() if self.flag() else self.pick(0, 1 << 20)
                return ast.Outcome("returns", value=value)
            case "violates":
                return ast.Outcome("violates", rule=self.name(), tag=self.maybe(self.tag))
            case kind:
                return ast.Outcome(kind)

    def step(self) -> ast.Step:
        obj = self.name() + (f".{self.name()}" if self.flag() else "")
        action = ast.ActionCall(self.name(), obj, self.some(self.param))
        return ast.Step(action, self.some(self.outcome, 2))

    def scenario_item(self) -> ast.ScenarioItem:
        return ast.ExpectState(self.expr()) if self.pick(0, 3) == 3 else self.step()

    def python_ref(self) -> ast.PyRef | None:
        """A Python behaviour reference, one time in four (else None: names are used)."""
        return ast.PyRef(self.text()) if self.pick(0, 3) == 3 else None

    def scenario(self) -> ast.ScenarioDecl:
        exporter_py, importers_py = self.python_ref(), self.python_ref()
        return ast.ScenarioDecl(
            self.name(), self.maybe(self.text), self.profile() if self.flag() else None,
            self.maybe(self.scope), "" if exporter_py else self.maybe(self.name),
            () if importers_py else self.some(self.name, 2),
            self.maybe(self.name), self.some(self.scenario_item, 6),
            exporter_py=exporter_py, importers_py=importers_py)

    # ---------------------------------------------------------------- properties and checks

    def pattern(self) -> ast.Pattern:
        return ast.Pattern(self.name(), self.name())

    def property(self) -> ast.PropertyDecl:
        kind = self.choice(("always", "sometimes", "response"))
        body: ast.Expr | ast.Response
        if kind == "response":
            binder = None
            if self.flag():
                where = self.expr(1) if self.flag() else None
                binder = ast.Binder(self.name(), self.names(), where)
            body = ast.Response(self.pattern(), binder, self.pattern(), self.pattern())
        else:
            body = self.expr()
        return ast.PropertyDecl(self.name(), kind, body, self.maybe(self.text))

    def check(self) -> ast.CheckDecl:
        budget = f"{self.pick(0, 999)}{self.choice(('s', 'ms', 'm'))}"
        exporter_py, importers_py = self.python_ref(), self.python_ref()
        return ast.CheckDecl(
            self.name(), self.maybe(self.text), "" if exporter_py else self.maybe(self.name),
            () if importers_py else self.some(self.name, 2),
            self.maybe(self.name), self.some(self.profile, 2), self.maybe(self.scope),
            self.natural() if self.flag() else None, self.some(self.name, 2),
            self.some(self.natural, 2), budget if self.flag() else "", self.some(self.name, 2),
            exporter_py=exporter_py, importers_py=importers_py)

    # ---------------------------------------------------------------- files

    def item(self) -> ast.Item:
        match self.pick(0, 7):
            case 0:
                return ast.ImportDecl(self.text())
            case 1:
                return ast.ProfileDecl(self.profile())
            case 2:
                return ast.ScopeDecl(self.scope())
            case 3:
                return self.exporter()
            case 4:
                return self.importer()
            case 5:
                return self.scenario()
            case 6:
                return self.property()
        return self.check()

    def spec(self, items: int = 4, path: str = "<spec>") -> ast.SpecFile:
        """A file of up to ``items`` top-level items."""
        return ast.SpecFile(path, self.some(self.item, items))
