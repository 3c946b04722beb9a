"""Reference exporters modelled on real drivers: system heap, udmabuf, GEM/drm_prime and a
TTM-style movable dynamic exporter. Each is correct: in contract mode it breaks no rule."""

from __future__ import annotations

from model.behaviour import Call, Exporter
from model.context import Ctx
from model.expr import Expr, any_, total
from model.invariants import Invariant
from model.kernel import DMA_NONE, EBUSY, EINVAL, ENOMEM
from model.layout import RELEASED, BufRef, counter, flag, pinned_total
from model.violation import Party, Severity

VRAM, GTT = 0, 1  # TTM placements: device memory, system memory the device can reach

_ALL = frozenset({
    "attach", "detach", "map_dma_buf", "unmap_dma_buf", "release", "begin_cpu_access",
    "end_cpu_access", "mmap", "vmap", "vunmap"})


# ---------------------------------------------------------------- system heap


def _heap_map(c: Ctx, call: Call) -> None:
    assert call.att is not None
    c.set(call.att.x["mapped"], 1)


def _heap_unmap(c: Ctx, call: Call) -> None:
    assert call.att is not None
    c.set(call.att.x["mapped"], 0)


def _count_vmap(c: Ctx, call: Call) -> None:
    c.inc(call.buf.x["vmaps"])


def _count_vunmap(c: Ctx, call: Call) -> None:
    c.dec(call.buf.x["vmaps"])


def vmap_matches_core() -> Invariant:
    """The exporter holds exactly one kernel mapping while the core caches one (R25).

    Not checked once the buffer is released: a release with a vmap outstanding is the
    importer's BUG (R6) and the exporter's vunmap is never called."""
    return Invariant(
        "R25", "vmap-leak",
        "{buf}: the exporter holds {0} kernel mapping(s) while the core caches {1}",
        lambda c, b: b.x["vmaps"].eq(b.vmap_ptr) | b.life.eq(RELEASED),
        lambda c, b: (b.x["vmaps"], b.vmap_ptr))


SYSTEM_HEAP = Exporter(
    "system_heap", "static exporter of page-backed buffers; one sg_table per attachment, "
    "synced for the CPU only where mapped",
    ops=_ALL,
    callbacks={"map_dma_buf": _heap_map, "unmap_dma_buf": _heap_unmap,
               "vmap": _count_vmap, "vunmap": _count_vunmap},
    buffer_fields=(counter("vmaps", 2, "kernel mappings made by the heap's vmap"),),
    attachment_fields=(flag("mapped", "the attachment's sg_table is DMA-mapped"),),
    invariants=(vmap_matches_core(),),
    modelled_on="drivers/dma-buf/heaps/system_heap.c",
)


# ---------------------------------------------------------------- udmabuf

SG_NONE, SG_MAPPED, SG_ERR = 0, 1, 2


def _udmabuf_begin(c: Ctx, call: Call) -> None:
    """begin_cpu_access maps the pages for the misc device on first use."""
    sg = call.buf.x["sg"]
    with c.when(sg.eq(SG_NONE)):
        if c.failing("exporter"):
            c.returns(-ENOMEM)  # get_sg_table failed; ubuf->sg is left NULL
        else:
            c.set(sg, SG_MAPPED)


def _udmabuf_end(c: Ctx, call: Call) -> None:
    with c.when(call.buf.x["sg"].eq(SG_NONE)):
        c.returns(-EINVAL)


def _udmabuf_release(c: Ctx, call: Call) -> None:
    sg = call.buf.x["sg"]
    with c.when(sg.eq(SG_ERR)):
        c.report("R21", Severity.BUG, Party.EXPORTER, (call.buf.name,),
                 f"release of {call.buf.name} unmaps the sg_table a failed begin_cpu_access "
                 "left as an error pointer", tag="begin-cpu-error-state")
    c.set(sg, SG_NONE)


