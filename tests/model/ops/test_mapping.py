"""Map, unmap and DMA through a mapping (model/ops/mapping.py): R12-R16."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from model import PROFILES, Party, Severity
from model.kernel import DIRECTIONS, EBUSY, EINVAL, ERESTARTSYS

if TYPE_CHECKING:
    from conftest import RunFn

EDEADLK = 35
FROM_62 = ("v6.2-6.15", "v6.16+", "v7.x")
UP_TO_615 = ("v6.1", "v6.2-6.15")
FROM_616 = ("v6.16+", "v7.x")
STATIC = ["export(b0)", "get_dma_buf(b0)", "attach(b0.a0, importer=static)"]
DYNAMIC = ["export(b0)", "get_dma_buf(b0)", "dynamic_attach(b0.a0, importer=dynamic)"]


def code(direction: str) -> int:
    """The slot's direction code: 0 is no mapping, otherwise the DMA direction plus one."""
    return DIRECTIONS[direction] + 1


# ------------------------------------------------------------------ R12: locking


@pytest.mark.parametrize("profile", FROM_62)
@pytest.mark.parametrize("exporter", ["system_heap", "udmabuf", "gem_prime", "ttm"])
def test_locked_map_without_resv_is_a_lockdep_splat_from_6_2(
        run: RunFn, profile: str, exporter: str) -> None:
    r = run(exporter, profile, [*STATIC, "map(b0.a0, dir=BIDIRECTIONAL)"])
    # (on ttm the map-time pin migrates the buffer, and move_notify splats as well)
    mine = [v for v in r.at(-1) if v.party is Party.IMPORTER]
    assert [(v.rule, v.tag, v.severity, v.objects) for v in mine] == [
        ("R12", "map-without-resv", Severity.LOCKDEP, ("b0",))]
    assert r.errno() == 0  # lockdep only: the map itself goes ahead


@pytest.mark.parametrize("exporter", ["system_heap", "udmabuf", "gem_prime"])
def test_static_to_static_map_is_unlocked_on_6_1(run: RunFn, exporter: str) -> None:
    r = run(exporter, "v6.1", [*STATIC, "map(b0.a0, dir=BIDIRECTIONAL)",
                               "unmap(b0.a0, dir=BIDIRECTIONAL, slot=0)"])
    assert r.violations == []


def test_static_importer_on_attach_cached_ttm_maps_unlocked_on_6_1(run: RunFn) -> None:
    # the exporter is dynamic but the attach-time mapping is cached: no resv needed
    r = run("ttm", "v6.1", [*STATIC, "map(b0.a0, dir=BIDIRECTIONAL)"])
    assert r.violations == []


@pytest.mark.parametrize("exporter", ["system_heap", "ttm"])
def test_dynamic_importer_needs_resv_on_6_1(run: RunFn, exporter: str) -> None:
    r = run(exporter, "v6.1", [*DYNAMIC, "map(b0.a0, dir=BIDIRECTIONAL)"])
    assert ("R12", "map-without-resv", Severity.LOCKDEP) in {
        (v.rule, v.tag, v.severity) for v in r.at(-1)}


@pytest.mark.parametrize("profile", PROFILES)
def test_locked_map_with_resv_is_silent(run: RunFn, profile: str) -> None:
    r = run("ttm", profile, [*DYNAMIC, "lock(b0)", "map(b0.a0, dir=TO_DEVICE)",
                             "unmap(b0.a0, dir=TO_DEVICE, slot=0)", "unlock(b0)"])
    assert r.violations == [], r.explain()


