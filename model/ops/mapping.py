"""Map, unmap and DMA through a mapping (R12-R16), in locked and _unlocked forms."""

from __future__ import annotations

from collections.abc import Callable

from model.behaviour import Call
from model.context import Ctx
from model.expr import FALSE, Expr, lift
from model.kernel import (
    DIRECTION_NAMES,
    DIRECTIONS,
    DMA_BIDIRECTIONAL,
    DMA_NONE,
    EBUSY,
    ENOMEM,
    ERESTARTSYS,
)
from model.layout import AttRef, SlotRef
from model.ops.common import (
    BUG,
    ERRNO,
    EXPORTER,
    IMPORTER,
    SILENT,
    WARN,
    attached_ever,
    attachment_alive,
    buffer_alive,
    must_hold,
    must_not_hold,
)
from model.ops.cpu import fences_signalled
from model.ops.registry import Env, Params, faults, op, product
from model.violation import Party, Severity

FOREIGN = "foreign"  # an sg_table the attachment never mapped


def pin_on_map(c: Ctx, a: AttRef) -> Expr:
    """Whether each mapping of ``a`` holds an exporter pin (R12): the exporter is dynamic
    and the importer is static or the kernel lacks CONFIG_DMABUF_MOVE_NOTIFY
    (dma_buf_pin_on_map from 6.16; the same test inside dma_buf_map_attachment before)."""
    if not c.exporter.dynamic:
        return FALSE
    return lift(True) if not c.profile.move_notify else ~a.dyn


def _needs_resv(c: Ctx, a: AttRef) -> Expr:
    """When the locked map/unmap must be called with resv held (R12, R15)."""
    if c.profile.resv_for_every_map:
        return lift(True)
    # v6.1: dynamic importers, or a dynamic exporter without a cached sg_table
    return a.dyn | (lift(c.exporter.dynamic) & ~a.cached)



def _map_params(env: Env) -> list[Params]:
    return [{**p, **f} for p in product(dir=tuple(DIRECTIONS))
            for f in faults(env, "map_dma_buf", "nomem", "intr")]


def _unmap_params(env: Env) -> list[Params]:
    slots: tuple[object, ...] = (*range(env.scope.maps), FOREIGN)
    return product(slot=slots, dir=("BIDIRECTIONAL", "TO_DEVICE", "FROM_DEVICE"))


def _unlocked(env: Env) -> bool:
    return env.profile.unlocked_variants


def map_attachment(c: Ctx, a: AttRef, d: int) -> None:
    """dma_buf_map_attachment with resv (maybe) held; the mapping lands in a free slot."""
    b = c.layout.buffers[a.buf]
    name = DIRECTION_NAMES[d]
    attachment_alive(c, a, "dma_buf_map_attachment")
    buffer_alive(c, b, "dma_buf_map_attachment")
    must_hold(c, b, "R12", IMPORTER, f"dma_buf_map_attachment of {a.name}",
              tag="map-without-resv", when=_needs_resv(c, a))
    if c.profile.sgt_cache:
        cached = a.slots[0]
        with c.when(a.cached):
            # R13: the cached sg_table serves every map whose direction it covers
            with c.when(cached.dir.ne(d + 1) & cached.dir.ne(DMA_BIDIRECTIONAL + 1)):
                c.report("R13", ERRNO, IMPORTER, (a.name,),
                         f"dma_buf_map_attachment of {a.name} with {name} after its cached "
                         "sg_table was mapped with another direction (code {0})",
                         cached.dir - 1, tag="map-direction-change")
                c.exit(-EBUSY)
            c.exit(0)
    with c.when(a.maps >= c.scope.maps):
        c.report("SCOPE", Severity.SCOPE, Party.MODEL, (a.name,),
                 f"{a.name} already holds {c.scope.maps} mappings, the scope's bound",
                 tag="scope-bound")
        c.exit(-ENOMEM)
    pom = pin_on_map(c, a)
    with c.when(pom):
        ret = c.call("pin", Call(b, a))
        with c.when(ret.ne(0)):
            if c.profile.pin_busy_warns:
                with c.when(ret.eq(-EBUSY)):
                    c.report("R12", WARN, EXPORTER, (a.name,),
                             f"the exporter's pin returned -EBUSY for {a.name} although it "
                             "has attachments that prevent moving", tag="pin-busy")
            c.exit(ret)
    # an injected "nomem" is the exporter failing to build the sg_table
    ret = lift(-ENOMEM) if c.failing("nomem") else c.call("map_dma_buf", Call(b, a, d))
    with c.when(ret.ne(0)):
        with c.when(pom):
            c.call("unpin", Call(b, a))
        c.exit(ret)
    if d == DMA_NONE:
        # R13: an exporter that accepts DMA_NONE maps its sg_table for the importer's device
        # with it, and the DMA API BUGs on an invalid direction (drm_prime refuses it first)
        c.report("R13", BUG, IMPORTER, (a.name,),
                 f"dma_buf_map_attachment of {a.name} with DMA_NONE: the exporter hands the "
                 "direction to the DMA API, which BUGs on it (dma_map_sgtable)",
                 tag="map-dma-none")
    # static importers wait for KERNEL fences; an interrupted wait unmaps and fails
    with c.when(~a.dyn & b.fences["KERNEL"]):
        if c.failing("intr"):
            c.call("unmap_dma_buf", Call(b, a, d))
            with c.when(pom):
                c.call("unpin", Call(b, a))
            c.exit(-ERESTARTSYS)
        fences_signalled(c, b, ("KERNEL",))
    _store(c, a, d, pom, list(a.slots))
    if c.profile.sgt_cache and c.exporter.cache_sgt_mapping:
        c.set(a.cached, 1)


