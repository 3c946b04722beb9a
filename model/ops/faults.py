"""Page faults on an mmap()ed buffer, and mremap growing the mapping (R26).

After mmap, the process's first touch of a page that is not mapped yet faults, and the mm
calls the ``fault`` member of the vm_operations_struct the exporter's mmap installed on the
vma (``on page_fault``) with ``vmf->pgoff``, the page's offset in the buffer
(``vma->vm_pgoff`` plus the page's index in the vma: linear_page_index). The handler must
check it against the buffer's page count and answer VM_FAULT_SIGBUS past the end
(udmabuf_vm_fault, cma_heap_vm_fault, drm_gem_shmem_fault, ttm_bo_vm_fault_reserved).

dma_buf_mmap_internal and dma_buf_mmap check the mapping against the buffer's size, so a
fault past the end can only come from a vma that grew afterwards: mremap(2) to a larger
size, which vma_to_resize refuses with -EFAULT for a vma with VM_DONTEXPAND or VM_PFNMAP.
So an exporter's mmap must set VM_DONTEXPAND (and VM_DONTDUMP), as drm_gem_mmap_obj does
and as remap_pfn_range does for a PFN mapping; the exporter's ``on mmap`` says so with
``dontexpand()``.
"""

from __future__ import annotations

from model.behaviour import Call
from model.context import Ctx
from model.kernel import EFAULT, VM_FAULT_SIGBUS, VM_FAULT_SIGSEGV
from model.layout import BufRef
from model.ops.common import ERRNO, EXPORTER, IMPORTER, SILENT
from model.ops.files import has_vma
from model.ops.registry import VALUE, Env, Params, op, product


def _faults(env: Env) -> list[Params]:
    # a page of the vma: its length is at most size_pages + 1 (mremap's largest size)
    return product(page=tuple(range(env.scope.size_pages + 1)))


@op("page_fault", actor="user", target="buffer", enabled=has_vma,
    kernel="handle_mm_fault", rules=("R26",), params=_faults, returns=VALUE,
    results={"SIGBUS": VM_FAULT_SIGBUS, "SIGSEGV": VM_FAULT_SIGSEGV})
def page_fault(c: Ctx, b: BufRef, page: int) -> None:
    """The process touches page ``page`` of the buffer's vma, counted from the vma's start.
    Returns 0 when a page is given, ``SIGBUS`` (VM_FAULT_SIGBUS) when the process gets
    SIGBUS, and ``SIGSEGV`` for a page past the vma's end, which no vma covers (the fault
    never reaches the buffer: lock_mm_and_find_vma finds no vma, bad_area).

    An exporter with no fault handler filled the whole vma at mmap (remap_pfn_range): a
    page of the buffer is there without a fault, and past the buffer's end nothing is, so
    do_fault, finding no ``->fault``, answers VM_FAULT_SIGBUS."""
    pgoff = b.vma_pgoff + page
    with c.when(pgoff >= b.vma_end):
        c.exit(VM_FAULT_SIGSEGV)
    pagecount = c.scope.size_pages
    past_end = pgoff >= pagecount
    if not c.exporter.has("page_fault"):
        with c.when(past_end):
            c.exit(VM_FAULT_SIGBUS)
        c.exit(0)
        return
    ret = c.call("page_fault", Call(b, pgoff=pgoff))
    with c.when(past_end & ret.ne(VM_FAULT_SIGBUS)):
        c.report("R26", SILENT, EXPORTER, (b.name,),
                 f"page fault at page {{0}} of {b.name}, past its {pagecount} page(s): the "
                 "exporter's fault handler gives a page beyond the buffer instead of "
                 "VM_FAULT_SIGBUS", pgoff, tag="fault-past-end")
    with c.when(~past_end & ret.eq(VM_FAULT_SIGBUS)):
        c.report("R26", SILENT, EXPORTER, (b.name,),
                 f"page fault at page {{0}} of {b.name}, inside its {pagecount} page(s): the "
                 "exporter's fault handler answers VM_FAULT_SIGBUS", pgoff,
                 tag="fault-sigbus")
    c.exit(ret)


def _sizes(env: Env) -> list[Params]:
    return product(pages=tuple(range(1, env.scope.size_pages + 2)))


@op("mremap", actor="user", target="buffer", enabled=has_vma, kernel="mremap",
    rules=("R26",), params=_sizes)
def mremap(c: Ctx, b: BufRef, pages: int) -> None:
    """mremap(2) of the buffer's vma to ``pages`` pages (MREMAP_MAYMOVE: where the vma
    cannot grow in place it moves; its offset in the buffer stays).

    Shrinking (or keeping the size) always succeeds. Growing a vma with VM_DONTEXPAND or
    VM_PFNMAP is -EFAULT (vma_to_resize); any other vma grows, and one that then reaches
    past the buffer's end is the exporter's finding: its mmap did not set VM_DONTEXPAND
    (drm_gem_mmap_obj WARNs on such a vma), and faults on the new pages reach its fault
    handler with a ``pgoff`` past the buffer."""
    end = b.vma_pgoff + pages
    growing = end > b.vma_end
    with c.when(growing & ~b.vma_grow):
        c.report("R26", ERRNO, IMPORTER, (b.name,),
                 f"mremap of {b.name}'s vma to {pages} page(s): the exporter marked the vma "
                 "VM_DONTEXPAND (or VM_PFNMAP) and it cannot grow", tag="mremap-dontexpand")
        c.exit(-EFAULT)
    with c.when(growing & (end > c.scope.size_pages)):
        c.report("R26", SILENT, EXPORTER, (b.name,),
                 f"mremap grows {b.name}'s vma to pages {{0}}..{{1}}, past its "
                 f"{c.scope.size_pages} page(s): the exporter's mmap did not set "
                 "VM_DONTEXPAND", b.vma_pgoff, end - 1, tag="mmap-expandable")
    c.set(b.vma_end, end)