def test_map_fills_the_first_free_slot(run: RunFn) -> None:
    r = run("system_heap", "v6.16+", [*STATIC, "map_unlocked(b0.a0, dir=TO_DEVICE)",
                                      "map_unlocked(b0.a0, dir=FROM_DEVICE)",
                                      "unmap_unlocked(b0.a0, dir=TO_DEVICE, slot=0)",
                                      "map_unlocked(b0.a0, dir=BIDIRECTIONAL)"])
    assert r.violations == []
    assert (r.value("b0.a0.s0.dir", 4), r.value("b0.a0.s1.dir", 4)) == (
        code("TO_DEVICE"), code("FROM_DEVICE"))
    assert (r.value("b0.a0.s0.dir"), r.value("b0.a0.s1.dir")) == (
        code("BIDIRECTIONAL"), code("FROM_DEVICE"))


def test_map_beyond_the_scope_is_a_scope_finding(run: RunFn) -> None:
    r = run("system_heap", "v6.16+", [*STATIC, *["map_unlocked(b0.a0, dir=TO_DEVICE)"] * 3])
    v = r.only(-1)
    assert (v.rule, v.severity, v.party) == ("SCOPE", Severity.SCOPE, Party.MODEL)
    assert r.at(3) == () and r.at(4) == ()


def test_static_importer_waits_for_kernel_fences(run: RunFn) -> None:
    fence = ["lock(b0)", "reserve_fences(b0)", "add_fence(b0, usage=KERNEL)", "unlock(b0)"]
    r = run("system_heap", "v6.16+", [*STATIC, *fence, "map_unlocked(b0.a0, dir=TO_DEVICE)"])
    assert r.violations == []
    assert r.value("b0.fence.KERNEL", 6) == 1
    assert r.value("b0.fence.KERNEL") == 0  # the map waited for it


def test_waiting_for_a_kernel_fence_fires_its_poll_callback(run: RunFn) -> None:
    fence = ["lock(b0)", "reserve_fences(b0)", "add_fence(b0, usage=KERNEL)", "unlock(b0)"]
    r = run("system_heap", "v6.16+", ["export(b0)", "fd(b0)", "get_dma_buf(b0)", *fence,
                                      "poll(b0, events=EPOLLIN)",
                                      "attach(b0.a0, importer=static)",
                                      "map_unlocked(b0.a0, dir=TO_DEVICE)"])
    assert r.value("b0.cb_in", 7) == 1
    assert r.value("b0.fence.KERNEL") == 0
    assert r.value("b0.cb_in") == 0


def test_dynamic_importer_does_not_wait_for_kernel_fences(run: RunFn) -> None:
    r = run("ttm", "v6.16+", [*DYNAMIC, "lock(b0)", "reserve_fences(b0)",
                              "add_fence(b0, usage=KERNEL)", "map(b0.a0, dir=TO_DEVICE)"])
    assert r.violations == []
    assert r.value("b0.fence.KERNEL") == 1


@pytest.mark.parametrize("profile", FROM_616)
def test_interrupted_fence_wait_unmaps_and_unpins(run: RunFn, profile: str) -> None:
    fence = ["lock(b0)", "reserve_fences(b0)", "add_fence(b0, usage=KERNEL)", "unlock(b0)"]
    r = run("ttm", profile, [*STATIC, *fence, "map_unlocked(b0.a0, dir=TO_DEVICE, fault=intr)"])
    assert r.violations == []
    assert r.errno() == -ERESTARTSYS
    assert r.value("b0.a0.s0.dir") == 0
    assert r.value("b0.x.pin_count") == 0  # the map-time pin was dropped again
    assert r.value("b0.fence.KERNEL") == 1


@pytest.mark.parametrize("profile", FROM_62)
def test_map_allocation_failure(run: RunFn, profile: str) -> None:
    r = run("ttm", profile, [*STATIC, "map_unlocked(b0.a0, dir=TO_DEVICE, fault=nomem)"])
    assert r.violations == []
    assert r.errno() == (0 if profile in UP_TO_615 else -12)  # <= 6.15 serves the cached table
    if profile in FROM_616:
        assert r.value("b0.x.pin_count") == 0
        assert r.value("b0.a0.s0.dir") == 0


# ------------------------------------------------------------------ R13: directions


