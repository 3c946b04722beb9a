"""Routines: the driver's own code in a behaviour, checked and lowered to ``model.routine``.

A routine is written as statements over the core API::

    setup routine import(att) "drm_gem_prime_fd_to_handle" {
      r = get(buf)                         # dma_buf_get(fd)
      if r != 0 { return r }
      r = attach(buf)                      # the attachment is att
      if r != 0 { put(buf)  return r }
      r = map_unlocked(att, dir=BIDIRECTIONAL)
      if r != 0 { detach(att)  put(buf)  return r }
    }

Names: ``buf`` (the buffer), ``att`` and ``obj`` (in routines on an attachment slot: the
attachment and the importer object), locals (assigned before use; every call returns 0 or a
negative errno), errno and direction names. Calls: every core operation a driver can make
(``dma_buf_*`` and resv calls), with its object first and its parameters by keyword
(``dir=``, ``usage=``, ``flags=``); ``free(obj)`` and ``free(buf.FIELD)``; another routine of
the same behaviour (inlined; its ``return`` is the call's result). ``injected(NAME)`` is a
failure point of the driver's own (an allocation, a copy from userspace). ``for a in
buf.attachments { ... }`` runs once per live attachment. ``yield LABEL`` (at the top level of
a routine) lets every other step run there.

Every mistake is a located diagnostic (E130-E136); nothing here raises on user input.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from checker.dsl import ast
from checker.dsl.diagnostics import Diagnostic, did_you_mean
from checker.dsl.lower import BOOL, FUNCTIONS, INT, Scope_, _Checker, _Lower
from model import expr as mx
from model.action import DEFAULTS
from model.behaviour import Call
from model.kernel import DIRECTIONS, ERRNOS
from model.layout import AttRef, BufRef
from model.ops import REGISTRY
from model.routine import START, Frame, Routine, Segment

BUFFER, ATTACHMENT = "buf", "att"
TARGETS = {BUFFER: "buffer", ATTACHMENT: "attachment"}
# parameters a routine never writes: the model picks them (the failure injected, the
# importer making the call, the sg_table an unmap names)
IMPLICIT = ("fault", "importer", "slot")
ATTACHING = ("attach", "dynamic_attach")
SLOT_CALLS = ("unmap", "unmap_unlocked", "access", "read_pages")
EXPORTER_ONLY = ("export",)
# dma_resv_lock in driver code cannot fail; dma_resv_lock_interruptible can (-EINTR)
INTERRUPTIBLE = "lock_interruptible"


def _op(name: str) -> str:
    return "lock" if name == INTERRUPTIBLE else name


@cache
def _kernel_names() -> dict[str, str]:
    """Kernel function names (``dma_buf_map_attachment_unlocked``) to the calls written here."""
    out = {"dma_resv_lock_interruptible": INTERRUPTIBLE}
    for spec in REGISTRY:
        kernel = spec.kernel.split("(")[0]
        if spec.name in callable_ops() and kernel.isidentifier():
            out.setdefault(kernel, spec.name)
    return out


@cache
def callable_ops() -> dict[str, tuple[str, dict[str, tuple[str, ...]]]]:
    """The core operations driver code can call: name -> (target, parameter -> values)."""
    from model.behaviour import OPS, Exporter, Importer
    from model.ops.registry import Env
    from model.profiles import profile
    from model.scope import Scope

    x = Exporter("probe", "", frozenset(OPS), fallible=frozenset(OPS))
    out: dict[str, tuple[str, dict[str, tuple[str, ...]]]] = {}
    for name in ("v6.16+", "v6.1"):
        env = Env(profile(name), Scope(buffers=1, attachments=1, maps=2), x,
                  (Importer("static", "", False), Importer("dynamic", "", True)))
        for spec in REGISTRY:
            if spec.actor not in ("importer", "exporter") or spec.name in out:
                continue
            if spec.actor == "exporter" and spec.name not in EXPORTER_ONLY:
                continue
            if not spec.available(env):
                continue
            values: dict[str, list[str]] = {}
            for p in spec.params(env):
                for k, v in p.items():
                    if k not in IMPLICIT:
                        values.setdefault(k, [])
                        if str(v) not in values[k]:
                            values[k].append(str(v))
            out[spec.name] = ("buf" if spec.target == "buffer" else "att",
                              {k: tuple(v) for k, v in values.items()})
    out[INTERRUPTIBLE] = out["lock"]
    return out


@dataclass
class Owner:
    """What a routine may use of the behaviour that declares it."""

    kind: str  # exporter | importer
    name: str
    dynamic: bool = False
    has_object: bool = False
    object_fields: dict[str, ast.FieldDecl] = field(default_factory=dict)
    buffer_fields: dict[str, ast.FieldDecl] = field(default_factory=dict)
    routines: dict[str, ast.RoutineDecl] = field(default_factory=dict)


# ---------------------------------------------------------------- checking


class _RoutineChecker(_Checker):
    def __init__(self, owner: Owner, decl: ast.RoutineDecl) -> None:
        super().__init__()
        self.owner, self.decl = owner, decl
        self.locals: set[str] = set()
        self.segment_of: dict[str, int] = {}  # local -> segment where it was last assigned
        self.segment = 0
        self.points: set[str] = set()

    # names
    def ref(self, e: ast.Ref, env: Scope_, write: bool) -> str:
        parts = e.parts
        head = parts[0]
        if len(parts) == 1 and head in self.locals and not write:
            if self.segment_of.get(head, self.segment) != self.segment:
                self.error("E135", e.span, f"'{head}' was set before a yield and is read "
                           "after it: a routine's locals do not survive a yield",
                           "store the value in an object field (obj.FIELD) before the yield")
            return INT
        if len(parts) == 1 and head in ("buf", "att", "obj"):
            self.error("E132", e.span, f"'{head}' is an object, not a value",
                       f"read one of its fields: {head}.FIELD")
            return "?"
        if head == "obj":
            if not self.owner.has_object or self.decl.target != ATTACHMENT:
                self.error("E136", e.span, "'obj' is defined only in an importer's routines "
                           "on an attachment slot, with an object declared",
                           "declare: object NAME { FIELD: TYPE }")
                return "?"
            if len(parts) != 2 or parts[1] not in self.owner.object_fields:
                name = parts[1] if len(parts) > 1 else ""
                self.error("E108", e.span, f"unknown field '{name}' of obj"
                           + did_you_mean(name, self.owner.object_fields),
                           "declare it in the object: object NAME { FIELD: TYPE }")
                return "?"
            return BOOL if self.owner.object_fields[parts[1]].is_bool else INT
        if head == "att" and self.decl.target != ATTACHMENT:
            self.error("E132", e.span, "'att' is not defined in a routine on a buffer",
                       "write routine NAME(att) to run on an attachment slot")
            return "?"
        known = [*self.locals, *ERRNOS, *DIRECTIONS]
        if len(parts) == 1 and head not in ERRNOS and head not in DIRECTIONS:
            if write:
                self.locals.add(head)
                self.segment_of[head] = self.segment
                return INT
            self.error("E108", e.span, f"unknown name '{head}'" + did_you_mean(head, known),
                       "assign a local before reading it (r = map(att, dir=...))")
            return "?"
        return super().ref(e, env, write)

    def call(self, e: ast.FuncCall, env: Scope_) -> str:
        if e.name == "injected":
            if len(e.args) != 1 or not isinstance(e.args[0], ast.Ref) \
                    or len(e.args[0].parts) != 1:
                self.error("E131", e.span, "injected() in a routine names a failure point",
                           "write injected(alloc): this action may make 'alloc' fail")
                return BOOL
            self.points.add(e.args[0].parts[0])
            return BOOL
        if e.name in callable_ops() or e.name in self.owner.routines or e.name == "free":
            self.error("E131", e.span, f"{e.name}() is a call with effects; it cannot be part "
                       "of an expression", "write it as a statement: r = "
                       f"{e.name}(...) then use r")
            return INT
        return super().call(e, env)

    # statements
    def body(self, stmts: Iterable[ast.Stmt], env: Scope_, top: bool, loop: bool = False
             ) -> None:
        for st in stmts:
            if isinstance(st, ast.YieldStmt):
                if not top:
                    self.error("E135", st.span, "a yield inside a branch or a loop cannot be "
                               "encoded", "put the yield at the top level of the routine")
                self.segment += 1
            elif isinstance(st, ast.ForStmt):
                if st.collection != ("buf", "attachments"):
                    self.error("E134", st.span, f"cannot iterate over "
                               f"{'.'.join(st.collection)}: only a bounded collection",
                               "iterate over buf.attachments")
                inner = Scope_(env.owner, env.handler, env.has_att, False, env.buffer_fields,
                               env.attachment_fields, {**env.bound, st.var: "att"})
                self.body(st.body, inner, False, True)
            elif isinstance(st, ast.IfStmt):
                self.want(st.cond, env, BOOL)
                self.body(st.then, env, False, loop)
                self.body(st.orelse, env, False, loop)
            elif isinstance(st, ast.AssignStmt) and isinstance(st.value, ast.FuncCall) \
                    and st.value.name not in FUNCTIONS:
                self.effect(st.value.name, st.value.args, st.value.kwargs, st.value.span, env)
                self.ref(st.target, env, write=True)
            elif isinstance(st, ast.CoreCall):
                self.effect(st.name, st.args, st.kwargs, st.span, env)
            else:
                self.stmts([st], env)

    def effect(self, name: str, args: tuple[ast.Expr, ...],
               kwargs: tuple[tuple[str, ast.Expr], ...], span: ast.Span, env: Scope_) -> None:
        if name == "free":
            self.free(args, span)
            return
        if name in self.owner.routines:
            callee = self.owner.routines[name]
            if args or kwargs:
                self.error("E131", span, f"routine {name} takes no arguments: it runs on the "
                           "caller's objects", f"write {name}()")
            if callee.target == ATTACHMENT and self.decl.target != ATTACHMENT:
                self.error("E131", span, f"routine {name} runs on an attachment slot; "
                           f"{self.decl.name} runs on a buffer")
            return
        if name not in callable_ops():
            kernel = _kernel_names().get(name)
            if kernel:
                self.error("E130", span, f"'{name}' is written {kernel}() here",
                           f"write {kernel}(...): the object first, then its parameters by "
                           "keyword (README, \"Routines\")")
                return
            self.error("E130", span, f"'{name}' is not a core call driver code can make"
                       + did_you_mean(name, [*callable_ops(), *self.owner.routines, "free"]),
                       "calls: " + ", ".join(sorted(callable_ops())) + ", free, or a routine")
            return
        if name in EXPORTER_ONLY and self.owner.kind != "exporter":
            self.error("E130", span, f"{name}() is the exporter's call",
                       "only an exporter's routine exports a buffer")
        target, params = callable_ops()[name]
        if len(args) != 1:
            self.error("E131", span, f"{name}() takes one object ({target}) and keyword "
                       f"parameters, got {len(args)} positional argument(s)",
                       f"write {name}({target}"
                       + "".join(f", {k}=..." for k in params if k not in DEFAULTS)
                       + ")")
        elif name in ATTACHING:
            self.attaching(name, args[0], span)
        else:
            kind = self.object_kind(args[0], env)
            if isinstance(args[0], ast.Ref) and args[0].parts == ("att",) \
                    and self.decl.target != ATTACHMENT:
                self.error("E132", args[0].span, "'att' is not defined in a routine on a "
                           "buffer", "write routine NAME(att) to run on an attachment slot")
            elif not isinstance(args[0], ast.Ref) or kind == "?":
                self.error("E132", getattr(args[0], "span", span),
                           f"{name}() is called on '{_text(args[0])}', which is not an object",
                           f"pass {target}" + (" (or a for-loop variable)"
                                               if target == "att" else ""))
            elif kind != target:
                self.error("E131", getattr(args[0], "span", span),
                           f"{name}() takes {'a buffer' if target == 'buf' else 'an attachment'}"
                           f", not '{_text(args[0])}'", f"pass {target}")
        given = {k for k, _ in kwargs}
        for k, v in kwargs:
            if k not in params:
                self.error("E131", span, f"{name}() has no parameter '{k}'"
                           + did_you_mean(k, params),
                           "parameters: " + (", ".join(params) or "none"))
                continue
            text = _text(v)
            if text not in params[k]:
                self.error("E131", getattr(v, "span", span), f"{k}={text} is not a value of "
                           f"{name}()" + did_you_mean(text, params[k]),
                           "values: " + ", ".join(params[k]))
        for k in params:
            if k not in given and k not in DEFAULTS:
                self.error("E131", span, f"{name}() needs {k}=", "values: "
                           + ", ".join(params[k]))

    def attaching(self, name: str, arg: ast.Expr, span: ast.Span) -> None:
        if self.owner.kind != "importer" or self.decl.target != ATTACHMENT:
            self.error("E136", span, f"{name}() creates the attachment of an importer's routine "
                       "on an attachment slot", "write it in routine NAME(att) of an importer")
            return
        if not (isinstance(arg, ast.Ref) and arg.parts == ("buf",)):
            self.error("E131", span, f"{name}() takes the buffer: {name}(buf)")
        want = "dynamic_attach" if self.owner.dynamic else "attach"
        if name != want:
            self.error("E131", span, f"importer {self.owner.name} is "
                       f"{'dynamic' if self.owner.dynamic else 'static'}: it calls {want}()",
                       f"write {want}(buf), or declare the importer "
                       f"{'static' if self.owner.dynamic else 'dynamic'}")

    def free(self, args: tuple[ast.Expr, ...], span: ast.Span) -> None:
        arg = args[0] if len(args) == 1 else None
        if isinstance(arg, ast.Ref) and arg.parts == ("obj",):
            if not self.owner.has_object or self.decl.target != ATTACHMENT:
                self.error("E136", span, "free(obj) frees an importer object: only in an "
                           "importer's routine on an attachment slot, with an object declared")
            return
        if isinstance(arg, ast.Ref) and len(arg.parts) == 2 and arg.parts[0] == "buf" \
                and arg.parts[1] in self.owner.buffer_fields \
                and self.owner.kind == "exporter":
            return
        self.error("E131", span, "free() takes the importer object or an exporter field that "
                   "tracks storage", "write free(obj) or free(buf.FIELD)")


def _text(e: ast.Expr) -> str:
    if isinstance(e, ast.Ref):
        return str(e)
    if isinstance(e, ast.IntLit):
        return str(e.value)
    if isinstance(e, ast.Neg) and isinstance(e.operand, ast.IntLit):
        return f"-{e.operand.value}"
    return "?"


def check_routines(owner: Owner, decls: Iterable[ast.RoutineDecl]) -> list[Diagnostic]:
    """Every mistake in a behaviour's routines, located."""
    errors: list[Diagnostic] = []
    seen: dict[str, ast.RoutineDecl] = {}
    for d in decls:
        if d.name in seen:
            errors.append(Diagnostic("E111", d.span, f"routine '{d.name}' is written twice"))
        seen[d.name] = d
        if d.target not in TARGETS:
            errors.append(Diagnostic("E136", d.span, f"routine {d.name}({d.target}): a routine "
                                     "runs on a buffer or an attachment slot",
                                     "write routine NAME(buf) or routine NAME(att)"))
            continue
        if d.kind in ("setup", "teardown") and d.target != ATTACHMENT:
            errors.append(Diagnostic("E136", d.span, f"a {d.kind} routine creates or destroys "
                                     "an importer object: it runs on an attachment slot",
                                     f"write {d.kind} routine {d.name}(att)"))
        if d.target == ATTACHMENT and owner.kind != "importer":
            errors.append(Diagnostic("E136", d.span, "an exporter's routines run on a buffer",
                                     f"write ioctl routine {d.name}(buf)"))
        ch = _RoutineChecker(owner, d)
        env = Scope_(owner.kind, d.name, d.target == ATTACHMENT, False,
                     owner.buffer_fields, {})
        ch.body(d.body, env, top=True)
        errors.extend(ch.errors)
    errors.extend(_recursion(owner))
    return errors


