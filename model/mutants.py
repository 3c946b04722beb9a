"""Seeded bugs: exporters and importers that each break one rule, with a witness.

A mutant is a behaviour (an ``Exporter`` derived from a reference one, or an ``Importer``
that ignores one obligation) plus a shortest sequence that exposes it (the engines'
tests hold them to that length: bounded model checking finds nothing shorter). The
witness is legal in contract mode for the mutant's importers, so an engine searching that
mode can find the same bug. Names say what is wrong; ``resembles`` points at a real bug in
the corpus where one exists. Exporter bugs that misuse the reservation lock are written in
the specification language, whose ``lock()`` and ``unlock()`` carry the exporter's R24
checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from checker.dsl import ast
from checker.dsl.lower import lower_exporter
from checker.dsl.parser import parse
from model.action import Action
from model.behaviour import Call, Callback, Exporter, Importer
from model.context import Ctx
from model.exporters import GEM_PRIME, GTT, SG_ERR, SG_NONE, SYSTEM_HEAP, TTM, UDMABUF, VRAM
from model.expr import BOOL
from model.importers import DYNAMIC, PINNED, STATIC
from model.kernel import EBUSY, ENOMEM
from model.layout import Field
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
    # driver-code bugs: the shipped driver the mutant is a variant of (its witness runs
    # there without the violation), or None where the catalogue ships no such driver
    fixed: Exporter | Importer | None = None

    @property
    def driver_code(self) -> bool:
        """The bug is in a behaviour's routines (the driver's own code)."""
        return bool(self.exporter.routines) or any(i.routines for i in self.importers)

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
    c.wait_dma(b)
    c.set(b.x["placement"], GTT - b.x["placement"])
    c.backing_moved(b)
    c.set(b.resv, 0)


def _ttm_move_ignoring_pins(c: Ctx, call: Call) -> None:
    b = call.buf
    c.set(b.resv, 1)
    c.move_notify(b)
    c.wait_dma(b)
    c.set(b.x["placement"], GTT - b.x["placement"])
    c.backing_moved(b)
    c.set(b.resv, 0)


def _ttm_notify_before_lock(c: Ctx, call: Call) -> None:
    b = call.buf
    with c.when(b.x["pin_count"] > 0):
        c.exit(-EBUSY)
    c.move_notify(b)
    c.set(b.resv, 1)
    c.wait_dma(b)
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


def _ttm_pin_refuses_migration(c: Ctx, call: Call) -> None:
    b, a = call.buf, call.att
    assert a is not None
    with c.when(b.x["placement"].eq(VRAM) & ~a.p2p):
        c.returns(-EBUSY)  # validation into GTT gives up as busy; the core WARNs (R12, 6.16+)
    with c.otherwise():
        c.inc(b.x["pin_count"])


def _ttm_vmap_without_migration(c: Ctx, call: Call) -> None:
    b = call.buf
    with c.when(b.x["placement"].eq(VRAM)):
        c.returns(-ENOMEM)  # VRAM that is not CPU-visible cannot be mapped
    with c.otherwise():
        c.inc(b.x["pin_count"])
        c.inc(b.x["vmaps"])


def _field_decl(owner: str, f: Field) -> str:
    kind = "bool" if f.type == BOOL else f"{f.lo}..{f.hi}"
    return f"  {owner} {f.name}: {kind}"


def _spec_handlers(base: Exporter, handlers: str,
                   more_ops: frozenset[str] = frozenset()) -> dict[str, Callback]:
    """Handlers written in the specification language over ``base``'s ops (and
    ``more_ops``) and fields, lowered as the shipped exporters' are (the exporter's own
    ``lock()`` and ``unlock()`` of the reservation, with their R24 checks, exist only
    there). ``move`` is included under its name."""
    fields = [_field_decl("buffer", f) for f in base.buffer_fields]
    fields += [_field_decl("attachment", f) for f in base.attachment_fields]
    ops = ", ".join(sorted(base.ops | more_ops))
    text = "\n".join([f"exporter {base.name} {{", f"  ops {ops}",
                      *fields, handlers, "}", ""])
    path = f"model/mutants.py ({base.name})"
    (decl,) = [i for i in parse(text, path).items if isinstance(i, ast.ExporterDecl)]
    lowered = lower_exporter(decl, {path: text})
    out = dict(lowered.callbacks)
    if lowered.move is not None:
        out["move"] = lowered.move
    return out


# drm_gem_dmabuf_vmap calling drm_gem_vmap_unlocked, which takes the reservation lock the
# core already holds around ops->vmap since 6.2
_GEM_VMAP_TAKES_RESV = _spec_handlers(GEM_PRIME, """
  on vmap {
    lock()
    buf.vmaps += 1
    unlock()
  }
