"""vmap and vunmap with the core's single cached mapping (R25), and CPU use of it."""

from __future__ import annotations

from collections.abc import Callable

from model.behaviour import Call
from model.context import Ctx
from model.kernel import EINVAL
from model.layout import BufRef
from model.ops.common import (
    BUG,
    CORE,
    EXPORTER,
    IMPORTER,
    SILENT,
    WARN,
    buffer_alive,
    exported,
    must_hold,
    must_not_hold,
)
from model.ops.registry import Env, faults, op, product


def _unlocked(env: Env) -> bool:
    return env.profile.unlocked_variants


def vmap_buffer(c: Ctx, b: BufRef) -> None:
    """dma_buf_vmap: the first caller maps through the exporter; later ones share it."""
    buffer_alive(c, b, "dma_buf_vmap")
    if c.profile.resv_for_every_map:
        must_hold(c, b, "R25", IMPORTER, f"dma_buf_vmap of {b.name}", tag="vmap-without-resv")
    if not c.exporter.has("vmap"):
        c.exit(-EINVAL)
        return
    with c.when(b.vmap_cnt > 0):
        with c.when(~b.vmap_ptr):
            c.report("R25", BUG, CORE, (b.name,),
                     f"{b.name}: vmapping_counter is {{0}} but no mapping is cached",
                     b.vmap_cnt, tag="vmap-cache")
            c.exit(0)
        c.inc(b.vmap_cnt)
        c.holds(b, "vmap", 1)
        c.exit(0)
    with c.when(b.vmap_ptr):
        c.report("R25", BUG, CORE, (b.name,),
                 f"{b.name}: a stale vmap is cached while vmapping_counter is 0",
                 tag="vmap-cache")
        c.exit(0)
    ret = c.call("vmap", Call(b))
    with c.when(ret.ne(0)):
        c.report("R25", WARN, EXPORTER, (b.name,),
                 f"the exporter's vmap of {b.name} failed ({{0}}): WARN_ON_ONCE", ret,
                 tag="vmap-failed")
        c.exit(ret)
    c.set(b.vmap_cnt, 1)
    c.set(b.vmap_ptr, 1)
    c.holds(b, "vmap", 1)


def vunmap_buffer(c: Ctx, b: BufRef, map: str) -> None:
    """dma_buf_vunmap: BUG unless ``map`` is the cached mapping and the counter is up."""
    buffer_alive(c, b, "dma_buf_vunmap")
    if c.profile.resv_for_every_map:
        must_hold(c, b, "R25", IMPORTER, f"dma_buf_vunmap of {b.name}",
                  tag="vunmap-without-resv")
    with c.when(~b.vmap_ptr | b.vmap_cnt.eq(0)):
        c.report("R25", BUG, IMPORTER, (b.name,),
                 f"dma_buf_vunmap of {b.name} with no vmap outstanding (vmapping_counter {{0}})",
                 b.vmap_cnt, tag="vunmap-unmapped")
        c.exit(0)
    if map == "foreign":
        c.report("R25", BUG, IMPORTER, (b.name,),
                 f"dma_buf_vunmap of {b.name} with a map that is not the cached vmap",
                 tag="vunmap-foreign")
        c.exit(0)
        return
    c.dec(b.vmap_cnt)
    c.holds(b, "vmap", -1)
    with c.when(b.vmap_cnt.eq(0)):
        c.call("vunmap", Call(b))
        c.set(b.vmap_ptr, 0)


def _around(c: Ctx, b: BufRef, what: str, inner: Callable[[], None]) -> None:
    must_not_hold(c, b, "R16", what, tag="unlocked-under-resv")
    c.set(b.resv, 1)
    with c.function(what) as ret:
        inner()
    c.set(b.resv, 0)
    with c.when(ret.ne(0)):
        c.exit(ret)


def _vmap_params(env: Env) -> list[dict[str, object]]:
    # dma_buf_vmap allocates nothing itself: a failure can only come from the exporter's
    # vmap, and only an exporter that declares vmap fallible has one to inject
    return list(faults(env, "vmap"))


@op("vmap", actor="importer", target="buffer", enabled=exported, kernel="dma_buf_vmap",
    rules=("R25",), params=_vmap_params)
def vmap(c: Ctx, b: BufRef, fault: str) -> None:
    vmap_buffer(c, b)


@op("vmap_unlocked", actor="importer", target="buffer", enabled=exported,
    kernel="dma_buf_vmap_unlocked", rules=("R16", "R25"), params=_vmap_params,
    available=_unlocked)
def vmap_unlocked(c: Ctx, b: BufRef, fault: str) -> None:
    _around(c, b, "dma_buf_vmap_unlocked", lambda: vmap_buffer(c, b))


_MAPS = lambda env: product(map=("cached", "foreign"))  # noqa: E731


@op("vunmap", actor="importer", target="buffer", enabled=exported, kernel="dma_buf_vunmap",
    rules=("R25",), params=_MAPS)
def vunmap(c: Ctx, b: BufRef, map: str) -> None:
    vunmap_buffer(c, b, map)


@op("vunmap_unlocked", actor="importer", target="buffer", enabled=exported,
    kernel="dma_buf_vunmap_unlocked", rules=("R16", "R25"), params=_MAPS,
    available=_unlocked)
def vunmap_unlocked(c: Ctx, b: BufRef, map: str) -> None:
    _around(c, b, "dma_buf_vunmap_unlocked", lambda: vunmap_buffer(c, b, map))


@op("vmap_access", actor="importer", target="buffer", enabled=exported,
    kernel="(CPU access through the vmap)", rules=("R25",))
def vmap_access(c: Ctx, b: BufRef) -> None:
    buffer_alive(c, b, "CPU access through the vmap")
    with c.when(b.vmap_cnt.eq(0)):
        c.report("R25", SILENT, IMPORTER, (b.name,),
                 f"CPU access through a vmap of {b.name} that is no longer mapped",
                 tag="vmap-access-unmapped")
        c.exit(0)
    with c.when(b.cpu.eq(0)):
        c.report("R25", SILENT, IMPORTER, (b.name,),
                 f"CPU access through the vmap of {b.name} outside begin/end_cpu_access",
                 tag="vmap-access-unbracketed")