def _store(c: Ctx, a: AttRef, d: int, pom: Expr, slots: list[SlotRef]) -> None:
    """Record the new sg_table in the first free slot (the model's handle for it)."""
    s = slots[0]
    with c.when(~s.live):
        c.set(s.dir, d + 1)
        c.set(s.pinned, pom)
        c.set(s.notified, 0)
        c.set(s.stale, 0)
        c.set(s.dma, 0)
    if len(slots) > 1:
        with c.otherwise():
            _store(c, a, d, pom, slots[1:])


def unmap_attachment(c: Ctx, a: AttRef, slot: int | str, d: int) -> None:
    """dma_buf_unmap_attachment of the sg_table in ``slot`` (or a foreign one)."""
    b = c.layout.buffers[a.buf]
    attachment_alive(c, a, "dma_buf_unmap_attachment")
    buffer_alive(c, b, "dma_buf_unmap_attachment")
    must_hold(c, b, "R15", IMPORTER, f"dma_buf_unmap_attachment of {a.name}",
              tag="unmap-without-resv", when=_needs_resv(c, a))
    if slot == FOREIGN:
        c.report("R15", SILENT, IMPORTER, (a.name,),
                 f"dma_buf_unmap_attachment of {a.name} with an sg_table it never mapped: "
                 "the exporter frees someone else's table", tag="unmap-foreign")
        c.exit(0)
        return
    assert isinstance(slot, int)
    s = a.slots[slot]
    if c.profile.sgt_cache and slot == 0:
        with c.when(a.cached):
            c.exit(0)  # unmapping the cached sg_table is a no-op; detach unmaps it (R15)
    with c.when(~s.live):
        c.report("R15", SILENT, IMPORTER, (a.name,),
                 f"dma_buf_unmap_attachment of {s.name}, which holds no mapping "
                 "({0} outstanding on the attachment): the exporter unmaps twice", a.maps,
                 tag="unmap-unmapped")
        c.exit(0)
    with c.when(s.dir.ne(d + 1)):
        c.report("R15", SILENT, IMPORTER, (a.name,),
                 f"dma_buf_unmap_attachment of {s.name} with {DIRECTION_NAMES[d]}, but it was "
                 "mapped with direction code {0}", s.dir - 1, tag="unmap-direction")
    with c.when(s.dma):
        c.report("R15", SILENT, IMPORTER, (a.name,),
                 f"dma_buf_unmap_attachment of {s.name} while the device's DMA through it is "
                 "in flight: the job reaches addresses the exporter has unmapped (wait for "
                 "its fence first)", tag="unmap-under-dma")
    release_mapping(c, a, s, d)


def forget_mapping(c: Ctx, s: SlotRef) -> None:
    """The slot no longer holds a mapping (unmapped, or leaked with its attachment)."""
    for var in (s.dir, s.pinned, s.notified, s.stale, s.dma):
        c.set(var, 0)


def release_mapping(c: Ctx, a: AttRef, s: SlotRef, d: int | Expr) -> None:
    """The exporter unmaps the sg_table in ``s`` and the pin its map took is dropped (R12,
    R15): what an unmap does, and what an importer's move_notify does for every mapping."""
    b = c.layout.buffers[a.buf]
    c.call("unmap_dma_buf", Call(b, a, d, s))
    with c.when(s.pinned):
        c.call("unpin", Call(b, a))
    forget_mapping(c, s)


def unmap_all(c: Ctx, a: AttRef) -> None:
    """Unmap every mapping of ``a`` through the exporter (an importer's move_notify that
    tears its mappings down at once; resv is held, as unmap requires). A mapping with DMA
    in flight must be waited for first (``wait_dma``): amdgpu_dma_buf_move_notify syncs its
    page-table invalidation to the running jobs for exactly this reason."""
    for s in a.slots:
        with c.when(s.live & ~(a.cached if s.index == 0 else FALSE)):
            with c.when(s.dma):
                c.report("R18", SILENT, IMPORTER, (a.name,),
                         f"move_notify invalidates {s.name} while the device's DMA through it "
                         "is in flight: the running job reaches the old location (wait for "
                         "or sync to its fence first)", tag="move-notify-under-dma")
            release_mapping(c, a, s, s.dir - 1)


def wait_dma(c: Ctx, a: AttRef) -> None:
    """The importer waits for its device's jobs on ``a`` (dma_resv_wait_timeout on its own
    fences, or an invalidation synced to them): no DMA is in flight through its mappings."""
    for s in a.slots:
        c.set(s.dma, 0)


