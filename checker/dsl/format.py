"""Canonical pretty-printer: syntax trees back to specification text.

``format_spec(tree)`` prints a whole file so that ``parse(format_spec(t)) == t`` (spans take
no part in equality) and formatting its own output changes nothing; ``format_node`` prints one
declaration, statement, expression or smaller piece. The style: two-space indentation, one
entry a line in a fixed order, a blank line between top-level items and between the parts of
an exporter (settings and fields, handlers, invariants), and only the parentheses the grammar's
precedence needs (or < and < not < comparison < + - < unary minus < atom). Comments are not
part of the tree and are not printed.
"""

from __future__ import annotations

from collections.abc import Iterable

from checker.dsl import ast

INDENT = "  "

Node = (ast.Item | ast.Expr | ast.Stmt | ast.ProfileRef | ast.FieldDecl | ast.Handler
        | ast.InvariantDecl | ast.Param | ast.ActionCall | ast.Outcome | ast.Step
        | ast.ExpectState | ast.Pattern | ast.Binder | ast.Response | ast.PyRef)


def format_spec(spec: ast.SpecFile) -> str:
    """The whole file: its items in order, separated by one blank line."""
    return "\n".join(format_node(item) + "\n" for item in spec.items)


def format_node(node: Node) -> str:
    """One node as text, without a final newline (several lines for declarations)."""
    match node:
        case (ast.IntLit() | ast.BoolLit() | ast.Ref() | ast.Neg() | ast.Not() | ast.BinOp()
              | ast.FuncCall() | ast.Quantified()):
            return format_expr(node)
        case (ast.IfStmt() | ast.AssignStmt() | ast.ReturnStmt() | ast.ReportStmt()
              | ast.CoreCall() | ast.YieldStmt() | ast.ForStmt()):
            return "\n".join(_stmt(node))
        case ast.RoutineDecl():
            return "\n".join(_routine(node))
        case ast.ObjectDecl():
            return "\n".join(_object(node))
        case ast.ImportDecl(path=path):
            return f"import {_quote(path)}"
        case ast.ProfileDecl(profile=ref):
            return f"profile {_profile(ref)}"
        case ast.ScopeDecl(scope=scope):
            return f"scope {scope}"
        case ast.ExporterDecl():
            return "\n".join(_exporter(node))
        case ast.ImporterDecl():
            return "\n".join(_importer(node))
        case ast.ScenarioDecl():
            return "\n".join(_scenario(node))
        case ast.PropertyDecl():
            return "\n".join(_property(node))
        case ast.CheckDecl():
            return "\n".join(_check(node))
        case ast.ProfileRef():
            return _profile(node)
        case ast.FieldDecl():
            return _field(node)
        case ast.Handler():
            return "\n".join(_handler(node))
        case ast.InvariantDecl():
            return _invariant(node)
        case ast.Param(name=name, value=value):
            return f"{name}={value}"
        case ast.ActionCall():
            return _action(node)
        case ast.Outcome():
            return _outcome(node)
        case ast.Step():
            return _step(node)
        case ast.ExpectState(expr=e):
            return f"expect {format_expr(e)}"
        case ast.Pattern(action=action, var=var):
            return f"{action}({var})"
        case ast.Binder():
            return _binder(node)
        case ast.Response():
            return _response(node)
        case ast.PyRef(target=target):
            return _quote(target)
    raise TypeError(f"not a syntax tree node: {node!r}")


# ---------------------------------------------------------------- expressions

# Precedence levels; an atom binds tightest.
_OR, _AND, _NOT, _COMPARE, _SUM, _NEG, _ATOM = range(1, 8)
_LEVEL = {"or": _OR, "and": _AND, "+": _SUM, "-": _SUM,
          **dict.fromkeys(("==", "!=", "<", "<=", ">", ">="), _COMPARE)}
# The least level each operand of a binary operator may have without parentheses: and/or and
# +/- are left-associative, comparisons do not chain.
_OPERANDS = {_OR: (_OR, _AND), _AND: (_AND, _NOT), _COMPARE: (_SUM, _SUM), _SUM: (_SUM, _NEG)}


def _level(e: ast.Expr) -> int:
    match e:
        case ast.BinOp(op=op):
            return _LEVEL[op]
        case ast.Not():
            return _NOT
        case ast.Neg():
            return _NEG
    return _ATOM


def _operand(e: ast.Expr, least: int) -> str:
    text = format_expr(e)
    return text if _level(e) >= least else f"({text})"


