"""Page faults and mremap on an mmap()ed buffer (model/ops/faults.py): R26."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from checker.dsl.ast import ExporterDecl
from checker.dsl.lower import lower_exporter
from checker.dsl.parser import parse
from model import EXPORTERS, PROFILES, Exporter, Party, Severity
from model.kernel import EFAULT, EINVAL, VM_FAULT_SIGBUS, VM_FAULT_SIGSEGV
from model.mutants import MUTANTS

if TYPE_CHECKING:
    from conftest import RunFn

FD = ["export(b0)", "fd(b0)", "get(b0)"]  # an fd, and a reference of the caller's own
SIZE_PAGES = 2  # every buffer's size in the default scope


def _exporter(body: str, ops: str = "mmap, page_fault") -> Exporter:
    text = (f'exporter fx "x" {{\n  ops map_dma_buf, unmap_dma_buf, release, {ops}\n'
            f"{body}\n}}\n")
    (decl,) = parse(text, "fx.dmabuf").items
    assert isinstance(decl, ExporterDecl)
    return lower_exporter(decl, {"fx.dmabuf": text})


CHECKED = _exporter("""
  on page_fault {
    if pgoff >= pagecount {
      return SIGBUS
    }
  }""")  # expandable (no dontexpand()), with its bound check
UNCHECKED = _exporter("  on page_fault {\n  }")


# ------------------------------------------------------------------ the area mmap records


@pytest.mark.parametrize("call", ["mmap", "dma_buf_mmap"])
@pytest.mark.parametrize(("pgoff", "pages"), [(0, 1), (0, 2), (1, 1)])
def test_mmap_records_the_area(run: RunFn, call: str, pgoff: int, pages: int) -> None:
    r = run("udmabuf", "v6.16+", [*FD, f"{call}(b0, pages={pages}, pgoff={pgoff})"])
    assert r.violations == []
    assert (r.value("b0.vma_pgoff"), r.value("b0.vma_end"), r.value("b0.vma_grow")) == (
        pgoff, pgoff + pages, 0)


def test_a_refused_mmap_records_nothing(run: RunFn) -> None:
    r = run("udmabuf", "v6.16+", [*FD, "mmap(b0, pages=1, pgoff=0, sharing=private)"])
    assert r.errno() == -EINVAL
    assert (r.value("b0.vma_end"), r.value("b0.vma_grow")) == (0, 0)


def test_without_dontexpand_the_vma_may_grow(run: RunFn) -> None:
    r = run(CHECKED, "v6.16+", [*FD, "mmap(b0, pages=1, pgoff=1)"])
    assert (r.value("b0.vma_pgoff"), r.value("b0.vma_end"), r.value("b0.vma_grow")) == (1, 2, 1)


def test_munmap_of_the_last_vma_clears_the_area(run: RunFn) -> None:
    r = run(CHECKED, "v6.16+", [*FD, "mmap(b0, pages=1, pgoff=1)", "munmap(b0)"])
    assert [r.value(f"b0.{f}") for f in ("vma_pgoff", "vma_end", "vma_grow")] == [0, 0, 0]


@pytest.mark.parametrize("exporter", ["system_heap", "udmabuf", "gem_prime", "ttm"])
def test_every_shipped_exporter_sets_dontexpand(run: RunFn, exporter: str) -> None:
    r = run(exporter, "v6.16+", [*FD, "mmap(b0, pages=2, pgoff=0)"])
    assert r.violations == [] and r.value("b0.vma_grow") == 0


# ------------------------------------------------------------------ page_fault


@pytest.mark.parametrize("exporter", ["system_heap", "udmabuf", "gem_prime", "ttm"])
@pytest.mark.parametrize("profile", PROFILES)
def test_faults_inside_the_buffer_get_their_page(run: RunFn, exporter: str,
                                                 profile: str) -> None:
    r = run(exporter, profile, [*FD, "mmap(b0, pages=2, pgoff=0)", "page_fault(b0, page=0)",
                                "page_fault(b0, page=1)"])
    assert r.violations == []
    assert [o.ret for o in r.outcomes[-2:]] == [0, 0]


def test_a_fault_past_the_vma_is_sigsegv_and_reaches_no_handler(run: RunFn) -> None:
    r = run(UNCHECKED, "v6.16+", [*FD, "mmap(b0, pages=1, pgoff=0)", "page_fault(b0, page=1)"])
    assert r.violations == []
    assert r.ret() == VM_FAULT_SIGSEGV


def test_page_fault_needs_a_vma(run: RunFn) -> None:
    r = run("udmabuf", "v6.16+", FD)
    assert "page_fault" not in {a.name for a in r.model.enabled(r.state, "misuse")}


def test_the_fault_handler_is_given_the_page_offset_in_the_buffer(run: RunFn) -> None:
    # a vma from page 1 of two: its page 0 is the buffer's page 1 (inside), its page 1 after
    # growing is the buffer's page 2 (past the end)
    r = run(CHECKED, "v6.16+", [*FD, "mmap(b0, pages=1, pgoff=1)", "page_fault(b0, page=0)",
                                "mremap(b0, pages=2)", "page_fault(b0, page=1)"])
    assert (r.ret(3), r.at(3)) == (0, ())
    assert (r.ret(), r.at(-1)) == (VM_FAULT_SIGBUS, ())


def test_a_fault_past_the_end_that_the_handler_serves(run: RunFn) -> None:
    r = run(UNCHECKED, "v6.16+", [*FD, "mmap(b0, pages=2, pgoff=0)", "mremap(b0, pages=3)",
                                  "page_fault(b0, page=2)"])
    v = r.only(-1)
    assert (v.rule, v.tag, v.severity, v.party) == (
        "R26", "fault-past-end", Severity.SILENT, Party.EXPORTER)
    assert "page 2" in v.message and r.ret() == 0


def test_the_cma_heap_off_by_one_serves_the_page_at_the_page_count(run: RunFn) -> None:
    x = MUTANTS["cma_heap_fault_off_by_one"].exporter
    r = run(x, "v6.16+", [*FD, "mmap(b0, pages=2, pgoff=0)", "mremap(b0, pages=3)",
                          "page_fault(b0, page=2)"])
    assert r.only(-1).tag == "fault-past-end"
    # one further page is refused: only the page at pagecount slips through
    r = run(x, "v6.16+", [*FD, "mmap(b0, pages=1, pgoff=1)", "mremap(b0, pages=3)",
                          "page_fault(b0, page=2)"])
    assert (r.at(-1), r.ret()) == ((), VM_FAULT_SIGBUS)


def test_sigbus_inside_the_buffer_is_the_exporters_bug(run: RunFn) -> None:
    x = _exporter("  on page_fault {\n    return SIGBUS\n  }")
    r = run(x, "v6.16+", [*FD, "mmap(b0, pages=1, pgoff=0)", "page_fault(b0, page=0)"])
    v = r.only(-1)
    assert (v.rule, v.tag, v.severity, v.party) == (
        "R26", "fault-sigbus", Severity.SILENT, Party.EXPORTER)
    assert r.ret() == VM_FAULT_SIGBUS


def test_without_a_fault_handler_the_mm_answers_sigbus_past_the_end(run: RunFn) -> None:
    # an exporter whose mmap fills the vma at once and installs no fault handler, but leaves
    # the vma expandable: the grown pages have nothing behind them
    x = _exporter("", ops="mmap")
    r = run(x, "v6.16+", [*FD, "mmap(b0, pages=2, pgoff=0)", "page_fault(b0, page=1)",
                          "mremap(b0, pages=3)", "page_fault(b0, page=2)"])
    assert r.ret(3) == 0
    assert (r.at(-1), r.ret()) == ((), VM_FAULT_SIGBUS)


# ------------------------------------------------------------------ mremap


@pytest.mark.parametrize("exporter", ["system_heap", "udmabuf", "gem_prime", "ttm"])
def test_mremap_cannot_grow_a_dontexpand_vma(run: RunFn, exporter: str) -> None:
    r = run(exporter, "v6.16+", [*FD, "mmap(b0, pages=1, pgoff=0)", "mremap(b0, pages=2)"])
    v = r.only(-1)
    assert (v.rule, v.tag, v.severity, v.party) == (
        "R26", "mremap-dontexpand", Severity.ERRNO, Party.IMPORTER)
    assert r.errno() == -EFAULT
    assert r.value("b0.vma_end") == 1


@pytest.mark.parametrize("pages", [1, 2])
def test_mremap_may_shrink_or_keep_any_vma(run: RunFn, pages: int) -> None:
    r = run("system_heap", "v6.16+", [*FD, "mmap(b0, pages=2, pgoff=0)",
                                       f"mremap(b0, pages={pages})"])
    assert (r.violations, r.errno(), r.value("b0.vma_end")) == ([], 0, pages)


def test_growing_inside_the_buffer_is_no_finding(run: RunFn) -> None:
    r = run(CHECKED, "v6.16+", [*FD, "mmap(b0, pages=1, pgoff=0)", "mremap(b0, pages=2)"])
    assert (r.violations, r.value("b0.vma_end")) == ([], 2)


def test_growing_past_the_buffer_is_the_exporters_finding(run: RunFn) -> None:
    r = run(CHECKED, "v6.16+", [*FD, "mmap(b0, pages=2, pgoff=0)", "mremap(b0, pages=3)"])
    v = r.only(-1)
    assert (v.rule, v.tag, v.severity, v.party) == (
        "R26", "mmap-expandable", Severity.SILENT, Party.EXPORTER)
    assert "pages 0..2" in v.message
    assert (r.errno(), r.value("b0.vma_end")) == (0, 3)


def test_mremap_needs_a_vma(run: RunFn) -> None:
    r = run("udmabuf", "v6.16+", [*FD, "mmap(b0, pages=1, pgoff=0)", "munmap(b0)"])
    assert "mremap" not in {a.name for a in r.model.enabled(r.state, "misuse")}


def test_contract_mode_takes_no_refused_mremap(run: RunFn) -> None:
    r = run("udmabuf", "v6.16+", [*FD, "mmap(b0, pages=1, pgoff=0)"])
    legal = {str(a) for a in r.model.enabled(r.state, "contract") if a.name == "mremap"}
    assert legal == {"mremap(b0, pages=1)"}


# ------------------------------------------------------------------ the shipped exporters


def test_the_shipped_fault_handlers_check_the_page_count() -> None:
    for name in ("udmabuf", "gem_prime", "ttm"):
        assert EXPORTERS[name].has("page_fault"), name
    assert not EXPORTERS["system_heap"].has("page_fault")
