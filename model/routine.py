"""Driver code as a behaviour: routines that call the core, and the rules about what they hold.

Most dma-buf bugs are not in the callbacks but in the driver code that calls the core: an
import path that fails half-way and unwinds wrongly, a teardown that puts twice or forgets
``dma_buf_detach()``, code that touches the buffer after ``dma_buf_fd()`` published it. A
``Routine`` is such code: an importer's (or exporter's) own function, a sequence of core
calls with results, branches and failure points, lowered into the same guarded-update
programs as everything else, so every engine explores it, interleaved with every other step.

Kinds:

* ``setup`` (on an attachment slot): creates the importer object that stands for one import
  (the GEM object, BO or umem). On success the object keeps what the routine took; on an
  error return the routine must have undone everything (R32: unwinding in reverse);
* ``ioctl``: on an existing object (attachment slot), or on a buffer (no object). What it
  takes stays with the object on success; without an object it must hold nothing when it
  returns;
* ``teardown`` (on an attachment slot): destroys the object; when it returns the object holds
  no reference, attachment, mapping, pin, vmap or CPU-access bracket.

A routine is one step unless it contains ``yield`` points: each ``yield LABEL`` ends a
segment, and the action ``NAME(obj, at=LABEL)`` resumes it, so any other step may run in
between (another thread closing the fd right after ``dma_buf_fd()``). The variables of a
suspended routine live in the state.

Ownership: a frame counts the references, vmaps and CPU brackets the routine took
(``Ctx.holds`` is called by the core at each change), and its object's. A routine that uses
the buffer, puts or installs an fd must own a reference (``Ctx.own_refs``); one that frees
its object while the attachment is still attached leaves ``move_notify`` (and the
attachment) pointing at freed memory (R18).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from model.context import Ctx
from model.expr import TRUE, Expr, Var, ite
from model.layout import (
    FREE,
    NO_OBJECT,
    OBJECT_FREED,
    OBJECT_LIVE,
    RELEASED,
    UNEXPORTED,
    AttRef,
    BufRef,
    Field,
    ObjRef,
)
from model.program import Block, If, Report, Site, Stmt
from model.violation import Party, Severity

KINDS = ("setup", "ioctl", "teardown")


class RoutineError(ValueError):
    """A routine that cannot be built into this model (a call its kernel profile lacks)."""

START = "start"  # the ``at`` of a routine's first segment
HELD = ("ref", "vmap", "cpu")  # what a frame counts of the buffer

# what a routine may hold when it returns, the rule it breaks and the obligation's tag
_LEAKS = {
    "ref": ("R32", "leaks-reference", "{0} reference(s) to {buf} it took (dma_buf_get, "
            "get_dma_buf) and never put"),
    "vmap": ("R32", "keeps-vmap", "{0} dma_buf_vmap of {buf} never vunmapped"),
    "cpu": ("R32", "keeps-cpu-access", "{0} dma_buf_begin_cpu_access bracket(s) on {buf} "
            "never ended"),
}


@dataclass(frozen=True)
class Segment:
    """The code from the routine's start (``label`` ``start``) or from a ``yield`` to the
    next ``yield`` or the end. ``sites`` are its core calls as (site name, operation), each
    able to fail the ways its operation can; ``points`` are the driver's own failure points
    (``injected(NAME)``)."""

    label: str
    body: Callable[[Frame], None]
    sites: tuple[tuple[str, str], ...] = ()
    points: tuple[str, ...] = ()


@dataclass(frozen=True)
class Routine:
    """One function of a driver. ``target`` is ``buffer`` or ``attachment`` (the slot of
    the importer object); ``where`` is the DSL location for reports."""

    name: str
    kind: str
    target: str
    segments: tuple[Segment, ...]
    summary: str = ""
    where: str = ""
    exports: bool = False  # runs on a buffer not yet exported (it calls dma_buf_export)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"routine {self.name}: kind {self.kind!r} is not one of {KINDS}")
        if self.target not in ("buffer", "attachment"):
            raise ValueError(f"routine {self.name}: target must be buffer or attachment")
        if self.kind != "ioctl" and self.target != "attachment":
            raise ValueError(f"routine {self.name}: a {self.kind} routine runs on an "
                             "attachment slot (its importer object)")
        if not self.segments or self.segments[0].label != START:
            raise ValueError(f"routine {self.name}: the first segment is {START!r}")

    @property
    def suspends(self) -> bool:
        return len(self.segments) > 1

    def frame_fields(self, scope_refs: int, scope_vmaps: int, scope_cpu: int) -> tuple[Field, ...]:
        """The state variables of this routine while it is suspended (none without yields)."""
        if not self.suspends:
            return ()
        n = len(self.segments)
        return (Field(f"{self.name}__pc", 0, n - 1, "int", f"{self.name}: segment to resume"),
                Field(f"{self.name}__refs", 0, scope_refs, "int"),
                Field(f"{self.name}__vmaps", 0, scope_vmaps, "int"),
                Field(f"{self.name}__cpu", 0, scope_cpu, "int"))


# ---------------------------------------------------------------- the frame


@dataclass
class Frame:
    """One invocation of a routine while its program is built: the objects it runs on,
    what it holds, and the failure this action injects."""

    c: Ctx
    routine: Routine
    party: Party
    owner: str  # the behaviour's name, for messages
    buf: BufRef
    att: AttRef | None
    fault: str
    held: dict[str, Var] = field(default_factory=dict)
    _sites: dict[str, int] = field(default_factory=dict)

    @property
    def obj(self) -> ObjRef | None:
        return self.att.o if self.att is not None else None

    def refs_held(self) -> Expr:
        own: Expr = self.held["ref"]
        if self.obj is not None and self.routine.kind != "setup":
            own = own + self.obj.refs
        return own

    def hold(self, kind: str, delta: int) -> None:
        """Count a change: an increment is the routine's; a decrement gives back the
        routine's own first, then its object's."""
        c, mine = self.c, self.held[kind]
        if delta > 0:
            c.inc(mine)
            return
        theirs = self._object_cell(kind)
        if theirs is None:
            with c.when(mine > 0):
                c.dec(mine)
            return
        with c.when(mine > 0):
            c.dec(mine)
        with c.otherwise(), c.when(theirs > 0):
            c.dec(theirs)

    def _object_cell(self, kind: str) -> Var | None:
        o = self.obj
        if o is None or self.routine.kind == "setup":
            return None
        cell: Var = {"ref": o.refs, "vmap": o.vmaps, "cpu": o.cpu}[kind]
        return cell

    # -------------------------------------------------------- statements
    def injected(self, point: str) -> bool:
        """Whether this action makes the driver's own failure point ``point`` fail."""
        return self.fault == point

    def call(self, site: str, op: str, obj: BufRef | AttRef, where: str = "",
             **params: Any) -> Var:
        """Call core operation ``op`` on ``obj`` from the routine; returns the local that
        holds its result (0 or a negative errno). Errors the core returns are results
        for the routine to handle, not findings (``errno`` reports are dropped); what the
        core reports as the caller's fault is the routine owner's."""
        from model.ops import REGISTRY
        from model.ops.registry import Env

        spec = next(s for s in REGISTRY if s.name == op)
        c = self.c
        env = Env(c.profile, c.scope, c.exporter, c.importers)
        if not spec.available(env):
            raise RoutineError(
                f"routine {self.routine.name} ({self.owner}, {self.routine.where}) calls "
                f"{op}(), which kernel profile {c.profile} does not have: declare the "
                "behaviour's profiles (profiles ...) or write the call that kernel has")
        outer = c.fault
        c.fault = "none"
        if self.fault.startswith(f"{site}__"):
            c.fault = self.fault[len(site) + 2:]
        if "fault" in inspect.signature(spec.body).parameters:
            params = {**params, "fault": c.fault}
        stmts, ret = _capture(c, op, lambda: spec.body(c, obj, **params))
        c.fault = outer
        for st in _blame(stmts, self.party, where or self.routine.where):
            c.builder.emit(st)
        return ret

    def call_on_mapping(self, site: str, op: str, att: AttRef, where: str = "",
                        **params: Any) -> Var:
        """A call that names one of ``att``'s sg_tables (unmap, DMA through it, reading its
        pages): the one mapped last that is still live; with none live, the first (the
        core reports the call on a mapping that is not there)."""
        c = self.c
        ret = c.builder.local(f"{site}.result")
        slots = list(att.slots)

        def chain(rest: list[Any]) -> None:
            s = rest[-1]
            if len(rest) == 1:
                c.set(ret, self.call(site, op, att, where, slot=s.index, **params))
                return
            with c.when(s.live):
                c.set(ret, self.call(site, op, att, where, slot=s.index, **params))
            with c.otherwise():
                chain(rest[:-1])

        chain(slots)
        return ret

    def free_object(self, where: str = "") -> None:
        """The driver frees its importer object (kfree of the BO, the GEM object...)."""
        c, a, o = self.c, self.att, self.obj
        assert a is not None and o is not None
        with c.when(a.live):
            c.report("R18", Severity.SILENT, self.party, (a.name,),
                     f"{self.routine.name} frees the importer object of {a.name} while the "
                     "attachment is still attached: until dma_buf_detach returns, "
                     "move_notify and the exporter can reach the freed importer_priv",
                     tag="freed-before-detach", where=where or self.routine.where)
        with c.when(o.life.eq(OBJECT_FREED)):
            c.report("R32", Severity.SILENT, self.party, (a.name,),
                     f"{self.routine.name} frees the importer object of {a.name} twice",
                     tag="object-double-free", where=where or self.routine.where)
        c.set(o.life, OBJECT_FREED)

    def free_field(self, var: Var, what: str, where: str = "") -> None:
        """The driver frees storage it tracks in ``var`` (an exporter's pages, say); freeing
        it when it is already gone is a double free."""
        c = self.c
        with c.when(var.eq(0)):
            c.report("R6", Severity.SILENT, self.party, (self.buf.name,),
                     f"{self.routine.name} frees {what}, which is already freed (ops->release "
                     "frees it when dma_buf_put drops the last reference): double free",
                     tag="double-free", where=where or self.routine.where)
        c.set(var, 0)