def format_expr(e: ast.Expr) -> str:
    """An expression with the fewest parentheses that parse back to the same tree."""
    match e:
        case ast.IntLit(value=value):
            return str(value)
        case ast.BoolLit(value=value):
            return _bool(value)
        case ast.Ref(parts=parts):
            return ".".join(parts)
        case ast.Neg(operand=x):
            return "-" + _operand(x, _ATOM)
        case ast.Not(operand=x):
            return "not " + _operand(x, _NOT)
        case ast.BinOp(op=op, left=left, right=right):
            lo, ro = _OPERANDS[_LEVEL[op]]
            return f"{_operand(left, lo)} {op} {_operand(right, ro)}"
        case ast.FuncCall(name=name, args=args, kwargs=kwargs):
            return f"{name}({_args(args, kwargs)})"
        case ast.Quantified(kind=kind, var=var, collection=coll, where=where, body=body):
            return f"{kind} {var} in {'.'.join(coll)}{_where(where)}: ({format_expr(body)})"
    raise TypeError(f"not an expression: {e!r}")


def _where(where: ast.Expr | None) -> str:
    return "" if where is None else f" where {format_expr(where)}"


def _values(values: tuple[ast.Expr, ...]) -> str:
    return f" values {_list(format_expr(v) for v in values)}" if values else ""


# ---------------------------------------------------------------- behaviours


def _stmt(s: ast.Stmt) -> list[str]:
    match s:
        case ast.IfStmt():
            return _if(s)
        case ast.AssignStmt(target=target, op=op, value=value):
            return [f"{format_expr(target)} {op} {format_expr(value)}"]
        case ast.ReturnStmt(value=value):
            return [f"return {format_expr(value)}"]
        case ast.ReportStmt():
            words = _words("report", s.rule, s.tag, s.severity, s.party, _quote(s.message))
            return [words + _values(s.values)]
        case ast.CoreCall(name=name, args=args, kwargs=kwargs):
            return [f"{name}({_args(args, kwargs)})"]
        case ast.YieldStmt(label=label):
            return [f"yield {label}"]
        case ast.ForStmt(var=var, collection=coll, body=body):
            return _braced(f"for {var} in {'.'.join(coll)}", _body(body))
    raise TypeError(f"not a statement: {s!r}")


def _args(args: tuple[ast.Expr, ...], kwargs: tuple[tuple[str, ast.Expr], ...]) -> str:
    return _list([*(format_expr(a) for a in args),
                  *(f"{k}={format_expr(v)}" for k, v in kwargs)])


def _routine(r: ast.RoutineDecl) -> list[str]:
    head = _words(r.kind, "routine", f"{r.name}({r.target})", _quote(r.summary) if r.summary
                  else "")
    return _braced(head, _body(r.body))


def _object(o: ast.ObjectDecl) -> list[str]:
    head = _words("object", o.name, _quote(o.summary) if o.summary else "")
    if not o.fields:
        return [head]
    fields = [f"{f.name}: {'bool' if f.is_bool else f'{f.lo}..{f.hi}'}"
              + (f" {_quote(f.doc)}" if f.doc else "") for f in o.fields]
    return _braced(head, fields)


def _if(s: ast.IfStmt) -> list[str]:
    lines = _braced(f"if {format_expr(s.cond)}", _body(s.then))
    match s.orelse:
        case ():
            pass
        case (ast.IfStmt() as chained,):
            rest = _if(chained)
            lines[-1] += " else " + rest[0]
            lines.extend(rest[1:])
        case _:
            lines[-1] += " else {"
            lines.extend([*_indent(_body(s.orelse)), "}"])
    return lines


def _body(stmts: tuple[ast.Stmt, ...]) -> list[str]:
    return [line for s in stmts for line in _stmt(s)]


def _handler(h: ast.Handler) -> list[str]:
    return _braced(f"on {h.name}", _body(h.body))


def _field(f: ast.FieldDecl) -> str:
    kind = "bool" if f.is_bool else f"{f.lo}..{f.hi}"
    return f"{f.owner} {f.name}: {kind}" + (f" {_quote(f.doc)}" if f.doc else "")


def _invariant(i: ast.InvariantDecl) -> str:
    head = _words("invariant", i.rule, i.tag, i.severity, _quote(i.message))
    return f"{head}: {format_expr(i.holds)}{_values(i.values)}"


def _exporter(x: ast.ExporterDecl) -> list[str]:
    settings = [
        *_setting("modelled_on", _quote(x.modelled_on) if x.modelled_on else ""),
        *_setting("ops", _list(x.ops)),
        *_setting("cache_sgt_mapping", "true" if x.cache_sgt_mapping else ""),
        *_setting("cpu_coherent", "true" if x.cpu_coherent else ""),
        *_setting("priv", "" if x.priv else "false"),
        *_setting("profiles", _list(_profile(p) for p in x.profiles)),
        *_setting("fallible", _list(x.fallible)),
        *(_field(f) for f in x.fields),
    ]
    handlers = [line for h in x.handlers for line in _handler(h)]
    invariants = [_invariant(i) for i in x.invariants]
    routines = [line for r in x.routines for line in _routine(r)]
    return _decl("exporter", x.name, x.summary, settings, handlers, invariants, routines)


