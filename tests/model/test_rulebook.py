"""Every obligation the model checks, on its minimal bad sequence, under every profile where
it applies (rulebook section 2). The per-operation files under ``tests/model/ops`` look at
each case more closely; this table makes sure none is forgotten: a report site the model
gains without a row here fails ``test_every_report_site_has_a_minimal_sequence``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

import pytest

from checker.dsl.ast import ExporterDecl
from checker.dsl.lower import lower_exporter
from checker.dsl.parser import parse
from model import EXPORTERS, IMPORTERS, PROFILES, Exporter, Importer, Model, Party, Severity
from model.behaviour import Call
from model.context import Ctx
from model.invariants import core_invariants
from model.kernel import (
    DMA_BIDIRECTIONAL,
    DMA_TO_DEVICE,
    EBADF,
    EBUSY,
    EFAULT,
    EINTR,
    EINVAL,
    ENOENT,
    ENOMEM,
    EOVERFLOW,
)
from model.mutants import MUTANTS, NOTIFY_WITHOUT_SYNC
from model.program import Report, walk

if TYPE_CHECKING:
    from conftest import RunFn

ALL = tuple(PROFILES)
UP_TO_615 = ("v6.1", "v6.2-6.15")
FROM_62 = ("v6.2-6.15", "v6.16+", "v7.x")
FROM_616 = ("v6.16+", "v7.x")
MOVE_NOTIFY_ON = ("v7.x", "v6.16+,move_notify=y")
EDEADLK = 35

WARN_ERRNO, WARN, ERRNO = Severity.WARN_ERRNO, Severity.WARN, Severity.ERRNO
LOCKDEP, BUG, SILENT, LEAK = Severity.LOCKDEP, Severity.BUG, Severity.SILENT, Severity.LEAK
IMP, EXP, CORE = Party.IMPORTER, Party.EXPORTER, Party.CORE

HEAP, UDMABUF, GEM, TTM = (EXPORTERS[n] for n in ("system_heap", "udmabuf", "gem_prime", "ttm"))
STATIC, DYNAMIC, PINNED = (IMPORTERS[n] for n in ("static", "dynamic", "pinned"))


# ------------------------------------------------------------------ broken behaviours


def _nothing(c: Ctx, call: Call) -> None:
    pass


def _pin_busy(c: Ctx, call: Call) -> None:
    c.returns(-EBUSY)


def _vmap_drops_kref(c: Ctx, call: Call) -> None:
    c.inc(call.buf.x["vmaps"])
    c.dec(call.buf.kref)


def _vunmap_keeps_counter(c: Ctx, call: Call) -> None:
    c.dec(call.buf.x["vmaps"])
    c.set(call.buf.vmap_cnt, 1)


def _unpin_twice(c: Ctx, call: Call) -> None:
    with c.when(call.buf.x["pin_count"] > 1):
        c.dec(call.buf.x["pin_count"], 2)


def _begin_leaves_error(c: Ctx, call: Call) -> None:
    with c.when(call.buf.x["sg"].eq(0)):
        c.set(call.buf.x["sg"], 2)
        c.returns(-ENOMEM)


def _sync_every_attachment(c: Ctx, call: Call) -> None:
    for a in call.buf.atts:
        with c.when(a.live):
            c.sync_for_cpu(call.buf, a, DMA_BIDIRECTIONAL)


def _begin_syncs_for_device(c: Ctx, call: Call) -> None:
    assert call.dir is not None
    c.sync_for_device(call.buf, None, call.dir)


def _begin_syncs_to_device(c: Ctx, call: Call) -> None:
    c.sync_for_cpu(call.buf, None, DMA_TO_DEVICE)


def _flip(c: Ctx, b_call: Call) -> None:
    b = b_call.buf
    c.set(b.x["placement"], 1 - b.x["placement"])
    c.backing_moved(b)


def _move_without_notify(c: Ctx, call: Call) -> None:
    with c.when(call.buf.x["pin_count"] > 0):
        c.exit(-EBUSY)
    c.set(call.buf.resv, 1)
    _flip(c, call)
    c.set(call.buf.resv, 0)


def _move_ignoring_pins(c: Ctx, call: Call) -> None:
    c.set(call.buf.resv, 1)
    c.move_notify(call.buf)
    _flip(c, call)
    c.set(call.buf.resv, 0)


def _move_unlocked(c: Ctx, call: Call) -> None:
    with c.when(call.buf.x["pin_count"] > 0):
        c.exit(-EBUSY)
    c.move_notify(call.buf)
    _flip(c, call)


def _vmap_fails(c: Ctx, call: Call) -> None:
    if c.failing("exporter"):
        c.returns(-ENOMEM)


BROKEN: dict[str, Exporter] = {
    "vmap_fails": HEAP.derive("rb_vmap_fails", "x", fallible=frozenset({"vmap"}),
                              callbacks={"vmap": _vmap_fails}),
    "no_release": HEAP.derive("rb_no_release", "x", ops=HEAP.ops - {"release"}),
    "pin_only": HEAP.derive("rb_pin_only", "x", ops=HEAP.ops | {"pin"}),
    "cache_and_pin": HEAP.derive("rb_cache_and_pin", "x", cache_sgt_mapping=True,
                                 ops=HEAP.ops | {"pin", "unpin"}),
    "vmap_drops_kref": HEAP.derive("rb_vmap_drops_kref", "x",
                                   callbacks={"vmap": _vmap_drops_kref}),
    "vunmap_keeps_counter": HEAP.derive("rb_vunmap_keeps_counter", "x",
                                        callbacks={"vunmap": _vunmap_keeps_counter}),
    "vunmap_forgets": HEAP.derive("rb_vunmap_forgets", "x", callbacks={"vunmap": _nothing}),
    "ttm_keeps_p2p": TTM.derive("rb_ttm_keeps_p2p", "x", callbacks={"attach": _nothing}),
    "ttm_no_migrate": TTM.derive("rb_ttm_no_migrate", "x", callbacks={"map_dma_buf": _nothing}),
    "ttm_pin_busy": TTM.derive("rb_ttm_pin_busy", "x", callbacks={"pin": _pin_busy}),
    "ttm_unpin_twice": TTM.derive("rb_ttm_unpin_twice", "x", callbacks={"unpin": _unpin_twice}),
    "ttm_ignores_pins": TTM.derive("rb_ttm_ignores_pins", "x", move=_move_ignoring_pins),
    "ttm_no_notify": TTM.derive("rb_ttm_no_notify", "x", move=_move_without_notify),
    "ttm_unlocked_notify": TTM.derive("rb_ttm_unlocked_notify", "x", move=_move_unlocked),
    "gem_detach_forgets": GEM.derive("rb_gem_detach_forgets", "x",
                                     callbacks={"detach": _nothing}),
    "heap_begin_skips_sync": HEAP.derive("rb_heap_begin_skips_sync", "x",
                                         callbacks={"begin_cpu_access": _nothing}),
    "heap_end_skips_sync": HEAP.derive("rb_heap_end_skips_sync", "x",
                                       callbacks={"end_cpu_access": _nothing}),
    "heap_syncs_unmapped": HEAP.derive("rb_heap_syncs_unmapped", "x",
                                       callbacks={"begin_cpu_access": _sync_every_attachment}),
    "heap_unmap_keeps_count": HEAP.derive("rb_heap_unmap_keeps_count", "x",
                                          callbacks={"unmap_dma_buf": _nothing}),
    "udmabuf_wrong_way": UDMABUF.derive("rb_udmabuf_wrong_way", "x",
                                        callbacks={"begin_cpu_access": _begin_syncs_for_device}),
    "udmabuf_to_device": UDMABUF.derive("rb_udmabuf_to_device", "x",
                                        callbacks={"begin_cpu_access": _begin_syncs_to_device}),
    "udmabuf_error_ptr": UDMABUF.derive("rb_udmabuf_error_ptr", "x",
                                        callbacks={"begin_cpu_access": _begin_leaves_error}),
}
# the specification language's lock()/unlock() in callbacks that run locked / unlocked (R30)
LOCKING_SPEC = """
exporter rb_locking "takes resv in callbacks" {
  ops map_dma_buf, unmap_dma_buf, release
  on release {
    unlock()
  }
  on map_dma_buf {
    lock()
  }
}
"""
_LOCKING_DECL = parse(LOCKING_SPEC, "rb_locking.dmabuf").items[0]
assert isinstance(_LOCKING_DECL, ExporterDecl)
BROKEN["locking"] = lower_exporter(_LOCKING_DECL, {"rb_locking.dmabuf": LOCKING_SPEC})
NO_MOVE_NOTIFY = DYNAMIC.derive("nomn", "x", has_move_notify=False)
LAZY = DYNAMIC.derive("lazy", "x", move_notify=None)


# ------------------------------------------------------------------ the table


@dataclass(frozen=True)
class Case:
    rule: str
    tag: str | None  # None: a failure that is no violation (only the errno)
    severity: Severity | None
    party: Party | None
    seq: tuple[str, ...]  # {map} {unmap} {vmap} {vunmap} {vmapfail}: the profile's forms
    profiles: tuple[str, ...] = ALL
    errno: int = 0
    exporter: Exporter = HEAP
    importers: tuple[Importer, ...] | None = None
    # obligations the earlier steps break on the way, by necessity (a fault past the end
    # needs a vma grown past it, which is itself a finding)
    before: tuple[str, ...] = ()

    def actions(self, profile: str) -> list[str]:
        old = profile == "v6.1"
        forms = {
            "map": "map" if old else "map_unlocked",
            "unmap": "unmap" if old else "unmap_unlocked",
            "vmap": "vmap(b0)" if old else "vmap_unlocked(b0)",
            "vunmap": "vunmap(b0)" if old else "vunmap_unlocked(b0)",
            "vunmapforeign": "vunmap(b0, map=foreign)" if old
            else "vunmap_unlocked(b0, map=foreign)",
            "vmapfail": "vmap(b0, fault=exporter)" if old
            else "vmap_unlocked(b0, fault=exporter)",
        }
        return [a.format(**forms) for a in self.seq]


def case(rule: str, tag: str | None, severity: Severity | None, party: Party | None,
         *seq: str, **kw: object) -> Case:
    return Case(rule, tag, severity, party, seq, **kw)  # type: ignore[arg-type]


E = "export(b0)"
OWN = ("export(b0)", "get_dma_buf(b0)")
FD = ("export(b0)", "fd(b0)")
ATT = (*OWN, "attach(b0.a0, importer=static)")
PIN_ATT = (*OWN, "dynamic_attach(b0.a0, importer=pinned)")

CASES: dict[str, Case] = {
    # R1-R4: export
    "R1": case("R1", "export-ops", WARN_ERRNO, EXP, E, errno=-EINVAL,
               exporter=BROKEN["no_release"]),
    "R2": case("R2", "export-pin-pair", WARN_ERRNO, EXP, E, errno=-EINVAL,
               exporter=BROKEN["pin_only"]),
    "R3": case("R3", "export-cache-pin", WARN_ERRNO, EXP, E, errno=-EINVAL, profiles=UP_TO_615,
               exporter=BROKEN["cache_and_pin"]),
    "R4-module": case("R4", None, None, None, "export(b0, fault=module)", errno=-ENOENT),
    "R4-nomem": case("R4", None, None, None, "export(b0, fault=nomem)", errno=-ENOMEM),
    # R5: references
    "R5-bad-fd": case("R5", "bad-fd", ERRNO, IMP, E, "get(b0)", errno=-EBADF),
    "R5-bad-fd-close": case("R5", "bad-fd", ERRNO, IMP, E, "close(b0)", errno=-EBADF),
    "R5-fd": case("R5", "fd-without-reference", SILENT, IMP, *FD, "fd(b0)"),
    "R5-get_dma_buf": case("R5", "get-without-reference", SILENT, IMP, *FD, "get_dma_buf(b0)"),
    "R5-put": case("R5", "put-without-reference", SILENT, IMP, *FD, "put(b0)"),
    "R5-not-a-dma-buf": case("R5", "not-a-dma-buf", ERRNO, IMP, *FD, "get(b0, file=other)",
                             errno=-EINVAL),
    "R5-use": case("R5", "use-without-reference", SILENT, IMP, *FD, "lock(b0)"),
    "R5-uaf": case("R5", "use-after-free", SILENT, IMP, E, "put(b0)", "put(b0)", errno=-EFAULT),
    # R6: release
    "R6-attachment": case("R6", "release-with-attachment", WARN, IMP, E,
                          "attach(b0.a0, importer=static)", "put(b0)"),
    "R6-resv": case("R6", "release-with-resv", LOCKDEP, IMP, E, "lock(b0)", "put(b0)"),
    "R6-vmap": case("R6", "release-with-vmap", BUG, IMP, E, "{vmap}", "put(b0)"),
    "R6-invariant": case("R6", "release-once", SILENT, CORE, E, "{vmap}",
                         exporter=BROKEN["vmap_drops_kref"]),
    # R7, R8: attach
    "R7": case("R7", "attach-without-move-notify", WARN_ERRNO, IMP, *OWN,
               "dynamic_attach(b0.a0, importer=nomn)", errno=-EINVAL,
               importers=(STATIC, NO_MOVE_NOTIFY)),
    "R8-resv": case("R8", "attach-under-resv", LOCKDEP, IMP, *OWN, "lock(b0)",
                    "attach(b0.a0, importer=static)", errno=-EDEADLK),
    "R8-reference": case("R8", "attached-without-reference", SILENT, IMP, *FD,
                         "attach(b0.a0, importer=static)"),
    "R8-last-reference": case("R8", "attached-without-reference", SILENT, IMP, E,
                              "attach(b0.a0, importer=static)", "fd(b0)"),
    # R9: peer2peer (the exporter's obligations)
    "R9-clear": case("R9", "peer2peer-not-cleared", SILENT, EXP, *OWN,
                     "dynamic_attach(b0.a0, importer=dynamic)", exporter=BROKEN["ttm_keeps_p2p"]),
    "R9-vram": case("R9", "vram-to-non-p2p", SILENT, EXP, *OWN,
                    "dynamic_attach(b0.a0, importer=dynamic)", "map_unlocked(b0.a0, dir=TO_DEVICE)",
                    profiles=MOVE_NOTIFY_ON, exporter=BROKEN["ttm_no_migrate"]),
    # R11: detach
    "R11-resv": case("R11", "detach-under-resv", LOCKDEP, IMP, *ATT, "lock(b0)", "detach(b0.a0)",
                     errno=-EDEADLK),
    "R11-mapped": case("R11", "detach-while-mapped", LEAK, IMP, *ATT,
                       "{map}(b0.a0, dir=TO_DEVICE)", "detach(b0.a0)"),
    "R11-uad": case("R11", "use-after-detach", SILENT, IMP, *ATT, "detach(b0.a0)",
                    "detach(b0.a0)", errno=-EFAULT),
    # R12-R16: map and unmap
    "R12-resv": case("R12", "map-without-resv", LOCKDEP, IMP, *ATT, "map(b0.a0, dir=TO_DEVICE)",
                     profiles=FROM_62),
    "R12-resv-dynamic-6.1": case("R12", "map-without-resv", LOCKDEP, IMP, *OWN,
                                 "dynamic_attach(b0.a0, importer=dynamic)",
                                 "map(b0.a0, dir=BIDIRECTIONAL)", profiles=("v6.1",)),
    "R12-pin-busy": case("R12", "pin-busy", WARN, EXP, *ATT, "map_unlocked(b0.a0, dir=TO_DEVICE)",
                         profiles=FROM_616, errno=-EBUSY, exporter=BROKEN["ttm_pin_busy"]),
    "R13-ebusy": case("R13", "map-direction-change", ERRNO, IMP, *ATT, "lock(b0)",
                      "map(b0.a0, dir=TO_DEVICE)", "map(b0.a0, dir=BIDIRECTIONAL)",
                      profiles=UP_TO_615, errno=-EBUSY, exporter=UDMABUF),
    "R13-none": case("R13", "map-dma-none", WARN_ERRNO, IMP, *ATT, "lock(b0)",
                     "map(b0.a0, dir=NONE)", errno=-EINVAL, exporter=GEM),
    "R14": case("R14", "read-pages", SILENT, IMP, *ATT, "lock(b0)", "map(b0.a0, dir=TO_DEVICE)",
                "read_pages(b0.a0, slot=0)"),
    "R15-access": case("R15", "access-unmapped", SILENT, IMP, *ATT, "access(b0.a0, slot=0)"),
    "R15-direction": case("R15", "unmap-direction", SILENT, IMP, *ATT, "lock(b0)",
                          "map(b0.a0, dir=TO_DEVICE)", "unmap(b0.a0, dir=FROM_DEVICE, slot=0)"),
    "R15-foreign": case("R15", "unmap-foreign", SILENT, IMP, *ATT, "lock(b0)",
                        "map(b0.a0, dir=TO_DEVICE)", "unmap(b0.a0, dir=TO_DEVICE, slot=foreign)"),
    "R15-twice": case("R15", "unmap-unmapped", SILENT, IMP, *ATT, "lock(b0)",
                      "map(b0.a0, dir=TO_DEVICE)", "unmap(b0.a0, dir=TO_DEVICE, slot=0)",
                      "unmap(b0.a0, dir=TO_DEVICE, slot=0)"),
    "R15-under-dma": case("R15", "unmap-under-dma", SILENT, IMP, *ATT, "lock(b0)",
                          "map(b0.a0, dir=TO_DEVICE)", "start_dma(b0.a0, slot=0)",
                          "unmap(b0.a0, dir=TO_DEVICE, slot=0)"),
    "R15-resv": case("R15", "unmap-without-resv", LOCKDEP, IMP, *ATT,
                     "{map}(b0.a0, dir=TO_DEVICE)", "unmap(b0.a0, dir=TO_DEVICE, slot=0)",
                     profiles=FROM_62),
    "R16": case("R16", "unlocked-under-resv", LOCKDEP, IMP, *ATT, "lock(b0)",
                "map_unlocked(b0.a0, dir=TO_DEVICE)", profiles=FROM_62, errno=-EDEADLK),
    # R17, R18: pins and moves
    "R17-detach": case("R17", "detach-while-pinned", LEAK, IMP, *PIN_ATT, "lock(b0)",
                       "pin(b0.a0)", "unlock(b0)", "detach(b0.a0)", exporter=TTM),
    "R17-static": case("R17", "pin-static", WARN, IMP, *ATT, "lock(b0)", "pin(b0.a0)"),
    "R17-pin-resv": case("R17", "pin-without-resv", LOCKDEP, IMP, *PIN_ATT, "pin(b0.a0)"),
    "R17-unpin": case("R17", "unpin-without-pin", SILENT, IMP, *PIN_ATT, "lock(b0)",
                      "unpin(b0.a0)"),
    "R17-unpin-resv": case("R17", "unpin-without-resv", LOCKDEP, IMP, *PIN_ATT, "lock(b0)",
                           "pin(b0.a0)", "unlock(b0)", "unpin(b0.a0)"),
    "R17-gem": case("R17", "gem-pin-balance", SILENT, EXP, *ATT, "detach(b0.a0)",
                    exporter=BROKEN["gem_detach_forgets"]),
    "R17-pin-count": case("R17", "pin-count", SILENT, EXP, *PIN_ATT, "lock(b0)", "pin(b0.a0)",
                          "pin(b0.a0)", "unpin(b0.a0)", exporter=BROKEN["ttm_unpin_twice"]),
    "R17-move-pinned": case("R17", "move-while-pinned", SILENT, EXP, *PIN_ATT, "lock(b0)",
                            "pin(b0.a0)", "unlock(b0)", "move(b0)",
                            exporter=BROKEN["ttm_ignores_pins"]),
    "R18-access": case("R18", "access-after-move", SILENT, IMP, *OWN,
                       "dynamic_attach(b0.a0, importer=lazy)",
                       "map_unlocked(b0.a0, dir=TO_DEVICE)", "move(b0)", "access(b0.a0, slot=0)",
                       profiles=MOVE_NOTIFY_ON, exporter=TTM, importers=(LAZY,)),
    "R18-no-notify": case("R18", "move-without-notify", SILENT, EXP, *OWN,
                          "dynamic_attach(b0.a0, importer=dynamic)",
                          "map_unlocked(b0.a0, dir=TO_DEVICE)", "move(b0)",
                          profiles=MOVE_NOTIFY_ON, exporter=BROKEN["ttm_no_notify"]),
    "R18-notify-under-dma": case("R18", "move-notify-under-dma", SILENT, IMP, *OWN,
                                 "dynamic_attach(b0.a0, importer=notify_without_sync)",
                                 "map_unlocked(b0.a0, dir=TO_DEVICE)", "start_dma(b0.a0, slot=0)",
                                 "move(b0)", profiles=MOVE_NOTIFY_ON, exporter=TTM,
                                 importers=(NOTIFY_WITHOUT_SYNC,)),
    "R18-move-under-dma": case("R18", "move-under-dma", SILENT, EXP, *OWN,
                               "dynamic_attach(b0.a0, importer=lazy)",
                               "map_unlocked(b0.a0, dir=TO_DEVICE)", "start_dma(b0.a0, slot=0)",
                               "move(b0)", profiles=MOVE_NOTIFY_ON,
                               exporter=MUTANTS["ttm_move_before_fences"].exporter,
                               importers=(LAZY,)),
    "R18-unlocked": case("R18", "move-notify-without-resv", LOCKDEP, EXP, *OWN,
                         "dynamic_attach(b0.a0, importer=dynamic)", "move(b0)",
                         exporter=BROKEN["ttm_unlocked_notify"]),
    # R19-R22: poll, SYNC, CPU access, sync files
    "R19-callback-reference": case("R5", "put-without-reference", SILENT, IMP, *FD,
                               "import_sync_file(b0, flags=2)", "poll(b0, events=EPOLLIN)",
                               "put(b0)"),
    "R20-flags": case("R20", "sync-flags", ERRNO, IMP, *FD, "sync(b0, flags=4)", errno=-EINVAL),
    "R20-fault": case("R20", "sync-fault", ERRNO, IMP, *FD, "sync(b0, flags=1, pointer=bad)",
                      errno=-EFAULT),
    "R20-end": case("R20", "end-without-begin", SILENT, IMP, *FD, "sync(b0, flags=5)"),
    "R20-direction": case("R20", "cpu-access-direction", SILENT, IMP, *FD, "sync(b0, flags=1)",
                          "sync(b0, flags=6)"),
    "R21-resv": case("R21", "cpu-access-under-resv", LOCKDEP, IMP, E, "lock(b0)",
                     "begin_cpu_access(b0, dir=TO_DEVICE)"),
    "R21-unbalanced": case("R21", "cpu-access-unbalanced", SILENT, IMP, E,
                           "begin_cpu_access(b0, dir=TO_DEVICE)", "put(b0)"),
    "R21-udmabuf": case("R21", "begin-cpu-error-state", BUG, EXP, E,
                        "begin_cpu_access(b0, dir=TO_DEVICE)", "put(b0)",
                        exporter=BROKEN["udmabuf_error_ptr"]),
    "R21-begin-not-synced": case("R21", "begin-cpu-not-synced", SILENT, EXP, *ATT,
                                 "{map}(b0.a0, dir=FROM_DEVICE)",
                                 "begin_cpu_access(b0, dir=FROM_DEVICE)",
                                 exporter=BROKEN["heap_begin_skips_sync"]),
    "R21-end-not-synced": case("R21", "end-cpu-not-synced", SILENT, EXP, *ATT,
                               "{map}(b0.a0, dir=TO_DEVICE)", "end_cpu_access(b0, dir=TO_DEVICE)",
                               exporter=BROKEN["heap_end_skips_sync"]),
    "R21-sync-unmapped": case("R21", "cpu-sync-unmapped", WARN, EXP, *ATT,
                              "begin_cpu_access(b0, dir=FROM_DEVICE)",
                              exporter=BROKEN["heap_syncs_unmapped"]),
    "R21-mapped-count": case("R21", "heap-mapped-count", SILENT, EXP, *ATT,
                             "{map}(b0.a0, dir=TO_DEVICE)",
                             "{unmap}(b0.a0, dir=TO_DEVICE, slot=0)",
                             exporter=BROKEN["heap_unmap_keeps_count"]),
    "R21-wrong-way": case("R21", "cpu-sync-wrong-way", SILENT, EXP, E,
                          "begin_cpu_access(b0, dir=FROM_DEVICE)",
                          exporter=BROKEN["udmabuf_wrong_way"]),
    "R21-sync-direction": case("R21", "cpu-sync-direction", SILENT, EXP, E,
                               "begin_cpu_access(b0, dir=FROM_DEVICE)",
                               exporter=BROKEN["udmabuf_to_device"]),
    "R22": case("R22", "sync-file-flags", ERRNO, IMP, *FD, "export_sync_file(b0, flags=4)",
                errno=-EINVAL),
    "R23": case("R23", "name-too-long", ERRNO, IMP, *FD, "set_name(b0, length=32)",
                errno=-EINVAL),
    "R23-fault": case("R23", "name-fault", ERRNO, IMP, *FD, "set_name(b0, length=1, pointer=bad)",
                      errno=-EFAULT),
    # R24: resv and fences
    "R24-unreserved": case("R24", "add-fence-unreserved", BUG, IMP, E, "lock(b0)",
                           "add_fence(b0, usage=WRITE)"),
    "R24-add-resv": case("R24", "add-fence-without-resv", LOCKDEP, IMP, E,
                         "add_fence(b0, usage=READ)"),
    "R24-reserve-resv": case("R24", "reserve-without-resv", LOCKDEP, IMP, E, "reserve_fences(b0)"),
    "R24-recursive": case("R24", "resv-recursive", LOCKDEP, IMP, E, "lock(b0)", "lock(b0)",
                          errno=-EINTR),
    "R24-unheld": case("R24", "resv-unlock-unheld", LOCKDEP, IMP, E, "unlock(b0)"),
    "R24-exporter-recursive": case("R24", "exporter-recursive-resv", LOCKDEP, EXP, *ATT,
                                   "lock(b0)", "map(b0.a0, dir=TO_DEVICE)",
                                   exporter=BROKEN["locking"]),
    "R24-exporter-unheld": case("R24", "exporter-unlock-unheld", LOCKDEP, EXP, E, "put(b0)",
                                exporter=BROKEN["locking"]),
    # R25: vmap
    "R25-unbracketed": case("R25", "vmap-access-unbracketed", SILENT, IMP, E, "{vmap}",
                            "vmap_access(b0)"),
    "R25-unmapped-access": case("R25", "vmap-access-unmapped", SILENT, IMP, E, "vmap_access(b0)"),
    "R25-cache": case("R25", "vmap-cache", BUG, CORE, E, "{vmap}", "{vunmap}",
                      exporter=BROKEN["vunmap_keeps_counter"]),
    "R25-failed": case("R25", "vmap-failed", WARN, EXP, E, "{vmapfail}", errno=-ENOMEM,
                       exporter=BROKEN["vmap_fails"]),
    "R25-leak": case("R25", "vmap-leak", SILENT, EXP, E, "{vmap}", "{vunmap}",
                     exporter=BROKEN["vunmap_forgets"]),
    "R25-vmap-resv": case("R25", "vmap-without-resv", LOCKDEP, IMP, E, "vmap(b0)",
                          profiles=FROM_62),
    "R25-foreign": case("R25", "vunmap-foreign", BUG, IMP, E, "{vmap}", "{vunmapforeign}"),
    "R25-unmapped": case("R25", "vunmap-unmapped", BUG, IMP, E, "{vunmap}"),
    "R25-vunmap-resv": case("R25", "vunmap-without-resv", LOCKDEP, IMP, E, "vmap_unlocked(b0)",
                            "vunmap(b0)", profiles=FROM_62),
    # R26, R27, R30: files
    "R26-bounds": case("R26", "mmap-bounds", ERRNO, IMP, *FD, "mmap(b0, pages=2, pgoff=1)",
                       errno=-EINVAL),
    "R26-unaligned": case("R26", "mmap-unaligned", ERRNO, IMP, *FD,
                          "mmap(b0, pages=1, pgoff=unaligned)", errno=-EINVAL),
    "R26-empty": case("R26", "mmap-empty", ERRNO, IMP, *FD, "mmap(b0, pages=0, pgoff=0)",
                      errno=-EINVAL),
    "R26-overflow": case("R26", "mmap-overflow", ERRNO, IMP, E,
                         "dma_buf_mmap(b0, pages=1, pgoff=wrap)", errno=-EOVERFLOW),
    "R26-mremap": case("R26", "mremap-dontexpand", ERRNO, IMP, E,
                       "dma_buf_mmap(b0, pages=1, pgoff=0)", "mremap(b0, pages=2)",
                       errno=-EFAULT),
    "R26-expandable": case("R26", "mmap-expandable", SILENT, EXP, E,
                           "dma_buf_mmap(b0, pages=1, pgoff=0)", "mremap(b0, pages=3)",
                           exporter=MUTANTS["mremap_expandable"].exporter),
    "R26-fault-past-end": case("R26", "fault-past-end", SILENT, EXP, *FD,
                               "mmap(b0, pages=2, pgoff=0)", "mremap(b0, pages=3)",
                               "page_fault(b0, page=2)", before=("mmap-expandable",),
                               exporter=MUTANTS["udmabuf_fault_no_bound_check"].exporter),
    "R26-fault-sigbus": case("R26", "fault-sigbus", SILENT, EXP, *FD,
                             "mmap(b0, pages=2, pgoff=0)", "page_fault(b0, page=1)",
                             exporter=MUTANTS["gem_fault_sigbus_last_page"].exporter),
    "R27": case("R27", "llseek-whence", ERRNO, IMP, *FD, "llseek(b0, offset=1, whence=SEEK_SET)",
                errno=-EINVAL),
    "R30-mmap": case("R30", "mmap-under-resv", LOCKDEP, IMP, E, "lock(b0)",
                     "dma_buf_mmap(b0, pages=1, pgoff=0)", profiles=FROM_62),
}

# report sites that no sequence can reach with the reference exporters, by construction
UNREACHABLE = {
    "release-with-poll": "an armed poll callback holds a file reference: no release under it",
    "static-unpinned": "a static mapping of a dynamic exporter always holds a pin (R10, R12)",
}

PAIRS = [(name, p) for name, c in CASES.items() for p in c.profiles]


@pytest.mark.parametrize(("name", "profile"), PAIRS, ids=[f"{n}-{p}" for n, p in PAIRS])
def test_minimal_bad_sequence(run: RunFn, name: str, profile: str) -> None:
    c = CASES[name]
    r = run(c.exporter, profile, c.actions(profile), importers=c.importers, scope="1x1")
    assert all(v.tag in c.before for o in r.outcomes[:-1] for v in o.violations), r.explain()
    assert r.errno() == c.errno, r.explain()
    if c.tag is None:
        assert r.at(-1) == ()
        return
    found = [v for v in r.at(-1) if v.tag == c.tag]
    assert len(found) == 1, r.explain()
    v = found[0]
    assert (v.rule, v.severity, v.party) == (c.rule, c.severity, c.party), r.explain()
    assert v.step == len(c.seq) - 1
    assert v.message and v.objects


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("exporter", list(EXPORTERS))
def test_minimal_bad_sequences_are_not_silent_in_good_runs(
        run: RunFn, exporter: str, profile: str) -> None:
    # the same operations in their legal order report nothing
    mp = "map" if profile == "v6.1" else "map_unlocked"
    ump = "unmap" if profile == "v6.1" else "unmap_unlocked"
    r = run(exporter, profile, [
        "export(b0)", "fd(b0)", "get(b0)", "llseek(b0, offset=0, whence=SEEK_END)",
        "set_name(b0, length=1)", "sync(b0, flags=3)", "sync(b0, flags=7)",
        "begin_cpu_access(b0, dir=FROM_DEVICE)", "end_cpu_access(b0, dir=FROM_DEVICE)",
        "lock(b0)", "reserve_fences(b0)", "add_fence(b0, usage=WRITE)", "vmap(b0)",
        "unlock(b0)", "begin_cpu_access(b0, dir=TO_DEVICE)", "vmap_access(b0)",
        "end_cpu_access(b0, dir=TO_DEVICE)", "lock(b0)", "vunmap(b0)", "unlock(b0)",
        "export_sync_file(b0, flags=1)", "import_sync_file(b0, flags=1)",
        "poll(b0, events=EPOLLOUT)", "signal(b0, usage=READ)",
        "mmap(b0, pages=2, pgoff=0)", "munmap(b0)",
        "attach(b0.a0, importer=static)", f"{mp}(b0.a0, dir=TO_DEVICE)",
        "access(b0.a0, slot=0)", f"{ump}(b0.a0, dir=TO_DEVICE, slot=0)", "detach(b0.a0)",
        "put(b0)", "close(b0)"])
    assert r.violations == [], r.explain()
    assert r.value("b0.life") == 2


@cache
def _sites(exporter: str, profile: str) -> frozenset[tuple[str, str]]:
    """(rule, tag) of every report site and invariant of a reference model."""
    m = Model(EXPORTERS[exporter], profile=profile, scope="1x2")
    out = {(st.site.rule, st.site.tag) for g in m.ground for st in walk(g.program)
           if isinstance(st, Report)}
    ctx = Ctx(m.layout, m.profile, m.exporter, m.importers)
    out |= {(site.rule, site.tag) for site, _, _ in core_invariants(ctx)}
    return frozenset(out)


def _covered() -> dict[str, str]:
    return {c.tag: c.rule for c in CASES.values() if c.tag is not None}


@pytest.mark.parametrize("profile", [*PROFILES, "v6.16+,move_notify=y"])
def test_every_report_site_has_a_minimal_sequence(profile: str) -> None:
    covered = _covered()
    missing: list[tuple[str, str]] = []
    for exporter in EXPORTERS:
        for rule, tag in _sites(exporter, profile):
            if rule == "SCOPE" or tag in UNREACHABLE:
                continue
            if covered.get(tag) != rule:
                missing.append((rule, tag))
    assert missing == [], missing


def test_rules_checked_by_the_model() -> None:
    rules: set[str] = set()
    for exporter in EXPORTERS:
        for profile in PROFILES:
            rules |= {r for r, tag in _sites(exporter, profile) if tag not in UNREACHABLE}
    checked_here = {c.rule for c in CASES.values()}
    assert rules - {"SCOPE"} <= checked_here
    # R1-R4 and R7 are checked in Python while building an action, not as report sites
    assert {"R1", "R2", "R3", "R4", "R7"} <= checked_here


def _profiles_of(cases: Sequence[Case]) -> set[str]:
    return {p for c in cases for p in c.profiles}


def test_every_profile_is_exercised() -> None:
    assert _profiles_of(list(CASES.values())) >= set(PROFILES)
