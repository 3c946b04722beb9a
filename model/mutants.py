"""Seeded bugs: exporters and importers that each break one rule, with a witness.

A mutant is a behaviour (an ``Exporter`` derived from a reference one, or an ``Importer``
that ignores one obligation) plus a shortest sequence that exposes it (the engines'
tests hold them to that length: bounded model checking finds nothing shorter). The
witness is legal in contract mode for the mutant's importers, so an engine searching that
mode can find the same bug. Names say what is wrong; ``resembles`` points at a real bug in
the corpus where one exists.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from model.action import Action
from model.behaviour import Call, Exporter, Importer
from model.context import Ctx
from model.exporters import GEM_PRIME, GTT, SG_ERR, SG_NONE, SYSTEM_HEAP, TTM, UDMABUF
from model.importers import DYNAMIC, PINNED, STATIC
from model.kernel import EBUSY, ENOMEM
from model.machine import Model
from model.violation import Violation


@dataclass(frozen=True)
class Mutant:
    name: str
    rule: str
    tag: str  # the report tag that catches it
    summary: str
    exporter: Exporter
    importers: tuple[Importer, ...]
    profile: str
    witness: tuple[str, ...]
    resembles: str = ""

    def model(self, scope: str = "2x3") -> Model:
        return Model(self.exporter, self.importers, self.profile, scope)

    def caught(self, model: Model | None = None) -> Violation | None:
        """Run the witness in contract mode (by default at scope 1x1, all a witness uses);
        the first violation with the mutant's tag, or None."""
        m = model or self.model("1x1")
        state = m.initial()
        for i, text in enumerate(self.witness):
            action = Action.parse(text)
            if not m.is_enabled(state, action, "contract"):
                return None
            out = m.step(state, action, i)
            for v in out.violations:
                if v.rule == self.rule and v.tag == self.tag:
                    return v
            state = out.state
        return None


# ---------------------------------------------------------------- exporter mutants


def _ttm_move_without_notify(c: Ctx, call: Call) -> None:
    b = call.buf
    with c.when(b.x["pin_count"] > 0):
        c.exit(-EBUSY)
    c.set(b.resv, 1)
    c.set(b.x["placement"], GTT - b.x["placement"])
    c.backing_moved(b)
    c.set(b.resv, 0)


def _ttm_move_ignoring_pins(c: Ctx, call: Call) -> None:
    b = call.buf
    c.set(b.resv, 1)
    c.move_notify(b)
    c.set(b.x["placement"], GTT - b.x["placement"])
    c.backing_moved(b)
    c.set(b.resv, 0)


def _ttm_notify_before_lock(c: Ctx, call: Call) -> None:
    b = call.buf
    with c.when(b.x["pin_count"] > 0):
        c.exit(-EBUSY)
    c.move_notify(b)
    c.set(b.resv, 1)
    c.set(b.x["placement"], GTT - b.x["placement"])
    c.backing_moved(b)
    c.set(b.resv, 0)


def _ttm_attach_keeps_p2p(c: Ctx, call: Call) -> None:
    return None


def _ttm_map_without_migration(c: Ctx, call: Call) -> None:
    return None


def _ttm_unpin_twice(c: Ctx, call: Call) -> None:
    b = call.buf
    for _ in range(2):
        with c.when(b.x["pin_count"] > 0):
            c.dec(b.x["pin_count"])


def _udmabuf_begin_leaves_error(c: Ctx, call: Call) -> None:
    sg = call.buf.x["sg"]
    with c.when(sg.eq(SG_NONE)):
        if c.failing("exporter"):
            c.set(sg, SG_ERR)  # ubuf->sg keeps the ERR_PTR
            c.returns(-ENOMEM)
        else:
            c.set(sg, 1)


def _gem_attach_error_keeps_pin(c: Ctx, call: Call) -> None:
    c.inc(call.buf.x["gem_pins"])
    if c.failing("exporter"):
        c.returns(-ENOMEM)  # a later step failed; the pin taken above is not undone