@pytest.mark.parametrize("profile", UP_TO_615)
@pytest.mark.parametrize("exporter", ["udmabuf", "gem_prime"])
def test_direction_change_on_a_cached_mapping_is_ebusy(
        run: RunFn, profile: str, exporter: str) -> None:
    r = run(exporter, profile, [*STATIC, "lock(b0)", "map(b0.a0, dir=TO_DEVICE)",
                                "map(b0.a0, dir=BIDIRECTIONAL)", "map(b0.a0, dir=TO_DEVICE)"])
    assert r.at(4) == ()
    v = r.only(5)
    assert (v.rule, v.tag, v.severity, v.party) == (
        "R13", "map-direction-change", Severity.ERRNO, Party.IMPORTER)
    assert r.errno(5) == -EBUSY
    # the same direction is served from the cache again, without a new mapping
    assert r.at(6) == () and r.errno(6) == 0
    assert r.value("b0.a0.cached") == 1
    assert (r.value("b0.a0.s0.dir"), r.value("b0.a0.s1.dir")) == (code("TO_DEVICE"), 0)


@pytest.mark.parametrize("profile", FROM_616)
@pytest.mark.parametrize("exporter", ["udmabuf", "gem_prime"])
def test_no_direction_check_from_6_16(run: RunFn, profile: str, exporter: str) -> None:
    r = run(exporter, profile, [*STATIC, "lock(b0)", "map(b0.a0, dir=TO_DEVICE)",
                                "map(b0.a0, dir=BIDIRECTIONAL)"])
    assert r.violations == []
    assert r.value("b0.a0.cached") == 0
    assert (r.value("b0.a0.s0.dir"), r.value("b0.a0.s1.dir")) == (
        code("TO_DEVICE"), code("BIDIRECTIONAL"))


@pytest.mark.parametrize("profile", UP_TO_615)
def test_attach_time_cache_is_bidirectional_and_never_busy(run: RunFn, profile: str) -> None:
    r = run("ttm", profile, [*STATIC, "lock(b0)", "map(b0.a0, dir=TO_DEVICE)",
                             "map(b0.a0, dir=FROM_DEVICE)"])
    assert r.violations == []
    assert r.errnos[-2:] == [0, 0]


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("direction", ["BIDIRECTIONAL", "TO_DEVICE", "FROM_DEVICE"])
def test_system_heap_maps_any_direction(run: RunFn, profile: str, direction: str) -> None:
    r = run("system_heap", profile, [*STATIC, "lock(b0)", f"map(b0.a0, dir={direction})",
                                     f"unmap(b0.a0, dir={direction}, slot=0)"])
    assert r.violations == []


@pytest.mark.parametrize("profile", PROFILES)
def test_gem_prime_rejects_dma_none(run: RunFn, profile: str) -> None:
    r = run("gem_prime", profile, [*STATIC, "lock(b0)", "map(b0.a0, dir=NONE)"])
    v = r.only(-1)
    assert (v.rule, v.tag, v.severity, v.party) == (
        "R13", "map-dma-none", Severity.WARN_ERRNO, Party.IMPORTER)
    assert r.errno() == -EINVAL
    assert (r.value("b0.a0.s0.dir"), r.value("b0.a0.cached")) == (0, 0)


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("exporter", ["system_heap", "udmabuf", "ttm"])
def test_an_exporter_that_maps_with_dma_none_bugs_in_the_dma_api(
        run: RunFn, profile: str, exporter: str) -> None:
    # (an importer whose dynamism matches the exporter's: up to 6.15 a mismatch caches a
    # bidirectional mapping at attach, which then serves DMA_NONE without the DMA API)
    attach = DYNAMIC if exporter == "ttm" else STATIC
    r = run(exporter, profile, [*attach, "lock(b0)", "map(b0.a0, dir=NONE)"])
    mine = [v for v in r.at(-1) if v.party is Party.IMPORTER]
    assert [(v.rule, v.tag, v.severity, v.objects) for v in mine] == [
        ("R13", "map-dma-none", Severity.BUG, ("b0.a0",))]


