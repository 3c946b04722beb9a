"""vmap and vunmap with the core's single cached mapping (model/ops/vmap.py): R25."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from model import EXPORTERS, PROFILES, Model, Party, Severity
from model.behaviour import Call
from model.context import Ctx
from model.kernel import EINVAL, ENOMEM

if TYPE_CHECKING:
    from conftest import RunFn

EDEADLK = 35
FROM_62 = ("v6.2-6.15", "v6.16+", "v7.x")
OWNED = ["export(b0)", "fd(b0)", "get(b0)"]


@pytest.mark.parametrize("profile", FROM_62)
@pytest.mark.parametrize("exporter", list(EXPORTERS))
def test_second_vmap_shares_the_first_mapping(run: RunFn, profile: str, exporter: str) -> None:
    r = run(exporter, profile, [*OWNED, "lock(b0)", "vmap(b0)", "vmap(b0)", "unlock(b0)"])
    assert r.violations == []
    assert (r.value("b0.vmap_cnt"), r.value("b0.vmap_ptr")) == (2, 1)
    assert r.value("b0.x.vmaps") == 1  # the exporter's vmap ran once


@pytest.mark.parametrize("profile", FROM_62)
def test_vmap_and_vunmap_balance_with_unlocked_variants(run: RunFn, profile: str) -> None:
    r = run("udmabuf", profile, [*OWNED, "vmap_unlocked(b0)", "vmap_unlocked(b0)",
                                 "vunmap_unlocked(b0)", "vunmap_unlocked(b0)"])
    assert r.violations == []
    assert [r.value("b0.vmap_cnt", k) for k in range(3, 7)] == [1, 2, 1, 0]
    assert [r.value("b0.x.vmaps", k) for k in range(3, 7)] == [1, 1, 1, 0]  # vunmap at the last
    assert r.value("b0.vmap_ptr") == 0


def test_vmap_pins_a_ttm_buffer(run: RunFn) -> None:
    r = run("ttm", "v7.x", [*OWNED, "vmap_unlocked(b0)", "move(b0)", "vunmap_unlocked(b0)",
                            "move(b0)"])
    assert r.violations == []
    assert r.value("b0.x.pin_count", 3) == 1
    assert r.errno(4) == -16  # EBUSY: a kernel mapping pins it
    assert r.errno() == 0


def test_vunmap_of_a_foreign_map_is_a_bug(run: RunFn) -> None:
    r = run("system_heap", "v6.16+", [*OWNED, "vmap_unlocked(b0)",
                                      "vunmap_unlocked(b0, map=foreign)"])
    v = r.only(-1)
    assert (v.rule, v.tag, v.severity, v.party) == (
        "R25", "vunmap-foreign", Severity.BUG, Party.IMPORTER)
    assert (r.value("b0.vmap_cnt"), r.value("b0.x.vmaps")) == (1, 1)


@pytest.mark.parametrize("profile", PROFILES)
def test_vunmap_without_a_vmap_is_a_bug(run: RunFn, profile: str) -> None:
    r = run("system_heap", profile, [*OWNED, "lock(b0)", "vunmap(b0)"])
    v = r.only(-1)
    assert (v.rule, v.tag, v.severity, v.party) == (
        "R25", "vunmap-unmapped", Severity.BUG, Party.IMPORTER)
    assert "vmapping_counter 0" in v.message
    assert r.value("b0.vmap_cnt") == 0


@pytest.mark.parametrize("profile", FROM_62)
def test_vmap_without_resv_is_a_lockdep_splat_from_6_2(run: RunFn, profile: str) -> None:
    r = run("system_heap", profile, [*OWNED, "vmap(b0)", "vunmap(b0)"])
    assert [(v.rule, v.tag, v.severity, v.party) for v in r.violations] == [
        ("R25", "vmap-without-resv", Severity.LOCKDEP, Party.IMPORTER),
        ("R25", "vunmap-without-resv", Severity.LOCKDEP, Party.IMPORTER),
    ]
    assert r.value("b0.vmap_cnt", 3) == 1  # lockdep only: the vmap happens


def test_vmap_without_resv_is_fine_on_6_1(run: RunFn) -> None:
    # up to 6.1 the core serialises vmap with its own dmabuf->lock
    r = run("system_heap", "v6.1", [*OWNED, "vmap(b0)", "vunmap(b0)"])
    assert r.violations == []


def test_no_unlocked_vmap_on_6_1(run: RunFn) -> None:
    names = {a.name for a in run("system_heap", "v6.1", ["export(b0)"]).model.actions}
    assert "vmap" in names and "vmap_unlocked" not in names


@pytest.mark.parametrize("action", ["vmap_unlocked(b0)", "vunmap_unlocked(b0)"])
def test_unlocked_vmap_under_resv_deadlocks(run: RunFn, action: str) -> None:
    r = run("system_heap", "v6.16+", [*OWNED, "vmap_unlocked(b0)", "lock(b0)", action])
    v = r.only(-1)
    assert (v.rule, v.tag, v.severity) == ("R16", "unlocked-under-resv", Severity.LOCKDEP)
    assert r.errno() == -EDEADLK
    assert r.value("b0.vmap_cnt") == 1


def test_vmap_failure_warns_once_and_maps_nothing() -> None:
    heap = EXPORTERS["system_heap"]
    failing = heap.derive("vmap_fails", "vmap that fails", fallible=frozenset({"vmap"}),
                          callbacks={"vmap": _vmap_fails})
    m = Model(failing, profile="v6.16+", scope="1x1")
    out = m.run([*OWNED, "vmap_unlocked(b0, fault=exporter)"])
    (v,) = out[-1].violations
    assert (v.rule, v.tag, v.severity, v.party) == (
        "R25", "vmap-failed", Severity.WARN, Party.EXPORTER)
    assert out[-1].errno == -ENOMEM
    s = out[-1].state
    assert (m.value(s, "b0.vmap_cnt"), m.value(s, "b0.vmap_ptr")) == (0, 0)


def test_vmap_fails_only_through_a_fallible_exporter() -> None:
    m = Model(EXPORTERS["system_heap"], profile="v6.16+", scope="1x1")
    assert {a.param("fault") for a in m.actions if a.name.startswith("vmap")} == {"none"}


def _vmap_fails(c: Ctx, call: Call) -> None:
    if c.failing("exporter"):
        c.returns(-ENOMEM)


def test_vmap_without_ops_vmap_is_einval(run: RunFn) -> None:
    heap = EXPORTERS["system_heap"]
    no_vmap = heap.derive("heap_no_vmap", "no vmap", ops=heap.ops - {"vmap", "vunmap"})
    r = run(no_vmap, "v6.16+", [*OWNED, "vmap_unlocked(b0)"], scope="1x1")
    assert r.violations == []
    assert r.errno() == -EINVAL
    assert r.value("b0.vmap_cnt") == 0


def test_vmap_access_outside_begin_end(run: RunFn) -> None:
    r = run("system_heap", "v6.16+", [*OWNED, "vmap_unlocked(b0)", "vmap_access(b0)"])
    v = r.only(-1)
    assert (v.rule, v.tag, v.severity, v.party) == (
        "R25", "vmap-access-unbracketed", Severity.SILENT, Party.IMPORTER)


def test_vmap_access_inside_begin_end_is_fine(run: RunFn) -> None:
    r = run("system_heap", "v6.16+", [*OWNED, "vmap_unlocked(b0)",
                                      "begin_cpu_access(b0, dir=BIDIRECTIONAL)", "vmap_access(b0)",
                                      "end_cpu_access(b0, dir=BIDIRECTIONAL)",
                                      "vunmap_unlocked(b0)"])
    assert r.violations == []


def test_vmap_access_after_vunmap(run: RunFn) -> None:
    r = run("system_heap", "v6.16+", [*OWNED, "vmap_unlocked(b0)", "vunmap_unlocked(b0)",
                                      "begin_cpu_access(b0, dir=FROM_DEVICE)", "vmap_access(b0)"])
    v = r.only(-1)
    assert (v.rule, v.tag, v.severity) == ("R25", "vmap-access-unmapped", Severity.SILENT)
