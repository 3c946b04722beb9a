"""Reference exporters and importers (model/exporters.py, model/importers.py, behaviour.py):
their callbacks and the invariants they promise about their own state."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from model import (
    EXPORTERS,
    IMPORTERS,
    REFERENCE_EXPORTERS,
    REFERENCE_IMPORTERS,
    Exporter,
    Party,
    Severity,
)
from model.behaviour import Call
from model.context import Ctx
from model.exporters import GTT, VRAM
from model.kernel import EINVAL

if TYPE_CHECKING:
    from conftest import RunFn

OWNED = ["export(b0)", "fd(b0)", "get(b0)"]
HEAP, UDMABUF, GEM, TTM = (EXPORTERS[n] for n in ("system_heap", "udmabuf", "gem_prime", "ttm"))


# ------------------------------------------------------------------ declarations


def test_reference_exporters_and_importers() -> None:
    assert [x.name for x in REFERENCE_EXPORTERS] == ["system_heap", "udmabuf", "gem_prime", "ttm"]
    assert [i.name for i in REFERENCE_IMPORTERS] == ["static", "dynamic", "pinned"]
    assert {x.name for x in REFERENCE_EXPORTERS if x.dynamic} == {"ttm"}
    assert {x.name for x in REFERENCE_EXPORTERS if x.cache_sgt_mapping} == {"udmabuf", "gem_prime"}
    assert {x.name for x in REFERENCE_EXPORTERS if x.move is not None} == {"ttm"}
    for x in REFERENCE_EXPORTERS:
        assert {"map_dma_buf", "unmap_dma_buf", "release"} <= x.ops and x.priv
        assert x.has("pin") == x.has("unpin")
        assert not (x.cache_sgt_mapping and x.dynamic)  # R3


def test_reference_importers() -> None:
    static, dynamic, pinned = REFERENCE_IMPORTERS
    assert not static.dynamic and dynamic.dynamic and pinned.dynamic
    assert dynamic.move_notify is not None and pinned.move_notify is None
    assert all(i.has_move_notify for i in REFERENCE_IMPORTERS)  # R7
    assert dynamic.allow_peer2peer and not static.allow_peer2peer
    assert all(not i.ignores for i in REFERENCE_IMPORTERS)
    assert not pinned.revocable


@pytest.mark.parametrize(("changes", "words"), [
    ({"ops": frozenset({"map_dma_buf", "bogus"})}, "unknown dma_buf_ops"),
    ({"ops": frozenset({"map_dma_buf"}), "profiles": ("v6.17",)}, "unknown profile"),
])
def test_exporter_declarations_are_checked(changes: dict[str, object], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        Exporter("bad", "x", **changes)  # type: ignore[arg-type]


def test_callbacks_must_be_in_ops() -> None:
    with pytest.raises(ValueError, match="not in its ops"):
        Exporter("bad", "x", ops=frozenset({"map_dma_buf"}),
                 callbacks={"vmap": lambda c, call: None})


def test_derive_drops_callbacks_of_removed_ops() -> None:
    x = HEAP.derive("heap_no_vmap", "x", ops=HEAP.ops - {"vmap"})
    assert "vmap" not in x.callbacks and "vunmap" in x.callbacks
    assert x.name == "heap_no_vmap" and HEAP.has("vmap")


# ------------------------------------------------------------------ system heap


def test_system_heap_tracks_its_mapping(run: RunFn) -> None:
    r = run("system_heap", "v6.16+", [*OWNED, "attach(b0.a0, importer=static)",
                                      "map_unlocked(b0.a0, dir=TO_DEVICE)",
                                      "unmap_unlocked(b0.a0, dir=TO_DEVICE, slot=0)"])
    assert [r.value("b0.a0.x.mapped", k) for k in (3, 4, 5)] == [0, 1, 0]


def _vunmap_forgets(c: Ctx, call: Call) -> None:
    pass


HEAP_VUNMAP_FORGETS = HEAP.derive("heap_vunmap_forgets", "x",
                                  callbacks={"vunmap": _vunmap_forgets})


def test_vmap_leak_is_the_exporters(run: RunFn) -> None:
    r = run(HEAP_VUNMAP_FORGETS, "v6.16+", [*OWNED, "vmap_unlocked(b0)", "vunmap_unlocked(b0)"],
            scope="1x1")
    v = r.only(-1)
    assert (v.rule, v.tag, v.severity, v.party) == (
        "R25", "vmap-leak", Severity.SILENT, Party.EXPORTER)
    assert "holds 1 kernel mapping(s) while the core caches 0" in v.message


def test_release_with_a_vmap_blames_only_the_importer(run: RunFn) -> None:
    # the BUG_ON fires before ops->release: the exporter's own count is not its fault
    for exporter in ("system_heap", "udmabuf", "gem_prime", "ttm"):
        r = run(exporter, "v6.16+", ["export(b0)", "vmap_unlocked(b0)", "put(b0)"])
        assert [(v.rule, v.party) for v in r.violations] == [("R6", Party.IMPORTER)]


# ------------------------------------------------------------------ udmabuf


def test_udmabuf_maps_pages_for_the_cpu_on_first_begin(run: RunFn) -> None:
    r = run("udmabuf", "v6.16+", [*OWNED, "sync(b0, flags=1)", "sync(b0, flags=5)",
                                  "sync(b0, flags=2)", "sync(b0, flags=6)", "close(b0)",
                                  "put(b0)"])
    assert r.violations == []
    assert [r.value("b0.x.sg", k) for k in range(2, 8)] == [0, 1, 1, 1, 1, 1]
    assert r.value("b0.x.sg") == 0  # release dropped it


def test_udmabuf_end_before_any_begin_is_einval(run: RunFn) -> None:
    # ops->end_cpu_access fails without the CPU sg_table; the core returns its error
    r = run("udmabuf", "v6.16+", [*OWNED, "sync(b0, flags=5)"])
    assert r.errno() == -EINVAL
    assert r.tags() == {"end-without-begin"}


def _begin_leaves_error(c: Ctx, call: Call) -> None:
    sg = call.buf.x["sg"]
    with c.when(sg.eq(0)):
        c.set(sg, 2)
        c.returns(-12)


UDMABUF_ERROR_PTR = UDMABUF.derive("udmabuf_error_ptr", "x",
                                   callbacks={"begin_cpu_access": _begin_leaves_error})


def test_udmabuf_release_of_an_error_pointer(run: RunFn) -> None:
    r = run(UDMABUF_ERROR_PTR, "v6.16+", ["export(b0)", "begin_cpu_access(b0, dir=FROM_DEVICE)",
                                          "put(b0)"], scope="1x1")
    assert r.errno(1) == -12
    v = r.only(-1)
    assert (v.rule, v.tag, v.severity, v.party) == (
        "R21", "begin-cpu-error-state", Severity.BUG, Party.EXPORTER)


# ------------------------------------------------------------------ drm_prime


def test_gem_prime_pins_per_attachment(run: RunFn) -> None:
    r = run("gem_prime", "v6.16+", [*OWNED, "attach(b0.a0, importer=static)",
                                    "dynamic_attach(b0.a1, importer=dynamic)", "detach(b0.a0)",
                                    "detach(b0.a1)"])
    assert r.violations == []
    assert [r.value("b0.x.gem_pins", k) for k in range(3, 7)] == [1, 2, 1, 0]


def _gem_detach_forgets(c: Ctx, call: Call) -> None:
    pass


GEM_DETACH_FORGETS = GEM.derive("gem_detach_forgets", "x",
                                callbacks={"detach": _gem_detach_forgets})


def test_gem_pin_balance_invariant(run: RunFn) -> None:
    r = run(GEM_DETACH_FORGETS, "v6.16+", [*OWNED, "attach(b0.a0, importer=static)",
                                           "detach(b0.a0)"], scope="1x1")
    v = r.only(-1)
    assert (v.rule, v.tag, v.severity, v.party) == (
        "R17", "gem-pin-balance", Severity.SILENT, Party.EXPORTER)
    assert "pinned 1 time(s) but has 0 attachment(s)" in v.message


# ------------------------------------------------------------------ ttm


def test_ttm_starts_in_vram_and_moves_between_placements(run: RunFn) -> None:
    r = run("ttm", "v7.x", [*OWNED, "move(b0)", "move(b0)"])
    assert r.violations == []
    assert [r.value("b0.x.placement", k) for k in (2, 3, 4)] == [VRAM, GTT, VRAM]
    assert r.value("b0.resv") == 0


def test_ttm_p2p_importer_is_served_from_vram(run: RunFn) -> None:
    # a P2P-capable importer on an exporter that has no P2P path: attach clears peer2peer, so
    # the map migrates to GTT (R9)
    r = run("ttm", "v7.x", [*OWNED, "dynamic_attach(b0.a0, importer=dynamic)",
                            "map_unlocked(b0.a0, dir=TO_DEVICE)"])
    assert r.violations == []
    assert r.value("b0.a0.p2p") == 0
    assert r.value("b0.x.placement") == GTT


def test_ttm_refuses_to_migrate_a_buffer_pinned_in_vram(run: RunFn) -> None:
    # pinned in VRAM (by a vmap) and asked to map for an importer without P2P: -EBUSY
    r = run("ttm", "v7.x", [*OWNED, "dynamic_attach(b0.a0, importer=dynamic)", "lock(b0)",
                            "vmap(b0)", "map(b0.a0, dir=TO_DEVICE)"])
    assert r.value("b0.x.placement") == VRAM
    assert r.errno() == -16
    assert r.violations == []


def _attach_keeps_p2p(c: Ctx, call: Call) -> None:
    pass


TTM_KEEPS_P2P = TTM.derive("ttm_keeps_p2p", "x", callbacks={"attach": _attach_keeps_p2p})


def test_ttm_peer2peer_invariant(run: RunFn) -> None:
    r = run(TTM_KEEPS_P2P, "v7.x", [*OWNED, "dynamic_attach(b0.a0, importer=dynamic)"])
    v = r.only(-1)
    assert (v.rule, v.tag, v.severity, v.party) == (
        "R9", "peer2peer-not-cleared", Severity.SILENT, Party.EXPORTER)


def _map_without_migrating(c: Ctx, call: Call) -> None:
    pass


TTM_NO_MIGRATE = TTM.derive("ttm_no_migrate", "x",
                            callbacks={"map_dma_buf": _map_without_migrating})


def test_ttm_vram_reachability_invariant(run: RunFn) -> None:
    # the importer lost peer2peer at attach, yet the exporter maps it in VRAM
    r = run(TTM_NO_MIGRATE, "v7.x", [*OWNED, "dynamic_attach(b0.a0, importer=dynamic)",
                                     "map_unlocked(b0.a0, dir=TO_DEVICE)"], scope="1x1")
    v = r.only(-1)
    assert (v.rule, v.tag, v.severity, v.party) == (
        "R9", "vram-to-non-p2p", Severity.SILENT, Party.EXPORTER)
    assert r.value("b0.x.placement") == VRAM


def _unpin_twice(c: Ctx, call: Call) -> None:
    b = call.buf
    with c.when(b.x["pin_count"] > 1):
        c.dec(b.x["pin_count"], 2)


TTM_UNPIN_TWICE = TTM.derive("ttm_unpin_twice_t", "x", callbacks={"unpin": _unpin_twice})


def test_ttm_pin_count_invariant(run: RunFn) -> None:
    r = run(TTM_UNPIN_TWICE, "v6.16+", [*OWNED, "dynamic_attach(b0.a0, importer=pinned)",
                                        "lock(b0)", "pin(b0.a0)", "pin(b0.a0)", "unpin(b0.a0)"],
            scope="1x1")
    v = r.only(-1)
    assert (v.rule, v.tag, v.severity, v.party) == (
        "R17", "pin-count", Severity.SILENT, Party.EXPORTER)
    assert "counts 0 pin(s) but the core took 1" in v.message


# ------------------------------------------------------------------ importers


def test_dynamic_importer_unmaps_everything_on_move(run: RunFn) -> None:
    r = run("ttm", "v7.x", [*OWNED, "dynamic_attach(b0.a0, importer=dynamic)",
                            "map_unlocked(b0.a0, dir=TO_DEVICE)",
                            "map_unlocked(b0.a0, dir=FROM_DEVICE)", "move(b0)"])
    assert r.violations == []
    assert (r.value("b0.a0.s0.dir", 5), r.value("b0.a0.s1.dir", 5)) == (2, 3)
    assert (r.value("b0.a0.s0.dir"), r.value("b0.a0.s1.dir")) == (0, 0)


def test_importer_names_must_be_distinct() -> None:
    from model import Model, ModelError

    with pytest.raises(ModelError, match="distinct"):
        Model(HEAP, importers=[IMPORTERS["static"], IMPORTERS["static"]], scope="1x1")
    with pytest.raises(ModelError, match="at least one"):
        Model(HEAP, importers=[], scope="1x1")
