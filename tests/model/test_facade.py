"""The façade is the step function with the kernel's verbs."""

from __future__ import annotations

import pytest

from model.facade import CallFailed, Session
from model.machine import ModelError


def test_canonical_importer_sequence_is_clean() -> None:
    s = Session("system_heap", profile="v6.16+")
    buf = s.export()
    assert buf.fd() == 0 and buf.get() == 0
    att = buf.attach("static")
    assert buf.get_dma_buf() == 0
    sgt = att.map("BIDIRECTIONAL", unlocked=True)
    assert att.access(sgt) == 0
    assert att.unmap(sgt, unlocked=True) == 0
    assert att.detach() == 0
    assert (buf.put(), buf.put(), buf.close()) == (0, 0, 0)
    assert s.violations == []
    assert s.value("b0.life") == 2
    assert [str(a) for a, _ in s.history][:2] == ["export(b0)", "fd(b0)"]


def test_second_map_uses_the_next_slot_and_cached_tables_share_slot_0() -> None:
    s = Session("system_heap", profile="v6.16+")
    att = s.export().attach("static")
    assert [att.map("TO_DEVICE", unlocked=True).slot for _ in range(2)] == [0, 1]
    s = Session("udmabuf", profile="v6.2-6.15")
    att = s.export().attach("static")
    assert [att.map("TO_DEVICE", unlocked=True).slot for _ in range(2)] == [0, 0]


def test_failing_calls_raise_with_the_errno() -> None:
    s = Session("udmabuf", profile="v6.2-6.15")
    att = s.export().attach("static")
    att.map("TO_DEVICE", unlocked=True)
    with pytest.raises(CallFailed, match="-EBUSY") as info:
        att.map("BIDIRECTIONAL", unlocked=True)
    assert info.value.errno == -16
    with pytest.raises(CallFailed, match="-ENOMEM"):
        Session("system_heap").export(fault="nomem")


def test_misuse_is_recorded_not_refused() -> None:
    s = Session("ttm", profile="v7.x")
    buf = s.export()
    att = buf.attach("dynamic")
    sgt = att.map("TO_DEVICE", unlocked=True)
    assert buf.move() == 0  # the dynamic importer unmapped in move_notify
    att.access(sgt)
    assert [v.tag for v in s.violations] == ["access-unmapped"]
    att.unmap(None)
    assert s.violations[-1].tag == "unmap-foreign"


def test_every_verb_reaches_the_model() -> None:
    s = Session("system_heap", profile="v6.2-6.15")
    buf = s.export()
    buf.fd()
    assert buf.get() == 0  # fd() gave the caller's reference away; kernel calls need one (R5)
    calls = [
        buf.lock(), buf.reserve_fences(), buf.add_fence("WRITE"), buf.unlock(),
        buf.poll("EPOLLIN"), buf.signal("WRITE"), buf.begin_cpu_access("FROM_DEVICE"),
        buf.end_cpu_access("FROM_DEVICE"), buf.sync(1), buf.sync(5), buf.export_sync_file(1),
        buf.import_sync_file(2), buf.signal("WRITE"), buf.vmap(unlocked=True),
        buf.begin_cpu_access("BIDIRECTIONAL"), buf.vmap_access(),
        buf.end_cpu_access("BIDIRECTIONAL"), buf.vunmap(unlocked=True), buf.mmap(0, 1),
        buf.munmap(), buf.dma_buf_mmap(0, 2), buf.munmap(), buf.llseek("SEEK_END", 0),
        buf.set_name(1),
    ]
    # poll waits for the WRITE fence (revents 0); llseek(SEEK_END) gives the size in bytes
    assert calls == [0] * (len(calls) - 2) + [8192, 0]
    assert buf.poll("EPOLLIN") == 1  # POLLIN: the fence signalled
    att = buf.attach("pinned")
    assert (buf.lock(), att.pin(), att.unpin(), buf.unlock()) == (0, 0, 0, 0)
    sgt = att.map("TO_DEVICE", unlocked=True)
    assert att.read_pages(sgt) == 0 and s.violations[-1].tag == "read-pages"
    assert s.violations[:-1] == []


def test_errors_for_impossible_requests() -> None:
    s = Session("system_heap", scope="1x1")
    buf = s.export()
    with pytest.raises(ModelError, match="already exported"):
        s.export()
    with pytest.raises(ModelError, match="no importer 'rdma'"):
        buf.attach("rdma")
    buf.attach("static")
    with pytest.raises(ModelError, match="no free attachment slot"):
        buf.attach("static")
    with pytest.raises(ModelError, match="not an action of this model"):
        buf.move()  # the system heap has no move path