def _capture(c: Ctx, name: str, build: Callable[[], None]) -> tuple[list[Stmt], Var]:
    b = c.builder
    b._stack.append([])
    try:
        with c.function(name) as ret:
            build()
    finally:
        stmts = b._stack.pop()
    return stmts, ret


def _blame(stmts: Sequence[Stmt], party: Party, where: str) -> list[Stmt]:
    """A core call's statements as a routine makes them: errno reports dropped (the routine
    gets the errno), the caller's obligations put on the routine's owner, and every report
    located at the routine's call (``where``)."""
    out: list[Stmt] = []
    for st in stmts:
        if isinstance(st, Report):
            if st.site.severity is Severity.ERRNO:
                continue
            site = st.site
            blamed = party if site.party is Party.IMPORTER else site.party
            st = Report(Site(site.rule, site.severity, blamed, site.objects, site.template,
                             site.tag, site.where or where), st.args)
            out.append(st)
        elif isinstance(st, If):
            out.append(If(st.cond, tuple(_blame(st.then, party, where)),
                          tuple(_blame(st.orelse, party, where))))
        elif isinstance(st, Block):
            out.append(Block(st.ret, tuple(_blame(st.body, party, where))))
        else:
            out.append(st)
    return out


# ---------------------------------------------------------------- actions


