"""CPU access, the SYNC ioctl, poll, the resv lock, fences and sync files
(model/ops/cpu.py): R19-R22, R24, R30."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from model import EXPORTERS, PROFILES, Exporter, Party, Severity
from model.behaviour import Call, Callback
from model.context import Ctx
from model.expr import TRUE
from model.kernel import (
    DIRECTIONS,
    DMA_BIDIRECTIONAL,
    DMA_BUF_SYNC_RW,
    DMA_BUF_SYNC_VALID_FLAGS_MASK,
    DMA_FROM_DEVICE,
    DMA_TO_DEVICE,
    EBADF,
    EFAULT,
    EINTR,
    EINVAL,
    ENOMEM,
    ERESTARTSYS,
    POLLIN,
    POLLNVAL,
    POLLOUT,
)
from model.layout import LIVE, RELEASED
from model.ops.cpu import SYNC_FILE_FLAGS, SYNC_FLAGS

if TYPE_CHECKING:
    from conftest import RunFn

OPEN = ["export(b0)", "fd(b0)", "get(b0)"]  # an fd and a reference of the caller's own
WRITE_FENCE = "import_sync_file(b0, flags=2)"  # a writer's fence, added by userspace
READ_FENCE = "import_sync_file(b0, flags=1)"


# ------------------------------------------------------------------ R19: poll


def test_poll_arms_a_callback_that_holds_a_reference(run: RunFn) -> None:
    r = run("system_heap", "v6.16+", [*OPEN, WRITE_FENCE, "poll(b0, events=EPOLLIN)"])
    assert r.violations == []
    assert r.ret() == 0  # not ready: revents is empty
    assert r.value("b0.cb_in") == 1 and r.value("b0.cb_out") == 0
    assert r.refcount() == r.refcount(step=3) + 1


def test_signal_fires_the_callback_and_drops_its_reference(run: RunFn) -> None:
    r = run("system_heap", "v6.16+", [*OPEN, WRITE_FENCE, "poll(b0, events=EPOLLIN)",
                                      "signal(b0, usage=WRITE)"])
    assert r.violations == []
    assert (r.value("b0.cb_in"), r.value("b0.fence.WRITE")) == (0, 0)
    assert r.refcount() == r.refcount(step=3)


def test_the_poll_reference_keeps_a_closed_buffer_alive(run: RunFn) -> None:
    r = run("system_heap", "v6.16+", ["export(b0)", "fd(b0)", WRITE_FENCE,
                                      "poll(b0, events=EPOLLIN)", "close(b0)",
                                      "signal(b0, usage=WRITE)"])
    assert r.violations == []
    assert r.value("b0.life", 4) == LIVE
    assert r.refcount(step=4) == 1
    assert r.value("b0.life") == RELEASED


def test_poll_without_pending_fences_arms_nothing(run: RunFn) -> None:
    r = run("system_heap", "v6.16+", [*OPEN, "poll(b0, events=EPOLLIN)",
                                      "poll(b0, events=EPOLLOUT)"])
    assert (r.value("b0.cb_in"), r.value("b0.cb_out")) == (0, 0)
    assert (r.ret(3), r.ret(4)) == (POLLIN, POLLOUT)  # ready at once
    assert (r.errno(3), r.errno(4)) == (0, 0)  # a value is not an error


def test_epollin_waits_only_for_writers(run: RunFn) -> None:
    r = run("system_heap", "v6.16+", [*OPEN, READ_FENCE, "poll(b0, events=EPOLLIN)",
                                      "poll(b0, events=EPOLLOUT)"])
    assert (r.value("b0.cb_in"), r.value("b0.cb_out")) == (0, 1)
    assert r.refcount() == 3
    assert (r.ret(4), r.ret(5)) == (POLLIN, 0)


def test_a_callback_is_armed_once_per_direction(run: RunFn) -> None:
    r = run("system_heap", "v6.16+", [*OPEN, WRITE_FENCE, "poll(b0, events=EPOLLIN)",
                                      "poll(b0, events=EPOLLIN)"])
    assert r.refcount() == r.refcount(step=4)
    assert r.ret() == 0  # the armed direction still waits (dcb->active)


def test_poll_is_ready_again_once_the_fence_signalled(run: RunFn) -> None:
    r = run("system_heap", "v6.16+", [*OPEN, WRITE_FENCE, "poll(b0, events=EPOLLOUT)",
                                      "signal(b0, usage=WRITE)", "poll(b0, events=EPOLLOUT)",
                                      "poll(b0, events=EPOLLIN)"])
    assert [r.ret(k) for k in (4, 6, 7)] == [0, POLLOUT, POLLIN]
    assert (r.value("b0.cb_in"), r.value("b0.cb_out")) == (0, 0)


def test_one_signal_fires_both_callbacks(run: RunFn) -> None:
    r = run("system_heap", "v6.16+", [*OPEN, WRITE_FENCE, "poll(b0, events=EPOLLIN)",
                                      "poll(b0, events=EPOLLOUT)", "signal(b0, usage=WRITE)"])
    assert r.refcount(step=5) == 4
    assert r.refcount() == 2


def test_poll_without_an_fd_is_pollnval(run: RunFn) -> None:
    """poll(2) reports an fd that is not open in revents, never as an errno; the bad fd is
    still the process's mistake (R5)."""
    r = run("system_heap", "v6.16+", ["export(b0)", "poll(b0, events=EPOLLIN)"])
    v = r.only(-1)
    assert (v.rule, v.tag, v.party, r.ret(), r.errno()) == (
        "R5", "bad-fd", Party.IMPORTER, POLLNVAL, 0)
    assert (r.value("b0.cb_in"), r.refcount()) == (0, 1)  # nothing armed
    r = run("system_heap", "v6.16+", [*OPEN, WRITE_FENCE, "close(b0)",
                                      "poll(b0, events=EPOLLOUT)"])
    assert (r.ret(), r.value("b0.cb_out")) == (POLLNVAL, 0)


