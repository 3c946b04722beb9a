"""Pin, unpin, and the exporter's move path with move_notify (R17, R18, R31)."""

from __future__ import annotations

from model.behaviour import Call
from model.context import Ctx
from model.expr import Expr
from model.layout import LIVE, OBJECT_FREED, AttRef, BufRef, pinned_total
from model.ops.common import (
    BUG,
    EXPORTER,
    IMPORTER,
    SILENT,
    WARN,
    attached_ever,
    attachment_alive,
    buffer_alive,
    must_hold,
)
from model.ops.registry import faults, op


def notify_name(c: Ctx) -> str:
    """The callback's name in this kernel (renamed by the revoke series, R31)."""
    return "dma_buf_invalidate_mappings" if c.profile.revoke else "dma_buf_move_notify"



@op("pin", actor="importer", target="attachment", enabled=attached_ever, kernel="dma_buf_pin",
    rules=("R17",), params=lambda env: faults(env, "pin"))
def pin(c: Ctx, a: AttRef, fault: str) -> None:
    b = c.layout.buffers[a.buf]
    attachment_alive(c, a, "dma_buf_pin")
    buffer_alive(c, b, "dma_buf_pin")
    with c.when(~a.dyn):
        c.report("R17", WARN, IMPORTER, (a.name,),
                 f"dma_buf_pin of {a.name}, a static attachment (only dynamic importers pin)",
                 tag="pin-static")
    must_hold(c, b, "R17", IMPORTER, f"dma_buf_pin of {a.name}", tag="pin-without-resv")
    ret = c.call("pin", Call(b, a))
    with c.when(ret.ne(0)):
        c.exit(ret)
    c.inc(a.pins)


@op("unpin", actor="importer", target="attachment", enabled=attached_ever,
    kernel="dma_buf_unpin", rules=("R17",))
def unpin(c: Ctx, a: AttRef) -> None:
    b = c.layout.buffers[a.buf]
    attachment_alive(c, a, "dma_buf_unpin")
    buffer_alive(c, b, "dma_buf_unpin")
    with c.when(~a.dyn):
        c.report("R17", WARN, IMPORTER, (a.name,),
                 f"dma_buf_unpin of {a.name}, a static attachment", tag="pin-static")
    must_hold(c, b, "R17", IMPORTER, f"dma_buf_unpin of {a.name}", tag="unpin-without-resv")
    with c.when(a.pins.eq(0)):
        # the core keeps no count and forwards the call: the exporter's count underflows
        c.report("R17", SILENT, IMPORTER, (a.name,),
                 f"dma_buf_unpin of {a.name} with no dma_buf_pin outstanding",
                 tag="unpin-without-pin")
        c.call("unpin", Call(b, a))
        c.exit(0)
    c.call("unpin", Call(b, a))
    c.dec(a.pins)


def move_notify(c: Ctx, b: BufRef) -> None:
    """dma_buf_move_notify: called by the exporter with resv held; every dynamic
    attachment's importer is told, in list order, that its mappings are going stale."""
    what = notify_name(c)
    if not c.in_locked_callback:
        must_hold(c, b, "R18", EXPORTER, f"{what} on {b.name}", tag="move-notify-without-resv")
    for a in b.atts:
        if a.o is not None:
            with c.when(a.live & a.dyn & a.o.life.eq(OBJECT_FREED)):
                c.report("R18", BUG, IMPORTER, (a.name,),
                         f"{what} reaches {a.name}, whose importer object was freed before "
                         "dma_buf_detach: the callback runs on freed importer_priv",
                         tag="notify-freed-importer")
        with c.when(a.live & a.dyn):
            for s in a.slots:
                with c.when(s.live):
                    c.set(s.notified, 1)
            for k, importer in enumerate(c.importers):
                if importer.dynamic and importer.move_notify is not None:
                    with c.when(a.imp.eq(k)):
                        importer.move_notify(c, Call(b, a))


def backing_moved(c: Ctx, b: BufRef) -> None:
    """The exporter's backing storage for ``b`` is now elsewhere: every mapping made
    before is stale. Moving a pinned buffer, or under a mapping whose importer was not
    told, breaks R17/R18."""
    pins = pinned_total(b)
    with c.when(pins > 0):
        c.report("R17", SILENT, EXPORTER, (b.name,),
                 f"{b.name} moved while pinned ({{0}} pin(s) held)", pins,
                 tag="move-while-pinned")
    for a in b.atts:
        for s in a.slots:
            with c.when(a.live & s.live):
                with c.when(s.dma):
                    c.report("R18", SILENT, EXPORTER, (a.name,),
                             f"{b.name} moved while DMA through {s.name} is in flight: the "
                             "job still reaches the old location (wait for the reservation "
                             "object's fences, or pipeline the move after them)",
                             tag="move-under-dma")
                with c.when(~s.notified & (pins.eq(0))):
                    c.report("R18", SILENT, EXPORTER, (a.name,),
                             f"{b.name} moved under {s.name} without {notify_name(c)}: the "
                             "importer keeps using the old location", tag="move-without-notify")
                c.set(s.stale, 1)


def _movable(c: Ctx, b: BufRef, **_: object) -> Expr:
    # the exporter's eviction runs in its own context: it waits while resv is held
    return b.life.eq(LIVE) & ~b.resv


@op("move", actor="exporter", target="buffer", enabled=_movable,
    kernel="(exporter eviction path)", rules=("R18", "R17"),
    available=lambda env: env.exporter.move is not None)
def move(c: Ctx, b: BufRef) -> None:
    """The exporter evicts or migrates ``b`` (its own code: ``Exporter.move``)."""
    assert c.exporter.move is not None
    ret = c.invoke("move", c.exporter.move, Call(b))
    with c.when(ret.ne(0)):
        c.exit(ret)


__all__ = ["backing_moved", "move_notify", "notify_name"]