def build(c: Ctx, routine: Routine, party: Party, owner: str, obj: BufRef | AttRef,
          at: str, fault: str) -> None:
    """The program of one action: segment ``at`` of ``routine`` on ``obj`` with ``fault``
    injected. Runs inside the action's function block."""
    buf = obj if isinstance(obj, BufRef) else c.layout.buffers[obj.buf]
    att = obj if isinstance(obj, AttRef) else None
    k = [s.label for s in routine.segments].index(at)
    seg = routine.segments[k]
    frames = obj.r
    held: dict[str, Var] = {}
    for kind, cell in zip(HELD, ("refs", "vmaps", "cpu"), strict=True):
        if routine.suspends:
            held[kind] = frames[f"{routine.name}__{cell}"]
        else:
            held[kind] = c.builder.local(f"{routine.name}.{cell}", 0, 64)
    frame = Frame(c, routine, party, owner, buf, att, fault, held)
    done = c.builder.local(f"{routine.name}.done", 0, 1, "bool")
    c.frame = frame
    try:
        with c.function(f"{routine.name}.body") as ret:
            seg.body(frame)
            c.set(done, 1)
    finally:
        c.frame = None
    last = k == len(routine.segments) - 1
    complete: Expr = TRUE if last else ~done
    with c.when(complete):
        _finish(c, frame, ret)
        if routine.suspends:
            c.set(frames[f"{routine.name}__pc"], 0)
            for v in held.values():
                c.set(v, 0)
    if not last:
        with c.when(done):
            c.set(frames[f"{routine.name}__pc"], k + 1)
    with c.when(ret.ne(0)):
        c.exit(ret)


def _finish(c: Ctx, f: Frame, ret: Var) -> None:
    """The routine returns ``ret``: its leak checks, then what it hands to its object."""
    r, a, o, b = f.routine, f.att, f.obj, f.buf
    ok = ret.eq(0)
    with c.when(b.resv & b.life.ne(RELEASED)):
        c.report("R32", Severity.LOCKDEP, f.party, (b.name,),
                 f"{r.name} ({f.owner}) returns {{0}} holding {b.name}'s reservation lock: "
                 "every later locker deadlocks", ret, tag="keeps-resv", where=r.where)
    if r.kind == "teardown":
        assert a is not None and o is not None
        _check_empty(c, f, TRUE, {k: f.held[k] + cell for k, cell in
                                  zip(HELD, (o.refs, o.vmaps, o.cpu), strict=True)},
                     "when it returns, the object it tears down still holds", ret)
        _check_slot(c, f, TRUE, "when it returns, the object it tears down still", ret)
        for cell in (o.refs, o.vmaps, o.cpu):
            c.set(cell, 0)
        c.set(o.life, OBJECT_FREED)
        return
    if o is None:
        _check_empty(c, f, TRUE, dict(f.held), "when it returns, it still holds", ret)
        return
    # setup and ioctl on an object: an error return undoes everything
    assert a is not None
    _check_empty(c, f, ~ok, dict(f.held), "on its error path ({ret}), it still holds", ret)
    if r.kind == "setup":
        _check_slot(c, f, ~ok, "on its error path ({ret}), it still", ret)
        with c.when(ok):
            c.set(o.life, OBJECT_LIVE)
            c.set(o.refs, f.held["ref"])
            c.set(o.vmaps, f.held["vmap"])
            c.set(o.cpu, f.held["cpu"])
        return
    with c.when(ok):
        for kind, cell in zip(HELD, (o.refs, o.vmaps, o.cpu), strict=True):
            c.set(cell, cell + f.held[kind])