def test_signal_is_only_possible_for_a_pending_fence(run: RunFn) -> None:
    r = run("system_heap", "v6.16+", [*OPEN, READ_FENCE])
    signals = [str(a) for a in r.model.enabled(r.state, "misuse") if a.name == "signal"]
    assert signals == ["signal(b0, usage=READ)"]


def test_waiting_for_a_fence_fires_its_poll_callback(run: RunFn) -> None:
    r = run("system_heap", "v6.16+", [*OPEN, WRITE_FENCE, "poll(b0, events=EPOLLIN)",
                                      "begin_cpu_access(b0, dir=FROM_DEVICE)",
                                      "end_cpu_access(b0, dir=FROM_DEVICE)",
                                      "put(b0)", "close(b0)"])
    assert r.value("b0.fence.WRITE", 5) == 0  # the wait saw the fence signal
    assert r.value("b0.cb_in") == 0
    assert r.value("b0.life") == RELEASED


# ------------------------------------------------------------------ R20: SYNC ioctl


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("flags", SYNC_FLAGS)
def test_sync_flag_validation(run: RunFn, profile: str, flags: int) -> None:
    r = run("system_heap", profile, [*OPEN, f"sync(b0, flags={flags})"])
    if flags in (1, 2, 3, 5, 6, 7):
        assert r.errno() == 0
        assert "sync-flags" not in r.tags()
    else:
        v = r.only(-1)
        assert (v.rule, v.tag, v.severity, v.party) == (
            "R20", "sync-flags", Severity.ERRNO, Party.IMPORTER)
        assert r.errno() == -EINVAL
        assert r.state == r.outcomes[-2].state


@pytest.mark.parametrize(("flags", "direction"), [
    (1, "FROM_DEVICE"), (2, "TO_DEVICE"), (3, "BIDIRECTIONAL")])