UDMABUF = Exporter(
    "udmabuf", "static exporter of memfd pages; caches its sg_table per attachment (up to "
    "6.15) and maps the pages for CPU access on the first begin_cpu_access",
    ops=_ALL - {"attach", "detach"},
    callbacks={"begin_cpu_access": _udmabuf_begin, "end_cpu_access": _udmabuf_end,
               "release": _udmabuf_release, "vmap": _count_vmap, "vunmap": _count_vunmap},
    cache_sgt_mapping=True,
    buffer_fields=(
        counter("sg", 2, "0: no CPU mapping, 1: mapped, 2: error pointer"),
        counter("vmaps", 2, "kernel mappings made by vmap_udmabuf"),
    ),
    fallible=frozenset({"begin_cpu_access"}),
    invariants=(vmap_matches_core(),),
    modelled_on="drivers/dma-buf/udmabuf.c",
)


# ---------------------------------------------------------------- GEM / drm_prime


def _gem_attach(c: Ctx, call: Call) -> None:
    """drm_gem_map_attach pins the object for as long as it is attached."""
    if c.failing("exporter"):
        c.returns(-ENOMEM)  # drm_gem_pin failed: nothing is held
        return
    c.inc(call.buf.x["gem_pins"])


def _gem_detach(c: Ctx, call: Call) -> None:
    c.dec(call.buf.x["gem_pins"])


def _gem_map(c: Ctx, call: Call) -> None:
    """drm_gem_map_dma_buf refuses DMA_NONE with a WARN."""
    if call.dir == DMA_NONE:
        assert call.att is not None
        c.report("R13", Severity.WARN_ERRNO, Party.IMPORTER, (call.att.name,),
                 f"dma_buf_map_attachment of {call.att.name} with DMA_NONE "
                 "(drm_gem_map_dma_buf)", tag="map-dma-none")
        c.returns(-EINVAL)


def gem_pins_match_attachments() -> Invariant:
    return Invariant(
        "R17", "gem-pin-balance",
        "{buf}: the GEM object is pinned {0} time(s) but has {1} attachment(s)",
        lambda c, b: b.x["gem_pins"].eq(_live_attachments(b)),
        lambda c, b: (b.x["gem_pins"], _live_attachments(b)))


def _live_attachments(b: BufRef) -> Expr:
    return total([a.live for a in b.atts])


GEM_PRIME = Exporter(
    "gem_prime", "drm_prime exporter: pins the GEM object at attach, unpins at detach; "
    "caches sg_tables (up to 6.15); rejects DMA_NONE",
    ops=_ALL - {"begin_cpu_access", "end_cpu_access"},
    callbacks={"attach": _gem_attach, "detach": _gem_detach, "map_dma_buf": _gem_map,
               "vmap": _count_vmap, "vunmap": _count_vunmap},
    cache_sgt_mapping=True,
    buffer_fields=(counter("gem_pins", 4, "drm_gem_pin calls not yet undone"),
                   counter("vmaps", 2, "kernel mappings made by drm_gem_vmap")),
    fallible=frozenset({"attach"}),
    invariants=(gem_pins_match_attachments(), vmap_matches_core()),
    modelled_on="drivers/gpu/drm/drm_prime.c",
)


# ---------------------------------------------------------------- TTM-style dynamic


def _ttm_migrate(c: Ctx, call: Call, to: int) -> None:
    """Move the backing store with resv held: notify importers, then move (R18)."""
    b = call.buf
    c.move_notify(b)
    c.set(b.x["placement"], to)
    c.backing_moved(b)


def _ttm_attach(c: Ctx, call: Call) -> None:
    """No peer-to-peer path from this device: clear peer2peer (R9)."""
    assert call.att is not None
    c.set(call.att.p2p, 0)


def _ttm_pin(c: Ctx, call: Call) -> None:
    """Pinning for an importer that cannot reach VRAM pins in GTT, migrating first."""
    b, a = call.buf, call.att
    assert a is not None
    with c.when(b.x["placement"].eq(VRAM) & ~a.p2p):
        with c.when(b.x["pin_count"] > 0):
            c.returns(-EINVAL)  # pinned in VRAM for someone else: cannot serve this one
        with c.otherwise():
            _ttm_migrate(c, call, GTT)
            c.inc(b.x["pin_count"])
    with c.otherwise():
        c.inc(b.x["pin_count"])


