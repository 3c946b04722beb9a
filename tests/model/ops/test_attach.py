"""Attach, dynamic attach and detach (model/ops/attach.py): R7-R11."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from model import EXPORTERS, IMPORTERS, PROFILES, Party, Severity
from model.behaviour import Call
from model.context import Ctx
from model.kernel import DMA_BIDIRECTIONAL, EBUSY, EFAULT, EINVAL, ENOMEM
from model.layout import ATTACHED, DETACHED, FREE, LIVE, RELEASED

if TYPE_CHECKING:
    from conftest import RunFn

EDEADLK = 35  # what the model returns for a call that would deadlock on the caller's lock
UP_TO_615 = ("v6.1", "v6.2-6.15")
FROM_616 = ("v6.16+", "v7.x")
BIDI = DMA_BIDIRECTIONAL + 1  # slot direction code of a BIDIRECTIONAL mapping
OWNED = ["export(b0)", "get_dma_buf(b0)"]  # the caller holds two references


# ------------------------------------------------------------------ R7


NO_MOVE_NOTIFY = IMPORTERS["dynamic"].derive("nomn", "importer_ops without move_notify",
                                             has_move_notify=False)


@pytest.mark.parametrize("profile", PROFILES)
def test_dynamic_attach_without_move_notify_is_rejected(run: RunFn, profile: str) -> None:
    r = run("system_heap", profile, [*OWNED, "dynamic_attach(b0.a0, importer=nomn)"],
            importers=[IMPORTERS["static"], NO_MOVE_NOTIFY], scope="1x1")
    v = r.only(-1)
    assert (v.rule, v.tag, v.severity, v.party, v.objects) == (
        "R7", "attach-without-move-notify", Severity.WARN_ERRNO, Party.IMPORTER, ("b0.a0",))
    assert "no move_notify" in v.message
    assert r.errno() == -EINVAL
    assert r.value("b0.a0.st") == FREE


# ------------------------------------------------------------------ R8


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("action", ["attach(b0.a0, importer=static)",
                                    "dynamic_attach(b0.a0, importer=dynamic)",
                                    "dynamic_attach(b0.a0, importer=pinned)"])
def test_attach_while_holding_resv_deadlocks(run: RunFn, profile: str, action: str) -> None:
    r = run("system_heap", profile, [*OWNED, "lock(b0)", action])
    v = r.only(-1)
    assert (v.rule, v.tag, v.severity, v.party) == (
        "R8", "attach-under-resv", Severity.LOCKDEP, Party.IMPORTER)
    assert r.errno() == -EDEADLK
    assert r.value("b0.a0.st") == FREE


def test_attach_without_an_own_reference(run: RunFn) -> None:
    r = run("system_heap", "v6.16+", ["export(b0)", "fd(b0)", "attach(b0.a0, importer=static)"])
    v = r.only(-1)
    assert (v.rule, v.tag, v.severity, v.party, v.objects) == (
        "R8", "attached-without-reference", Severity.SILENT, Party.IMPORTER, ("b0.a0",))
    assert r.errno() == 0
    assert r.value("b0.a0.st") == ATTACHED  # attach itself succeeds


def test_attach_takes_no_reference(run: RunFn) -> None:
    r = run("system_heap", "v6.16+", [*OWNED, "attach(b0.a0, importer=static)"])
    assert r.violations == []
    assert r.refcount(step=1) == r.refcount() == 2


@pytest.mark.parametrize("give_up", ["fd(b0)", "put(b0)"])
def test_giving_up_the_last_own_reference_while_attached(run: RunFn, give_up: str) -> None:
    r = run("system_heap", "v6.16+", ["export(b0)", "attach(b0.a0, importer=static)", give_up])
    v = r.find("attached-without-reference")
    assert (v.rule, v.severity, v.party, v.objects, v.step) == (
        "R8", Severity.SILENT, Party.IMPORTER, ("b0", "b0.a0"), 2)


def test_giving_up_a_spare_reference_while_attached_is_fine(run: RunFn) -> None:
    r = run("system_heap", "v6.16+", [*OWNED, "attach(b0.a0, importer=static)", "put(b0)"])
    assert r.violations == []
    assert r.value("b0.life") == LIVE


@pytest.mark.parametrize("exporter", list(EXPORTERS))
def test_attach_allocation_failure(run: RunFn, exporter: str) -> None:
    r = run(exporter, "v6.16+", [*OWNED, "attach(b0.a0, fault=nomem, importer=static)"])
    assert r.at(-1) == ()
    assert r.errno() == -ENOMEM
    assert r.value("b0.a0.st") == FREE
    assert r.model.describe(r.state) == r.model.describe(r.outcomes[1].state)


def test_exporter_attach_failure_leaves_nothing(run: RunFn) -> None:
    # drm_gem_map_attach fails to pin: the attachment is freed, no GEM pin is held
    r = run("gem_prime", "v6.16+", [*OWNED, "attach(b0.a0, fault=exporter, importer=static)"])
    assert r.at(-1) == ()
    assert r.errno() == -ENOMEM
    assert r.value("b0.a0.st") == FREE
    assert r.value("b0.x.gem_pins") == 0


# ------------------------------------------------------------------ R9


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("importer", ["dynamic", "pinned"])
def test_ttm_attach_clears_peer2peer(run: RunFn, profile: str, importer: str) -> None:
    r = run("ttm", profile, [*OWNED, f"dynamic_attach(b0.a0, importer={importer})"])
    assert r.violations == []
    assert r.value("b0.a0.dyn") == 1
    assert r.value("b0.a0.p2p") == 0


@pytest.mark.parametrize("profile", PROFILES)
def test_peer2peer_is_copied_from_a_dynamic_importer(run: RunFn, profile: str) -> None:
    r = run("system_heap", profile, [*OWNED, "dynamic_attach(b0.a0, importer=dynamic)",
                                      "attach(b0.a1, importer=static)"])
    assert r.value("b0.a0.p2p") == 1  # allow_peer2peer, and the heap leaves it
    assert r.value("b0.a1.p2p") == 0  # static importers never get peer2peer


# ------------------------------------------------------------------ R10


@pytest.mark.parametrize("profile", UP_TO_615)
def test_static_importer_on_dynamic_exporter_is_pinned_and_mapped_at_attach(
        run: RunFn, profile: str) -> None:
    r = run("ttm", profile, [*OWNED, "attach(b0.a0, importer=static)"])
    assert r.violations == []
    assert r.value("b0.a0.apin") == 1
    assert r.value("b0.a0.cached") == 1
    assert r.value("b0.a0.s0.dir") == BIDI
    assert r.value("b0.x.pin_count") == 1
    assert r.value("b0.x.placement") == 1  # no peer2peer: pinned in GTT
    assert r.value("b0.resv") == 0  # the core dropped the lock it took


@pytest.mark.parametrize("profile", FROM_616)
def test_no_attach_time_pin_or_map_from_6_16(run: RunFn, profile: str) -> None:
    r = run("ttm", profile, [*OWNED, "attach(b0.a0, importer=static)"])
    assert r.violations == []
    assert (r.value("b0.a0.apin"), r.value("b0.a0.cached"), r.value("b0.a0.s0.dir")) == (0, 0, 0)
    assert r.value("b0.x.pin_count") == 0


@pytest.mark.parametrize("profile", PROFILES)
def test_dynamic_importer_on_static_exporter_is_mapped_at_attach_up_to_6_15(
        run: RunFn, profile: str) -> None:
    r = run("system_heap", profile, [*OWNED, "dynamic_attach(b0.a0, importer=dynamic)"])
    assert r.violations == []
    early = profile in UP_TO_615
    assert r.value("b0.a0.cached") == int(early)
    assert r.value("b0.a0.s0.dir") == (BIDI if early else 0)
    assert r.value("b0.a0.x.mapped") == int(early)  # the heap's map_dma_buf ran
    assert r.value("b0.a0.apin") == 0  # a static exporter has nothing to pin


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize(("exporter", "attach"), [
    ("ttm", "dynamic_attach(b0.a0, importer=dynamic)"),
    ("system_heap", "attach(b0.a0, importer=static)"),
    ("udmabuf", "attach(b0.a0, importer=static)"),
])
def test_matching_dynamicity_maps_nothing_at_attach(
        run: RunFn, profile: str, exporter: str, attach: str) -> None:
    r = run(exporter, profile, [*OWNED, attach])
    assert r.violations == []
    assert (r.value("b0.a0.cached"), r.value("b0.a0.s0.dir"), r.value("b0.a0.apin")) == (0, 0, 0)


def _pin_busy(c: Ctx, call: Call) -> None:
    c.returns(-EBUSY)


TTM_PIN_FAILS = EXPORTERS["ttm"].derive("ttm_pin_fails", "pin always -EBUSY",
                                        callbacks={"pin": _pin_busy})


@pytest.mark.parametrize("profile", UP_TO_615)
def test_attach_time_pin_failure_fails_the_attach(run: RunFn, profile: str) -> None:
    r = run(TTM_PIN_FAILS, profile, [*OWNED, "attach(b0.a0, importer=static)"], scope="1x1")
    assert r.violations == []
    assert r.errno() == -EBUSY
    assert r.value("b0.a0.st") == FREE
    assert (r.value("b0.a0.apin"), r.value("b0.a0.cached"), r.value("b0.resv")) == (0, 0, 0)


@pytest.mark.parametrize("profile", UP_TO_615)
def test_detach_unmaps_and_unpins_the_attach_time_mapping(run: RunFn, profile: str) -> None:
    r = run("ttm", profile, [*OWNED, "attach(b0.a0, importer=static)", "detach(b0.a0)"])
    assert r.violations == []
    assert r.value("b0.a0.st") == DETACHED
    assert (r.value("b0.a0.apin"), r.value("b0.a0.cached"), r.value("b0.a0.s0.dir")) == (0, 0, 0)
    assert r.value("b0.x.pin_count") == 0
    assert r.value("b0.resv") == 0


# ------------------------------------------------------------------ R11


@pytest.mark.parametrize("profile", PROFILES)
def test_detach_while_mapped_leaks(run: RunFn, profile: str) -> None:
    mp = "map" if profile == "v6.1" else "map_unlocked"
    seq = [*OWNED, "attach(b0.a0, importer=static)", f"{mp}(b0.a0, dir=TO_DEVICE)",
           "detach(b0.a0)"]
    r = run("system_heap", profile, seq)
    v = r.only(-1)
    assert (v.rule, v.tag, v.severity, v.party, v.objects) == (
        "R11", "detach-while-mapped", Severity.LEAK, Party.IMPORTER, ("b0.a0",))
    assert "b0.a0.s0" in v.message
    assert r.errno() == 0
    assert r.value("b0.a0.st") == DETACHED
    assert r.value("b0.a0.s0.dir") == 0


@pytest.mark.parametrize("profile", UP_TO_615)
def test_detach_unmaps_a_cached_mapping_silently(run: RunFn, profile: str) -> None:
    # udmabuf and drm_prime set cache_sgt_mapping: detach does the real unmap (<= 6.15)
    mp = "map" if profile == "v6.1" else "map_unlocked"
    seq = [*OWNED, "attach(b0.a0, importer=static)", f"{mp}(b0.a0, dir=TO_DEVICE)",
           "detach(b0.a0)"]
    for exporter in ("udmabuf", "gem_prime"):
        r = run(exporter, profile, seq)
        assert r.value("b0.a0.cached", 3) == 1
        assert r.violations == [], r.explain()
        assert r.value("b0.a0.cached") == 0


@pytest.mark.parametrize("action", [
    "detach(b0.a0)", "map_unlocked(b0.a0, dir=TO_DEVICE)", "map(b0.a0, dir=TO_DEVICE)",
    "unmap_unlocked(b0.a0, dir=TO_DEVICE, slot=0)", "access(b0.a0, slot=0)", "pin(b0.a0)",
    "unpin(b0.a0)",
])
def test_use_after_detach(run: RunFn, action: str) -> None:
    r = run("ttm", "v6.16+", [*OWNED, "dynamic_attach(b0.a0, importer=dynamic)", "lock(b0)",
                              "unlock(b0)", "detach(b0.a0)", action])
    v = r.only(-1)
    assert (v.rule, v.tag, v.severity, v.party, v.objects) == (
        "R11", "use-after-detach", Severity.SILENT, Party.IMPORTER, ("b0.a0",))
    assert r.errno() == -EFAULT
    assert r.state == r.outcomes[-2].state


def test_detach_under_resv_deadlocks(run: RunFn) -> None:
    r = run("system_heap", "v6.16+", [*OWNED, "attach(b0.a0, importer=static)", "lock(b0)",
                                      "detach(b0.a0)"])
    v = r.only(-1)
    assert (v.rule, v.tag, v.severity, v.party) == (
        "R11", "detach-under-resv", Severity.LOCKDEP, Party.IMPORTER)
    assert r.errno() == -EDEADLK
    assert r.value("b0.a0.st") == ATTACHED


def test_detach_after_release_touches_freed_buffer(run: RunFn) -> None:
    # R6: the attachment dangles after the release WARN; detaching it is a use after free
    r = run("system_heap", "v6.16+", ["export(b0)", "attach(b0.a0, importer=static)", "put(b0)",
                                      "detach(b0.a0)"])
    assert r.value("b0.life", 2) == RELEASED
    v = r.only(-1)
    assert (v.rule, v.tag) == ("R5", "use-after-free")
    assert r.errno() == -EFAULT


def test_detach_frees_the_slot_for_nothing_else(run: RunFn) -> None:
    r = run("system_heap", "v6.16+", [*OWNED, "attach(b0.a0, importer=static)", "detach(b0.a0)"])
    assert r.violations == []
    enabled = {str(a) for a in r.model.enabled(r.state, "misuse")}
    assert "attach(b0.a0, importer=static)" not in enabled  # a slot is used once
    assert "attach(b0.a1, importer=static)" in enabled