""")

# the busy check jumps to the unlock label before the lock is taken
_TTM_MOVE_UNLOCKS_UNHELD = _spec_handlers(TTM, """
  on move {
    if buf.pin_count > 0 {
      unlock()
      return -EBUSY
    }
    lock()
    move_notify()
    wait_dma()
    buf.placement = 1 - buf.placement
    moved()
    unlock()
  }
""")

# the eviction frees the old location while the importers' jobs still run on it
_TTM_MOVE_BEFORE_FENCES = _spec_handlers(TTM, """
  on move {
    if buf.pin_count > 0 {
      return -EBUSY
    }
    lock()
    move_notify()
    buf.placement = 1 - buf.placement
    moved()
    unlock()
  }
""")


# udmabuf before "udmabuf: use vmf_insert_pfn and VM_PFNMAP for handling mmap" left the vma
# expandable, and its udmabuf_vm_fault had lost the bound check ("udmabuf: add back sanity
# check"): a fault on a page the grown vma has past the memfd pages reads beyond ubuf->pages
_UDMABUF_FAULT_UNCHECKED = _spec_handlers(UDMABUF, """
  on mmap {
    if not shared {
      return -EINVAL
    }
  }
  on page_fault {
  }
""")

# the CMA heap before "dma-buf: heaps: Don't track CMA dma-buf pages under RssFile":
# cma_heap_mmap installed its fault handler without VM_DONTEXPAND, and cma_heap_vm_fault
# compared with '>' (until "dma-buf: heaps: Fix off-by-one in CMA heap fault handler"), so
# a vma grown by mremap was handed the page at pagecount. The catalogue ships no CMA heap
# (only the plug-in example does), so the bug is seeded on the other heap, the system heap
_HEAP_FAULT_OFF_BY_ONE = _spec_handlers(SYSTEM_HEAP, """
  on page_fault {
    if pgoff > pagecount {
      return SIGBUS
    }
  }
""", frozenset({"page_fault"}))


# drm_prime's mmap as drm_gem_prime_mmap hands it on, without the VM_DONTEXPAND of
# drm_gem_mmap_obj (as vb2 dma-sg's mmap left it out: B50)
_GEM_MMAP_EXPANDABLE = _spec_handlers(GEM_PRIME, """
  on mmap {
    if not shared {
      return -EINVAL
    }
  }
""")

# a GEM fault handler that counts the last page as past the end
_GEM_FAULT_LAST_PAGE = _spec_handlers(GEM_PRIME, """
  on page_fault {
    if pgoff + 1 >= pagecount {
      return SIGBUS
    }
  }
""")


# CPU-access cache maintenance (R21), each a variant of the shipped driver's callback
_UDMABUF_BEGIN_FOR_DEVICE = _spec_handlers(UDMABUF, """
  on begin_cpu_access {
    if buf.sg == 0 {
      if injected() {
        return -ENOMEM
      }
      buf.sg = 1
    }
    sync_for_device(dir)
  }
""")
_UDMABUF_BEGIN_FROM_DEVICE_ONLY = _spec_handlers(UDMABUF, """
  on begin_cpu_access {
    if buf.sg == 0 {
      if injected() {
        return -ENOMEM
      }
      buf.sg = 1
    }
    sync_for_cpu(FROM_DEVICE)
  }
""")
_HEAP_SKIPS_SYNC = _spec_handlers(SYSTEM_HEAP, """
  on begin_cpu_access {
  }
  on end_cpu_access {
  }
""")
_HEAP_SYNCS_UNMAPPED = _spec_handlers(SYSTEM_HEAP, """
  on begin_cpu_access {
    for a in buf.attachments {
      sync_for_cpu(a, dir)
    }
  }
""")
_HEAP_UNMAP_KEEPS_MAPPED = _spec_handlers(SYSTEM_HEAP, """
  on unmap_dma_buf {
  }
