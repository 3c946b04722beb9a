"""The state vector's layout: which variable lives where, and typed handles to objects.

A state is a flat tuple of integers. The layout names every position
(``b0.kref``, ``b0.a1.s0.dir``, ``b0.x.pin_count``) and gives operations handles
(``BufRef``, ``AttRef``, ``SlotRef``) whose attributes are the variables as expressions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from model.expr import BOOL, INT, Expr, Var, ite, total
from model.scope import Scope

# buffer life
UNEXPORTED, LIVE, RELEASED = 0, 1, 2
LIFE_NAMES = {UNEXPORTED: "unexported", LIVE: "live", RELEASED: "released"}
# attachment state
FREE, ATTACHED, DETACHED = 0, 1, 2
ATT_NAMES = {FREE: "free", ATTACHED: "attached", DETACHED: "detached"}


@dataclass(frozen=True, slots=True)
class Field:
    """A private variable a behaviour adds to every buffer or attachment."""

    name: str
    lo: int = 0
    hi: int = 1
    type: str = BOOL
    doc: str = ""

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ValueError(f"field name {self.name!r} is not an identifier")
        if self.type == BOOL and (self.lo, self.hi) != (0, 1):
            raise ValueError(f"boolean field {self.name!r} must have bounds 0..1")


def counter(name: str, hi: int, doc: str = "") -> Field:
    return Field(name, 0, hi, INT, doc)


def flag(name: str, doc: str = "") -> Field:
    return Field(name, 0, 1, BOOL, doc)


@dataclass(frozen=True, slots=True)
class SlotRef:
    """One sg_table an attachment has mapped: its direction code (0: none, else dir + 1),
    whether mapping it took an exporter pin, whether move_notify has told the importer about
    it, whether the backing storage has moved under it, and whether the importer's device has
    DMA in flight through it (a job started and not yet finished)."""

    name: str
    index: int
    dir: Var
    pinned: Var
    notified: Var
    stale: Var
    dma: Var

    @property
    def live(self) -> Expr:
        return self.dir.ne(0)


# an importer object's life (the GEM object, BO or umem standing for one import)
NO_OBJECT, OBJECT_LIVE, OBJECT_FREED = 0, 1, 2
OBJECT_NAMES = {NO_OBJECT: "none", OBJECT_LIVE: "live", OBJECT_FREED: "freed"}


@dataclass(frozen=True, slots=True)
class ObjRef:
    """The importer object that owns an attachment slot (``model.routine``): whether it
    exists, and what it holds of the buffer: references, vmaps and CPU-access brackets
    (its attachment, mappings and pins are the slot's own)."""

    name: str
    life: Var
    refs: Var
    vmaps: Var
    cpu: Var

    @property
    def live(self) -> Expr:
        return self.life.eq(OBJECT_LIVE)


def _no_vars() -> Mapping[str, Var]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class AttRef:
    name: str
    buf: int
    index: int
    st: Var
    imp: Var
    dyn: Var
    p2p: Var
    pins: Var
    apin: Var
    cached: Var
    slots: tuple[SlotRef, ...]
    x: Mapping[str, Var]
    i: Mapping[str, Var]
    o: ObjRef | None = None  # the importer object on this slot, in models with routines
    r: Mapping[str, Var] = field(default_factory=_no_vars)  # suspended routines' frames

    @property
    def live(self) -> Expr:
        return self.st.eq(ATTACHED)

    @property
    def maps(self) -> Expr:
        """Outstanding mappings (the cached sg_table included)."""
        return total([s.live for s in self.slots])


@dataclass(frozen=True, slots=True)
class BufRef:
    name: str
    index: int
    life: Var
    kref: Var
    fds: Var
    vmas: Var
    resv: Var
    reserved: Var
    fences: Mapping[str, Var]
    cb_in: Var
    cb_out: Var
    vmap_cnt: Var
    vmap_ptr: Var
    cpu: Var
    cpu_dir: Var
    vma_pgoff: Var
    vma_end: Var
    vma_grow: Var
    atts: tuple[AttRef, ...]
    x: Mapping[str, Var]
    r: Mapping[str, Var] = field(default_factory=_no_vars)  # suspended routines' frames

    @property
    def live(self) -> Expr:
        return self.life.eq(LIVE)

    @property
    def refcount(self) -> Expr:
        """The file refcount: caller references, fds, vmas and armed poll callbacks (R5)."""
        return total([self.kref, self.fds, self.vmas, self.cb_in, self.cb_out])

    def fence_set(self, usages: tuple[str, ...]) -> Expr:
        from model.expr import any_
        return any_([self.fences[u] for u in usages])


class Layout:
    """Allocates the state vector for a scope and the behaviours' private fields."""

    def __init__(
        self,
        scope: Scope,
        importers: int,
        exporter_buffer: tuple[Field, ...] = (),
        exporter_attachment: tuple[Field, ...] = (),
        importer_attachment: tuple[Field, ...] = (),
        objects: bool = False,
        buffer_frames: tuple[Field, ...] = (),
        attachment_frames: tuple[Field, ...] = (),
    ) -> None:
        """``objects`` gives every attachment slot an importer object (models whose
        importers have routines); ``buffer_frames`` and ``attachment_frames`` are the
        variables of routines suspended at a ``yield``, per buffer and per slot."""
        self.scope = scope
        self.vars: list[Var] = []
        bufs = []
        for b in range(scope.buffers):
            p = f"b{b}"
            atts = []
            for a in range(scope.attachments):
                q = f"{p}.a{a}"
                slots = tuple(
                    SlotRef(
                        f"{q}.s{s}", s,
                        self._var(f"{q}.s{s}.dir", 0, 4),
                        self._bool(f"{q}.s{s}.pinned"),
                        self._bool(f"{q}.s{s}.notified"),
                        self._bool(f"{q}.s{s}.stale"),
                        self._bool(f"{q}.s{s}.dma"),
                    )
                    for s in range(scope.maps)
                )
                atts.append(AttRef(
                    q, b, a,
                    st=self._var(f"{q}.st", 0, 2),
                    imp=self._var(f"{q}.imp", 0, max(importers - 1, 0)),
                    dyn=self._bool(f"{q}.dyn"),
                    p2p=self._bool(f"{q}.p2p"),
                    pins=self._var(f"{q}.pins", 0, scope.pins),
                    apin=self._bool(f"{q}.apin"),
                    cached=self._bool(f"{q}.cached"),
                    slots=slots,
                    x=self._fields(f"{q}.x", exporter_attachment),
                    i=self._fields(f"{q}.i", importer_attachment),
                    o=ObjRef(
                        f"{q}.obj",
                        self._var(f"{q}.obj.life", 0, 2),
                        self._var(f"{q}.obj.refs", 0, scope.refs),
                        self._var(f"{q}.obj.vmaps", 0, scope.vmaps),
                        self._var(f"{q}.obj.cpu", 0, scope.cpu),
                    ) if objects else None,
                    r=self._fields(f"{q}.r", attachment_frames),
                ))
            bufs.append(BufRef(
                p, b,
                life=self._var(f"{p}.life", 0, 2),
                kref=self._var(f"{p}.kref", 0, scope.refs),
                fds=self._var(f"{p}.fds", 0, scope.fds),
                vmas=self._var(f"{p}.vmas", 0, scope.vmas),
                resv=self._bool(f"{p}.resv"),
                reserved=self._var(f"{p}.reserved", 0, scope.fence_slots),
                fences=MappingProxyType(
                    {u: self._bool(f"{p}.fence.{u}") for u in ("KERNEL", "WRITE", "READ",
                                                                "BOOKKEEP")}),
                cb_in=self._bool(f"{p}.cb_in"),
                cb_out=self._bool(f"{p}.cb_out"),
                vmap_cnt=self._var(f"{p}.vmap_cnt", 0, scope.vmaps),
                vmap_ptr=self._bool(f"{p}.vmap_ptr"),
                cpu=self._var(f"{p}.cpu", 0, scope.cpu),
                cpu_dir=self._var(f"{p}.cpu_dir", 0, 3),
                # the mmap()ed area (R26): its first and one-past-last page of the buffer,
                # and whether mremap may grow it (the exporter's mmap did not set
                # VM_DONTEXPAND); the model keeps one area per buffer, the latest mapped
                # (with the default ``vmas=1``, the only one), and clears it when the last
                # vma goes. A grown area ends at most ``size_pages + 1`` pages past its start
                vma_pgoff=self._var(f"{p}.vma_pgoff", 0, scope.size_pages - 1),
                vma_end=self._var(f"{p}.vma_end", 0, 2 * scope.size_pages),
                vma_grow=self._bool(f"{p}.vma_grow"),
                atts=tuple(atts),
                x=self._fields(f"{p}.x", exporter_buffer),
                r=self._fields(f"{p}.r", buffer_frames),
            ))
        self.buffers: tuple[BufRef, ...] = tuple(bufs)
        self.by_name: dict[str, Var] = {v.name: v for v in self.vars}

    def _var(self, name: str, lo: int, hi: int, type_: str = INT) -> Var:
        v = Var(name, len(self.vars), lo, hi, type_)
        self.vars.append(v)
        return v

    def _bool(self, name: str) -> Var:
        return self._var(name, 0, 1, BOOL)

    def _fields(self, prefix: str, fields: tuple[Field, ...]) -> Mapping[str, Var]:
        return MappingProxyType(
            {f.name: self._var(f"{prefix}.{f.name}", f.lo, f.hi, f.type) for f in fields})

    @property
    def size(self) -> int:
        return len(self.vars)

    def attachment(self, buf: int, att: int) -> AttRef:
        return self.buffers[buf].atts[att]

    def initial(self) -> tuple[int, ...]:
        return tuple(max(v.lo, 0) if v.lo <= 0 <= v.hi else v.lo for v in self.vars)


def held_by_drivers(b: BufRef) -> Expr | None:
    """References to ``b`` that driver code holds: its importer objects' and those of
    routines suspended at a ``yield`` (``None`` in a model without routines). The rest of
    ``kref`` belongs to the other callers of the API."""
    parts: list[Expr] = [ite(a.o.live, a.o.refs, 0) for a in b.atts if a.o is not None]
    for frames in (b.r, *(a.r for a in b.atts)):
        parts.extend(v for k, v in frames.items() if k.endswith("__refs"))
    return total(parts) if parts else None


def pinned_total(b: BufRef) -> Expr:
    """Pins the core has taken on ``b`` through ``ops->pin`` and not yet dropped: importer
    pins, attach-time pins (R10) and map-time pins (R12)."""
    parts: list[Expr] = []
    for a in b.atts:
        parts.append(ite(a.live, a.pins, 0))
        parts.append(ite(a.live & a.apin, 1, 0))
        parts.extend(a.live & s.pinned for s in a.slots)
    return total(parts)
