"""mmap, llseek and DMA_BUF_SET_NAME (R23, R26, R27)."""

from __future__ import annotations

from model.behaviour import Call
from model.context import Ctx
from model.expr import Expr
from model.kernel import (
    DMA_BUF_NAME_LEN,
    EFAULT,
    EINVAL,
    EOVERFLOW,
    PAGE_SIZE,
    SEEK_END,
    SEEK_SET,
    WHENCE,
)
from model.layout import LIVE, BufRef
from model.ops.common import ERRNO as _ERRNO
from model.ops.common import IMPORTER, LOCKDEP, buffer_alive, exported, has_fd
from model.ops.lifetime import drop
from model.ops.registry import VALUE, Env, Params, op, product

WRAP = "wrap"  # a pgoff so large that pgoff + pages overflows
UNALIGNED = "unaligned"  # an mmap(2) offset that is not a multiple of the page size


def _ranges(env: Env, wrap: bool) -> list[Params]:
    n = env.scope.size_pages
    out = product(pgoff=tuple(range(n + 1)), pages=tuple(range(1, n + 1)))
    if wrap:
        out.append({"pgoff": WRAP, "pages": 1})
        return out
    out += [
        {"pgoff": 0, "pages": 0},  # length 0
        {"pgoff": UNALIGNED, "pages": 1},  # an offset inside a page
        # a length that ends inside its last page: the mm rounds it up to whole pages, so
        # the last page counts against the buffer's end (in bounds, and one page past it)
        {"pgoff": 0, "pages": n, "tail": "partial"},
        {"pgoff": 1, "pages": n, "tail": "partial"},
        # MAP_PRIVATE|PROT_WRITE: a copy-on-write vma, which the exporter may refuse
        {"pgoff": 0, "pages": 1, "sharing": "private"},
    ]
    return out


def _map_area(c: Ctx, b: BufRef, pgoff: int | str, pages: int, what: str,
              shared: bool = True) -> None:
    if not c.exporter.has("mmap"):
        c.exit(-EINVAL)
        return
    if pgoff == WRAP:
        c.report("R26", _ERRNO, IMPORTER, (b.name,),
                 f"{what} of {b.name}: pgoff + pages overflows", tag="mmap-overflow")
        c.exit(-EOVERFLOW)
        return
    assert isinstance(pgoff, int)
    if pgoff + pages > c.scope.size_pages:
        c.report("R26", _ERRNO, IMPORTER, (b.name,),
                 f"{what} of {b.name}: pages {pgoff}..{pgoff + pages - 1} lie beyond its "
                 f"{c.scope.size_pages} page(s)", tag="mmap-bounds")
        c.exit(-EINVAL)
        return
    dontexpand = c.builder.local(f"{b.name}.vm_dontexpand", 0, 1)
    ret = c.call("mmap", Call(b, shared=shared, dontexpand=dontexpand))
    with c.when(ret.ne(0)):
        c.exit(ret)
    c.inc(b.vmas)  # the vma holds a reference on the file
    # the area the faults and mremap of model.ops.faults work on; the mm lets mremap grow a
    # vma unless its flags have VM_DONTEXPAND or VM_PFNMAP (vma_to_resize)
    c.set(b.vma_pgoff, pgoff)
    c.set(b.vma_end, pgoff + pages)
    c.set(b.vma_grow, 1 - dontexpand)


@op("mmap", actor="user", target="buffer", enabled=exported,
    kernel="dma_buf_mmap_internal", rules=("R26",), params=lambda env: _ranges(env, False))
def mmap(c: Ctx, b: BufRef, pgoff: int | str, pages: int, tail: str = "whole",
         sharing: str = "shared") -> None:
    """mmap(2) of ``pages`` pages from page ``pgoff``.

    The mm checks before dma-buf is asked: an offset that is not page aligned
    (``pgoff=unaligned``) is -EINVAL in the mmap syscall, a length of 0 is -EINVAL in
    do_mmap, and a length ending inside a page (``tail=partial``: ``pages - 1`` pages and
    one byte) is rounded up to ``pages`` whole pages, which dma_buf_mmap_internal then
    checks against the buffer's size. ``sharing=private`` is MAP_PRIVATE|PROT_WRITE: the
    exporter's mmap sees a vma without VM_SHARED (``shared`` is false in ``on mmap``)."""
    has_fd(c, b, "mmap()")
    if pgoff == UNALIGNED:
        c.report("R26", _ERRNO, IMPORTER, (b.name,),
                 f"mmap() of {b.name} at an offset that is not a multiple of the page size",
                 tag="mmap-unaligned")
        c.exit(-EINVAL)
        return
    if pages == 0:
        c.report("R26", _ERRNO, IMPORTER, (b.name,),
                 f"mmap() of {b.name} with length 0", tag="mmap-empty")
        c.exit(-EINVAL)
        return
    _map_area(c, b, pgoff, pages, "mmap()", shared=sharing == "shared")