def _recursion(owner: Owner) -> list[Diagnostic]:
    calls = {n: set(_called(d.body, owner)) for n, d in owner.routines.items()}
    out: list[Diagnostic] = []
    for name, d in owner.routines.items():
        stack, seen = list(calls[name]), set()
        while stack:
            n = stack.pop()
            if n == name:
                out.append(Diagnostic("E133", d.span, f"routine {name} calls itself (through "
                                      "the routines it calls): recursion cannot be bounded",
                                      "unroll it, or iterate with for a in buf.attachments"))
                break
            if n not in seen:
                seen.add(n)
                stack.extend(calls.get(n, ()))
        for st in _walk(d.body):
            if isinstance(st, ast.YieldStmt) and any(name in calls[o] for o in calls):
                out.append(Diagnostic("E135", st.span, f"routine {name} yields and is called "
                                      "by another routine: a yield there cannot be encoded",
                                      "yield only in a routine that no other routine calls"))
                break
    return out


def _walk(stmts: Iterable[ast.Stmt]) -> Iterable[ast.Stmt]:
    for st in stmts:
        yield st
        if isinstance(st, ast.IfStmt):
            yield from _walk(st.then)
            yield from _walk(st.orelse)
        elif isinstance(st, ast.ForStmt):
            yield from _walk(st.body)