def _heap_vunmap_forgets(c: Ctx, call: Call) -> None:
    return None


def _derive(base: Exporter, name: str, summary: str,
            callbacks: Mapping[str, object] | None = None, **changes: object) -> Exporter:
    if callbacks is not None:
        changes["callbacks"] = callbacks
    return base.derive(name, summary, **changes)


# ---------------------------------------------------------------- importer mutants


def _ignoring(base: Importer, name: str, *tags: str) -> Importer:
    return base.derive(name, f"{base.name} importer that does not keep: {', '.join(tags)}",
                       ignores=frozenset(tags))


LAZY = DYNAMIC.derive(
    "lazy", "dynamic importer whose move_notify only marks its mappings invalid",
    move_notify=None)

_NEW_UNLOCKED = ("map_unlocked", "unmap_unlocked")


def _catalogue() -> list[Mutant]:
    x = Mutant
    return [
        x("ttm_move_without_notify", "R18", "move-without-notify",
          "TTM eviction that moves the backing store without dma_buf_move_notify",
          _derive(TTM, "ttm_move_without_notify", "eviction skips move_notify",
                  move=_ttm_move_without_notify),
          (STATIC, DYNAMIC, PINNED), "v7.x",
          ("export(b0)", "dynamic_attach(b0.a0, importer=dynamic)",
           "map_unlocked(b0.a0, dir=TO_DEVICE)", "move(b0)"),
          resembles="B52"),
        x("ttm_move_while_pinned", "R17", "move-while-pinned",
          "TTM eviction that ignores the pin count",
          _derive(TTM, "ttm_move_while_pinned", "eviction ignores pins",
                  move=_ttm_move_ignoring_pins),
          (STATIC, DYNAMIC, PINNED), "v6.16+",
          ("export(b0)", "attach(b0.a0, importer=static)", "map_unlocked(b0.a0, dir=TO_DEVICE)",
           "move(b0)")),
        x("ttm_move_notify_unlocked", "R18", "move-notify-without-resv",
          "TTM eviction that calls dma_buf_move_notify before taking the reservation lock",
          _derive(TTM, "ttm_move_notify_unlocked", "move_notify before dma_resv_lock",
                  move=_ttm_notify_before_lock),
          (STATIC, DYNAMIC, PINNED), "v6.16+", ("export(b0)", "move(b0)"), resembles="B31"),
        x("ttm_keeps_peer2peer", "R9", "peer2peer-not-cleared",
          "TTM attach that leaves peer2peer set although there is no P2P path",
          _derive(TTM, "ttm_keeps_peer2peer", "attach keeps peer2peer",
                  callbacks={"attach": _ttm_attach_keeps_p2p}),
          (STATIC, DYNAMIC, PINNED), "v6.16+",
          ("export(b0)", "dynamic_attach(b0.a0, importer=dynamic)")),
        x("ttm_maps_vram_to_non_p2p", "R9", "vram-to-non-p2p",
          "TTM map that hands VRAM to an importer without peer2peer instead of migrating",
          _derive(TTM, "ttm_maps_vram_to_non_p2p", "map does not migrate to GTT",
                  callbacks={"map_dma_buf": _ttm_map_without_migration}),
          (STATIC, DYNAMIC, PINNED), "v7.x",
          ("export(b0)", "dynamic_attach(b0.a0, importer=dynamic)",
           "map_unlocked(b0.a0, dir=TO_DEVICE)")),
        x("ttm_unpin_twice", "R17", "pin-count",
          "TTM unpin that drops two pins at once",
          _derive(TTM, "ttm_unpin_twice", "unpin decrements twice",
                  callbacks={"unpin": _ttm_unpin_twice}),
          (STATIC, DYNAMIC, PINNED), "v6.16+",
          ("export(b0)", "attach(b0.a0, importer=static)",
           "map_unlocked(b0.a0, dir=BIDIRECTIONAL)",
           "map_unlocked(b0.a0, dir=BIDIRECTIONAL, fault=nomem)")),
        x("udmabuf_begin_cpu_error_pointer", "R21", "begin-cpu-error-state",
          "udmabuf begin_cpu_access that leaves an error pointer for release to unmap",
          _derive(UDMABUF, "udmabuf_begin_cpu_error_pointer", "failed sg creation kept",
                  callbacks={"begin_cpu_access": _udmabuf_begin_leaves_error}),
          (STATIC, DYNAMIC, PINNED), "v6.16+",
          ("export(b0)", "begin_cpu_access(b0, dir=FROM_DEVICE, fault=exporter)", "put(b0)"),
          resembles="B12"),
        x("gem_attach_error_keeps_pin", "R17", "gem-pin-balance",
          "drm_prime attach whose error path returns without undoing drm_gem_pin",
          _derive(GEM_PRIME, "gem_attach_error_keeps_pin", "error path skips unpin",
                  callbacks={"attach": _gem_attach_error_keeps_pin}),
          (STATIC, DYNAMIC, PINNED), "v6.16+",
          ("export(b0)", "attach(b0.a0, importer=static, fault=exporter)"),
          resembles="B56"),
        x("heap_vunmap_keeps_mapping", "R25", "vmap-leak",
          "system heap vunmap that never releases its kernel mapping",
          _derive(SYSTEM_HEAP, "heap_vunmap_keeps_mapping", "vunmap forgets",
                  callbacks={"vunmap": _heap_vunmap_forgets}),
          (STATIC, DYNAMIC, PINNED), "v6.16+",
          ("export(b0)", "vmap_unlocked(b0)", "vunmap_unlocked(b0)"), resembles="B16"),
        x("exporter_without_unmap", "R1", "export-ops",
          "exporter whose dma_buf_ops has no unmap_dma_buf",
          _derive(SYSTEM_HEAP, "exporter_without_unmap", "no unmap_dma_buf",
                  ops=SYSTEM_HEAP.ops - {"unmap_dma_buf"}),
          (STATIC, DYNAMIC, PINNED), "v6.16+", ("export(b0)",)),
        x("exporter_pin_without_unpin", "R2", "export-pin-pair",
          "exporter with pin but no unpin",
          _derive(TTM, "exporter_pin_without_unpin", "no unpin", ops=TTM.ops - {"unpin"}),
          (STATIC, DYNAMIC, PINNED), "v6.16+", ("export(b0)",)),
        x("exporter_cache_with_pin", "R3", "export-cache-pin",
          "dynamic exporter that also asks the core to cache sg_tables",
          _derive(TTM, "exporter_cache_with_pin", "cache_sgt_mapping and pin",
                  cache_sgt_mapping=True),
          (STATIC, DYNAMIC, PINNED), "v6.2-6.15", ("export(b0)",)),
        x("double_put", "R5", "put-without-reference",
          "importer that drops its reference twice",
          SYSTEM_HEAP, (_ignoring(STATIC, "double_put", "put-without-reference"),), "v6.16+",
          ("export(b0)", "fd(b0)", "put(b0)"), resembles="B51"),
        x("use_after_fd", "R5", "get-without-reference",
          "driver that keeps using the buffer after dma_buf_fd consumed its reference",
          SYSTEM_HEAP, (_ignoring(STATIC, "use_after_fd", "get-without-reference"),),
          "v6.16+", ("export(b0)", "fd(b0)", "get_dma_buf(b0)"), resembles="B07"),
        x("missing_detach", "R6", "release-with-attachment",
          "importer that drops its last reference without detaching",
          SYSTEM_HEAP, (_ignoring(STATIC, "missing_detach", "release-with-attachment",
                                  "attached-without-reference"),), "v6.16+",
          ("export(b0)", "attach(b0.a0, importer=missing_detach)", "put(b0)")),
        x("double_unpin", "R17", "unpin-without-pin",
          "RDMA-style importer that unpins more often than it pinned (a second unpin, or one "
          "without a pin)",
          TTM, (_ignoring(PINNED, "double_unpin", "unpin-without-pin"),), "v6.16+",
          ("export(b0)", "dynamic_attach(b0.a0, importer=double_unpin)", "lock(b0)",
           "unpin(b0.a0)")),
        x("error_path_skips_unpin", "R17", "detach-while-pinned",
          "pinned importer that detaches without dma_buf_unpin (as on a map-failure path)",
          TTM, (_ignoring(PINNED, "error_path_skips_unpin", "detach-while-pinned"),),
          "v6.16+",
          ("export(b0)", "dynamic_attach(b0.a0, importer=error_path_skips_unpin)", "lock(b0)",
           "pin(b0.a0)", "unlock(b0)", "detach(b0.a0)")),
        x("access_after_move_notify", "R18", "access-after-move",
          "dynamic importer that keeps using a mapping after move_notify without mapping "
          "again", TTM, (_ignoring(LAZY, "access_after_move_notify", "access-after-move"),),
          "v7.x",
          ("export(b0)", "dynamic_attach(b0.a0, importer=access_after_move_notify)",
           "map_unlocked(b0.a0, dir=TO_DEVICE)", "move(b0)", "access(b0.a0, slot=0)"),
          resembles="B25"),
        x("detach_while_mapped", "R11", "detach-while-mapped",
          "importer that detaches with a mapping outstanding",
          SYSTEM_HEAP, (_ignoring(STATIC, "detach_while_mapped", "detach-while-mapped"),),
          "v6.16+",
          ("export(b0)", "attach(b0.a0, importer=detach_while_mapped)",
           "map_unlocked(b0.a0, dir=TO_DEVICE)",
           "detach(b0.a0)")),
        x("put_with_vmap", "R6", "release-with-vmap",
          "importer that drops the last reference with a vmap outstanding",
          SYSTEM_HEAP, (_ignoring(STATIC, "put_with_vmap", "release-with-vmap"),), "v6.16+",
          ("export(b0)", "vmap_unlocked(b0)", "put(b0)")),
        x("unmap_wrong_direction", "R15", "unmap-direction",
          "importer that unmaps with another direction than it mapped",
          SYSTEM_HEAP, (_ignoring(STATIC, "unmap_wrong_direction", "unmap-direction"),),
          "v6.16+",
          ("export(b0)", "attach(b0.a0, importer=unmap_wrong_direction)",
           "map_unlocked(b0.a0, dir=TO_DEVICE)",
           "unmap_unlocked(b0.a0, dir=FROM_DEVICE, slot=0)")),
        x("map_without_resv", "R12", "map-without-resv",
          "importer that calls the locked dma_buf_map_attachment without the reservation lock",
          SYSTEM_HEAP, (_ignoring(STATIC, "map_without_resv", "map-without-resv"),),
          "v6.2-6.15",
          ("export(b0)", "attach(b0.a0, importer=map_without_resv)", "map(b0.a0, dir=TO_DEVICE)")),
        x("begin_cpu_without_end", "R21", "cpu-access-unbalanced",
          "importer that begins CPU access and never ends it",
          SYSTEM_HEAP, (_ignoring(STATIC, "begin_cpu_without_end", "cpu-access-unbalanced"),),
          "v6.16+",
          ("export(b0)", "begin_cpu_access(b0, dir=BIDIRECTIONAL)", "put(b0)"),
          resembles="B13"),
        x("double_unmap", "R15", "unmap-unmapped",
          "importer that unmaps an sg_table it does not hold (twice, or never mapped)",
          SYSTEM_HEAP, (_ignoring(STATIC, "double_unmap", "unmap-unmapped"),), "v6.16+",
          ("export(b0)", "attach(b0.a0, importer=double_unmap)",
           "unmap_unlocked(b0.a0, dir=TO_DEVICE, slot=0)")),
    ]


MUTANTS: Mapping[str, Mutant] = MappingProxyType({m.name: m for m in _catalogue()})