def test_sync_start_opens_a_bracket_in_the_flags_direction(
        run: RunFn, flags: int, direction: str) -> None:
    r = run("system_heap", "v6.16+", [*OPEN, f"sync(b0, flags={flags})",
                                      f"sync(b0, flags={flags | 4})"])
    assert r.violations == []
    assert (r.value("b0.cpu", 3), r.value("b0.cpu_dir", 3)) == (1, DIRECTIONS[direction])
    assert r.value("b0.cpu") == 0


@pytest.mark.parametrize("flags", [5, 6, 7])
def test_sync_end_without_start(run: RunFn, flags: int) -> None:
    r = run("system_heap", "v6.16+", [*OPEN, f"sync(b0, flags={flags})"])
    v = r.only(-1)
    assert (v.rule, v.tag, v.severity, v.party) == (
        "R20", "end-without-begin", Severity.SILENT, Party.IMPORTER)
    assert r.errno() == 0  # accepted and passed to the exporter
    assert r.value("b0.cpu") == 0


def test_sync_end_with_another_direction(run: RunFn) -> None:
    r = run("system_heap", "v6.16+", [*OPEN, "sync(b0, flags=1)", "sync(b0, flags=6)"])
    v = r.only(-1)
    assert (v.rule, v.tag, v.severity, v.party) == (
        "R20", "cpu-access-direction", Severity.SILENT, Party.IMPORTER)
    assert r.errno() == 0
    assert r.value("b0.cpu") == 0


def test_double_start_is_accepted(run: RunFn) -> None:
    r = run("system_heap", "v6.16+", [*OPEN, "sync(b0, flags=3)", "sync(b0, flags=3)",
                                      "sync(b0, flags=7)", "sync(b0, flags=7)"])
    assert r.violations == []
    assert [r.value("b0.cpu", k) for k in range(3, 7)] == [1, 2, 1, 0]


def test_sync_needs_an_fd(run: RunFn) -> None:
    r = run("system_heap", "v6.16+", ["export(b0)", "sync(b0, flags=1)"])
    assert (r.only(-1).rule, r.only(-1).tag, r.errno()) == ("R5", "bad-fd", -EBADF)


def test_sync_waits_while_another_context_holds_resv(run: RunFn) -> None:
    r = run("system_heap", "v6.16+", [*OPEN, "lock(b0)"])
    enabled = {a.name for a in r.model.enabled(r.state, "misuse")}
    assert not enabled & {"sync", "poll", "import_sync_file"}


# ------------------------------------------------------------------ R21: kernel CPU access


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("call", ["begin_cpu_access", "end_cpu_access"])
def test_cpu_access_under_resv_is_a_lockdep_splat(run: RunFn, profile: str, call: str) -> None:
    seq = [*OPEN, "begin_cpu_access(b0, dir=TO_DEVICE)", "lock(b0)", f"{call}(b0, dir=TO_DEVICE)"]
    r = run("system_heap", profile, seq)
    v = r.only(-1)
    assert (v.rule, v.tag, v.severity, v.party) == (
        "R21", "cpu-access-under-resv", Severity.LOCKDEP, Party.IMPORTER)


def test_end_cpu_access_without_begin(run: RunFn) -> None:
    r = run("system_heap", "v6.16+", [*OPEN, "end_cpu_access(b0, dir=FROM_DEVICE)"])
    v = r.only(-1)
    assert (v.rule, v.tag, v.severity) == ("R20", "end-without-begin", Severity.SILENT)


def test_end_cpu_access_with_another_direction(run: RunFn) -> None:
    r = run("system_heap", "v6.16+", [*OPEN, "begin_cpu_access(b0, dir=TO_DEVICE)",
                                      "end_cpu_access(b0, dir=FROM_DEVICE)"])
    v = r.only(-1)
    assert (v.rule, v.tag) == ("R20", "cpu-access-direction")
    assert "FROM_DEVICE" in v.message and "direction code 1" in v.message