def _called(stmts: Iterable[ast.Stmt], owner: Owner) -> Iterable[str]:
    for st in _walk(stmts):
        name = ""
        if isinstance(st, ast.CoreCall):
            name = st.name
        elif isinstance(st, ast.AssignStmt) and isinstance(st.value, ast.FuncCall):
            name = st.value.name
        if name in owner.routines:
            yield name


# ---------------------------------------------------------------- lowering


class _RoutineLower(_Lower):
    """One segment of a routine, for one action, into the frame's builder."""

    def __init__(self, frame: Frame, owner: Owner, locals_: dict[str, mx.Var],
                 sites: dict[int, str]) -> None:
        c = frame.c
        super().__init__(c, Call(frame.buf, frame.att), frame.party)
        self.frame, self.owner, self.locals, self.sites = frame, owner, locals_, sites
        self.inlined = False  # inside another routine's inlined body

    def var(self, ref: ast.Ref, bound: dict[str, AttRef]) -> mx.Var:
        if ref.parts[0] == "obj":
            att = self.frame.att
            assert att is not None
            return att.i[ref.parts[1]]
        return super().var(ref, bound)

    def expr(self, e: ast.Expr, bound: dict[str, AttRef] | None = None) -> mx.Expr:
        if isinstance(e, ast.Ref) and len(e.parts) == 1 and e.parts[0] in self.locals:
            return self.locals[e.parts[0]]
        if isinstance(e, ast.FuncCall) and e.name == "injected":
            arg = e.args[0]
            assert isinstance(arg, ast.Ref)
            return mx.TRUE if self.frame.injected(arg.parts[0]) else mx.FALSE
        return super().expr(e, bound)

    def local(self, name: str) -> mx.Var:
        if name not in self.locals:
            self.locals[name] = self.c.builder.local(f"{self.frame.routine.name}.{name}")
        return self.locals[name]

    def run(self, stmts: Iterable[ast.Stmt], bound: dict[str, AttRef]) -> None:
        c = self.c
        for st in stmts:
            if isinstance(st, ast.IfStmt):
                with c.when(self.expr(st.cond, bound)):
                    self.run(st.then, bound)
                if st.orelse:
                    with c.otherwise():
                        self.run(st.orelse, bound)
            elif isinstance(st, ast.ForStmt):
                for a in self.frame.buf.atts:
                    with c.when(a.live):
                        self.run(st.body, {**bound, st.var: a})
            elif isinstance(st, ast.AssignStmt) and isinstance(st.value, ast.FuncCall) \
                    and (st.value.name in callable_ops() or st.value.name in self.owner.routines):
                v = st.value
                result = self.effect(v.name, v.args, v.kwargs, v.span, bound)
                c.set(self.local(st.target.parts[0]), result)
            elif isinstance(st, ast.AssignStmt) and len(st.target.parts) == 1:
                target = self.local(st.target.parts[0])
                value = self.expr(st.value, bound)
                c.set(target, value if st.op == "=" else
                      target + value if st.op == "+=" else target - value)
            elif isinstance(st, ast.CoreCall):
                self.effect(st.name, st.args, st.kwargs, st.span, bound)
            elif isinstance(st, ast.ReturnStmt):
                if self.inlined:
                    c.exit(self.expr(st.value, bound))  # a called routine's result
                else:
                    self.frame.returning(self.expr(st.value, bound), str(st.span))
            elif isinstance(st, ast.YieldStmt):  # pragma: no cover - segments split before
                raise AssertionError("yield inside a segment")
            else:
                self.stmts([st])

    def effect(self, name: str, args: tuple[ast.Expr, ...],
               kwargs: tuple[tuple[str, ast.Expr], ...], span: ast.Span,
               bound: dict[str, AttRef]) -> mx.Expr:
        f, c = self.frame, self.c
        if name == "free":
            ref = args[0]
            assert isinstance(ref, ast.Ref)
            if ref.parts == ("obj",):
                f.free_object(str(span))
            else:
                f.free_field(self.var(ref, bound), str(ref), str(span))
            return mx.Const(0)
        if name in self.owner.routines:
            callee = self.owner.routines[name]
            outer, self.inlined = self.inlined, True
            try:
                with c.function(f"{f.routine.name}.{name}") as ret:
                    self.run(callee.body, bound)
            finally:
                self.inlined = outer
            return ret
        site = self.sites.get(id(span), name)
        params: dict[str, Any] = {k: _text(v) for k, v in kwargs}
        for k in callable_ops()[name][1]:
            if k in DEFAULTS:  # a parameter at its default is not written (map=cached)
                params.setdefault(k, DEFAULTS[k])
        where = str(span)
        if name in ATTACHING:
            assert f.att is not None
            return f.call(site, name, f.att, where, importer=self.owner.name, **params)
        obj: BufRef | AttRef = f.buf
        if callable_ops()[name][0] == "att":
            ref = args[0]
            assert isinstance(ref, ast.Ref)
            a = bound.get(ref.parts[0], f.att)
            assert a is not None
            obj = a
        if name in SLOT_CALLS:
            assert isinstance(obj, AttRef)
            return f.call_on_mapping(site, name, obj, where, **params)
        return f.call(site, _op(name), obj, where, **params)