def _check_empty(c: Ctx, f: Frame, when: Expr, held: dict[str, Expr], context: str,
                 ret: Var) -> None:
    for kind, amount in held.items():
        rule, tag, what = _LEAKS[kind]
        with c.when(when & (amount > 0)):
            c.report(rule, Severity.LEAK, f.party, _objects(f),
                     (f"{f.routine.name} ({f.owner}): {context} "
                      + what.format("{0}", buf=f.buf.name)).replace("{ret}", "{1}"),
                     amount, ret, tag=tag, where=f.routine.where)


def _check_slot(c: Ctx, f: Frame, when: Expr, context: str, ret: Var) -> None:
    a = f.att
    assert a is not None
    with c.when(when & a.live):
        c.report("R32", Severity.LEAK, f.party, (a.name,),
                 f"{f.routine.name} ({f.owner}): {context} has {a.name} attached (no "
                 "dma_buf_detach)".replace("{ret}", "{0}"), ret, tag="keeps-attachment",
                 where=f.routine.where)
    with c.when(when & a.live & (a.maps - ite(a.cached, 1, 0) > 0)):
        c.report("R32", Severity.LEAK, f.party, (a.name,),
                 f"{f.routine.name} ({f.owner}): {context} has {{1}} mapping(s) of {a.name} "
                 "(no dma_buf_unmap_attachment)".replace("{ret}", "{0}"),
                 ret, a.maps - ite(a.cached, 1, 0), tag="keeps-mapping", where=f.routine.where)
    with c.when(when & a.live & (a.pins > 0)):
        c.report("R32", Severity.LEAK, f.party, (a.name,),
                 f"{f.routine.name} ({f.owner}): {context} has {{1}} dma_buf_pin of {a.name} "
                 "(no dma_buf_unpin)".replace("{ret}", "{0}"), ret, a.pins, tag="keeps-pin",
                 where=f.routine.where)


def _objects(f: Frame) -> tuple[str, ...]:
    return (f.att.name,) if f.att is not None else (f.buf.name,)


def enabled(c: Ctx, routine: Routine, obj: BufRef | AttRef, at: str) -> Expr:
    """When an action of ``routine`` can start (or resume at ``at``)."""
    buf = obj if isinstance(obj, BufRef) else c.layout.buffers[obj.buf]
    k = [s.label for s in routine.segments].index(at)
    if k > 0:
        # a suspended routine goes on whatever happened meanwhile (that is the point)
        return obj.r[f"{routine.name}__pc"].eq(k)
    pre: Expr = buf.life.eq(UNEXPORTED) if routine.exports else buf.life.ne(UNEXPORTED)
    # another context holding the buffer's reservation lock would make the routine wait
    pre = pre & ~buf.resv
    if isinstance(obj, AttRef):
        assert obj.o is not None
        if routine.kind == "setup":
            pre = pre & obj.st.eq(FREE) & obj.o.life.eq(NO_OBJECT)
        else:
            pre = pre & obj.o.life.eq(OBJECT_LIVE)
    # nothing else of this driver starts on the object while one of its routines is
    # suspended there
    for name, pc in obj.r.items():
        if name.endswith("__pc"):
            pre = pre & pc.eq(0)
    return pre


def faults(routine: Routine, at: str, fault_values: Callable[[str], Sequence[str]]) -> list[str]:
    """The failures an action of segment ``at`` can inject: none, each core call's own
    (``SITE__FAULT``: ``map__nomem``, ``attach__exporter``) and the driver's points."""
    seg = next(s for s in routine.segments if s.label == at)
    out = ["none"]
    for site, op in seg.sites:
        out.extend(f"{site}__{f}" for f in fault_values(op) if f != "none")
    out.extend(seg.points)
    return out


__all__ = ["KINDS", "START", "Frame", "Routine", "RoutineError", "Segment", "build", "enabled",
           "faults"]
