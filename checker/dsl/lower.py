"""Lowering: DSL exporters and importers become the model's behaviours.

A handler body is checked once (names, types, writability: every mistake becomes a located
diagnostic) and then lowered, each time the model instantiates a callback, into the same
builder statements the core's rules are written in. So a DSL behaviour is a program over the
bounded state like any other, and every engine can check it.

Inside a handler:

* ``buf``: the buffer; its exporter fields are writable, its core fields (``kref``, ``fds``,
  ``vmas``, ``resv``, ``vmap_cnt``, ``vmap_ptr``, ``cpu``, ``life``...) readable;
* ``att``: the attachment (callbacks that have one); ``att.p2p`` is writable (R9);
* ``dir``: the direction of map/unmap/begin/end_cpu_access, compared with ``BIDIRECTIONAL``,
  ``TO_DEVICE``, ``FROM_DEVICE``, ``NONE``;
* ``shared`` (``on mmap``): true for a MAP_SHARED vma, false for a private copy-on-write
  mapping (MAP_PRIVATE with PROT_WRITE), which exporters such as udmabuf refuse;
* ``pgoff`` and ``pagecount`` (``on page_fault``, the vma's fault handler): the faulting
  page's offset in the buffer (``vmf->pgoff``) and the buffer's size in pages; the handler
  ``return SIGBUS`` (VM_FAULT_SIGBUS) for a page it cannot give, and returns 0 otherwise;
* ``injected()``: whether this action injects the failure of a ``fallible`` callback;
* errno names (``EINVAL``...) and ``true``/``false``;
* functions ``pins(buf)``, ``attachments(buf)``, ``refcount(buf)``, ``maps(a)``,
  ``current_maps(a)`` (mappings not made stale by a move) and the quantifiers
  ``forall``/``exists a in buf.attachments [where P]: (Q)``;
* statements: ``if``/``else``, ``for a in buf.attachments { ... }`` (the body once per live
  attachment), ``=``, ``+=``, ``-=``, ``return E``, ``report RULE tag "text" [values ...]``,
  and the core calls ``move_notify()``, ``moved()``, ``lock()``, ``unlock()``,
  ``wait_dma()`` (exporters: every job on the buffer; importers: their own jobs on the
  attachment), ``unmap_all()`` (importers), in ``on mmap`` ``dontexpand()`` (the exporter
  sets VM_DONTEXPAND, with VM_DONTDUMP, on the vma, so that mremap cannot grow it) and, in
  ``on begin_cpu_access`` / ``on end_cpu_access`` only,
  ``sync_for_cpu(a, dir)`` / ``sync_for_device(a, dir)`` (attachment ``a``'s sg_table) and
  ``sync_for_cpu(dir)`` / ``sync_for_device(dir)`` (the exporter's own device mapping of
  all the pages), the cache maintenance R21 asks of an exporter that is not
  ``cpu_coherent``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import MappingProxyType

from checker.dsl import ast
from checker.dsl.diagnostics import Diagnostic, SpecError, did_you_mean
from model import expr as mx
from model.behaviour import OPS, Call, Exporter, Importer
from model.context import Ctx
from model.invariants import Invariant
from model.kernel import DIRECTIONS, ERRNOS, VM_FAULT_SIGBUS
from model.layout import ATTACHED, AttRef, BufRef, Field, pinned_total
from model.ops.registry import FALLIBLE
from model.profiles import PROFILES
from model.rules import RULES
from model.violation import Party, Severity

INT, BOOL = "int", "bool"
SEVERITIES = {"warn_errno": Severity.WARN_ERRNO, "warn": Severity.WARN, "errno": Severity.ERRNO,
              "lockdep": Severity.LOCKDEP, "bug": Severity.BUG, "silent": Severity.SILENT,
              "leak": Severity.LEAK}
BUF_CORE = ("life", "kref", "fds", "vmas", "resv", "reserved", "cb_in", "cb_out", "vmap_cnt",
            "vmap_ptr", "cpu", "cpu_dir")
ATT_CORE = ("st", "dyn", "p2p", "pins", "apin", "cached")
ATT_WRITABLE = ("p2p",)
CORE_CALLS = {"exporter": ("move_notify", "moved", "lock", "unlock", "wait_dma",
                           "dontexpand", "sync_for_cpu", "sync_for_device"),
              "importer": ("unmap_all", "wait_dma")}
# the core calls an exporter may make in one handler only
CALL_HANDLER = {"dontexpand": "mmap"}
# the names the vma's fault handler (on page_fault) is given, with their types
FAULT_NAMES = {"pgoff": INT, "pagecount": INT, "SIGBUS": INT}
# cache maintenance for CPU access (R21): (dir) syncs the exporter's own device mapping of
# all the pages, (a, dir) one attachment's sg_table; only the CPU-access callbacks sync
SYNC_CALLS = ("sync_for_cpu", "sync_for_device")
SYNC_HANDLERS = ("begin_cpu_access", "end_cpu_access")
FUNCTIONS = {"pins": "buf", "attachments": "buf", "refcount": "buf", "maps": "att",
             "current_maps": "att", "injected": None}
DIRECTIONAL = ("map_dma_buf", "unmap_dma_buf", "begin_cpu_access", "end_cpu_access")


@dataclass
class Scope_:
    """What names mean inside one handler or invariant."""

    owner: str  # exporter | importer
    handler: str
    has_att: bool
    has_dir: bool
    buffer_fields: dict[str, ast.FieldDecl]
    attachment_fields: dict[str, ast.FieldDecl]
    bound: dict[str, str] = field(default_factory=dict)  # quantified variable -> buf | att


# ---------------------------------------------------------------- checking


class _Checker:
    """Names, types and writability of handler bodies; collects diagnostics."""

    def __init__(self) -> None:
        self.errors: list[Diagnostic] = []

    def error(self, code: str, span: ast.Span, message: str, hint: str = "") -> None:
        self.errors.append(Diagnostic(code, span, message, hint))

    def expr(self, e: ast.Expr, env: Scope_) -> str:
        if isinstance(e, ast.IntLit):
            return INT
        if isinstance(e, ast.BoolLit):
            return BOOL
        if isinstance(e, ast.Neg):
            self.want(e.operand, env, INT)
            return INT
        if isinstance(e, ast.Not):
            self.want(e.operand, env, BOOL)
            return BOOL
        if isinstance(e, ast.BinOp):
            if e.op in ("and", "or"):
                self.want(e.left, env, BOOL)
                self.want(e.right, env, BOOL)
                return BOOL
            if e.op in ("+", "-"):
                self.want(e.left, env, INT)
                self.want(e.right, env, INT)
                return INT
            lt, rt = self.expr(e.left, env), self.expr(e.right, env)
            if e.op in ("==", "!=") and lt != rt and "?" not in (lt, rt):
                self.error("E110", e.span, f"'{e.op}' compares a {lt} with a {rt}")
            elif e.op not in ("==", "!=") and INT not in (lt, rt) and "?" not in (lt, rt):
                self.error("E110", e.span, f"'{e.op}' needs numbers, not {lt}s")
            return BOOL
        if isinstance(e, ast.FuncCall):
            return self.call(e, env)
        if isinstance(e, ast.Quantified):
            return self.quantified(e, env)
        assert isinstance(e, ast.Ref)
        return self.ref(e, env, write=False)

    def want(self, e: ast.Expr, env: Scope_, ty: str) -> None:
        got = self.expr(e, env)
        if got not in (ty, "?"):
            self.error("E110", getattr(e, "span", ast.NOWHERE), f"expected a {ty}, got a {got}")

    def call(self, e: ast.FuncCall, env: Scope_) -> str:
        if e.name not in FUNCTIONS:
            self.error("E109", e.span, f"unknown function '{e.name}'"
                       + did_you_mean(e.name, FUNCTIONS),
                       "functions: " + ", ".join(f"{n}()" for n in FUNCTIONS))
            return "?"
        kind = FUNCTIONS[e.name]
        if kind is None:
            if e.args:
                self.error("E109", e.span, f"{e.name}() takes no argument")
            return BOOL
        if len(e.args) != 1:
            self.error("E109", e.span, f"{e.name}() takes one {kind}")
            return INT
        arg = e.args[0]
        if self.object_kind(arg, env) != kind:
            self.error("E110", getattr(arg, "span", e.span), f"{e.name}() takes a {kind}")
        return INT

    def object_kind(self, e: ast.Expr, env: Scope_) -> str:
        if isinstance(e, ast.Ref) and len(e.parts) == 1:
            name = e.parts[0]
            if name in env.bound:
                return env.bound[name]
            if name == "buf":
                return "buf"
            if name == "att" and env.has_att:
                return "att"
        return "?"

    def quantified(self, e: ast.Quantified, env: Scope_) -> str:
        if e.collection != ("buf", "attachments"):
            self.error("E108", e.span, f"cannot quantify over {'.'.join(e.collection)}",
                       "in a behaviour, quantify over buf.attachments")
            return BOOL
        inner = Scope_(env.owner, env.handler, env.has_att, env.has_dir, env.buffer_fields,
                       env.attachment_fields, {**env.bound, e.var: "att"})
        if e.where is not None:
            self.want(e.where, inner, BOOL)
        self.want(e.body, inner, BOOL)
        return BOOL

    def ref(self, e: ast.Ref, env: Scope_, write: bool) -> str:
        parts = e.parts
        head = parts[0]
        if len(parts) == 1:
            if write:
                self.error("E120", e.span, f"cannot assign to '{head}'")
                return "?"
            if head in ERRNOS:
                return INT
            if head in DIRECTIONS:
                return INT
            if head in FAULT_NAMES:
                if env.handler != "page_fault":
                    self.error("E108", e.span, f"'{head}' is not defined in on {env.handler}",
                               "only page_fault is given a faulting page")
                return FAULT_NAMES[head]
            if head == "shared":
                if env.handler != "mmap":
                    self.error("E108", e.span, f"'shared' is not defined in on {env.handler}",
                               "only mmap is given a vma, shared or private")
                return BOOL
            if head == "dir":
                if not env.has_dir:
                    self.error("E108", e.span, f"'dir' is not defined in on {env.handler}",
                               "only map_dma_buf, unmap_dma_buf and the cpu_access callbacks "
                               "have a direction")
                return INT
            known = ["dir", "shared", *FAULT_NAMES, *ERRNOS, *DIRECTIONS]
            self.error("E108", e.span, f"unknown name '{head}'" + did_you_mean(head, known))
            return "?"
        kind = env.bound.get(head) or {"buf": "buf", "att": "att"}.get(head)
        if kind == "att" and head == "att" and not env.has_att:
            self.error("E108", e.span, f"'att' is not defined in on {env.handler}",
                       "this callback has no attachment")
            return "?"
        if kind is None or len(parts) != 2:
            self.error("E108", e.span, f"unknown name '{e}'",
                       "write buf.FIELD or att.FIELD")
            return "?"
        name = parts[1]
        private = env.buffer_fields if kind == "buf" else env.attachment_fields
        core = BUF_CORE if kind == "buf" else ATT_CORE
        if name in private:
            return BOOL if private[name].is_bool else INT
        if name in core:
            if write and not (kind == "att" and name in ATT_WRITABLE):
                self.error("E120", e.span, f"{e} is the core's and is read-only",
                           "declare a field of your own for this")
            return BOOL if name in ("resv", "cb_in", "cb_out", "vmap_ptr", "dyn", "p2p",
                                    "apin", "cached") else INT
        self.error("E108", e.span, f"unknown field '{name}' of {kind}"
                   + did_you_mean(name, [*private, *core]),
                   f"declare it: {'buffer' if kind == 'buf' else 'attachment'} {name}: 0..N")
        return "?"

    def stmts(self, body: Iterable[ast.Stmt], env: Scope_) -> None:
        for st in body:
            if isinstance(st, ast.IfStmt):
                self.want(st.cond, env, BOOL)
                self.stmts(st.then, env)
                self.stmts(st.orelse, env)
            elif isinstance(st, ast.AssignStmt):
                ty = self.ref(st.target, env, write=True)
                if st.op != "=" and ty == BOOL:
                    self.error("E110", st.span, f"'{st.op}' needs a number; {st.target} is a "
                               "bool")
                self.want(st.value, env, ty if st.op == "=" else INT)
            elif isinstance(st, ast.ReturnStmt):
                self.want(st.value, env, INT)
            elif isinstance(st, ast.ReportStmt):
                self.rule(st.rule, st.span)
                self.severity(st.severity, st.span)
                for v in st.values:
                    self.expr(v, env)
            elif isinstance(st, ast.ForStmt):
                if st.collection != ("buf", "attachments"):
                    self.error("E134", st.span, f"cannot iterate over "
                               f"{'.'.join(st.collection)}: only a bounded collection",
                               "iterate over buf.attachments")
                inner = Scope_(env.owner, env.handler, env.has_att, env.has_dir,
                               env.buffer_fields, env.attachment_fields,
                               {**env.bound, st.var: "att"})
                self.stmts(st.body, inner)
            elif isinstance(st, ast.CoreCall):
                allowed = CORE_CALLS[env.owner]
                if st.name not in allowed:
                    self.error("E109", st.span,
                               f"unknown call '{st.name}()' in an {env.owner}"
                               + did_you_mean(st.name, allowed),
                               "calls: " + ", ".join(f"{n}()" for n in allowed))
                elif CALL_HANDLER.get(st.name, env.handler) != env.handler:
                    self.error("E109", st.span,
                               f"'{st.name}()' is a call of on {CALL_HANDLER[st.name]} only",
                               f"call it in on {CALL_HANDLER[st.name]}")
                elif st.name in SYNC_CALLS:
                    self.sync_call(st, env)

    def sync_call(self, st: ast.CoreCall, env: Scope_) -> None:
        """sync_for_cpu/_for_device: only in the CPU-access callbacks, with a direction and
        optionally the attachment whose sg_table is synced first."""
        if env.handler not in SYNC_HANDLERS:
            self.error("E137", st.span, f"{st.name}() in on {env.handler}: cache maintenance "
                       "for CPU access belongs in on begin_cpu_access and on end_cpu_access",
                       "begin_cpu_access syncs the mappings for the CPU, end_cpu_access for "
                       "the device (R21)")
            return
        if st.kwargs or len(st.args) not in (1, 2):
            self.error("E138", st.span, f"{st.name}() takes a direction, after the attachment "
                       "whose mapping it syncs if any",
                       f"write {st.name}(a, dir) inside for a in buf.attachments, or "
                       f"{st.name}(dir) for the exporter's own mapping of all the pages")
            return
        if len(st.args) == 1 and self.object_kind(st.args[0], env) == "att":
            self.error("E138", st.span, f"{st.name}() needs the direction to sync with",
                       f"write {st.name}({st.args[0]}, dir): the caller's direction")
            return
        if len(st.args) == 2 and self.object_kind(st.args[0], env) != "att":
            self.error("E138", getattr(st.args[0], "span", st.span),
                       f"{st.name}()'s first argument is the attachment whose sg_table it "
                       "syncs", "iterate: for a in buf.attachments { ... }")
            return
        self.want(st.args[-1], env, INT)

    def severity(self, name: str, span: ast.Span) -> None:
        if name and name not in SEVERITIES:
            self.error("E123", span, f"unknown severity '{name}'" + did_you_mean(name, SEVERITIES),
                       "severities: " + ", ".join(SEVERITIES))

    def rule(self, rule: str, span: ast.Span) -> None:
        if rule not in RULES:
            self.error("E107", span, f"unknown rule '{rule}'" + did_you_mean(rule, RULES),
                       "rules are R1..R32 (dmabuf-check rules)")


def check_exporter(d: ast.ExporterDecl) -> list[Diagnostic]:
    ch = _Checker()
    for op in d.ops:
        if op not in OPS:
            ch.error("E122", d.span, f"exporter {d.name}: unknown dma_buf_ops member '{op}'"
                     + did_you_mean(op, OPS), "members: " + ", ".join(OPS))
    for op in d.fallible:
        if op not in FALLIBLE:
            ch.error("E122", d.span, f"exporter {d.name}: fallible '{op}': the model has no "
                     "call that can inject this callback's failure",
                     "the fallible callbacks are " + ", ".join(FALLIBLE))
        elif op not in d.ops:
            ch.error("E122", d.span, f"exporter {d.name}: fallible '{op}' is not in its ops",
                     f"add {op} to ops")
    for p in d.profiles:
        if p.name not in PROFILES:
            ch.error("E106", p.span, f"unknown kernel profile '{p.name}'"
                     + did_you_mean(p.name, PROFILES))
    fields: dict[str, dict[str, ast.FieldDecl]] = {"buffer": {}, "attachment": {}}
    for f in d.fields:
        if f.name in fields[f.owner]:
            ch.error("E111", f.span, f"{f.owner} field '{f.name}' is declared twice")
        if not f.is_bool and f.lo >= f.hi:
            ch.error("E117", f.span, f"field '{f.name}': empty range {f.lo}..{f.hi}",
                     "write LO..HI with LO < HI")
        fields[f.owner][f.name] = f
    seen: set[str] = set()
    for h in d.handlers:
        if h.name in seen:
            ch.error("E111", h.span, f"handler 'on {h.name}' is written twice")
        seen.add(h.name)
        if h.name != "move" and h.name not in d.ops:
            if h.name in OPS:
                ch.error("E112", h.span, f"'on {h.name}' is not a callback of this exporter",
                         f"add {h.name} to ops")
            else:
                ch.error("E112", h.span, f"'on {h.name}' names no dma_buf_ops member"
                         + did_you_mean(h.name, [*OPS, "move"]),
                         "name a dma_buf_ops member (" + ", ".join(OPS) + ") or 'move'")
            continue
        env = Scope_("exporter", h.name, h.name not in ("release", "move", "begin_cpu_access",
                                                         "end_cpu_access", "mmap", "vmap",
                                                         "vunmap", "page_fault"),
                     h.name in DIRECTIONAL, fields["buffer"], fields["attachment"])
        ch.stmts(h.body, env)
    for inv in d.invariants:
        ch.rule(inv.rule, inv.span)
        ch.severity(inv.severity, inv.span)
        env = Scope_("exporter", "invariant", False, False, fields["buffer"],
                     fields["attachment"])
        ch.want(inv.holds, env, BOOL)
        for v in inv.values:
            ch.expr(v, env)
    from checker.dsl.routines import check_routines, owner_of

    return ch.errors + check_routines(owner_of(d), d.routines)


def check_importer(d: ast.ImporterDecl) -> list[Diagnostic]:
    ch = _Checker()
    for h in d.handlers:
        if h.name != "move_notify":
            ch.error("E112", h.span, f"'on {h.name}' is not an importer callback"
                     + did_you_mean(h.name, ["move_notify"]),
                     "importers implement move_notify only")
            continue
        if not d.dynamic or not d.has_move_notify:
            ch.error("E112", h.span, f"importer {d.name} declares no move_notify",
                     "a static importer (or one with no_move_notify) has no callback")
        ch.stmts(h.body, Scope_("importer", h.name, True, False, {}, {}))
    for p in d.profiles:
        if p.name not in PROFILES:
            ch.error("E106", p.span, f"unknown kernel profile '{p.name}'"
                     + did_you_mean(p.name, PROFILES))
    from checker.dsl.routines import check_routines, owner_of

    return ch.errors + check_routines(owner_of(d), d.routines)


# ---------------------------------------------------------------- lowering


class _Lower:
    """Checked trees -> model expressions and builder statements, for one call."""

    def __init__(self, c: Ctx, call: Call, party: Party) -> None:
        self.c, self.call, self.party = c, call, party

    def obj(self, name: str, bound: dict[str, AttRef]) -> BufRef | AttRef:
        if name in bound:
            return bound[name]
        if name == "att":
            assert self.call.att is not None
            return self.call.att
        return self.call.buf

    def var(self, ref: ast.Ref, bound: dict[str, AttRef]) -> mx.Var:
        owner = self.obj(ref.parts[0], bound)
        name = ref.parts[1]
        if name in owner.x:
            return owner.x[name]
        v = getattr(owner, name)
        assert isinstance(v, mx.Var)
        return v

    def expr(self, e: ast.Expr, bound: dict[str, AttRef] | None = None) -> mx.Expr:
        b = bound or {}
        if isinstance(e, ast.IntLit):
            return mx.Const(e.value)
        if isinstance(e, ast.BoolLit):
            return mx.TRUE if e.value else mx.FALSE
        if isinstance(e, ast.Neg):
            return mx.Const(0) - self.expr(e.operand, b)
        if isinstance(e, ast.Not):
            return ~self.expr(e.operand, b)
        if isinstance(e, ast.BinOp):
            x, y = self.expr(e.left, b), self.expr(e.right, b)
            ops: dict[str, Callable[[mx.Expr, mx.Expr], mx.Expr]] = {
                "and": lambda p, q: p & q, "or": lambda p, q: p | q,
                "+": lambda p, q: p + q, "-": lambda p, q: p - q,
                "==": lambda p, q: p.eq(q), "!=": lambda p, q: p.ne(q),
                "<": lambda p, q: p < q, "<=": lambda p, q: p <= q,
                ">": lambda p, q: p > q, ">=": lambda p, q: p >= q,
            }
            return ops[e.op](x, y)
        if isinstance(e, ast.FuncCall):
            return self.func(e, b)
        if isinstance(e, ast.Quantified):
            parts = []
            for a in self.call.buf.atts:
                inner = {**b, e.var: a}
                body = self.expr(e.body, inner)
                cond = a.live if e.where is None else a.live & self.expr(e.where, inner)
                parts.append(~cond | body if e.kind == "forall" else cond & body)
            return mx.all_(parts) if e.kind == "forall" else mx.any_(parts)
        assert isinstance(e, ast.Ref)
        if len(e.parts) == 1:
            name = e.parts[0]
            if name == "dir":
                assert self.call.dir is not None
                return mx.lift(self.call.dir)
            if name == "shared":
                return mx.FALSE if self.call.shared is False else mx.TRUE
            if name == "pgoff":
                assert self.call.pgoff is not None
                return self.call.pgoff
            if name == "pagecount":
                return mx.Const(self.c.scope.size_pages)
            if name == "SIGBUS":
                return mx.Const(VM_FAULT_SIGBUS)
            if name in ERRNOS:
                return mx.Const(ERRNOS[name])
            return mx.Const(DIRECTIONS[name])
        return self.var(e, b)

    def func(self, e: ast.FuncCall, b: dict[str, AttRef]) -> mx.Expr:
        if e.name == "injected":
            return mx.TRUE if self.c.failing("exporter") else mx.FALSE
        arg = e.args[0]
        assert isinstance(arg, ast.Ref)
        obj = self.obj(arg.parts[0], b)
        if isinstance(obj, BufRef):
            if e.name == "pins":
                return pinned_total(obj)
            if e.name == "attachments":
                return mx.total([a.live for a in obj.atts])
            return obj.refcount
        if e.name == "maps":
            return mx.ite(obj.live, obj.maps, 0)
        return mx.total([obj.live & s.live & ~s.stale for s in obj.slots])

    def stmts(self, body: Iterable[ast.Stmt], bound: dict[str, AttRef] | None = None) -> None:
        c = self.c
        b = bound or {}
        for st in body:
            if isinstance(st, ast.IfStmt):
                with c.when(self.expr(st.cond, b)):
                    self.stmts(st.then, b)
                if st.orelse:
                    with c.otherwise():
                        self.stmts(st.orelse, b)
            elif isinstance(st, ast.ForStmt):
                for a in self.call.buf.atts:
                    with c.when(a.live):
                        self.stmts(st.body, {**b, st.var: a})
            elif isinstance(st, ast.AssignStmt):
                target = self.var(st.target, b)
                value = self.expr(st.value, b)
                if st.op == "=":
                    c.set(target, value)
                elif st.op == "+=":
                    c.set(target, target + value)
                else:
                    c.set(target, target - value)
            elif isinstance(st, ast.ReturnStmt):
                c.exit(self.expr(st.value, b))
            elif isinstance(st, ast.ReportStmt):
                severity = SEVERITIES.get(st.severity) or RULES[st.rule].consequences[0]
                party = Party(st.party) if st.party else self.party
                objs = (self.call.buf.name,) + ((self.call.att.name,) if self.call.att else ())
                text = st.message.replace("{buf}", self.call.buf.name)
                if self.call.att is not None:
                    text = text.replace("{att}", self.call.att.name)
                c.report(st.rule, severity, party, objs, text,
                         *(self.expr(v, b) for v in st.values), tag=st.tag)
            else:
                assert isinstance(st, ast.CoreCall)
                if st.name in SYNC_CALLS:
                    self.sync(st, b)
                else:
                    self.core(st.name)

    def sync(self, st: ast.CoreCall, bound: dict[str, AttRef]) -> None:
        d = self.expr(st.args[-1], bound)
        att = None
        if len(st.args) == 2:
            ref = st.args[0]
            assert isinstance(ref, ast.Ref)
            obj = self.obj(ref.parts[0], bound)
            assert isinstance(obj, AttRef)
            att = obj
        if st.name == "sync_for_cpu":
            self.c.sync_for_cpu(self.call.buf, att, d)
        else:
            self.c.sync_for_device(self.call.buf, att, d)

    def core(self, name: str) -> None:
        c, b = self.c, self.call.buf
        if name == "move_notify":
            c.move_notify(b)
        elif name == "moved":
            c.backing_moved(b)
        elif name == "lock":
            with c.when(b.resv):
                c.report("R24", Severity.LOCKDEP, Party.EXPORTER, (b.name,),
                         f"the exporter takes {b.name}'s reservation lock in a context that "
                         "already holds it", tag="exporter-recursive-resv")
            c.set(b.resv, 1)
        elif name == "dontexpand":
            assert self.call.dontexpand is not None
            c.set(self.call.dontexpand, 1)
        elif name == "unlock":
            with c.when(~b.resv):
                c.report("R24", Severity.LOCKDEP, Party.EXPORTER, (b.name,),
                         f"the exporter drops {b.name}'s reservation lock, which is not held",
                         tag="exporter-unlock-unheld")
            c.set(b.resv, 0)
        elif name == "wait_dma":
            a = self.call.att
            c.wait_dma(a if self.party is Party.IMPORTER and a is not None else b)
        else:
            assert name == "unmap_all" and self.call.att is not None
            c.unmap_all(self.call.att)


def _handler(h: ast.Handler, party: Party) -> Callable[[Ctx, Call], None]:
    def body(c: Ctx, call: Call) -> None:
        with c.function(h.name) as ret:
            _Lower(c, call, party).stmts(h.body)
        if h.name != "move_notify":
            c.returns(ret)
    return body


def _invariant(inv: ast.InvariantDecl) -> Invariant:
    def holds(c: Ctx, b: BufRef) -> mx.Expr:
        return _Lower(c, Call(b), Party.EXPORTER).expr(inv.holds)

    def values(c: Ctx, b: BufRef) -> tuple[mx.Expr, ...]:
        low = _Lower(c, Call(b), Party.EXPORTER)
        return tuple(low.expr(v) for v in inv.values)

    return Invariant(inv.rule, inv.tag, inv.message, holds, values,
                     severity=SEVERITIES.get(inv.severity, Severity.SILENT), party=Party.EXPORTER)


def _field(f: ast.FieldDecl) -> Field:
    return Field(f.name, f.lo, f.hi, BOOL if f.is_bool else INT, f.doc)


def lower_exporter(d: ast.ExporterDecl, source: dict[str, str] | None = None) -> Exporter:
    """Check and lower an exporter; raises ``SpecError`` with every mistake found."""
    from checker.dsl.routines import lower_routines, owner_of

    errors = check_exporter(d)
    if errors:
        raise SpecError(errors, source)
    handlers = {h.name: _handler(h, Party.EXPORTER) for h in d.handlers if h.name != "move"}
    move = next((h for h in d.handlers if h.name == "move"), None)
    return Exporter(
        d.name, d.summary, ops=frozenset(d.ops), callbacks=MappingProxyType(handlers),
        priv=d.priv, cache_sgt_mapping=d.cache_sgt_mapping,
        buffer_fields=tuple(_field(f) for f in d.fields if f.owner == "buffer"),
        attachment_fields=tuple(_field(f) for f in d.fields if f.owner == "attachment"),
        move=_handler(move, Party.EXPORTER) if move is not None else None,
        fallible=frozenset(d.fallible), invariants=tuple(_invariant(i) for i in d.invariants),
        profiles=tuple(p.name for p in d.profiles) or tuple(PROFILES),
        modelled_on=d.modelled_on, routines=lower_routines(owner_of(d)),
        cpu_coherent=d.cpu_coherent)


def lower_importer(d: ast.ImporterDecl, source: dict[str, str] | None = None) -> Importer:
    from checker.dsl.routines import lower_routines, owner_of

    errors = check_importer(d)
    if errors:
        raise SpecError(errors, source)
    notify = next((h for h in d.handlers if h.name == "move_notify"), None)
    return Importer(
        d.name, d.summary, dynamic=d.dynamic,
        move_notify=_handler(notify, Party.IMPORTER) if notify is not None else None,
        has_move_notify=d.has_move_notify, allow_peer2peer=d.allow_peer2peer,
        revocable=d.revocable, ignores=frozenset(d.ignores), modelled_on=d.modelled_on,
        routines=lower_routines(owner_of(d)),
        fields=tuple(_field(f) for f in (d.object.fields if d.object else ())),
        profiles=tuple(p.name for p in d.profiles) or tuple(PROFILES))


__all__ = ["ATTACHED", "check_exporter", "check_importer", "lower_exporter", "lower_importer"]