def _importer(m: ast.ImporterDecl) -> list[str]:
    settings = [
        "dynamic" if m.dynamic else "static",
        *([] if m.has_move_notify else ["no_move_notify"]),
        *_setting("allow_peer2peer", "true" if m.allow_peer2peer else ""),
        *_setting("revocable", "" if m.revocable else "false"),
        *_setting("ignores", _list(m.ignores)),
        *_setting("modelled_on", _quote(m.modelled_on) if m.modelled_on else ""),
        *_setting("profiles", _list(_profile(p) for p in m.profiles)),
        *(_object(m.object) if m.object else []),
        *(line for h in m.handlers for line in _handler(h)),
    ]
    routines = [line for r in m.routines for line in _routine(r)]
    return _decl("importer", m.name, m.summary, settings, routines)


# ---------------------------------------------------------------- scenarios


def _action(a: ast.ActionCall) -> str:
    return f"{a.name}({_list([a.obj, *(format_node(p) for p in a.params)])})"


def _outcome(o: ast.Outcome) -> str:
    match o.kind:
        case "errno":
            return f"-{o.errno}"
        case "returns":
            return f"returns {o.value}"
        case "violates":
            return _words("violates", o.rule, o.tag)
    return o.kind


def _step(s: ast.Step) -> str:
    arrow = f" -> {_list(_outcome(o) for o in s.outcomes)}" if s.outcomes else ""
    return _action(s.action) + arrow


def _scenario(d: ast.ScenarioDecl) -> list[str]:
    lines = [
        *_setting("profile", _profile(d.profile) if d.profile else ""),
        *_setting("scope", d.scope),
        *_setting("exporter", _behaviour(d.exporter, d.exporter_py)),
        *_setting("importers", _behaviour(_list(d.importers), d.importers_py)),
        *_setting("mode", d.mode),
        *(format_node(item) for item in d.body),
    ]
    return _decl("scenario", d.name, d.summary, lines)


# ---------------------------------------------------------------- properties and checks


def _binder(b: ast.Binder) -> str:
    return f"forall {b.var} in {'.'.join(b.collection)}{_where(b.where)}:"


def _response(r: ast.Response) -> str:
    binder = f" {_binder(r.binder)}" if r.binder else ""
    return (f"after {format_node(r.trigger)}:{binder} {format_node(r.event)} before "
            f"{format_node(r.deadline)}")


def _property(p: ast.PropertyDecl) -> list[str]:
    if isinstance(p.body, ast.Response):
        text = _response(p.body)
    else:
        text = f"{p.kind} {format_expr(p.body)}"
    return _decl("property", p.name, p.summary, [text])


def _check(c: ast.CheckDecl) -> list[str]:
    lines = [
        *_setting("exporter", _behaviour(c.exporter, c.exporter_py)),
        *_setting("importers", _behaviour(_list(c.importers), c.importers_py)),
        *_setting("mode", c.mode),
        *_setting("profiles", _list(_profile(p) for p in c.profiles)),
        *_setting("scope", c.scope),
        *_setting("depth", "" if c.depth is None else str(c.depth)),
        *_setting("engines", _list(c.engines)),
        *_setting("seeds", _list(str(s) for s in c.seeds)),
        *_setting("budget", c.budget),
        *_setting("properties", _list(c.properties)),
    ]
    return _decl("check", c.name, c.summary, lines)


# ---------------------------------------------------------------- pieces


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _list(items: Iterable[str]) -> str:
    return ", ".join(items)


def _words(*words: str) -> str:
    """Words separated by spaces, leaving out the empty ones (optional parts not written)."""
    return " ".join(w for w in words if w)


def _behaviour(names: str, python: ast.PyRef | None) -> str:
    """Behaviour names as written, or a Python reference as a quoted string."""
    return _quote(python.target) if python is not None else names


def _profile(ref: ast.ProfileRef) -> str:
    return ref.name + "".join(f" with {k} = {_bool(v)}" for k, v in ref.options)


def _setting(keyword: str, value: str) -> list[str]:
    """``keyword value``, or nothing when the value is empty (the setting is not written)."""
    return [f"{keyword} {value}"] if value else []


def _braced(head: str, body: list[str]) -> list[str]:
    """``head { ... }`` with the body indented, or ``head { }`` when it is empty."""
    if not body:
        return [f"{head} {{ }}"]
    return [f"{head} {{", *_indent(body), "}"]


def _indent(lines: list[str]) -> list[str]:
    return [INDENT + line if line else "" for line in lines]


def _decl(keyword: str, name: str, summary: str, *groups: list[str]) -> list[str]:
    """A named declaration: its non-empty groups of lines, separated by a blank line."""
    body: list[str] = []
    for group in groups:
        if group and body:
            body.append("")
        body.extend(group)
    head = _words(keyword, name, _quote(summary) if summary else "")
    return _braced(head, body)
