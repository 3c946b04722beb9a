"""Attach, dynamic attach and detach (R7-R11), with map-at-attach up to 6.15 (R10)."""

from __future__ import annotations

from collections.abc import Callable

from model.behaviour import Call, Importer
from model.context import Ctx
from model.expr import Expr
from model.kernel import DMA_BIDIRECTIONAL, EINVAL, ENOMEM
from model.layout import ATTACHED, DETACHED, FREE, UNEXPORTED, AttRef
from model.ops.common import (
    IMPORTER,
    LEAK,
    SILENT,
    WARN_ERRNO,
    attached_ever,
    attachment_alive,
    buffer_alive,
    must_not_hold,
)
from model.ops.mapping import forget_mapping
from model.ops.registry import Env, Params, faults, op


def _free_slot(c: Ctx, a: AttRef, **_: object) -> Expr:
    b = c.layout.buffers[a.buf]
    return a.st.eq(FREE) & b.life.ne(UNEXPORTED)


def _importer_choices(dynamic: bool) -> Callable[[Env], list[Params]]:
    def choose(env: Env) -> list[Params]:
        return [{"importer": i.name, **f} for i in env.importers
                if i.dynamic == dynamic and not i.driven
                for f in faults(env, "attach", "nomem")]
    return choose


def importer_index(c: Ctx, name: str) -> int:
    return [i.name for i in c.importers].index(name)


def _attach(c: Ctx, a: AttRef, imp: int) -> None:
    """dma_buf_dynamic_attach (dma_buf_attach passes no importer_ops)."""
    importer: Importer = c.importers[imp]
    b = c.layout.buffers[a.buf]
    kernel = "dma_buf_dynamic_attach" if importer.dynamic else "dma_buf_attach"
    buffer_alive(c, b, kernel, own_reference=False)
    must_not_hold(c, b, "R8", kernel, tag="attach-under-resv")
    with c.when(c.own_refs(b).eq(0)):
        c.report("R8", SILENT, IMPORTER, (a.name,),
                 f"{kernel} on {b.name} by a caller holding no reference of its own: attach "
                 "takes none, so the buffer may be released under the attachment",
                 tag="attached-without-reference")
    if importer.dynamic and not importer.has_move_notify:
        c.report("R7", WARN_ERRNO, IMPORTER, (a.name,),
                 f"{kernel} by {importer.name} with importer_ops but no move_notify",
                 tag="attach-without-move-notify")
        c.exit(-EINVAL)
        return
    # the attachment is set up before ops->attach so that the exporter can clear peer2peer
    c.set(a.p2p, importer.dynamic and importer.allow_peer2peer)
    c.set(a.dyn, importer.dynamic)
    c.set(a.imp, imp)
    if c.failing("nomem"):
        c.exit(-ENOMEM)  # kzalloc of the attachment failed
        return
    ret = c.call("attach", Call(b, a))
    with c.when(ret.ne(0)):
        for var in (a.p2p, a.dyn, a.imp):
            c.set(var, 0)
        c.exit(ret)
    c.set(a.st, ATTACHED)
    if c.profile.sgt_cache and importer.dynamic != c.exporter.dynamic:
        _map_at_attach(c, a)


def _map_at_attach(c: Ctx, a: AttRef) -> None:
    """R10: mismatched dynamicity maps BIDIRECTIONAL at once and caches it (up to 6.15);
    a dynamic exporter is pinned first, for the attachment's whole life."""
    b = c.layout.buffers[a.buf]
    slot = a.slots[0]
    if c.exporter.dynamic:
        c.set(b.resv, 1)
        ret = c.call("pin", Call(b, a))
        with c.when(ret.ne(0)):
            c.set(b.resv, 0)
            _undo_attach(c, a)
            c.exit(ret)
        c.set(a.apin, 1)
        c.set(b.resv, 0)
    ret = c.call("map_dma_buf", Call(b, a, DMA_BIDIRECTIONAL, slot))
    with c.when(ret.ne(0)):
        if c.exporter.dynamic:
            c.call("unpin", Call(b, a))
            c.set(a.apin, 0)
        _undo_attach(c, a)
        c.exit(ret)
    c.set(slot.dir, DMA_BIDIRECTIONAL + 1)
    c.set(a.cached, 1)


def _undo_attach(c: Ctx, a: AttRef) -> None:
    b = c.layout.buffers[a.buf]
    c.call("detach", Call(b, a))
    c.set(a.st, FREE)
    for var in (a.p2p, a.dyn, a.imp):
        c.set(var, 0)


@op("attach", actor="importer", target="attachment", enabled=_free_slot,
    kernel="dma_buf_attach", rules=("R8", "R9", "R10"), params=_importer_choices(False))
def attach(c: Ctx, a: AttRef, importer: str, fault: str) -> None:
    _attach(c, a, importer_index(c, importer))


@op("dynamic_attach", actor="importer", target="attachment", enabled=_free_slot,
    kernel="dma_buf_dynamic_attach", rules=("R7", "R8", "R9", "R10"),
    params=_importer_choices(True))
def dynamic_attach(c: Ctx, a: AttRef, importer: str, fault: str) -> None:
    _attach(c, a, importer_index(c, importer))



@op("detach", actor="importer", target="attachment", enabled=attached_ever,
    kernel="dma_buf_detach", rules=("R11", "R17"))
def detach(c: Ctx, a: AttRef) -> None:
    b = c.layout.buffers[a.buf]
    attachment_alive(c, a, "dma_buf_detach")
    buffer_alive(c, b, "dma_buf_detach")
    must_not_hold(c, b, "R11", "dma_buf_detach", tag="detach-under-resv")
    cached_slot = a.slots[0]
    if c.profile.sgt_cache:
        # up to 6.15 the core unmaps the cached sg_table and drops the attach-time pin
        with c.when(a.cached):
            c.set(b.resv, 1)
            c.call("unmap_dma_buf", Call(b, a, DMA_BIDIRECTIONAL, cached_slot))
            c.set(cached_slot.dir, 0)
            c.set(a.cached, 0)
            with c.when(a.apin):
                c.call("unpin", Call(b, a))
                c.set(a.apin, 0)
            c.set(b.resv, 0)
    for s in a.slots:
        with c.when(s.live):
            c.report("R11", LEAK, IMPORTER, (a.name,),
                     f"dma_buf_detach of {a.name} with its mapping {s.name} outstanding: the "
                     + ("sg_table leaks" if c.profile.sgt_cache
                        else "sg_table and any map-time pin leak"),
                     tag="detach-while-mapped")
    with c.when(a.pins > 0):
        c.report("R17", LEAK, IMPORTER, (a.name,),
                 f"dma_buf_detach of {a.name} with {{0}} dma_buf_pin() never unpinned",
                 a.pins, tag="detach-while-pinned")
    c.call("detach", Call(b, a))
    c.set(a.st, DETACHED)
    for var in (a.pins, a.apin, a.p2p, a.cached):
        c.set(var, 0)
    for s in a.slots:
        forget_mapping(c, s)  # leaked above if still live