@pytest.mark.parametrize("profile", UP_TO_615)
def test_a_cached_bidirectional_mapping_serves_dma_none_without_the_dma_api(
        run: RunFn, profile: str) -> None:
    r = run("ttm", profile, [*STATIC, "lock(b0)", "map(b0.a0, dir=NONE)"])
    assert r.violations == [] and r.errno() == 0


# ------------------------------------------------------------------ R14


@pytest.mark.parametrize("profile", PROFILES)
def test_reading_struct_pages_from_a_mapping(run: RunFn, profile: str) -> None:
    r = run("system_heap", profile, [*STATIC, "lock(b0)", "map(b0.a0, dir=FROM_DEVICE)",
                                     "read_pages(b0.a0, slot=0)"])
    v = r.only(-1)
    assert (v.rule, v.tag, v.severity, v.party, v.objects) == (
        "R14", "read-pages", Severity.SILENT, Party.IMPORTER, ("b0.a0",))


def test_read_pages_of_an_empty_slot_reports_nothing(run: RunFn) -> None:
    r = run("system_heap", "v6.16+", [*STATIC, "read_pages(b0.a0, slot=1)"])
    assert r.violations == []


# ------------------------------------------------------------------ R15: unmap


def test_double_unmap(run: RunFn) -> None:
    r = run("system_heap", "v6.16+", [*STATIC, "map_unlocked(b0.a0, dir=TO_DEVICE)",
                                      "unmap_unlocked(b0.a0, dir=TO_DEVICE, slot=0)",
                                      "unmap_unlocked(b0.a0, dir=TO_DEVICE, slot=0)"])
    assert r.at(4) == ()
    v = r.only(5)
    assert (v.rule, v.tag, v.severity, v.party) == (
        "R15", "unmap-unmapped", Severity.SILENT, Party.IMPORTER)
    assert "0 outstanding" in v.message


def test_unmap_with_the_wrong_direction(run: RunFn) -> None:
    r = run("system_heap", "v6.16+", [*STATIC, "map_unlocked(b0.a0, dir=TO_DEVICE)",
                                      "unmap_unlocked(b0.a0, dir=FROM_DEVICE, slot=0)"])
    v = r.only(-1)
    assert (v.rule, v.tag, v.severity, v.party) == (
        "R15", "unmap-direction", Severity.SILENT, Party.IMPORTER)
    assert "FROM_DEVICE" in v.message and "direction code 1" in v.message
    assert r.value("b0.a0.s0.dir") == 0  # handed to the exporter anyway
    assert r.value("b0.a0.x.mapped") == 0


def test_unmap_of_a_foreign_sg_table(run: RunFn) -> None:
    r = run("system_heap", "v6.16+", [*STATIC, "map_unlocked(b0.a0, dir=TO_DEVICE)",
                                      "unmap_unlocked(b0.a0, dir=TO_DEVICE, slot=foreign)"])
    v = r.only(-1)
    assert (v.rule, v.tag, v.severity, v.party) == (
        "R15", "unmap-foreign", Severity.SILENT, Party.IMPORTER)
    assert r.value("b0.a0.s0.dir") == code("TO_DEVICE")  # its own mapping is untouched


@pytest.mark.parametrize("profile", FROM_62)
def test_locked_unmap_without_resv(run: RunFn, profile: str) -> None:
    r = run("system_heap", profile, [*STATIC, "map_unlocked(b0.a0, dir=TO_DEVICE)",
                                     "unmap(b0.a0, dir=TO_DEVICE, slot=0)"])
    v = r.only(-1)
    assert (v.rule, v.tag, v.severity, v.party) == (
        "R15", "unmap-without-resv", Severity.LOCKDEP, Party.IMPORTER)
    assert r.value("b0.a0.s0.dir") == 0