@pytest.mark.parametrize("exporter", ["system_heap", "udmabuf", "gem_prime", "ttm"])
def test_release_with_a_bracket_still_open(run: RunFn, exporter: str) -> None:
    r = run(exporter, "v6.16+", [*OPEN, "begin_cpu_access(b0, dir=BIDIRECTIONAL)", "put(b0)",
                                 "put(b0)", "close(b0)"])
    v = r.only(-1)
    assert (v.rule, v.tag, v.severity, v.party) == (
        "R21", "cpu-access-unbalanced", Severity.SILENT, Party.IMPORTER)
    assert "1 begin_cpu_access bracket(s)" in v.message
    assert r.value("b0.life") == RELEASED


@pytest.mark.parametrize(("direction", "waits_for_readers"), [
    ("FROM_DEVICE", False), ("TO_DEVICE", True), ("BIDIRECTIONAL", True)])
def test_begin_cpu_access_waits_for_conflicting_fences(
        run: RunFn, direction: str, waits_for_readers: bool) -> None:
    # a CPU writer waits for readers and writers; a CPU reader only for writers (R21, 1.4)
    r = run("system_heap", "v6.16+", [*OPEN, READ_FENCE, f"begin_cpu_access(b0, dir={direction})"])
    assert r.violations == []
    assert r.value("b0.fence.READ") == int(not waits_for_readers)


def test_begin_cpu_access_interrupted_wait(run: RunFn) -> None:
    r = run("system_heap", "v6.16+", [*OPEN, WRITE_FENCE,
                                      "begin_cpu_access(b0, dir=FROM_DEVICE, fault=intr)"])
    assert r.violations == []
    assert r.errno() == -ERESTARTSYS
    assert r.value("b0.cpu") == 0
    assert r.value("b0.fence.WRITE") == 1


def test_udmabuf_begin_cpu_access_failure(run: RunFn) -> None:
    r = run("udmabuf", "v6.16+", [*OPEN, "begin_cpu_access(b0, dir=FROM_DEVICE, fault=exporter)",
                                  "begin_cpu_access(b0, dir=FROM_DEVICE)",
                                  "end_cpu_access(b0, dir=FROM_DEVICE)"])
    assert r.violations == []
    assert r.errnos[3:] == [-ENOMEM, 0, 0]
    assert r.value("b0.x.sg", 3) == 0
    assert r.value("b0.x.sg") == 1


def test_sync_flags_cover_both_tests_and_the_whole_field() -> None:
    outside = [f for f in SYNC_FLAGS if f & ~DMA_BUF_SYNC_VALID_FLAGS_MASK]
    assert set(range(8)) <= set(SYNC_FLAGS)
    assert any(f & DMA_BUF_SYNC_RW for f in outside)  # only the mask test refuses these
    assert max(SYNC_FLAGS) >> 63 == 1  # the __u64's top bit


def test_sync_with_a_bad_pointer_is_efault_before_the_flags(run: RunFn) -> None:
    r = run("system_heap", "v6.16+", [*OPEN, "sync(b0, flags=1, pointer=bad)"])
    v = r.only(-1)
    assert (v.rule, v.tag, v.severity, v.party) == (
        "R20", "sync-fault", Severity.ERRNO, Party.IMPORTER)
    assert r.errno() == -EFAULT
    assert r.state == r.outcomes[-2].state  # no bracket opened


# ------------------------------------------------------------------ R22: sync files


@pytest.mark.parametrize("flags", SYNC_FILE_FLAGS)
@pytest.mark.parametrize("ioctl", ["export_sync_file", "import_sync_file"])
def test_sync_file_flag_validation(run: RunFn, ioctl: str, flags: int) -> None:
    r = run("system_heap", "v6.16+", [*OPEN, f"{ioctl}(b0, flags={flags})"])
    if flags in (1, 2, 3):
        assert r.violations == []
        assert r.errno() == 0
    else:
        v = r.only(-1)
        assert (v.rule, v.tag, v.severity, v.party) == (
            "R22", "sync-file-flags", Severity.ERRNO, Party.IMPORTER)
        assert r.errno() == -EINVAL
        assert r.state == r.outcomes[-2].state


