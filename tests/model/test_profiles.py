"""Kernel profiles (model/profiles.py): the same sequence judged by each kernel version
(rulebook section 3)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from model import EXPORTERS, PROFILES, Model, Party, Severity, profile
from model.behaviour import Call
from model.context import Ctx
from model.kernel import EBUSY
from model.mutants import MUTANTS

if TYPE_CHECKING:
    from conftest import RunFn

UP_TO_615 = ("v6.1", "v6.2-6.15")
FROM_616 = ("v6.16+", "v7.x")
OWNED = ["export(b0)", "get_dma_buf(b0)"]
STATIC = [*OWNED, "attach(b0.a0, importer=static)"]


def unlocked(p: str) -> bool:
    return p.split(",")[0] != "v6.1"


def map_(p: str, direction: str = "BIDIRECTIONAL") -> str:
    return f"{'map_unlocked' if unlocked(p) else 'map'}(b0.a0, dir={direction})"


# ------------------------------------------------------------------ the profile table


def test_profile_flags_follow_section_3() -> None:
    flags = {name: (p.resv_for_every_map, p.unlocked_variants, p.sgt_cache, p.move_notify,
                    p.revoke) for name, p in PROFILES.items()}
    assert flags == {
        "v6.1": (False, False, True, False, False),
        "v6.2-6.15": (True, True, True, False, False),
        "v6.16+": (True, True, False, False, False),
        "v7.x": (True, True, False, True, True),
    }


def test_move_notify_option() -> None:
    on = profile("v6.16+,move_notify=y")
    assert on.move_notify and on.name == "v6.16+,move_notify=y"
    assert not on.sgt_cache and on.resv_for_every_map
    assert profile("v6.16+,move_notify=n") is PROFILES["v6.16+"]
    assert profile("v7.x,move_notify=y") is PROFILES["v7.x"]
    with pytest.raises(ValueError, match="always on"):
        profile("v7.x,move_notify=n")
    with pytest.raises(KeyError, match=r"v6\.16"):
        profile("v6.17")
    with pytest.raises(KeyError, match="move_notify"):
        profile("v6.16+,lockdep=y")


# ------------------------------------------------------------------ R13: -EBUSY


@pytest.mark.parametrize("p", PROFILES)
@pytest.mark.parametrize("exporter", ["system_heap", "udmabuf", "gem_prime"])
def test_direction_change_is_ebusy_only_with_cached_sg_tables(
        run: RunFn, p: str, exporter: str) -> None:
    r = run(exporter, p, [*STATIC, map_(p, "TO_DEVICE"), map_(p, "BIDIRECTIONAL")])
    cached = PROFILES[p].sgt_cache and EXPORTERS[exporter].cache_sgt_mapping
    assert r.value("b0.a0.cached", 3) == int(cached)
    if cached:
        assert r.errno() == -EBUSY
        assert r.tags(4) == {"map-direction-change"}
    else:
        assert r.errno() == 0
        assert r.violations == []


# ------------------------------------------------------------------ R11: detach with a map


@pytest.mark.parametrize("p", PROFILES)
def test_detach_with_an_outstanding_map(run: RunFn, p: str) -> None:
    r = run("system_heap", p, [*STATIC, map_(p, "TO_DEVICE"), "detach(b0.a0)"])
    v = r.only(-1)
    assert (v.rule, v.tag, v.severity) == ("R11", "detach-while-mapped", Severity.LEAK)
    if p in FROM_616:
        assert v.message.endswith("the sg_table and any map-time pin leak")
    else:
        assert v.message.endswith("the sg_table leaks")


@pytest.mark.parametrize("p", PROFILES)
def test_detach_with_an_outstanding_map_on_a_dynamic_exporter(run: RunFn, p: str) -> None:
    r = run("ttm", p, [*STATIC, map_(p, "TO_DEVICE"), "detach(b0.a0)"])
    if p in FROM_616:
        # the map-time pin leaks with the mapping: nothing in the core drops it
        assert r.tags() == {"detach-while-mapped"}
        assert r.value("b0.x.pin_count") == 1
    else:
        # the map was served from the attach-time cache, which detach unmaps and unpins
        assert r.violations == []
        assert r.value("b0.x.pin_count") == 0


# ------------------------------------------------------------------ R12: map locking


@pytest.mark.parametrize("p", PROFILES)
@pytest.mark.parametrize("importer", ["static", "dynamic"])
def test_locked_map_without_resv(run: RunFn, p: str, importer: str) -> None:
    attach = ("attach(b0.a0, importer=static)" if importer == "static"
              else "dynamic_attach(b0.a0, importer=dynamic)")
    r = run("system_heap", p, [*OWNED, attach, "map(b0.a0, dir=BIDIRECTIONAL)"])
    splat = p != "v6.1" or importer == "dynamic"
    assert r.tags() == ({"map-without-resv"} if splat else set())


# ------------------------------------------------------------------ R10: attach-time work


@pytest.mark.parametrize("p", PROFILES)
def test_attach_time_pin_and_map(run: RunFn, p: str) -> None:
    r = run("ttm", p, STATIC)
    early = p in UP_TO_615
    assert (r.value("b0.a0.apin"), r.value("b0.a0.cached"), r.value("b0.x.pin_count")) == (
        (1, 1, 1) if early else (0, 0, 0))


# ------------------------------------------------------------------ R12: pin on map


@pytest.mark.parametrize(("p", "pins"), [
    ("v6.1", True), ("v6.2-6.15", True), ("v6.2-6.15,move_notify=y", False),
    ("v6.16+", True), ("v6.16+,move_notify=y", False), ("v7.x", False)])
def test_dynamic_importer_map_pins_unless_move_notify(run: RunFn, p: str, pins: bool) -> None:
    r = run("ttm", p, [*OWNED, "dynamic_attach(b0.a0, importer=dynamic)", "lock(b0)",
                       "map(b0.a0, dir=TO_DEVICE)"])
    assert r.violations == []
    assert (r.value("b0.a0.s0.pinned"), r.value("b0.x.pin_count")) == (int(pins), int(pins))


@pytest.mark.parametrize("p", ["v6.16+", "v6.16+,move_notify=y", "v7.x"])
def test_static_importer_map_always_pins_from_6_16(run: RunFn, p: str) -> None:
    r = run("ttm", p, [*STATIC, "map_unlocked(b0.a0, dir=TO_DEVICE)"])
    assert r.violations == []
    assert (r.value("b0.a0.s0.pinned"), r.value("b0.x.pin_count")) == (1, 1)


@pytest.mark.parametrize(("p", "moves"), [
    ("v6.16+", False), ("v6.16+,move_notify=y", True), ("v7.x", True)])
def test_a_dynamic_mapping_blocks_eviction_only_without_move_notify(
        run: RunFn, p: str, moves: bool) -> None:
    r = run("ttm", p, [*OWNED, "dynamic_attach(b0.a0, importer=dynamic)",
                       "map_unlocked(b0.a0, dir=TO_DEVICE)", "move(b0)"])
    assert r.violations == []
    assert r.errno() == (0 if moves else -EBUSY)


def _pin_busy(c: Ctx, call: Call) -> None:
    c.returns(-EBUSY)


TTM_PIN_BUSY = EXPORTERS["ttm"].derive("ttm_pin_busy", "pin returns -EBUSY",
                                       callbacks={"pin": _pin_busy})


@pytest.mark.parametrize("p", ["v6.2-6.15", *FROM_616])
def test_busy_map_time_pin(run: RunFn, p: str) -> None:
    # 6.16+ catches exporters that refuse a map-time pin with WARN_ON_ONCE; before, the
    # error is just returned
    seq = [*OWNED, "dynamic_attach(b0.a0, importer=pinned)", "attach(b0.a1, importer=static)"]
    if p in FROM_616:
        seq.append("map_unlocked(b0.a1, dir=TO_DEVICE)")
    else:
        seq = [*seq[:3], "map_unlocked(b0.a0, dir=TO_DEVICE)"]
    r = run(TTM_PIN_BUSY, p, seq)
    assert r.errno() == -EBUSY
    if p in FROM_616:
        v = r.only(-1)
        assert (v.rule, v.tag, v.severity, v.party) == (
            "R12", "pin-busy", Severity.WARN, Party.EXPORTER)
    else:
        assert r.violations == []


# ------------------------------------------------------------------ what exists where


@pytest.mark.parametrize("p", PROFILES)
def test_unlocked_variants_exist_from_6_2(run: RunFn, p: str) -> None:
    names = {a.name for a in run("system_heap", p, ["export(b0)"]).model.actions}
    variants = {"map_unlocked", "unmap_unlocked", "vmap_unlocked", "vunmap_unlocked"}
    assert (variants <= names) == (p != "v6.1")
    assert bool(variants & names) == (p != "v6.1")


@pytest.mark.parametrize("p", PROFILES)
def test_v7_renames_move_notify(run: RunFn, p: str) -> None:
    # an eviction path that notifies before taking the lock (inside pin or map the lock is
    # the importer's to hold, so the exporter is not blamed there)
    broken = MUTANTS["ttm_move_notify_unlocked"].exporter
    r = run(broken, p, ["export(b0)", "move(b0)"])
    notify = [v for v in r.at(-1) if v.tag == "move-notify-without-resv"]
    assert len(notify) == 1
    expected = "dma_buf_invalidate_mappings" if p == "v7.x" else "dma_buf_move_notify"
    assert notify[0].message.startswith(expected)


def test_models_accept_profile_objects_and_names() -> None:
    heap = EXPORTERS["system_heap"]
    a = Model(heap, profile=profile("v6.16+,move_notify=y"), scope="1x1")
    b = Model(heap, profile="v6.16+,move_notify=y", scope="1x1")
    assert a.profile == b.profile
    assert [str(x) for x in a.actions] == [str(x) for x in b.actions]