@op("dma_buf_mmap", actor="importer", target="buffer", enabled=exported,
    kernel="dma_buf_mmap", rules=("R26", "R30"), params=lambda env: _ranges(env, True))
def dma_buf_mmap(c: Ctx, b: BufRef, pgoff: int | str, pages: int) -> None:
    buffer_alive(c, b, "dma_buf_mmap")
    if c.profile.locking_convention:
        with c.when(b.resv):
            c.report("R30", LOCKDEP, IMPORTER, (b.name,),
                     f"dma_buf_mmap of {b.name} while holding its reservation lock: mmap is "
                     "called unlocked and the exporter may take it", tag="mmap-under-resv")
    _map_area(c, b, pgoff, pages, "dma_buf_mmap")


def has_vma(c: Ctx, b: BufRef, **_: object) -> Expr:
    """A live buffer the process has mmap()ed (munmap, page faults, mremap)."""
    return b.life.eq(LIVE) & (b.vmas > 0)


@op("munmap", actor="user", target="buffer", enabled=has_vma, kernel="munmap",
    rules=("R26", "R6"))
def munmap(c: Ctx, b: BufRef) -> None:
    drop(c, b, b.vmas)
    with c.when(b.vmas.eq(0)):  # the last vma is gone: no area is left
        for var in (b.vma_pgoff, b.vma_end, b.vma_grow):
            c.set(var, 0)


@op("llseek", actor="user", target="buffer", enabled=exported, kernel="dma_buf_llseek",
    rules=("R27",), params=lambda env: product(whence=tuple(WHENCE), offset=(0, 1)),
    returns=VALUE)
def llseek(c: Ctx, b: BufRef, whence: str, offset: int) -> None:
    """lseek(2) of an fd of the buffer; returns the new offset: 0 for ``SEEK_SET``, the
    buffer's size in bytes for ``SEEK_END`` (the scope's ``size`` pages of
    ``PAGE_SIZE`` bytes: ``dmabuf->size``).

    dma_buf_llseek only lets a process discover the size: any other whence, or a non-zero
    offset, is -EINVAL (R27); the file position is not kept."""
    has_fd(c, b, "llseek()")
    if offset != 0 or WHENCE[whence] not in (SEEK_SET, SEEK_END):
        c.report("R27", _ERRNO, IMPORTER, (b.name,),
                 f"llseek() of {b.name} with {whence} and offset {offset}: only SEEK_SET or "
                 "SEEK_END with offset 0 are allowed", tag="llseek-whence")
        c.exit(-EINVAL)
        return
    c.exit(c.scope.size_pages * PAGE_SIZE if WHENCE[whence] == SEEK_END else 0)


# dma_buf_set_name copies with strndup_user(buf, DMA_BUF_NAME_LEN): strnlen_user counts the
# terminating NUL, so a name of up to DMA_BUF_NAME_LEN - 1 characters is taken and one of
# DMA_BUF_NAME_LEN or more is -EINVAL (strnlen_user stops looking after DMA_BUF_NAME_LEN
# bytes, however long the string). The lengths: empty, one, each side of the boundary, one
# past it, and a page.
NAME_LENGTHS = (0, 1, DMA_BUF_NAME_LEN - 1, DMA_BUF_NAME_LEN, DMA_BUF_NAME_LEN + 1, 4096)


def _name_params(env: Env) -> list[Params]:
    lengths = product(length=NAME_LENGTHS, pointer=("valid",))
    return [*lengths, {"length": 1, "pointer": "bad"}]


@op("set_name", actor="user", target="buffer", enabled=exported,
    kernel="dma_buf_set_name", rules=("R23",), params=_name_params)
def set_name(c: Ctx, b: BufRef, length: int, pointer: str) -> None:
    """``length`` characters from a readable buffer (``pointer=valid``) or from an address
    the process cannot read (``pointer=bad``: strndup_user fails with -EFAULT)."""
    has_fd(c, b, "DMA_BUF_SET_NAME")
    if pointer == "bad":
        c.report("R23", _ERRNO, IMPORTER, (b.name,),
                 f"DMA_BUF_SET_NAME on {b.name} with a name the kernel cannot read",
                 tag="name-fault")
        c.exit(-EFAULT)
        return
    if length >= DMA_BUF_NAME_LEN:
        c.report("R23", _ERRNO, IMPORTER, (b.name,),
                 f"DMA_BUF_SET_NAME on {b.name} with a {length}-character name; at most "
                 f"{DMA_BUF_NAME_LEN - 1} fit", tag="name-too-long")
        c.exit(-EINVAL)