@pytest.mark.parametrize(("flags", "usage"), [(1, "READ"), (2, "WRITE"), (3, "WRITE")])
def test_import_sync_file_adds_a_fence_of_the_flags_usage(
        run: RunFn, flags: int, usage: str) -> None:
    r = run("system_heap", "v6.16+", [*OPEN, f"import_sync_file(b0, flags={flags})"])
    fences = {u: r.value(f"b0.fence.{u}") for u in ("KERNEL", "WRITE", "READ", "BOOKKEEP")}
    assert fences == {u: int(u == usage) for u in fences}


@pytest.mark.parametrize("flags", [1, 2, 3])
def test_import_of_a_signalled_fence_leaves_nothing_to_wait_for(run: RunFn, flags: int) -> None:
    """Measured on Linux 6.1 and 6.12 (vgem): after importing a sync file whose fence has
    signalled, poll() is ready and arms no callback (dma_fence_add_callback: -ENOENT), so
    the file count does not change."""
    r = run("system_heap", "v6.1", [*OPEN, f"import_sync_file(b0, flags={flags}, "
                                     "fence=signalled)", "poll(b0, events=EPOLLIN)",
                                     "poll(b0, events=EPOLLOUT)"])
    assert r.violations == []
    fences = [r.value(f"b0.fence.{u}") for u in ("KERNEL", "WRITE", "READ", "BOOKKEEP")]
    assert fences == [0, 0, 0, 0]
    assert (r.value("b0.cb_in"), r.value("b0.cb_out")) == (0, 0)
    assert r.refcount() == r.refcount(step=2)


def test_import_of_a_pending_fence_is_the_default(run: RunFn) -> None:
    r = run("system_heap", "v6.1", [*OPEN, "import_sync_file(b0, fence=pending, flags=2)",
                                    "poll(b0, events=EPOLLIN)"])
    assert (r.value("b0.fence.WRITE"), r.value("b0.cb_in")) == (1, 1)
    assert r.refcount() == r.refcount(step=2) + 1


def test_export_sync_file_changes_nothing(run: RunFn) -> None:
    r = run("system_heap", "v6.16+", [*OPEN, WRITE_FENCE, "export_sync_file(b0, flags=3)"])
    assert r.state == r.outcomes[-2].state


def test_import_sync_file_allocation_failure(run: RunFn) -> None:
    r = run("system_heap", "v6.16+", [*OPEN, "import_sync_file(b0, fault=nomem, flags=2)"])
    assert r.violations == []
    assert r.errno() == -ENOMEM
    assert r.value("b0.fence.WRITE") == 0


@pytest.mark.parametrize("ioctl", ["export_sync_file(b0, flags=1)",
                                   "import_sync_file(b0, flags=1)"])
def test_sync_file_ioctls_need_an_fd(run: RunFn, ioctl: str) -> None:
    r = run("system_heap", "v6.16+", ["export(b0)", ioctl])
    assert (r.only(-1).tag, r.errno()) == ("bad-fd", -EBADF)


# ------------------------------------------------------------------ R24: fences


def test_add_fence_after_reserving_under_the_lock(run: RunFn) -> None:
    r = run("system_heap", "v6.16+", [*OPEN, "lock(b0)", "reserve_fences(b0)",
                                      "add_fence(b0, usage=BOOKKEEP)", "unlock(b0)"])
    assert r.violations == []
    assert r.value("b0.fence.BOOKKEEP") == 1
    assert r.value("b0.reserved", 4) == 1 and r.value("b0.reserved") == 0


def test_add_fence_without_a_reserved_slot_is_a_bug(run: RunFn) -> None:
    r = run("system_heap", "v6.16+", [*OPEN, "lock(b0)", "add_fence(b0, usage=WRITE)"])
    v = r.only(-1)
    assert (v.rule, v.tag, v.severity, v.party) == (
        "R24", "add-fence-unreserved", Severity.BUG, Party.IMPORTER)
    assert r.value("b0.fence.WRITE") == 0