def _ttm_unpin(c: Ctx, call: Call) -> None:
    b = call.buf
    with c.when(b.x["pin_count"] > 0):
        c.dec(b.x["pin_count"])


def _ttm_map(c: Ctx, call: Call) -> None:
    """Importers without peer2peer get GTT: migrate first if nothing pins us in VRAM."""
    b, a = call.buf, call.att
    assert a is not None
    with c.when(b.x["placement"].eq(VRAM) & ~a.p2p):
        with c.when(b.x["pin_count"] > 0):
            c.returns(-EBUSY)
        with c.otherwise():
            _ttm_migrate(c, call, GTT)


def _ttm_vmap(c: Ctx, call: Call) -> None:
    """A kernel mapping pins the object while it exists."""
    c.inc(call.buf.x["pin_count"])
    c.inc(call.buf.x["vmaps"])


def _ttm_vunmap(c: Ctx, call: Call) -> None:
    c.dec(call.buf.x["pin_count"])
    c.dec(call.buf.x["vmaps"])


def _ttm_move(c: Ctx, call: Call) -> None:
    """Eviction: never while pinned; otherwise lock, notify, move, unlock."""
    b = call.buf
    with c.when(b.x["pin_count"] > 0):
        c.exit(-EBUSY)
    c.set(b.resv, 1)
    c.move_notify(b)
    c.set(b.x["placement"], GTT - b.x["placement"])
    c.backing_moved(b)
    c.set(b.resv, 0)


def ttm_pins_cover_core() -> Invariant:
    return Invariant(
        "R17", "pin-count",
        "{buf}: the exporter counts {0} pin(s) but the core took {1}",
        lambda c, b: b.x["pin_count"] >= pinned_total(b),
        lambda c, b: (b.x["pin_count"], pinned_total(b)))


def ttm_no_peer2peer() -> Invariant:
    """This device has no peer-to-peer path: attach must clear peer2peer (R9)."""
    return Invariant(
        "R9", "peer2peer-not-cleared",
        "{buf}: an attachment keeps peer2peer although this exporter has no P2P path",
        lambda c, b: ~any_([a.live & a.p2p for a in b.atts]))


def ttm_maps_reachable() -> Invariant:
    """No current mapping of an importer without peer2peer points into VRAM (R9)."""
    return Invariant(
        "R9", "vram-to-non-p2p",
        "{buf}: an importer without peer2peer holds a mapping of VRAM",
        lambda c, b: ~(b.x["placement"].eq(VRAM) & any_(
            [a.live & ~a.p2p & s.live & ~s.stale for a in b.atts for s in a.slots])))


TTM = Exporter(
    "ttm", "movable dynamic exporter (pin/unpin, move_notify): evicts between VRAM and GTT, "
    "migrates to GTT for importers without peer2peer, pins for vmap",
    ops=_ALL | {"pin", "unpin"},
    callbacks={"attach": _ttm_attach, "pin": _ttm_pin, "unpin": _ttm_unpin,
               "map_dma_buf": _ttm_map, "vmap": _ttm_vmap, "vunmap": _ttm_vunmap},
    buffer_fields=(counter("pin_count", 8, "ttm_bo pin count"),
                   counter("placement", 1, "0: VRAM, 1: GTT"),
                   counter("vmaps", 2, "kernel mappings")),
    move=_ttm_move,
    invariants=(ttm_pins_cover_core(), vmap_matches_core(), ttm_no_peer2peer(),
                ttm_maps_reachable()),
    modelled_on="amdgpu_dma_buf / ttm_bo (drivers/gpu/drm/amd/amdgpu/amdgpu_dma_buf.c)",
)

REFERENCE_EXPORTERS: tuple[Exporter, ...] = (SYSTEM_HEAP, UDMABUF, GEM_PRIME, TTM)
EXPORTERS = {x.name: x for x in REFERENCE_EXPORTERS}
