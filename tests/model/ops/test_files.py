"""mmap, llseek and DMA_BUF_SET_NAME (model/ops/files.py): R23, R26, R27, R30."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from model import EXPORTERS, PROFILES, Party, Severity
from model.kernel import EBADF, EFAULT, EINVAL, EOVERFLOW
from model.layout import LIVE, RELEASED

if TYPE_CHECKING:
    from conftest import RunFn

OWNED = ["export(b0)", "fd(b0)", "get(b0)"]
SIZE_PAGES = 2  # every buffer's size in the default scope
RANGES = [(pgoff, pages) for pgoff in range(SIZE_PAGES + 1) for pages in range(1, SIZE_PAGES + 1)]


# ------------------------------------------------------------------ R26: mmap


@pytest.mark.parametrize("call", ["mmap", "dma_buf_mmap"])
@pytest.mark.parametrize(("pgoff", "pages"), RANGES)
def test_mmap_bounds(run: RunFn, call: str, pgoff: int, pages: int) -> None:
    r = run("system_heap", "v6.16+", [*OWNED, f"{call}(b0, pages={pages}, pgoff={pgoff})"])
    if pgoff + pages <= SIZE_PAGES:
        assert r.violations == []
        assert r.errno() == 0
        assert r.value("b0.vmas") == 1
    else:
        v = r.only(-1)
        assert (v.rule, v.tag, v.severity, v.party) == (
            "R26", "mmap-bounds", Severity.ERRNO, Party.IMPORTER)
        assert r.errno() == -EINVAL
        assert r.value("b0.vmas") == 0


def test_mmap_of_length_0_is_refused_before_the_exporter(run: RunFn) -> None:
    r = run("system_heap", "v6.1", [*OWNED, "mmap(b0, pages=0, pgoff=0)"])
    v = r.only(-1)
    assert (v.rule, v.tag, v.severity) == ("R26", "mmap-empty", Severity.ERRNO)
    assert (r.errno(), r.value("b0.vmas")) == (-EINVAL, 0)


def test_dma_buf_mmap_with_a_wrapping_pgoff(run: RunFn) -> None:
    r = run("system_heap", "v6.16+", [*OWNED, "dma_buf_mmap(b0, pages=1, pgoff=wrap)"])
    v = r.only(-1)
    assert (v.rule, v.tag, v.severity, v.party) == (
        "R26", "mmap-overflow", Severity.ERRNO, Party.IMPORTER)
    assert r.errno() == -EOVERFLOW
    assert r.value("b0.vmas") == 0


def test_a_mapping_keeps_the_buffer_alive_until_munmap(run: RunFn) -> None:
    r = run("system_heap", "v6.16+", ["export(b0)", "fd(b0)", "mmap(b0, pages=2, pgoff=0)",
                                      "close(b0)", "munmap(b0)"])
    assert r.violations == []
    assert r.refcount(step=2) == 2
    assert (r.value("b0.life", 3), r.refcount(step=3)) == (LIVE, 1)
    assert r.value("b0.life") == RELEASED


def test_dma_buf_mmap_takes_a_file_reference(run: RunFn) -> None:
    r = run("system_heap", "v6.16+", ["export(b0)", "dma_buf_mmap(b0, pages=1, pgoff=0)",
                                      "put(b0)", "munmap(b0)"])
    assert r.violations == []
    assert r.value("b0.life", 2) == LIVE
    assert r.value("b0.life") == RELEASED


def test_mmap_needs_an_fd(run: RunFn) -> None:
    r = run("system_heap", "v6.16+", ["export(b0)", "mmap(b0, pages=1, pgoff=0)"])
    assert (r.only(-1).rule, r.only(-1).tag, r.errno()) == ("R5", "bad-fd", -EBADF)


def test_mmap_without_ops_mmap_is_einval(run: RunFn) -> None:
    heap = EXPORTERS["system_heap"]
    no_mmap = heap.derive("heap_no_mmap", "no mmap", ops=heap.ops - {"mmap"})
    r = run(no_mmap, "v6.16+", [*OWNED, "mmap(b0, pages=1, pgoff=0)",
                                "dma_buf_mmap(b0, pages=1, pgoff=0)"], scope="1x1")
    assert r.violations == []
    assert r.errnos[-2:] == [-EINVAL, -EINVAL]
    assert r.value("b0.vmas") == 0


def test_munmap_only_when_mapped(run: RunFn) -> None:
    r = run("system_heap", "v6.16+", OWNED)
    assert "munmap" not in {a.name for a in r.model.enabled(r.state, "misuse")}


@pytest.mark.parametrize("profile", ["v6.2-6.15", "v6.16+", "v7.x"])
def test_dma_buf_mmap_under_resv_from_6_2(run: RunFn, profile: str) -> None:
    r = run("system_heap", profile, [*OWNED, "lock(b0)", "dma_buf_mmap(b0, pages=1, pgoff=0)"])
    v = r.only(-1)
    assert (v.rule, v.tag, v.severity, v.party) == (
        "R30", "mmap-under-resv", Severity.LOCKDEP, Party.IMPORTER)
    assert r.value("b0.vmas") == 1


def test_dma_buf_mmap_under_resv_on_6_1(run: RunFn) -> None:
    r = run("system_heap", "v6.1", [*OWNED, "lock(b0)", "dma_buf_mmap(b0, pages=1, pgoff=0)"])
    assert r.violations == []


# ------------------------------------------------------------------ R27: llseek


@pytest.mark.parametrize("whence", ["SEEK_SET", "SEEK_CUR", "SEEK_END"])
@pytest.mark.parametrize("offset", [0, 1])
def test_llseek(run: RunFn, whence: str, offset: int) -> None:
    r = run("system_heap", "v6.16+", [*OWNED, f"llseek(b0, offset={offset}, whence={whence})"])
    if offset == 0 and whence in ("SEEK_SET", "SEEK_END"):
        assert r.violations == []
        assert r.errno() == 0
        # the new offset: the size in bytes (2 pages of 4096) from the end, 0 from the start
        assert r.ret() == (2 * 4096 if whence == "SEEK_END" else 0)
    else:
        v = r.only(-1)
        assert (v.rule, v.tag, v.severity, v.party) == (
            "R27", "llseek-whence", Severity.ERRNO, Party.IMPORTER)
        assert r.errno() == -EINVAL


@pytest.mark.parametrize("pages", [1, 3, 64])
def test_llseek_gives_the_scopes_size(pages: int) -> None:
    from model.exporters import SYSTEM_HEAP
    from model.machine import Model

    m = Model(SYSTEM_HEAP, profile="v6.16+", scope=f"1x1 with size={pages}")
    out = m.run(["export(b0)", "fd(b0)", "llseek(b0, offset=0, whence=SEEK_END)"])
    assert (out[-1].ret, out[-1].errno, out[-1].violations) == (pages * 4096, 0, ())


def test_llseek_needs_an_fd(run: RunFn) -> None:
    r = run("system_heap", "v6.16+", ["export(b0)", "llseek(b0, offset=0, whence=SEEK_END)"])
    assert (r.only(-1).tag, r.errno()) == ("bad-fd", -EBADF)


# ------------------------------------------------------------------ R23: SET_NAME


@pytest.mark.parametrize("profile", PROFILES)
def test_set_name(run: RunFn, profile: str) -> None:
    r = run("system_heap", profile, [*OWNED, "set_name(b0, length=32)", "set_name(b0, length=1)"])
    v = r.only(3)
    assert (v.rule, v.tag, v.severity, v.party) == (
        "R23", "name-too-long", Severity.ERRNO, Party.IMPORTER)
    assert r.errno(3) == -EINVAL
    assert r.at(4) == () and r.errno(4) == 0


@pytest.mark.parametrize(("length", "ok"), [(0, True), (1, True), (31, True), (32, False),
                                            (33, False), (4096, False)])
def test_set_name_lengths(run: RunFn, length: int, ok: bool) -> None:
    r = run("system_heap", "v6.1", [*OWNED, f"set_name(b0, length={length})"])
    assert r.errno() == (0 if ok else -EINVAL)


def test_set_name_with_a_bad_pointer_is_efault(run: RunFn) -> None:
    r = run("system_heap", "v6.1", [*OWNED, "set_name(b0, length=1, pointer=bad)"])
    v = r.only(-1)
    assert (v.rule, v.tag, v.severity, v.party) == ("R23", "name-fault", Severity.ERRNO,
                                                    Party.IMPORTER)
    assert r.errno() == -EFAULT
    assert r.state == r.outcomes[-2].state


def test_set_name_while_attached_is_allowed(run: RunFn) -> None:
    # the -EBUSY restriction was removed in 5.17 (R23)
    r = run("system_heap", "v6.1", [*OWNED, "attach(b0.a0, importer=static)",
                                    "set_name(b0, length=1)"])
    assert r.violations == []
    assert r.errno() == 0


# ------------------------------------------------------------------ R26: mmap's argument domain


def test_mmap_at_an_unaligned_offset_is_refused_before_the_exporter(run: RunFn) -> None:
    r = run("udmabuf", "v6.2-6.15", [*OWNED, "mmap(b0, pgoff=unaligned, pages=1)"])
    v = r.only(-1)
    assert (v.rule, v.tag, v.severity, v.party) == (
        "R26", "mmap-unaligned", Severity.ERRNO, Party.IMPORTER)
    assert r.errno() == -EINVAL
    assert r.state == r.outcomes[-2].state


@pytest.mark.parametrize(("pgoff", "ok"), [(0, True), (1, False)])
def test_a_partial_last_page_counts_as_a_whole_page(run: RunFn, pgoff: int, ok: bool) -> None:
    r = run("system_heap", "v6.16+", [*OWNED, f"mmap(b0, pgoff={pgoff}, pages={SIZE_PAGES}, "
                                              "tail=partial)"])
    assert r.errno() == (0 if ok else -EINVAL)
    assert r.value("b0.vmas") == (1 if ok else 0)
    assert ("mmap-bounds" in r.tags()) is not ok


@pytest.mark.parametrize(("exporter", "profile", "refused"), [
    ("udmabuf", "v6.2-6.15", True), ("gem_prime", "v6.1", True), ("ttm", "v6.16+", True),
    ("system_heap", "v6.16+", False)])
def test_a_private_writable_mapping_is_the_exporters_to_refuse(
        run: RunFn, exporter: str, profile: str, refused: bool) -> None:
    r = run(exporter, profile, [*OWNED, "mmap(b0, pgoff=0, pages=1, sharing=private)"])
    assert r.errno() == (-EINVAL if refused else 0)
    assert r.value("b0.vmas") == (0 if refused else 1)
    assert r.violations == []  # refusing is the exporter's right, not a finding


def test_a_bigger_buffer_from_the_scope_has_more_pages_to_map(run: RunFn) -> None:
    r = run("system_heap", "v6.16+", [*OWNED, "mmap(b0, pgoff=1, pages=3)",
                                      "mmap(b0, pgoff=2, pages=3)"],
            scope="1x1 with size=4, vmas=2")
    assert r.errno(3) == 0 and r.errno(4) == -EINVAL
    assert "pages 2..4 lie beyond its 4 page(s)" in r.only(-1).message