def test_add_fence_without_the_lock(run: RunFn) -> None:
    r = run("system_heap", "v6.16+", [*OPEN, "add_fence(b0, usage=WRITE)"])
    assert {(v.rule, v.tag, v.severity) for v in r.at(-1)} == {
        ("R24", "add-fence-without-resv", Severity.LOCKDEP),
        ("R24", "add-fence-unreserved", Severity.BUG),
    }


def test_reserve_fences_without_the_lock(run: RunFn) -> None:
    r = run("system_heap", "v6.16+", [*OPEN, "reserve_fences(b0)"])
    v = r.only(-1)
    assert (v.rule, v.tag, v.severity) == ("R24", "reserve-without-resv", Severity.LOCKDEP)


def test_unlock_forgets_reservations(run: RunFn) -> None:
    r = run("system_heap", "v6.16+", [*OPEN, "lock(b0)", "reserve_fences(b0)", "unlock(b0)",
                                      "lock(b0)", "add_fence(b0, usage=READ)"])
    assert r.value("b0.reserved", 4) == 1
    assert r.value("b0.reserved", 5) == 0
    assert r.only(-1).tag == "add-fence-unreserved"


def test_reserve_fences_allocation_failure(run: RunFn) -> None:
    r = run("system_heap", "v6.16+", [*OPEN, "lock(b0)", "reserve_fences(b0, fault=nomem)",
                                      "add_fence(b0, usage=READ)"])
    assert r.errno(4) == -ENOMEM
    assert r.only(-1).tag == "add-fence-unreserved"


# ------------------------------------------------------------------ the resv lock itself
# (R24 in the model: R30 is the 6.2+ convention, while these hold for every profile)


@pytest.mark.parametrize("profile", PROFILES)
def test_recursive_lock(run: RunFn, profile: str) -> None:
    r = run("system_heap", profile, [*OPEN, "lock(b0)", "lock(b0)"])
    v = r.only(-1)
    assert (v.rule, v.tag, v.severity, v.party) == (
        "R24", "resv-recursive", Severity.LOCKDEP, Party.IMPORTER)
    assert r.errno() == -EINTR
    assert r.value("b0.resv") == 1


@pytest.mark.parametrize("profile", PROFILES)
def test_unlock_of_an_unheld_lock(run: RunFn, profile: str) -> None:
    r = run("system_heap", profile, [*OPEN, "unlock(b0)"])
    v = r.only(-1)
    assert (v.rule, v.tag, v.severity, v.party) == (
        "R24", "resv-unlock-unheld", Severity.LOCKDEP, Party.IMPORTER)
    assert r.value("b0.resv") == 0


def test_interrupted_lock_is_not_held(run: RunFn) -> None:
    r = run("system_heap", "v6.16+", [*OPEN, "lock(b0, fault=intr)", "unlock(b0)"])
    assert r.errno(3) == -EINTR and r.at(3) == ()
    assert r.only(-1).tag == "resv-unlock-unheld"


# ------------------------------------------------------------------ R21: the exporter's sync


def _nothing(c: Ctx, call: Call) -> None:
    pass


def _exporter_with(base: str, **callbacks: Callback) -> Exporter:
    exporter: Exporter = EXPORTERS[base]
    return exporter.derive(f"t_{base}", "x", callbacks=callbacks)


def _syncing(for_cpu: bool, att: bool, d: int | None = None) -> Callback:
    def body(c: Ctx, call: Call) -> None:
        direction = call.dir if d is None else d
        assert direction is not None
        for a in call.buf.atts if att else (None,):
            with c.when(a.live if a is not None else TRUE):
                (c.sync_for_cpu if for_cpu else c.sync_for_device)(call.buf, a, direction)
    return body