@pytest.mark.parametrize("profile", UP_TO_615)
@pytest.mark.parametrize("exporter", ["udmabuf", "gem_prime"])
def test_unmapping_a_cached_sg_table_is_a_no_op(run: RunFn, profile: str, exporter: str) -> None:
    mp, ump = ("map", "unmap") if profile == "v6.1" else ("map_unlocked", "unmap_unlocked")
    r = run(exporter, profile, [*STATIC, f"{mp}(b0.a0, dir=TO_DEVICE)",
                                f"{ump}(b0.a0, dir=TO_DEVICE, slot=0)",
                                f"{ump}(b0.a0, dir=TO_DEVICE, slot=0)"])
    assert r.violations == []
    assert r.value("b0.a0.cached") == 1
    assert r.value("b0.a0.s0.dir") == code("TO_DEVICE")  # still mapped until detach


@pytest.mark.parametrize("profile", FROM_616)
def test_unmap_drops_the_map_time_pin(run: RunFn, profile: str) -> None:
    r = run("ttm", profile, [*STATIC, "map_unlocked(b0.a0, dir=TO_DEVICE)",
                             "unmap_unlocked(b0.a0, dir=TO_DEVICE, slot=0)"])
    assert r.violations == []
    assert (r.value("b0.a0.s0.pinned", 3), r.value("b0.x.pin_count", 3)) == (1, 1)
    assert (r.value("b0.a0.s0.pinned"), r.value("b0.x.pin_count")) == (0, 0)


def test_access_through_an_unmapped_slot(run: RunFn) -> None:
    r = run("system_heap", "v6.16+", [*STATIC, "access(b0.a0, slot=0)"])
    v = r.only(-1)
    assert (v.rule, v.tag, v.severity, v.party) == (
        "R15", "access-unmapped", Severity.SILENT, Party.IMPORTER)


def test_access_through_a_mapping_is_fine(run: RunFn) -> None:
    r = run("system_heap", "v6.16+", [*STATIC, "map_unlocked(b0.a0, dir=TO_DEVICE)",
                                      "map_unlocked(b0.a0, dir=TO_DEVICE)",
                                      "access(b0.a0, slot=0)", "access(b0.a0, slot=1)"])
    assert r.violations == []


# ------------------------------------------------------------------ R16: _unlocked variants


@pytest.mark.parametrize("profile", FROM_62)
@pytest.mark.parametrize("action", ["map_unlocked(b0.a0, dir=TO_DEVICE)",
                                    "unmap_unlocked(b0.a0, dir=TO_DEVICE, slot=0)"])
def test_unlocked_variant_while_holding_resv_deadlocks(
        run: RunFn, profile: str, action: str) -> None:
    r = run("system_heap", profile, [*STATIC, "map_unlocked(b0.a0, dir=TO_DEVICE)", "lock(b0)",
                                     action])
    v = r.only(-1)
    assert (v.rule, v.tag, v.severity, v.party) == (
        "R16", "unlocked-under-resv", Severity.LOCKDEP, Party.IMPORTER)
    assert r.errno() == -EDEADLK
    assert r.state == r.outcomes[-2].state
    assert r.value("b0.resv") == 1


@pytest.mark.parametrize("profile", FROM_62)
def test_unlocked_variants_take_and_drop_resv(run: RunFn, profile: str) -> None:
    r = run("ttm", profile, [*DYNAMIC, "map_unlocked(b0.a0, dir=TO_DEVICE)",
                             "unmap_unlocked(b0.a0, dir=TO_DEVICE, slot=0)"])
    assert r.violations == [], r.explain()
    assert r.value("b0.resv", 3) == 0
    assert r.value("b0.resv") == 0


def test_unlocked_variants_do_not_exist_on_6_1(run: RunFn) -> None:
    m = run("system_heap", "v6.1", ["export(b0)"]).model
    names = {a.name for a in m.actions}
    assert "map" in names and "unmap" in names
    assert not names & {"map_unlocked", "unmap_unlocked", "vmap_unlocked", "vunmap_unlocked"}