def _segments(body: tuple[ast.Stmt, ...]) -> list[tuple[str, tuple[ast.Stmt, ...]]]:
    out: list[tuple[str, tuple[ast.Stmt, ...]]] = [(START, ())]
    for st in body:
        if isinstance(st, ast.YieldStmt):
            out.append((st.label, ()))
        else:
            label, stmts = out[-1]
            out[-1] = (label, (*stmts, st))
    return out


def _sites(stmts: Iterable[ast.Stmt], owner: Owner, counts: dict[str, int],
           ) -> tuple[list[tuple[str, str]], dict[int, str], list[str]]:
    """The core call sites of ``stmts`` (inlined routines included), each named by its
    operation and occurrence (``map``, ``map2``), and the failure points it names."""
    sites: list[tuple[str, str]] = []
    names: dict[int, str] = {}
    points: list[str] = []

    def visit(body: Iterable[ast.Stmt], depth: int) -> None:
        for st in _walk(body):
            call: tuple[str, ast.Span] | None = None
            if isinstance(st, ast.CoreCall):
                call = (st.name, st.span)
            elif isinstance(st, ast.AssignStmt) and isinstance(st.value, ast.FuncCall):
                call = (st.value.name, st.value.span)
            for e in _exprs(st):
                for p in _points(e):
                    if p not in points:
                        points.append(p)
            if call is None:
                continue
            name, span = call
            if name in owner.routines and depth < 8:
                visit(owner.routines[name].body, depth + 1)
            elif name in callable_ops():
                counts[name] = counts.get(name, 0) + 1
                site = name if counts[name] == 1 else f"{name}{counts[name]}"
                names[id(span)] = site
                if name != "lock":  # dma_resv_lock waits; it does not fail
                    sites.append((site, _op(name)))

    visit(stmts, 0)
    return sites, names, points


