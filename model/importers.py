"""Reference importer styles: static, dynamic (unmaps in move_notify), pinned (RDMA)."""

from __future__ import annotations

from model.behaviour import Call, Importer
from model.context import Ctx


def unmap_everything(c: Ctx, call: Call) -> None:
    """move_notify that tears down every mapping of the attachment at once (resv is held,
    as it is for unmap); the importer maps again on its next use."""
    a = call.att
    assert a is not None
    for s in a.slots:
        with c.when(s.live & ~(a.cached if s.index == 0 else False)):
            c.call("unmap_dma_buf", Call(call.buf, a, None, s))
            with c.when(s.pinned):
                c.call("unpin", Call(call.buf, a))
            for var in (s.dir, s.pinned, s.notified, s.stale):
                c.set(var, 0)


STATIC = Importer(
    "static", "calls dma_buf_attach: no importer_ops, never told about moves",
    dynamic=False, modelled_on="drm_gem_prime_import_dev")

DYNAMIC = Importer(
    "dynamic", "dma_buf_dynamic_attach with a move_notify that unmaps every mapping; maps "
    "again on next use; handles peer-to-peer addresses",
    dynamic=True, move_notify=unmap_everything, allow_peer2peer=True,
    modelled_on="amdgpu_dma_buf_move_notify / xe_dma_buf_move_notify")

PINNED = Importer(
    "pinned", "RDMA style: dma_buf_dynamic_attach, then dma_buf_pin for the life of the "
    "mapping; its move_notify is a stub (not revocable from v7.x)",
    dynamic=True, move_notify=None, allow_peer2peer=True, revocable=False,
    modelled_on="ib_umem_dmabuf_get_pinned")

REFERENCE_IMPORTERS: tuple[Importer, ...] = (STATIC, DYNAMIC, PINNED)
IMPORTERS = {i.name: i for i in REFERENCE_IMPORTERS}