""")


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



def _notify_without_sync(c: Ctx, call: Call) -> None:
    assert call.att is not None
    c.unmap_all(call.att)


# amdgpu_dma_buf_move_notify before "drm/amdgpu: fix sync handling in
# amdgpu_dma_buf_move_notify": the invalidation did not sync to the jobs still running
NOTIFY_WITHOUT_SYNC = DYNAMIC.derive(
    "notify_without_sync", "dynamic importer whose move_notify unmaps without waiting for "
    "its running jobs", move_notify=_notify_without_sync,
    ignores=frozenset({"move-notify-under-dma"}))

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
        x("ttm_move_before_fences", "R18", "move-under-dma",
          "TTM eviction that frees the old location without waiting for the importers' "
          "fences",
          _derive(TTM, "ttm_move_before_fences", "eviction ignores the fences",
                  move=_TTM_MOVE_BEFORE_FENCES["move"]),
          (STATIC, LAZY), "v7.x",
          ("export(b0)", "dynamic_attach(b0.a0, importer=lazy)",
           "map_unlocked(b0.a0, dir=TO_DEVICE)", "start_dma(b0.a0, slot=0)", "move(b0)")),
        x("move_notify_without_sync", "R18", "move-notify-under-dma",
          "dynamic importer whose move_notify tears its mappings down under running jobs",
          TTM, (NOTIFY_WITHOUT_SYNC,), "v7.x",
          ("export(b0)", "dynamic_attach(b0.a0, importer=notify_without_sync)",
           "map_unlocked(b0.a0, dir=TO_DEVICE)", "start_dma(b0.a0, slot=0)", "move(b0)")),
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
        # ---- exporter obligations checked by the core's WARNs and lockdep
        x("ttm_pin_busy_in_vram", "R12", "pin-busy",
          "TTM pin that fails with -EBUSY for a VRAM buffer an importer cannot reach, instead "
          "of migrating it to GTT",
          _derive(TTM, "ttm_pin_busy_in_vram", "pin refuses to migrate",
                  callbacks={"pin": _ttm_pin_refuses_migration}),
          (STATIC, DYNAMIC, PINNED), "v6.16+",
          ("export(b0)", "attach(b0.a0, importer=static)",
           "map_unlocked(b0.a0, dir=TO_DEVICE)")),
        x("gem_vmap_takes_resv", "R24", "exporter-recursive-resv",
          "drm_prime vmap that takes the reservation lock itself (drm_gem_vmap_unlocked), "
          "which the core holds around ops->vmap since 6.2",
          _derive(GEM_PRIME, "gem_vmap_takes_resv", "vmap locks resv again",
                  callbacks={"vmap": _GEM_VMAP_TAKES_RESV["vmap"]}),
          (STATIC, DYNAMIC, PINNED), "v6.16+", ("export(b0)", "vmap_unlocked(b0)")),
        x("ttm_move_busy_unlocks", "R24", "exporter-unlock-unheld",
          "TTM eviction whose busy path drops the reservation lock before it was taken",
          _derive(TTM, "ttm_move_busy_unlocks", "busy path unlocks an unheld resv",
                  move=_TTM_MOVE_UNLOCKS_UNHELD["move"]),
          (STATIC, DYNAMIC, PINNED), "v6.16+",
          ("export(b0)", "vmap_unlocked(b0)", "move(b0)")),
        x("ttm_vmap_fails_in_vram", "R25", "vmap-failed",
          "TTM vmap that fails for a buffer in VRAM instead of moving it to GTT first",
          _derive(TTM, "ttm_vmap_fails_in_vram", "vmap does not migrate",
                  callbacks={"vmap": _ttm_vmap_without_migration}),
          (STATIC, DYNAMIC, PINNED), "v6.16+", ("export(b0)", "vmap_unlocked(b0)")),
        # ---- mmap: the vma's growth and its fault handler (R26)
        x("mremap_expandable", "R26", "mmap-expandable",
          "drm_prime mmap that leaves the vma without VM_DONTEXPAND, so mremap grows it past "
          "the buffer",
          _derive(GEM_PRIME, "mremap_expandable", "mmap without VM_DONTEXPAND",
                  callbacks={"mmap": _GEM_MMAP_EXPANDABLE["mmap"]}),
          (STATIC, DYNAMIC, PINNED), "v6.16+",
          ("export(b0)", "dma_buf_mmap(b0, pages=1, pgoff=0)", "mremap(b0, pages=3)"),
          resembles="B50"),
        x("gem_fault_sigbus_last_page", "R26", "fault-sigbus",
          "GEM fault handler that answers SIGBUS for the buffer's last page",
          _derive(GEM_PRIME, "gem_fault_sigbus_last_page", "fault bound check one page short",
                  callbacks={"page_fault": _GEM_FAULT_LAST_PAGE["page_fault"]}),
          (STATIC, DYNAMIC, PINNED), "v6.16+",
          ("export(b0)", "dma_buf_mmap(b0, pages=1, pgoff=1)", "page_fault(b0, page=0)")),
        x("udmabuf_fault_no_bound_check", "R26", "fault-past-end",
          "udmabuf whose vma can grow and whose fault handler does not check the page offset "
          "against the page count",
          _derive(UDMABUF, "udmabuf_fault_no_bound_check", "fault handler without bound check",
                  callbacks={"mmap": _UDMABUF_FAULT_UNCHECKED["mmap"],
                             "page_fault": _UDMABUF_FAULT_UNCHECKED["page_fault"]}),
          (STATIC, DYNAMIC, PINNED), "v6.16+",
          ("export(b0)", "dma_buf_mmap(b0, pages=1, pgoff=0)", "mremap(b0, pages=3)",
           "page_fault(b0, page=2)")),
        x("cma_heap_fault_off_by_one", "R26", "fault-past-end",
          "heap whose vma can grow and whose fault handler lets the page at the page count "
          "through (pgoff > pagecount instead of >=), seeded on the system heap",
          _derive(SYSTEM_HEAP, "cma_heap_fault_off_by_one", "fault bound check off by one",
                  ops=SYSTEM_HEAP.ops | {"page_fault"},
                  callbacks={"mmap": None, "page_fault": _HEAP_FAULT_OFF_BY_ONE["page_fault"]}),
          (STATIC, DYNAMIC, PINNED), "v6.16+",
          ("export(b0)", "dma_buf_mmap(b0, pages=1, pgoff=1)", "mremap(b0, pages=2)",
           "page_fault(b0, page=1)")),
        # ---- CPU-access cache maintenance (R21)
        x("udmabuf_begin_syncs_for_device", "R21", "cpu-sync-wrong-way",
          "udmabuf begin_cpu_access that syncs its mapping for the device instead of the CPU",
          _derive(UDMABUF, "udmabuf_begin_syncs_for_device", "begin syncs for the device",
                  callbacks={"begin_cpu_access":
                             _UDMABUF_BEGIN_FOR_DEVICE["begin_cpu_access"]}),
          (STATIC, DYNAMIC, PINNED), "v6.16+",
          ("export(b0)", "begin_cpu_access(b0, dir=FROM_DEVICE)"), resembles="B13"),
        x("udmabuf_begin_fixed_direction", "R21", "cpu-sync-direction",
          "udmabuf begin_cpu_access that syncs for the CPU with DMA_FROM_DEVICE whatever "
          "direction the caller asked for",
          _derive(UDMABUF, "udmabuf_begin_fixed_direction", "begin ignores the direction",
                  callbacks={"begin_cpu_access":
                             _UDMABUF_BEGIN_FROM_DEVICE_ONLY["begin_cpu_access"]}),
          (STATIC, DYNAMIC, PINNED), "v6.16+",
          ("export(b0)", "begin_cpu_access(b0, dir=TO_DEVICE)")),
        x("system_heap_begin_skips_sync", "R21", "begin-cpu-not-synced",
          "system heap begin_cpu_access that syncs no mapped attachment for the CPU",
          _derive(SYSTEM_HEAP, "system_heap_begin_skips_sync", "begin syncs nothing",
                  callbacks={"begin_cpu_access": _HEAP_SKIPS_SYNC["begin_cpu_access"]}),
          (STATIC, DYNAMIC, PINNED), "v6.16+",
          ("export(b0)", "attach(b0.a0, importer=static)",
           "map_unlocked(b0.a0, dir=FROM_DEVICE)", "begin_cpu_access(b0, dir=FROM_DEVICE)"),
          resembles="B13"),
        x("system_heap_end_skips_sync", "R21", "end-cpu-not-synced",
          "system heap end_cpu_access that syncs no mapped attachment for the device",
          _derive(SYSTEM_HEAP, "system_heap_end_skips_sync", "end syncs nothing",
                  callbacks={"end_cpu_access": _HEAP_SKIPS_SYNC["end_cpu_access"]}),
          (STATIC, DYNAMIC, PINNED), "v6.16+",
          ("export(b0)", "attach(b0.a0, importer=static)",
           "map_unlocked(b0.a0, dir=TO_DEVICE)", "begin_cpu_access(b0, dir=TO_DEVICE)",
           "end_cpu_access(b0, dir=TO_DEVICE)"), resembles="B13"),
        x("system_heap_syncs_unmapped", "R21", "cpu-sync-unmapped",
          "system heap begin_cpu_access that syncs every attachment, mapped or not",
          _derive(SYSTEM_HEAP, "system_heap_syncs_unmapped", "begin ignores a->mapped",
                  callbacks={"begin_cpu_access": _HEAP_SYNCS_UNMAPPED["begin_cpu_access"]}),
          (STATIC, DYNAMIC, PINNED), "v6.16+",
          ("export(b0)", "attach(b0.a0, importer=static)",
           "begin_cpu_access(b0, dir=FROM_DEVICE)")),
        x("system_heap_unmap_keeps_mapped", "R21", "heap-mapped-count",
          "system heap unmap_dma_buf that leaves the attachment marked mapped",
          _derive(SYSTEM_HEAP, "system_heap_unmap_keeps_mapped", "unmap keeps a->mapped",
                  callbacks={"unmap_dma_buf": _HEAP_UNMAP_KEEPS_MAPPED["unmap_dma_buf"]}),
          (STATIC, DYNAMIC, PINNED), "v6.16+",
          ("export(b0)", "attach(b0.a0, importer=static)",
           "map_unlocked(b0.a0, dir=TO_DEVICE)",
           "unmap_unlocked(b0.a0, dir=TO_DEVICE, slot=0)")),
        # ---- importer obligations, one or more per rule
        x("attach_after_fd", "R8", "attached-without-reference",
          "importer that attaches after dma_buf_fd took its reference (attach takes none)",
          SYSTEM_HEAP, (_ignoring(STATIC, "attach_after_fd", "attached-without-reference"),),
          "v6.16+", ("export(b0)", "fd(b0)", "attach(b0.a0, importer=attach_after_fd)")),
        x("map_dma_none", "R13", "map-dma-none",
          "importer that maps with DMA_NONE (drm_prime WARNs and fails)",
          GEM_PRIME, (_ignoring(STATIC, "map_dma_none", "map-dma-none"),), "v6.16+",
          ("export(b0)", "attach(b0.a0, importer=map_dma_none)",
           "map_unlocked(b0.a0, dir=NONE)")),
        x("reads_sg_pages", "R14", "read-pages",
          "importer that takes struct pages from the sg_table instead of its DMA addresses",
          SYSTEM_HEAP, (_ignoring(STATIC, "reads_sg_pages", "read-pages"),), "v6.16+",
          ("export(b0)", "attach(b0.a0, importer=reads_sg_pages)",
           "map_unlocked(b0.a0, dir=TO_DEVICE)", "read_pages(b0.a0, slot=0)"),
          resembles="B34"),
        x("unlocked_call_under_resv", "R16", "unlocked-under-resv",
          "importer that calls an _unlocked function while it holds the reservation lock",
          SYSTEM_HEAP, (_ignoring(STATIC, "unlocked_call_under_resv", "unlocked-under-resv"),),
          "v6.16+", ("export(b0)", "lock(b0)", "vmap_unlocked(b0)")),
        x("end_cpu_without_begin", "R20", "end-without-begin",
          "importer that ends CPU access it never began",
          SYSTEM_HEAP, (_ignoring(STATIC, "end_cpu_without_begin", "end-without-begin"),),
          "v6.16+", ("export(b0)", "end_cpu_access(b0, dir=BIDIRECTIONAL)")),
        x("sync_file_without_direction", "R22", "sync-file-flags",
          "process that exports a sync file with neither READ nor WRITE",
          SYSTEM_HEAP, (_ignoring(STATIC, "sync_file_without_direction", "sync-file-flags"),),
          "v6.16+", ("export(b0)", "fd(b0)", "export_sync_file(b0, flags=0)")),
        x("name_too_long", "R23", "name-too-long",
          "process that names a buffer with more than DMA_BUF_NAME_LEN - 1 characters",
          SYSTEM_HEAP, (_ignoring(STATIC, "name_too_long", "name-too-long"),), "v6.16+",
          ("export(b0)", "fd(b0)", "set_name(b0, length=32)")),
        x("add_fence_after_failed_lock", "R24", "add-fence-without-resv",
          "importer that adds a fence although dma_resv_lock failed (so nothing is reserved "
          "either)",
          SYSTEM_HEAP, (_ignoring(STATIC, "add_fence_after_failed_lock",
                                  "add-fence-without-resv", "add-fence-unreserved"),),
          "v6.16+", ("export(b0)", "add_fence(b0, usage=WRITE)"), resembles="B31"),
        x("add_fence_without_reserve", "R24", "add-fence-unreserved",
          "importer that adds a fence without dma_resv_reserve_fences (or after it failed)",
          SYSTEM_HEAP, (_ignoring(STATIC, "add_fence_without_reserve", "add-fence-unreserved"),),
          "v6.16+", ("export(b0)", "lock(b0)", "add_fence(b0, usage=WRITE)"),
          resembles="B31"),
        x("double_vunmap", "R25", "vunmap-unmapped",
          "importer that vunmaps a buffer it does not hold a vmap of (twice, or never mapped)",
          SYSTEM_HEAP, (_ignoring(STATIC, "double_vunmap", "vunmap-unmapped"),), "v6.16+",
          ("export(b0)", "vunmap_unlocked(b0)")),
        x("vmap_without_resv", "R25", "vmap-without-resv",
          "importer that calls the locked dma_buf_vmap without the reservation lock",
          SYSTEM_HEAP, (_ignoring(STATIC, "vmap_without_resv", "vmap-without-resv"),),
          "v6.16+", ("export(b0)", "vmap(b0)")),
        x("mmap_past_end", "R26", "mmap-bounds",
          "importer that maps pages beyond the end of the buffer with dma_buf_mmap",
          SYSTEM_HEAP, (_ignoring(STATIC, "mmap_past_end", "mmap-bounds"),), "v6.16+",
          ("export(b0)", "dma_buf_mmap(b0, pages=1, pgoff=2)")),
        x("llseek_from_current", "R27", "llseek-whence",
          "process that seeks a dma-buf fd with SEEK_CUR",
          SYSTEM_HEAP, (_ignoring(STATIC, "llseek_from_current", "llseek-whence"),), "v6.16+",
          ("export(b0)", "fd(b0)", "llseek(b0, offset=0, whence=SEEK_CUR)")),
        x("mmap_under_resv", "R30", "mmap-under-resv",
          "importer that calls dma_buf_mmap while it holds the reservation lock",
          SYSTEM_HEAP, (_ignoring(STATIC, "mmap_under_resv", "mmap-under-resv"),), "v6.16+",
          ("export(b0)", "lock(b0)", "dma_buf_mmap(b0, pages=1, pgoff=0)")),
    ]


def _driver_code() -> list[Mutant]:
    """Bugs in drivers' own code (specs/mutants/drivers.dmabuf): routines of importers run
    on the system heap, and allocation ioctls of exporters imported by drm_prime."""
    from checker.dsl.library import shipped_exporters, shipped_importers

    imp = {i.name: i for i in shipped_importers("mutants")}
    exp = {e.name: e for e in shipped_exporters("mutants")}
    drivers = {i.name: i for i in shipped_importers("drivers")}
    heap = next(e for e in shipped_exporters("drivers") if e.name == "dma_heap")
    gem = drivers["gem_prime_import"]
    start = ("export(b0)", "fd(b0)")
    # the shipped driver each importer mutant is a variant of
    fixed = {"unwind_double_put": "gem_prime_import", "init_fail_keeps_attachment":
             "gem_prime_import", "unwind_skips_put": "gem_prime_import",
             "resv_after_last_put": "gem_prime_import", "teardown_keeps_mapping":
             "gem_prime_import", "teardown_leaks_reference": "gem_prime_import",
             "unwind_skips_unpin": "rdma_umem", "double_unpin_teardown": "rdma_umem",
             "import_drops_reference": "amdgpu_import", "unlocked_map_under_resv":
             "amdgpu_import", "locked_map_without_resv": "amdgpu_import",
             "bo_freed_before_detach": "amdgpu_import", "teardown_keeps_vmap":
             "vb2_dma_contig"}

    def importer(name: str, rule: str, tag: str, summary: str, *steps: str,
                 resembles: str = "") -> Mutant:
        ref = drivers[fixed[name]] if name in fixed else None
        return Mutant(name, rule, tag, summary, SYSTEM_HEAP, (imp[name],), "v6.16+",
                      (*start, *steps), resembles, ref)

    def exporter(name: str, rule: str, tag: str, summary: str, *steps: str,
                 resembles: str = "") -> Mutant:
        return Mutant(name, rule, tag, summary, exp[name], (gem,), "v6.16+", steps, resembles,
                      heap)

    return [
        importer("unwind_double_put", "R5", "put-without-reference",
                 "error-path double put: the GEM import's map-failure unwind puts once more "
                 "than it took", "import(b0.a0, fault=map_unlocked__nomem)", resembles="B21"),
        importer("init_fail_keeps_attachment", "R32", "keeps-attachment",
                 "missing detach when init fails: the import's late failure returns without "
                 "dma_buf_detach", "import(b0.a0, fault=import_sg_table)"),
        importer("unwind_skips_put", "R32", "leaks-reference",
                 "missing put on an error path: the import keeps dma_buf_get's reference "
                 "when the attach fails", "import(b0.a0, fault=attach__nomem)"),
        importer("unwind_skips_unpin", "R17", "detach-while-pinned",
                 "missing unpin on an error path: the RDMA umem detaches a pinned attachment "
                 "when the map fails", "reg_mr(b0.a0, fault=map__nomem)"),
        importer("double_unpin_teardown", "R17", "unpin-without-pin",
                 "double unpin: the RDMA umem release unpins twice",
                 "reg_mr(b0.a0)", "dereg_mr(b0.a0)"),
        importer("resv_after_last_put", "R5", "use-after-free",
                 "using the exporter's resv after the last put: the GEM destroy locks the "
                 "buffer after its put released it", "import(b0.a0)", "close(b0)",
                 "destroy(b0.a0)", resembles="B06"),
        importer("import_drops_reference", "R8", "attached-without-reference",
                 "a holder's reference dropped while another path still uses it: the import "
                 "puts the BO's only reference and stays attached", "import(b0.a0)"),
        importer("lookup_leaks_reference", "R32", "leaks-reference",
                 "a lookup that leaks a reference: the ioctl takes dma_buf_get's reference and "
                 "returns without dma_buf_put", "lookup(b0)", resembles="B41"),
        importer("unlocked_map_under_resv", "R16", "unlocked-under-resv",
                 "the _unlocked API under resv: the submission maps with "
                 "dma_buf_map_attachment_unlocked while it holds the lock", "import(b0.a0)",
                 "submit(b0.a0)"),
        importer("locked_map_without_resv", "R12", "map-without-resv",
                 "the locked API without resv on 6.2+: the submission maps with "
                 "dma_buf_map_attachment and no lock", "import(b0.a0)", "submit(b0.a0)"),
        importer("bo_freed_before_detach", "R18", "freed-before-detach",
                 "importer state freed before detach: the release frees the BO while "
                 "move_notify can still reach it", "import(b0.a0)", "release(b0.a0)",
                 resembles="B25"),
        importer("teardown_keeps_mapping", "R11", "detach-while-mapped",
                 "the GEM destroy detaches without unmapping its sg_table", "import(b0.a0)",
                 "destroy(b0.a0)"),
        importer("teardown_leaks_reference", "R32", "leaks-reference",
                 "the GEM destroy never puts the object's reference", "import(b0.a0)",
                 "destroy(b0.a0)"),
        importer("teardown_keeps_vmap", "R32", "keeps-vmap",
                 "the vb2 plane release forgets the kernel mapping it made", "qbuf(b0.a0)",
                 "vaddr(b0.a0)", "release(b0.a0)"),
        importer("fence_after_failed_lock", "R24", "add-fence-without-resv",
                 "a failed dma_resv_lock_interruptible ignored: the fence is added without "
                 "the lock", "plane_update(b0, fault=lock_interruptible__intr)",
                 resembles="B31"),
        exporter("touch_after_fd", "R5", "use-without-reference",
                 "touching the buffer after dma_buf_fd(): the allocation ioctl vmaps a buffer "
                 "whose reference it gave to the fd table", "alloc(b0)", resembles="B07"),
        exporter("fd_failure_put_and_free", "R6", "double-free",
                 "dma_buf_fd() failure followed by both put and release: the pages are freed "
                 "again after ops->release freed them", "alloc(b0, fault=fd__emfile)",
                 resembles="B15"),
    ]


MUTANTS: Mapping[str, Mutant] = MappingProxyType(
    {m.name: m for m in (*_catalogue(), *_driver_code())})