HEAP_MAPPED = ["export(b0)", "attach(b0.a0, importer=static)",
               "map_unlocked(b0.a0, dir=FROM_DEVICE)"]


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("d", ["BIDIRECTIONAL", "TO_DEVICE", "FROM_DEVICE"])
def test_the_heap_syncs_its_mapped_attachments_both_ways(run: RunFn, profile: str,
                                                         d: str) -> None:
    mp = "map" if profile == "v6.1" else "map_unlocked"
    r = run("system_heap", profile, ["export(b0)", "attach(b0.a0, importer=static)",
                                     "attach(b0.a1, importer=static)",
                                     f"{mp}(b0.a0, dir={d})", f"begin_cpu_access(b0, dir={d})",
                                     f"end_cpu_access(b0, dir={d})"])
    assert r.violations == [], r.explain()


@pytest.mark.parametrize("begin", [True, False])
def test_an_unsynced_mapped_attachment_is_the_exporters_fault(run: RunFn, begin: bool) -> None:
    skip = "begin_cpu_access" if begin else "end_cpu_access"
    exp = _exporter_with("system_heap", **{skip: _nothing})
    r = run(exp, "v6.16+", [*HEAP_MAPPED, "begin_cpu_access(b0, dir=FROM_DEVICE)",
                            "end_cpu_access(b0, dir=FROM_DEVICE)"])
    step = 3 if begin else 4
    (v,) = r.at(step)
    assert (v.rule, v.tag, v.party, v.severity) == (
        "R21", "begin-cpu-not-synced" if begin else "end-cpu-not-synced", Party.EXPORTER,
        Severity.SILENT)
    assert v.objects == ("b0", "b0.a0")
    assert r.at(7 - step) == ()


def test_an_unmapped_attachment_is_owed_nothing(run: RunFn) -> None:
    exp = _exporter_with("system_heap", begin_cpu_access=_nothing, end_cpu_access=_nothing)
    r = run(exp, "v6.16+", ["export(b0)", "attach(b0.a0, importer=static)",
                            "map_unlocked(b0.a0, dir=TO_DEVICE)",
                            "unmap_unlocked(b0.a0, dir=TO_DEVICE, slot=0)",
                            "begin_cpu_access(b0, dir=TO_DEVICE)",
                            "end_cpu_access(b0, dir=TO_DEVICE)"])
    assert r.violations == [], r.explain()


def test_a_cpu_coherent_exporter_owes_no_sync(run: RunFn) -> None:
    heap = EXPORTERS["system_heap"]
    exp = heap.derive("t_coherent", "x", cpu_coherent=True,
                      callbacks={"begin_cpu_access": _nothing, "end_cpu_access": _nothing})
    r = run(exp, "v6.16+", [*HEAP_MAPPED, "begin_cpu_access(b0, dir=FROM_DEVICE)",
                            "end_cpu_access(b0, dir=FROM_DEVICE)"])
    assert r.violations == [], r.explain()
    assert EXPORTERS["gem_prime"].cpu_coherent and EXPORTERS["ttm"].cpu_coherent
    assert not heap.cpu_coherent and not EXPORTERS["udmabuf"].cpu_coherent


def test_a_failed_begin_owes_no_sync(run: RunFn) -> None:
    def fails(c: Ctx, call: Call) -> None:
        c.returns(-ENOMEM)
    exp = _exporter_with("system_heap", begin_cpu_access=fails)
    r = run(exp, "v6.16+", [*HEAP_MAPPED, "begin_cpu_access(b0, dir=FROM_DEVICE)"])
    assert r.violations == [] and r.errno() == -ENOMEM, r.explain()


def test_the_exporters_own_mapping_covers_every_attachment(run: RunFn) -> None:
    # udmabuf syncs its misc device's mapping of all the pages
    r = run("udmabuf", "v6.16+", [*HEAP_MAPPED, "attach(b0.a1, importer=static)",
                                  "map_unlocked(b0.a1, dir=TO_DEVICE)",
                                  "begin_cpu_access(b0, dir=BIDIRECTIONAL)",
                                  "end_cpu_access(b0, dir=BIDIRECTIONAL)"])
    assert r.violations == [], r.explain()