def _locked_around(c: Ctx, a: AttRef, what: str, inner: Callable[[], None]) -> None:
    """The _unlocked variants: take resv, call the locked function, drop resv (R16)."""
    b = c.layout.buffers[a.buf]
    must_not_hold(c, b, "R16", what, tag="unlocked-under-resv")
    c.set(b.resv, 1)
    with c.function(what) as ret:
        inner()
    c.set(b.resv, 0)
    with c.when(ret.ne(0)):
        c.exit(ret)


@op("map", actor="importer", target="attachment", enabled=attached_ever,
    kernel="dma_buf_map_attachment", rules=("R12", "R13", "R14"), params=_map_params)
def map_(c: Ctx, a: AttRef, dir: str, fault: str) -> None:
    map_attachment(c, a, DIRECTIONS[dir])


@op("map_unlocked", actor="importer", target="attachment", enabled=attached_ever,
    kernel="dma_buf_map_attachment_unlocked", rules=("R16", "R12", "R13"), params=_map_params,
    available=_unlocked)
def map_unlocked(c: Ctx, a: AttRef, dir: str, fault: str) -> None:
    _locked_around(c, a, "dma_buf_map_attachment_unlocked",
                   lambda: map_attachment(c, a, DIRECTIONS[dir]))


@op("unmap", actor="importer", target="attachment", enabled=attached_ever,
    kernel="dma_buf_unmap_attachment", rules=("R15",), params=_unmap_params)
def unmap(c: Ctx, a: AttRef, slot: int | str, dir: str) -> None:
    unmap_attachment(c, a, slot, DIRECTIONS[dir])


@op("unmap_unlocked", actor="importer", target="attachment", enabled=attached_ever,
    kernel="dma_buf_unmap_attachment_unlocked", rules=("R16", "R15"), params=_unmap_params,
    available=_unlocked)
def unmap_unlocked(c: Ctx, a: AttRef, slot: int | str, dir: str) -> None:
    _locked_around(c, a, "dma_buf_unmap_attachment_unlocked",
                   lambda: unmap_attachment(c, a, slot, DIRECTIONS[dir]))


def _slots(env: Env) -> list[Params]:
    return product(slot=tuple(range(env.scope.maps)))


def _dma_through(c: Ctx, a: AttRef, s: SlotRef) -> None:
    """What DMA through ``s`` needs: a mapping, and one made since the last move."""
    b = c.layout.buffers[a.buf]
    attachment_alive(c, a, "DMA")
    buffer_alive(c, b, "DMA")
    with c.when(~s.live):
        c.report("R15", SILENT, IMPORTER, (a.name,),
                 f"DMA through {s.name}, which holds no mapping", tag="access-unmapped")
        c.exit(0)
    with c.when(s.stale & s.notified):
        c.report("R18", SILENT, IMPORTER, (a.name,),
                 f"DMA through {s.name} after move_notify and the move, without mapping "
                 "again: the device reaches the old location", tag="access-after-move")


@op("access", actor="importer", target="attachment", enabled=attached_ever,
    kernel="(device DMA through a mapping)", rules=("R18", "R15"), params=_slots)
def access(c: Ctx, a: AttRef, slot: int) -> None:
    """The importer's device reads or writes through the sg_table in ``slot``, and is done
    before the next step."""
    _dma_through(c, a, a.slots[slot])


@op("start_dma", actor="importer", target="attachment", enabled=attached_ever,
    kernel="(a device job submitted on a mapping)", rules=("R18", "R15"), params=_slots)
def start_dma(c: Ctx, a: AttRef, slot: int) -> None:
    """The importer submits a job that reads or writes through the sg_table in ``slot``
    and runs until ``dma_done``; its fence is in the buffer's reservation object, so the
    exporter's ``wait_dma()`` and the importer's own wait for it."""
    s = a.slots[slot]
    _dma_through(c, a, s)
    c.set(s.dma, 1)


def _in_flight(c: Ctx, a: AttRef, slot: int, **_: object) -> Expr:
    return a.slots[slot].dma


@op("dma_done", actor="device", target="attachment", enabled=_in_flight,
    kernel="dma_fence_signal (the job's fence)", rules=("R18",), params=_slots)
def dma_done(c: Ctx, a: AttRef, slot: int) -> None:
    """The importer's device finishes the job running through ``slot``."""
    c.set(a.slots[slot].dma, 0)


@op("read_pages", actor="importer", target="attachment", enabled=attached_ever,
    kernel="sg_page", rules=("R14",), params=_slots)
def read_pages(c: Ctx, a: AttRef, slot: int) -> None:
    """The importer dereferences struct page pointers of a mapped sg_table (R14)."""
    s = a.slots[slot]
    with c.when(s.live):
        c.report("R14", SILENT, IMPORTER, (a.name,),
                 f"struct page read from {s.name}: importers may use only the DMA addresses "
                 "(DMABUF_DEBUG hands them scrambled or NULL pages)", tag="read-pages")


__all__ = ["FOREIGN", "forget_mapping", "map_attachment", "pin_on_map", "release_mapping",
           "unmap_all", "unmap_attachment", "wait_dma"]
