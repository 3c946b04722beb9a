"""Pin, unpin, and the exporter's move path with move_notify (model/ops/move.py): R17, R18."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from model import EXPORTERS, IMPORTERS, PROFILES, Action, Party, Severity
from model.behaviour import Call
from model.context import Ctx
from model.exporters import GTT, VRAM
from model.kernel import EBUSY, EFAULT
from model.layout import DETACHED, RELEASED

if TYPE_CHECKING:
    from conftest import RunFn

TTM = EXPORTERS["ttm"]
MOVE_NOTIFY_ON = ("v7.x", "v6.16+,move_notify=y", "v6.2-6.15,move_notify=y")
OWNED = ["export(b0)", "get_dma_buf(b0)"]


# ------------------------------------------------------------------ the good sequences


def dynamic_good(profile: str) -> list[str]:
    return [*OWNED, "dynamic_attach(b0.a0, importer=dynamic)",
            "lock(b0)", "map(b0.a0, dir=BIDIRECTIONAL)", "unlock(b0)", "access(b0.a0, slot=0)",
            "move(b0)",
            "lock(b0)", "map(b0.a0, dir=BIDIRECTIONAL)", "unlock(b0)", "access(b0.a0, slot=0)",
            "lock(b0)", "unmap(b0.a0, dir=BIDIRECTIONAL, slot=0)", "unlock(b0)",
            "detach(b0.a0)", "put(b0)", "put(b0)"]


@pytest.mark.parametrize("profile", MOVE_NOTIFY_ON)
def test_dynamic_importer_good_sequence_survives_a_move(run: RunFn, profile: str) -> None:
    seq = dynamic_good(profile)
    r = run("ttm", profile, seq)
    assert r.violations == [], r.explain()
    assert r.errnos == [0] * len(seq)
    mv = seq.index("move(b0)")
    assert r.value("b0.x.placement", mv - 1) == GTT  # migrated: the importer has no P2P
    assert r.value("b0.x.placement", mv) == VRAM  # evicted back
    assert r.value("b0.a0.s0.dir", mv) == 0  # move_notify unmapped it
    assert r.value("b0.x.placement", mv + 2) == GTT  # mapped again, migrated again
    assert r.value("b0.life") == RELEASED
    assert r.value("b0.x.pin_count") == 0


@pytest.mark.parametrize("profile", MOVE_NOTIFY_ON[:2])
def test_dynamic_good_sequence_is_legal_in_contract_mode(run: RunFn, profile: str) -> None:
    r = run("ttm", profile, dynamic_good(profile), mode="contract")
    assert r.violations == []


@pytest.mark.parametrize("profile", ["v6.1", "v6.2-6.15", "v6.16+"])
def test_without_move_notify_a_dynamic_mapping_pins_and_blocks_moves(
        run: RunFn, profile: str) -> None:
    seq = dynamic_good(profile)
    r = run("ttm", profile, seq)
    mv = seq.index("move(b0)")
    assert r.errno(mv) == -EBUSY
    assert r.value("b0.a0.s0.pinned", mv) == 1
    assert r.value("b0.x.pin_count", mv) == 1
    assert r.value("b0.a0.s0.dir", mv) != 0  # nothing moved, nothing unmapped
    # the importer then maps a second time and unmaps only one: detach leaks the other
    assert r.tags() == {"detach-while-mapped"}


def pinned_good(profile: str) -> list[str]:
    return [*OWNED, "dynamic_attach(b0.a0, importer=pinned)",
            "lock(b0)", "pin(b0.a0)", "map(b0.a0, dir=BIDIRECTIONAL)", "unlock(b0)",
            "access(b0.a0, slot=0)", "move(b0)", "access(b0.a0, slot=0)",
            "lock(b0)", "unmap(b0.a0, dir=BIDIRECTIONAL, slot=0)", "unpin(b0.a0)", "unlock(b0)",
            "detach(b0.a0)", "put(b0)", "put(b0)"]


@pytest.mark.parametrize("profile", [*PROFILES, "v6.16+,move_notify=y"])
def test_pinned_importer_good_sequence(run: RunFn, profile: str) -> None:
    seq = pinned_good(profile)
    r = run("ttm", profile, seq)
    assert r.violations == [], r.explain()
    mv = seq.index("move(b0)")
    assert r.errno(mv) == -EBUSY  # pinned: the exporter refuses to evict
    assert r.value("b0.a0.pins", mv) == 1
    assert r.value("b0.x.pin_count", mv) >= 1
    assert r.value("b0.x.pin_count") == 0
    assert r.value("b0.life") == RELEASED
    assert [e for k, e in enumerate(r.errnos) if k != mv] == [0] * (len(seq) - 1)


@pytest.mark.parametrize("profile", PROFILES)
def test_pinned_good_sequence_is_legal_in_contract_mode(run: RunFn, profile: str) -> None:
    r = run("ttm", profile, pinned_good(profile), mode="contract")
    assert r.violations == []


# ------------------------------------------------------------------ R17: pin / unpin


@pytest.mark.parametrize("exporter", ["ttm", "system_heap"])
def test_pin_on_a_static_attachment_warns_and_is_forwarded(run: RunFn, exporter: str) -> None:
    r = run(exporter, "v6.16+", [*OWNED, "attach(b0.a0, importer=static)", "lock(b0)",
                                 "pin(b0.a0)"])
    v = r.only(-1)
    assert (v.rule, v.tag, v.severity, v.party, v.objects) == (
        "R17", "pin-static", Severity.WARN, Party.IMPORTER, ("b0.a0",))
    assert r.value("b0.a0.pins") == 1
    if exporter == "ttm":
        assert r.value("b0.x.pin_count") == 1


def test_unpin_on_a_static_attachment_warns(run: RunFn) -> None:
    r = run("ttm", "v6.16+", [*OWNED, "attach(b0.a0, importer=static)", "lock(b0)",
                              "pin(b0.a0)", "unpin(b0.a0)"])
    v = r.only(-1)
    assert (v.rule, v.tag, v.severity) == ("R17", "pin-static", Severity.WARN)
    assert (r.value("b0.a0.pins"), r.value("b0.x.pin_count")) == (0, 0)


def test_unpin_without_pin(run: RunFn) -> None:
    r = run("ttm", "v6.16+", [*OWNED, "dynamic_attach(b0.a0, importer=pinned)", "lock(b0)",
                              "unpin(b0.a0)"])
    v = r.only(-1)
    assert (v.rule, v.tag, v.severity, v.party) == (
        "R17", "unpin-without-pin", Severity.SILENT, Party.IMPORTER)
    assert (r.value("b0.a0.pins"), r.value("b0.x.pin_count")) == (0, 0)


@pytest.mark.parametrize("profile", PROFILES)
def test_pin_and_unpin_without_resv(run: RunFn, profile: str) -> None:
    r = run("system_heap", profile, [*OWNED, "dynamic_attach(b0.a0, importer=pinned)",
                                     "pin(b0.a0)", "unpin(b0.a0)"])
    assert [(v.rule, v.tag, v.severity, v.party) for v in r.violations] == [
        ("R17", "pin-without-resv", Severity.LOCKDEP, Party.IMPORTER),
        ("R17", "unpin-without-resv", Severity.LOCKDEP, Party.IMPORTER),
    ]
    assert r.value("b0.a0.pins", 3) == 1
    assert r.value("b0.a0.pins") == 0


def test_pin_without_resv_on_ttm_is_the_importers_splat(run: RunFn) -> None:
    r = run("ttm", "v6.16+", [*OWNED, "dynamic_attach(b0.a0, importer=pinned)", "pin(b0.a0)"])
    mine = [(v.rule, v.tag) for v in r.at(-1) if v.party is Party.IMPORTER]
    assert mine == [("R17", "pin-without-resv")]
    assert r.value("b0.x.pin_count") == 1


def test_detach_while_pinned_leaks_the_pin(run: RunFn) -> None:
    r = run("ttm", "v6.16+", [*OWNED, "dynamic_attach(b0.a0, importer=pinned)", "lock(b0)",
                              "pin(b0.a0)", "unlock(b0)", "detach(b0.a0)"])
    v = r.only(-1)
    assert (v.rule, v.tag, v.severity, v.party) == (
        "R17", "detach-while-pinned", Severity.LEAK, Party.IMPORTER)
    assert "1 dma_buf_pin() never unpinned" in v.message
    assert r.value("b0.a0.st") == DETACHED
    assert r.value("b0.x.pin_count") == 1  # nobody will ever drop it


def test_nested_pins_balance(run: RunFn) -> None:
    r = run("ttm", "v6.16+", [*OWNED, "dynamic_attach(b0.a0, importer=pinned)", "lock(b0)",
                              "pin(b0.a0)", "pin(b0.a0)", "unpin(b0.a0)", "unpin(b0.a0)",
                              "unlock(b0)", "detach(b0.a0)"])
    assert r.violations == []
    assert [r.value("b0.x.pin_count", k) for k in range(4, 8)] == [1, 2, 1, 0]


def test_pin_on_a_static_exporter_does_nothing_in_the_exporter(run: RunFn) -> None:
    r = run("system_heap", "v6.16+", [*OWNED, "dynamic_attach(b0.a0, importer=pinned)",
                                      "lock(b0)", "pin(b0.a0)", "unpin(b0.a0)", "unlock(b0)"])
    assert r.violations == []
    assert r.errnos == [0] * 7


def test_ttm_pin_for_a_non_p2p_importer_migrates_to_gtt(run: RunFn) -> None:
    r = run("ttm", "v6.16+", [*OWNED, "dynamic_attach(b0.a0, importer=pinned)", "lock(b0)",
                              "pin(b0.a0)"])
    assert r.violations == []
    assert r.value("b0.x.placement", 3) == VRAM
    assert r.value("b0.x.placement") == GTT


# ------------------------------------------------------------------ R18: move_notify


LAZY = IMPORTERS["dynamic"].derive("lazy", "move_notify that does nothing", move_notify=None)


@pytest.mark.parametrize("profile", ["v7.x", "v6.16+,move_notify=y"])
def test_access_after_move_with_the_reference_importer_is_unmapped(
        run: RunFn, profile: str) -> None:
    r = run("ttm", profile, [*OWNED, "dynamic_attach(b0.a0, importer=dynamic)",
                             "map_unlocked(b0.a0, dir=TO_DEVICE)", "move(b0)",
                             "access(b0.a0, slot=0)"])
    assert r.at(3) == () and r.at(4) == ()
    assert r.value("b0.a0.s0.dir", 4) == 0
    v = r.only(-1)
    assert (v.rule, v.tag, v.severity, v.party) == (
        "R15", "access-unmapped", Severity.SILENT, Party.IMPORTER)


@pytest.mark.parametrize("profile", ["v7.x", "v6.16+,move_notify=y"])
def test_access_after_move_without_mapping_again(run: RunFn, profile: str) -> None:
    r = run("ttm", profile, [*OWNED, "dynamic_attach(b0.a0, importer=lazy)",
                             "map_unlocked(b0.a0, dir=TO_DEVICE)", "move(b0)",
                             "access(b0.a0, slot=0)"], importers=[LAZY])
    assert r.at(4) == ()
    assert (r.value("b0.a0.s0.notified", 4), r.value("b0.a0.s0.stale", 4)) == (1, 1)
    v = r.only(-1)
    assert (v.rule, v.tag, v.severity, v.party, v.objects) == (
        "R18", "access-after-move", Severity.SILENT, Party.IMPORTER, ("b0.a0",))


@pytest.mark.parametrize("profile", ["v7.x", "v6.16+,move_notify=y"])
def test_lazy_importer_that_maps_again_is_fine(run: RunFn, profile: str) -> None:
    r = run("ttm", profile, [*OWNED, "dynamic_attach(b0.a0, importer=lazy)",
                             "map_unlocked(b0.a0, dir=TO_DEVICE)", "move(b0)",
                             "map_unlocked(b0.a0, dir=TO_DEVICE)", "access(b0.a0, slot=1)",
                             "unmap_unlocked(b0.a0, dir=TO_DEVICE, slot=0)",
                             "unmap_unlocked(b0.a0, dir=TO_DEVICE, slot=1)", "detach(b0.a0)"],
            importers=[LAZY])
    assert r.violations == [], r.explain()


def test_move_is_an_exporter_action_only_for_movable_exporters(run: RunFn) -> None:
    for exporter in ("system_heap", "udmabuf", "gem_prime"):
        m = run(exporter, "v7.x", ["export(b0)"]).model
        assert "move" not in {a.name for a in m.actions}
    r = run("ttm", "v7.x", ["export(b0)", "lock(b0)"])
    assert not r.model.is_enabled(r.state, Action.parse("move(b0)"), "misuse")  # waits for resv


def test_move_after_release_is_impossible(run: RunFn) -> None:
    r = run("ttm", "v7.x", ["export(b0)", "put(b0)"])
    assert r.value("b0.life") == RELEASED
    assert "move(b0)" not in {str(a) for a in r.model.enabled(r.state, "misuse")}


# exporters that break R17/R18 themselves


def _flip(c: Ctx, call: Call) -> None:
    b = call.buf
    c.set(b.x["placement"], GTT - b.x["placement"])
    c.backing_moved(b)


def _move_without_notify(c: Ctx, call: Call) -> None:
    b = call.buf
    with c.when(b.x["pin_count"] > 0):
        c.exit(-EBUSY)
    c.set(b.resv, 1)
    _flip(c, call)
    c.set(b.resv, 0)


def _move_ignoring_pins(c: Ctx, call: Call) -> None:
    b = call.buf
    c.set(b.resv, 1)
    c.move_notify(b)
    _flip(c, call)
    c.set(b.resv, 0)


def _move_unlocked(c: Ctx, call: Call) -> None:
    b = call.buf
    with c.when(b.x["pin_count"] > 0):
        c.exit(-EBUSY)
    c.move_notify(b)
    _flip(c, call)


TTM_NO_NOTIFY = TTM.derive("ttm_no_notify", "moves without move_notify",
                           move=_move_without_notify)
TTM_IGNORES_PINS = TTM.derive("ttm_ignores_pins", "evicts pinned buffers",
                              move=_move_ignoring_pins)
TTM_UNLOCKED_NOTIFY = TTM.derive("ttm_unlocked_notify", "calls move_notify without resv",
                                 move=_move_unlocked)


@pytest.mark.parametrize(("profile", "callee"), [
    ("v7.x", "dma_buf_invalidate_mappings"), ("v6.16+,move_notify=y", "dma_buf_move_notify")])
def test_exporter_moving_without_move_notify(run: RunFn, profile: str, callee: str) -> None:
    r = run(TTM_NO_NOTIFY, profile, [*OWNED, "dynamic_attach(b0.a0, importer=dynamic)",
                                     "map_unlocked(b0.a0, dir=TO_DEVICE)", "move(b0)",
                                     "access(b0.a0, slot=0)"])
    v = r.only(4)
    assert (v.rule, v.tag, v.severity, v.party, v.objects) == (
        "R18", "move-without-notify", Severity.SILENT, Party.EXPORTER, ("b0.a0",))
    assert callee in v.message
    assert r.value("b0.a0.s0.stale") == 1
    assert r.at(5) == ()  # the importer was never told: not its fault


def test_exporter_moving_a_pinned_buffer(run: RunFn) -> None:
    r = run(TTM_IGNORES_PINS, "v7.x", [*OWNED, "dynamic_attach(b0.a0, importer=pinned)",
                                       "lock(b0)", "pin(b0.a0)", "map(b0.a0, dir=TO_DEVICE)",
                                       "unlock(b0)", "move(b0)"])
    v = r.only(-1)
    assert (v.rule, v.tag, v.severity, v.party) == (
        "R17", "move-while-pinned", Severity.SILENT, Party.EXPORTER)
    assert "1 pin(s) held" in v.message


def test_move_notify_skips_static_attachments(run: RunFn) -> None:
    r = run(TTM_IGNORES_PINS, "v7.x", [*OWNED, "attach(b0.a0, importer=static)",
                                       "dynamic_attach(b0.a1, importer=lazy)",
                                       "map_unlocked(b0.a0, dir=TO_DEVICE)",
                                       "map_unlocked(b0.a1, dir=TO_DEVICE)", "move(b0)"],
            importers=[IMPORTERS["static"], LAZY])
    assert r.value("b0.a0.s0.notified") == 0
    assert r.value("b0.a1.s0.notified") == 1
    assert r.tags(6) == {"move-while-pinned"}  # the static mapping holds its map-time pin


def test_exporter_calling_move_notify_without_resv(run: RunFn) -> None:
    r = run(TTM_UNLOCKED_NOTIFY, "v7.x", [*OWNED, "dynamic_attach(b0.a0, importer=dynamic)",
                                          "move(b0)"])
    v = r.only(-1)
    assert (v.rule, v.tag, v.severity, v.party) == (
        "R18", "move-notify-without-resv", Severity.LOCKDEP, Party.EXPORTER)


def test_move_after_detach_of_the_only_importer(run: RunFn) -> None:
    r = run("ttm", "v7.x", [*OWNED, "dynamic_attach(b0.a0, importer=dynamic)",
                            "detach(b0.a0)", "move(b0)", "access(b0.a0, slot=0)"])
    assert r.at(4) == ()
    assert r.only(-1).tag == "use-after-detach"
    assert r.errno() == -EFAULT


# ------------------------------------------------------------------ DMA in flight


IN_FLIGHT = [*OWNED, "dynamic_attach(b0.a0, importer=dynamic)",
             "map_unlocked(b0.a0, dir=TO_DEVICE)", "start_dma(b0.a0, slot=0)"]


@pytest.mark.parametrize("profile", MOVE_NOTIFY_ON[:2])
def test_a_move_under_running_dma_waits_for_it(run: RunFn, profile: str) -> None:
    # the dynamic importer's move_notify waits for its job, then unmaps; TTM frees the old
    # location after the fences: nothing is reported and nothing stays in flight
    r = run("ttm", profile, [*IN_FLIGHT, "move(b0)"], mode="contract")
    assert r.violations == [], r.explain()
    assert r.value("b0.a0.s0.dma", len(IN_FLIGHT) - 1) == 1
    assert r.value("b0.a0.s0.dma") == 0 and r.value("b0.a0.s0.dir") == 0


@pytest.mark.parametrize("profile", MOVE_NOTIFY_ON[:2])
def test_a_finished_job_needs_no_wait(run: RunFn, profile: str) -> None:
    seq = [*IN_FLIGHT, "dma_done(b0.a0, slot=0)", "lock(b0)",
           "unmap(b0.a0, dir=TO_DEVICE, slot=0)", "unlock(b0)"]
    r = run("ttm", profile, seq)
    assert r.violations == [], r.explain()
    assert r.value("b0.a0.s0.dma", len(IN_FLIGHT)) == 0


def test_an_exporter_that_moves_under_running_dma_is_caught(run: RunFn) -> None:
    seq = [*OWNED, "dynamic_attach(b0.a0, importer=lazy)",
           "map_unlocked(b0.a0, dir=TO_DEVICE)", "start_dma(b0.a0, slot=0)", "move(b0)"]
    ok = run("ttm", "v7.x", seq, importers=[IMPORTERS["static"], LAZY])
    assert ok.violations == [], ok.explain()  # TTM waits for the fences (wait_dma)
    from model.mutants import MUTANTS

    broken = MUTANTS["ttm_move_before_fences"].exporter  # TTM's move without wait_dma()
    r = run(broken, "v7.x", seq, importers=[IMPORTERS["static"], LAZY])
    (v,) = r.violations
    assert (v.rule, v.tag, v.party, v.severity) == ("R18", "move-under-dma", Party.EXPORTER,
                                                    Severity.SILENT)
    # a job that finished before the move is no finding
    done = run(broken, "v7.x", [*seq[:-1], "dma_done(b0.a0, slot=0)", "move(b0)"],
               importers=[IMPORTERS["static"], LAZY])
    assert done.violations == []


def test_dma_done_is_enabled_only_while_a_job_runs() -> None:
    from model import Model

    m = Model(TTM, profile="v7.x", scope="1x1")
    state = m.initial()
    for i, text in enumerate(IN_FLIGHT[:-1]):
        state = m.step(state, Action.parse(text), i).state
    done = Action.parse("dma_done(b0.a0, slot=0)")
    assert not m.is_enabled(state, done, "misuse")
    state = m.step(state, Action.parse("start_dma(b0.a0, slot=0)"), 9).state
    assert m.is_enabled(state, done, "misuse")
