"""The build context: what an operation or a callback body writes its statements into."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING

from model.behaviour import Call, Callback, Exporter, Importer
from model.expr import Const, Expr, ExprLike, Var, lift
from model.invariants import Invariant
from model.layout import AttRef, BufRef, Layout, held_by_drivers
from model.profiles import Profile
from model.program import Builder, Site
from model.scope import Scope
from model.violation import Party, Severity

if TYPE_CHECKING:
    from model.ops.cpu import CpuBracket
    from model.routine import Frame

LOCKED_CALLBACKS = frozenset({"pin", "unpin", "map_dma_buf", "unmap_dma_buf", "vmap", "vunmap"})


class Ctx:
    """Builder plus everything a rule may consult: profile, scope, exporter, importers and
    the failure injected into this action (``fault``)."""

    def __init__(
        self,
        layout: Layout,
        profile: Profile,
        exporter: Exporter,
        importers: tuple[Importer, ...],
        fault: str = "none",
    ) -> None:
        self.layout = layout
        self.profile = profile
        self.exporter = exporter
        self.importers = importers
        self.fault = fault
        self.builder = Builder(layout.size)
        self._returns: list[Var] = []
        self._callbacks: list[str] = []
        self.frame: Frame | None = None  # the driver routine whose core calls are built
        # the begin/end_cpu_access whose exporter callback is being built (R21)
        self.cpu_bracket: CpuBracket | None = None

    # ------------------------------------------------------------ who holds what
    def own_refs(self, b: BufRef) -> Expr:
        """The references to ``b`` the caller holds of its own (R5): inside a driver
        routine, the routine's and its object's; elsewhere, ``kref`` less what driver code
        holds (the model's other callers share the rest)."""
        if self.frame is not None and self.frame.buf is b:
            return self.frame.refs_held()
        held = held_by_drivers(b)
        return b.kref if held is None else b.kref - held

    def holds(self, b: BufRef, kind: str, delta: int) -> None:
        """The caller took (``delta`` 1) or gave up (-1) a ``ref``, ``vmap`` or ``cpu``
        bracket on ``b``: a driver routine's frame counts it (its leak checks need it)."""
        if self.frame is not None and self.frame.buf is b:
            self.frame.hold(kind, delta)

    @property
    def scope(self) -> Scope:
        return self.layout.scope

    @property
    def exporter_invariants(self) -> tuple[Invariant, ...]:
        return self.exporter.invariants

    # ------------------------------------------------------------ statements
    def when(self, cond: ExprLike) -> AbstractContextManager[None]:
        """Statements in the ``with`` block run only where ``cond`` holds."""
        return self.builder.when(cond)

    def otherwise(self) -> AbstractContextManager[None]:
        """The else branch of the ``when`` block just closed."""
        return self.builder.otherwise()

    def set(self, var: Var, value: ExprLike) -> None:
        self.builder.set(var, value)

    def inc(self, var: Var, by: int = 1) -> None:
        self.builder.inc(var, by)

    def dec(self, var: Var, by: int = 1) -> None:
        self.builder.dec(var, by)

    def exit(self, result: ExprLike) -> None:
        """Leave the current kernel function, returning ``result``: a negative errno, 0, or
        a value (llseek's offset, poll's revents: an operation registered with
        ``returns=VALUE``)."""
        self.builder.exit(result)

    def local(self, name: str) -> Var:
        return self.builder.local(name)

    @contextmanager
    def function(self, name: str) -> Iterator[Var]:
        """The body of a kernel function; yields the local that receives its return."""
        with self.builder.block(name) as ret:
            yield ret

    def report(
        self,
        rule: str,
        severity: Severity,
        party: Party,
        objects: tuple[str, ...],
        template: str,
        *args: ExprLike,
        tag: str,
        where: str = "",
    ) -> None:
        """Report a violation of ``rule``; ``template`` is formatted with ``args``' values;
        ``where`` locates the driver code that broke it (routines)."""
        self.builder.report(Site(rule, severity, party, objects, template, tag, where), *args)

    # ------------------------------------------------------------ behaviours
    def call(self, op: str, call: Call) -> Expr:
        """Call ``ops->op`` of the exporter; returns its result (0 or a negative errno).

        A member the exporter does not implement returns 0 and does nothing; callers that
        must treat a missing member differently check ``exporter.has(op)`` first.
        """
        body = self.exporter.callbacks.get(op) if self.exporter.has(op) else None
        if body is None:
            return Const(0)
        return self.invoke(op, body, call)

    def invoke(self, name: str, body: Callback, call: Call) -> Var:
        """Run a behaviour's ``body``; returns the local holding what it ``returns()``."""
        ret = self.builder.local(f"{name}.ret")
        self._returns.append(ret)
        self._callbacks.append(name)
        try:
            body(self, call)
        finally:
            self._returns.pop()
            self._callbacks.pop()
        return ret

    @property
    def in_locked_callback(self) -> bool:
        """Inside an exporter callback the core calls with resv held (R30): pin, unpin,
        map_dma_buf, unmap_dma_buf, vmap, vunmap. Holding resv there is the caller's
        obligation, already checked where the call was made."""
        return bool(self._callbacks) and self._callbacks[-1] in LOCKED_CALLBACKS

    def returns(self, errno: ExprLike) -> None:
        """Inside a callback body: the value the callback returns (default 0)."""
        if not self._returns:
            raise RuntimeError("returns() used outside a callback body")
        self.builder.set(self._returns[-1], lift(errno))

    def failing(self, point: str) -> bool:
        """Whether this action injects the failure ``point`` (an allocation, a wait)."""
        return self.fault == point

    # core services a behaviour may call (defined in model.ops.move)
    def move_notify(self, b: BufRef) -> None:
        from model.ops.move import move_notify

        move_notify(self, b)

    def unmap_all(self, a: AttRef) -> None:
        from model.ops.mapping import unmap_all

        unmap_all(self, a)

    def wait_dma(self, ref: BufRef | AttRef) -> None:
        """Wait for the DMA in flight through an attachment's mappings (an importer), or
        through every mapping of a buffer (an exporter waiting on its reservation object)."""
        from model.ops.mapping import wait_dma

        for a in (ref,) if isinstance(ref, AttRef) else ref.atts:
            wait_dma(self, a)
    def sync_for_cpu(self, b: BufRef, a: AttRef | None, d: ExprLike) -> None:
        """dma_sync_sgtable_for_cpu of attachment ``a``'s mapping with direction ``d``, or
        with ``a`` None of the exporter's own device mapping of all of ``b``'s pages; only
        inside begin/end_cpu_access (R21)."""
        from model.ops.cpu import cpu_sync

        cpu_sync(self, b, a, d, for_cpu=True)

    def sync_for_device(self, b: BufRef, a: AttRef | None, d: ExprLike) -> None:
        """dma_sync_sgtable_for_device, as ``sync_for_cpu``."""
        from model.ops.cpu import cpu_sync

        cpu_sync(self, b, a, d, for_cpu=False)

    def backing_moved(self, b: BufRef) -> None:
        from model.ops.move import backing_moved

        backing_moved(self, b)