def _exprs(st: ast.Stmt) -> Iterable[ast.Expr]:
    if isinstance(st, ast.IfStmt):
        yield st.cond
    elif isinstance(st, ast.AssignStmt | ast.ReturnStmt):
        yield st.value


def _points(e: ast.Expr) -> Iterable[str]:
    if isinstance(e, ast.FuncCall):
        if e.name == "injected" and e.args and isinstance(e.args[0], ast.Ref):
            yield e.args[0].parts[0]
        for a in e.args:
            yield from _points(a)
    elif isinstance(e, ast.BinOp):
        yield from _points(e.left)
        yield from _points(e.right)
    elif isinstance(e, ast.Not | ast.Neg):
        yield from _points(e.operand)


def lower_routines(owner: Owner) -> tuple[Routine, ...]:
    """The checked routines of a behaviour as the model's ``Routine`` values."""
    out = []
    for d in owner.routines.values():
        counts: dict[str, int] = {}
        segments = []
        for label, stmts in _segments(d.body):
            sites, names, points = _sites(stmts, owner, counts)
            segments.append(Segment(label, _segment_body(owner, stmts, names),
                                    tuple(sites), tuple(points)))
        exports = any(op == "export" for _, op in segments[0].sites)
        out.append(Routine(d.name, d.kind, TARGETS[d.target], tuple(segments), d.summary,
                           str(d.span), exports=exports))
    return tuple(out)


def _segment_body(owner: Owner, stmts: tuple[ast.Stmt, ...], names: dict[int, str]
                  ) -> Callable[[Frame], None]:
    def body(frame: Frame) -> None:
        _RoutineLower(frame, owner, {}, names).run(stmts, {})
    return body


def owner_of(d: ast.ExporterDecl | ast.ImporterDecl) -> Owner:
    if isinstance(d, ast.ExporterDecl):
        return Owner("exporter", d.name,
                     buffer_fields={f.name: f for f in d.fields if f.owner == "buffer"},
                     routines={r.name: r for r in d.routines})
    return Owner("importer", d.name, dynamic=d.dynamic,
                 has_object=any(r.target == ATTACHMENT for r in d.routines),
                 object_fields={f.name: f for f in (d.object.fields if d.object else ())},
                 routines={r.name: r for r in d.routines})


__all__ = ["Owner", "callable_ops", "check_routines", "lower_routines", "owner_of"]