@pytest.mark.parametrize(("begin", "for_cpu"), [(True, False), (False, True)])
def test_syncing_the_wrong_way(run: RunFn, begin: bool, for_cpu: bool) -> None:
    hook = "begin_cpu_access" if begin else "end_cpu_access"
    exp = _exporter_with("udmabuf", **{hook: _syncing(for_cpu, att=False)})
    r = run(exp, "v6.16+", ["export(b0)", "begin_cpu_access(b0, dir=TO_DEVICE)",
                            "end_cpu_access(b0, dir=TO_DEVICE)"])
    step = 1 if begin else 2
    (v,) = r.at(step)
    assert (v.rule, v.tag, v.party) == ("R21", "cpu-sync-wrong-way", Party.EXPORTER)
    assert ("for the device" if begin else "for the CPU") in v.message
    assert r.at(3 - step) == ()


@pytest.mark.parametrize(("asked", "synced", "bad"), [
    ("TO_DEVICE", DMA_FROM_DEVICE, True), ("FROM_DEVICE", DMA_TO_DEVICE, True),
    ("BIDIRECTIONAL", DMA_TO_DEVICE, True), ("TO_DEVICE", DMA_BIDIRECTIONAL, False),
    ("FROM_DEVICE", DMA_FROM_DEVICE, False)])
def test_the_sync_direction_must_cover_the_callers(run: RunFn, asked: str, synced: int,
                                                   bad: bool) -> None:
    exp = _exporter_with("system_heap", begin_cpu_access=_syncing(True, att=True, d=synced))
    r = run(exp, "v6.16+", [*HEAP_MAPPED, f"begin_cpu_access(b0, dir={asked})"])
    tags = [v.tag for v in r.at(-1)]
    # the attachment was synced, if with the wrong direction: no begin-cpu-not-synced
    assert tags == (["cpu-sync-direction"] if bad else []), r.explain()
    if bad:
        assert f"direction code {synced}, but the caller asked for {asked}" in r.at(-1)[0].message


def test_syncing_an_attachment_without_a_mapping(run: RunFn) -> None:
    exp = _exporter_with("system_heap", begin_cpu_access=_syncing(True, att=True))
    r = run(exp, "v6.16+", ["export(b0)", "attach(b0.a0, importer=static)",
                            "begin_cpu_access(b0, dir=TO_DEVICE)"])
    (v,) = r.at(-1)
    assert (v.rule, v.tag, v.severity, v.party) == ("R21", "cpu-sync-unmapped", Severity.WARN,
                                                    Party.EXPORTER)


def test_sync_outside_the_cpu_access_callbacks_is_refused() -> None:
    from model.machine import Model

    exp = _exporter_with("system_heap", map_dma_buf=_syncing(True, att=False, d=DMA_TO_DEVICE))
    with pytest.raises(RuntimeError, match="outside the exporter's begin/end_cpu_access"):
        Model(exp, profile="v6.16+", scope="1x1").ground  # noqa: B018


def test_an_exporter_without_the_cpu_access_callbacks_owes_no_sync(run: RunFn) -> None:
    # begin/end_cpu_access are optional in dma_buf_ops: an exporter that leaves them out
    # says CPU access needs no cache maintenance; the system heap, which has them, must sync
    heap = EXPORTERS["system_heap"]
    bare = heap.derive("no_cpu_hooks", "x",
                       ops=heap.ops - {"begin_cpu_access", "end_cpu_access"})
    seq = ["export(b0)", "attach(b0.a0, importer=static)", "map_unlocked(b0.a0, dir=TO_DEVICE)",
           "begin_cpu_access(b0, dir=TO_DEVICE)", "end_cpu_access(b0, dir=TO_DEVICE)"]
    assert run(bare, "v6.16+", seq).violations == []
    skips = heap.derive("skips", "x", callbacks={**heap.callbacks,
                                                   "begin_cpu_access": lambda c, call: None})
    (v,) = run(skips, "v6.16+", seq).violations
    assert (v.rule, v.tag) == ("R21", "begin-cpu-not-synced")
