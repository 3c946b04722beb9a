"""Diagnostics: ``file:line:col: error[E###]: message``, the source line and a caret.

Every user mistake in a spec becomes a ``Diagnostic`` with a stable code; ``SpecError``
carries one or more of them. Syntax errors are translated from the parser's exceptions into
readable labels (no terminal names), with a catalogue of common mistakes (``SYNTAX``).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from checker.dsl.ast import Span


class CheckerError(Exception):
    """Root of dmabuf-check's own errors."""


@dataclass(frozen=True)
class Diagnostic:
    code: str
    span: Span
    message: str
    hint: str = ""

    def render(self, source: str | None = None) -> str:
        head = f"{self.span}: error[{self.code}]: {self.message}"
        lines = [head]
        if source is not None and self.span.line > 0:
            text = source.splitlines()[self.span.line - 1] if self.span.line <= len(
                source.splitlines()) else ""
            width = max(1, (self.span.end_col - self.span.col)
                        if self.span.end_line == self.span.line else len(text) - self.span.col + 1)
            gutter = f"{self.span.line:>4} | "
            lines.append(gutter + text)
            lines.append(" " * (len(gutter) + self.span.col - 1) + "^" * max(1, width))
        if self.hint:
            lines.append(f"  = help: {self.hint}")
        return "\n".join(lines)


class SpecError(CheckerError, ValueError):
    """One or more diagnostics about a spec."""

    def __init__(self, diagnostics: list[Diagnostic], sources: dict[str, str] | None = None
                 ) -> None:
        super().__init__("\n".join(d.render() for d in diagnostics))
        self.diagnostics = diagnostics
        self.sources = sources or {}

    def render(self) -> str:
        return "\n\n".join(d.render(self.sources.get(d.span.path)) for d in self.diagnostics)


def did_you_mean(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


# Terminal names as a person would write them.
_TERMINALS = {
    "LBRACE": "'{'", "RBRACE": "'}'", "LPAR": "'('", "RPAR": "')'", "COMMA": "','",
    "COLON": "':'", "DOT": "'.'", "EQUAL": "'='", "ASSIGN": "'=', '+=' or '-='",
    "COMPARE": "a comparison (==, !=, <, <=, >, >=)", "ADDOP": "'+' or '-'", "MINUS": "'-'",
    "NAME": "a name", "INT": "a number", "SIGNED_INT": "a number", "STRING": "a quoted string",
    "PROFILE": "a kernel profile (v6.1, v6.2-6.15, v6.16+, v7.x)",
    "SCOPE": "a scope such as 2x3", "TAG": "an obligation tag such as double-unmap",
    "ERRNO": "an errno such as -EBUSY", "DURATION": "a duration such as 30s",
    "__ANON_0": "'->'", "MORETHAN": "'>'", "LESSTHAN": "'<'", "$END": "the end of the file",
}


def _word(name: str) -> str:
    """A terminal as a person would write it: its text for keywords and punctuation."""
    if name in _TERMINALS:
        return _TERMINALS[name]
    from checker.dsl.parser import grammar

    try:
        pattern = grammar().get_terminal(name).pattern
    except KeyError:
        return name.lower()
    if pattern.type == "str":
        return f"'{pattern.value}'"
    return name.lower()


def _expected(names: Iterable[str]) -> str:
    words = sorted({_word(n) for n in names})
    if len(words) > 8:
        return "one of " + ", ".join(words[:8]) + ", ..."
    return " or ".join(words) if len(words) <= 2 else "one of " + ", ".join(words)


# Where each kind of mistake happens: lark recognises a mistake by the parser state it leaves,
# so every example is tried after each of these openings.
_IN_SCENARIO = ("scenario s { ", "scenario s { exporter x ", "scenario s { export(b0) ",
                "scenario s { export(b0) -> ok ", "scenario s { importers a, b ",
                "scenario s { mode misuse ", "scenario s { profile v6.1 ",
                "scenario s { scope 1x1 ", "scenario s { expect true ")
_IN_EXPORTER = ("exporter x { ", "exporter x { ops a ", "exporter x { ops a, b ",
                "exporter x { buffer a: bool ", "exporter x { modelled_on \"m\" ",
                "exporter x { on a { } ", "exporter x { fallible a ")
_IN_HANDLER = ("exporter x { on pin { ", "exporter x { ops pin on pin { ",
               "exporter x { on pin { buf.a = 1 ", "exporter x { on pin { if true { } ",
               "importer y { dynamic on move_notify { ")
_AT_TOP = ("", "profile v6.1 ", "scope 1x1 ", "import \"f\" ", "property q { always true } ",
           "scenario t { } ", "exporter z { } ")
_IN_PROPERTY = ("property p { always ", "property p { sometimes ",
                "property p \"s\" { always ", "property p { always b0.kref == 0 and ")


def _within(openings: tuple[str, ...], *bodies: str) -> list[str]:
    return [o + body for o in openings for body in bodies]


# The catalogue of common mistakes: (code, label, hint, examples that produce it).
SYNTAX: list[tuple[str, str, str, list[str]]] = [
    ("E010", "an action needs parentheses around its object",
     "write it as map(b0.a0, dir=TO_DEVICE)",
     _within(_IN_SCENARIO, "export b0 }", "map b0.a0 }")),
    ("E011", "missing '->' before the expected outcome",
     "write map(b0.a0, dir=TO_DEVICE) -> ok",
     _within(_IN_SCENARIO, "export(b0) ok }", "export(b0) -EINVAL }",
             "export(b0) violates R1 }")),
    ("E012", "an errno outcome is written with its minus sign",
     "write -> -EBUSY",
     _within(_IN_SCENARIO, "export(b0) -> EBUSY }", "export(b0) -> ok, EINVAL }")),
    ("E013", "use '==' to compare; '=' assigns",
     "write if buf.pins == 0 { ... }",
     _within(_IN_HANDLER, "if buf.pins = 0 { return 0 } } }", "if x = 0 { } } }",
             "if buf.a = 1 and true { } } }")),
    ("E014", "a field needs a type: 'buffer NAME: LO..HI' or 'buffer NAME: bool'",
     "write buffer pin_count: 0..8",
     _within(_IN_EXPORTER, "buffer pin_count }", "attachment mapped }",
             "buffer pin_count 0..8 }", "attachment mapped bool }")),
    ("E015", "a block is missing its closing '}'",
     "every '{' needs a matching '}'",
     [*_within(_IN_SCENARIO, "export(b0)", "export(b0) -> ok"),
      *_within(_IN_EXPORTER, "on pin { return 0 }", "buffer a: bool"),
      *_within(_IN_HANDLER, "return 0 }", "return 0"),
      "property p { always true", "check c { depth 3", "importer y { dynamic"]),
    ("E016", "a name is expected after the keyword",
     "write scenario NAME { ... }",
     _within(_AT_TOP, "scenario { }", "exporter { }", "importer { }", "property { always true }",
             "check { }")),
    ("E017", "a quantifier's body is written in parentheses after ':'",
     "write forall b in buffers: (b.kref >= 0)",
     [*_within(_IN_PROPERTY, "forall b in buffers: b.kref >= 0 }",
               "exists b in buffers: b.kref >= 0 }",
               "forall b in buffers where true: b.kref >= 0 }"),
      *_within(_IN_SCENARIO, "expect forall b in buffers: b.kref >= 0 }")]),
    ("E018", "a property starts with always, sometimes or after",
     "write property p { always EXPR }",
     _within(("property p { ", "property p \"s\" { "), "b0.kref == 0 }", "true }",
             "forall b in buffers: (true) }")),
    ("E019", "parameters are written key=value",
     "write map(b0.a0, dir=TO_DEVICE)",
     _within(_IN_SCENARIO, "map(b0.a0, TO_DEVICE) }", "attach(b0.a0, static) }",
             "sync(b0, 5) }")),
    ("E020", "returns takes a value: a number or a result's name; an error is its errno",
     "write -> returns 8192, -> returns POLLIN, or -> -EINVAL",
     _within(_IN_SCENARIO, "export(b0) -> returns -22 }", "export(b0) -> returns -EINVAL }",
             "export(b0) -> returns }", "export(b0) -> ok, returns \"x\" }")),
]


@cache
def _catalogue() -> list[tuple[str, Any, Any]]:
    """(code, parser state, token) of every catalogued example's error, computed once."""
    from checker.dsl.parser import grammar

    out = []
    for code, _, _, examples in SYNTAX:
        for text in examples:
            try:
                grammar().parse(text)
            except UnexpectedInput as ut:
                out.append((code, getattr(ut, "state", None), getattr(ut, "token", None)))
    return out


def _label(e: UnexpectedInput) -> tuple[str, str, str] | None:
    """The catalogue entry whose example stops the parser in the same state, preferring the
    same token, then the same kind of token (the way lark's match_examples decides)."""
    state, token = getattr(e, "state", None), getattr(e, "token", None)
    if state is None:
        return None
    same_state = [(code, t) for code, st, t in _catalogue() if st == state]
    choice = next((c for c, t in same_state if t is not None and t == token), None)
    if choice is None and token is not None:
        choice = next((c for c, t in same_state
                       if t is not None and getattr(t, "type", None) == token.type), None)
    if choice is None and same_state:
        choice = same_state[0][0]
    for c, label, hint, _ in SYNTAX:
        if c == choice:
            return c, label, hint
    return None


def syntax_error(e: UnexpectedInput, text: str, path: str) -> Diagnostic:
    line = getattr(e, "line", 0) or 0
    col = getattr(e, "column", 0) or 0
    if isinstance(e, UnexpectedEOF) or (isinstance(e, UnexpectedToken) and e.token.type == "$END"):
        lines = text.splitlines() or [""]
        line, col = len(lines), len(lines[-1]) + 1
    span = Span(path, line, col, line, col + 1)
    labelled = None if isinstance(e, UnexpectedCharacters) else _label(e)
    if labelled:
        code, label, hint = labelled
        return Diagnostic(code, span, label, hint)
    if isinstance(e, UnexpectedCharacters):
        pos = e.pos_in_stream or 0
        char = text[pos] if pos < len(text) else "?"
        return Diagnostic("E002", span, f"unexpected character {char!r}",
                          "names are letters, digits and '_'; strings use double quotes")
    if isinstance(e, UnexpectedToken):
        if e.token.type == "$END":
            return Diagnostic("E003", span, "unexpected end of file",
                              f"expected {_expected(e.expected)}")
        width = len(str(e.token)) or 1
        span = Span(path, line, col, line, col + width)
        return Diagnostic("E001", span, f"unexpected {str(e.token)!r}",
                          f"expected {_expected(e.expected)}")
    return Diagnostic("E003", span, "unexpected end of file", "")
