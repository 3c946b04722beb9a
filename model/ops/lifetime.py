"""Export, fds and references, and release when the last reference goes (R1-R6)."""

from __future__ import annotations

from model.behaviour import MANDATORY_OPS, Call
from model.context import Ctx
from model.expr import Expr, Var, ite, total
from model.kernel import EBADF, EINVAL, EMFILE, ENOENT, ENOMEM
from model.layout import LIVE, RELEASED, UNEXPORTED, BufRef
from model.ops.common import (
    BUG,
    CORE,
    ERRNO,
    EXPORTER,
    IMPORTER,
    LOCKDEP,
    SILENT,
    WARN,
    WARN_ERRNO,
    buffer_alive,
    errno_check,
    exported,
    has_fd,
)
from model.ops.registry import DESCRIPTOR, op, product


def release(c: Ctx, b: BufRef) -> None:
    """dma_buf_file_release then dma_buf_release, run when the refcount reaches 0 (R6)."""
    with c.when(b.vmap_cnt > 0):
        c.report("R6", BUG, IMPORTER, (b.name,),
                 f"{b.name} released with a vmap outstanding: vmapping_counter was {{0}} "
                 "(BUG_ON in dma_buf_release)", b.vmap_cnt, tag="release-with-vmap")
    with c.when(b.cb_in | b.cb_out):
        c.report("R19", BUG, CORE, (b.name,),
                 f"{b.name} released with a poll callback still armed", tag="release-with-poll")
    with c.when(b.cpu > 0):
        c.report("R21", SILENT, IMPORTER, (b.name,),
                 f"{b.name} released with {{0}} begin_cpu_access bracket(s) never ended",
                 b.cpu, tag="cpu-access-unbalanced")
    with c.when(b.resv):
        c.report("R6", LOCKDEP, IMPORTER, (b.name,),
                 f"{b.name} released while its reservation lock is held (held lock freed)",
                 tag="release-with-resv")
    c.call("release", Call(b))
    for a in b.atts:
        with c.when(a.live):
            c.report("R6", WARN, IMPORTER, (b.name, a.name),
                     f"{b.name} released with {a.name} still attached; the attachment now "
                     "points at freed memory", tag="release-with-attachment")
    c.set(b.life, RELEASED)
    # a vmap outstanding stays as it was: the kernel stopped at the BUG_ON above
    for var in (b.resv, b.reserved, b.cpu, b.cpu_dir):
        c.set(var, 0)


def caller_keeps_reference(c: Ctx, b: BufRef) -> None:
    """Called before the caller gives up one of its own references: attachments do not
    hold the buffer, so an importer still attached must keep one (R8)."""
    own = c.own_refs(b)
    mine = c.frame.att if c.frame is not None else None
    for a in b.atts:
        if c.frame is not None and a is not mine:
            continue  # a routine answers for its own attachment
        if c.frame is None and a.o is not None:
            continue  # an attachment of driver code: its object holds the reference
        with c.when(a.live & own.eq(1)):
            c.report("R8", SILENT, IMPORTER, (b.name, a.name),
                     f"the caller gives up its last reference to {b.name} while {a.name} is "
                     "still attached: the attachment no longer keeps the buffer alive",
                     tag="attached-without-reference")


def drop(c: Ctx, b: BufRef, holder: Var) -> None:
    """Drop one reference held by ``holder``; release on the last one (R5, R6)."""
    c.dec(holder)
    with c.when(b.refcount.eq(0)):
        release(c, b)


def _unexported(c: Ctx, b: BufRef, **_: object) -> Expr:
    return b.life.eq(UNEXPORTED)



@op("export", actor="exporter", target="buffer", enabled=_unexported,
    kernel="dma_buf_export", rules=("R1", "R2", "R3", "R4"),
    params=lambda env: product(fault=("none", "module", "nomem")))
def export(c: Ctx, b: BufRef, fault: str) -> None:
    x = c.exporter
    missing = [m for m in MANDATORY_OPS if not x.has(m)] + ([] if x.priv else ["priv"])
    if missing:
        c.report("R1", WARN_ERRNO, EXPORTER, (b.name,),
                 f"dma_buf_export by {x.name} without {', '.join(missing)}", tag="export-ops")
        c.exit(-EINVAL)
        return
    if x.has("pin") != x.has("unpin"):
        c.report("R2", WARN_ERRNO, EXPORTER, (b.name,),
                 f"dma_buf_export by {x.name} with only one of pin/unpin", tag="export-pin-pair")
        c.exit(-EINVAL)
        return
    if c.profile.sgt_cache and x.cache_sgt_mapping and x.dynamic:
        c.report("R3", WARN_ERRNO, EXPORTER, (b.name,),
                 f"dma_buf_export by {x.name} with both cache_sgt_mapping and pin/unpin",
                 tag="export-cache-pin")
        c.exit(-EINVAL)
        return
    if fault == "module":
        c.exit(-ENOENT)  # try_module_get failed; ops->release is not called (R4)
        return
    if fault == "nomem":
        c.exit(-ENOMEM)  # file or allocation failure (R4)
        return
    c.set(b.life, LIVE)
    c.set(b.kref, 1)
    c.holds(b, "ref", 1)


@op("fd", actor="importer", target="buffer", enabled=exported, kernel="dma_buf_fd",
    rules=("R5",), params=lambda env: product(fault=("none", "emfile")), returns=DESCRIPTOR)
def fd(c: Ctx, b: BufRef, fault: str) -> None:
    """dma_buf_fd: the caller's reference becomes an open fd; returns the descriptor.

    Which number that is (the lowest free one) depends on every file the process has open,
    which the model does not track, so the model does not number descriptors: its result
    is 0, standing for "a descriptor" (a scenario writes ``-> ok``; the conformance
    harness takes any descriptor the kernel returns, >= 0, as agreeing with it)."""
    buffer_alive(c, b, "dma_buf_fd", own_reference=False)
    with c.when(c.own_refs(b).eq(0)):
        c.report("R5", SILENT, IMPORTER, (b.name,),
                 f"dma_buf_fd on {b.name} installs a reference the caller does not hold "
                 "(its own was already given away): refcount is {0}", b.refcount,
                 tag="fd-without-reference")
        c.exit(0)
    if fault == "emfile":
        c.exit(-EMFILE)  # no fd reserved; the caller still owns its reference
        return
    caller_keeps_reference(c, b)
    c.dec(b.kref)  # fd_install hands the caller's reference to the fd table
    c.holds(b, "ref", -1)
    c.inc(b.fds)


@op("get", actor="importer", target="buffer", enabled=exported, kernel="dma_buf_get",
    rules=("R5",), params=lambda env: product(file=("dmabuf", "other")))
def get(c: Ctx, b: BufRef, file: str = "dmabuf") -> None:
    """dma_buf_get(fd) of an fd of ``b`` (with none open: fget fails, -EBADF) or, with
    ``file=other``, of an open fd of another kind of file: is_dma_buf_file refuses it with
    -EINVAL and no reference is taken."""
    if file == "other":
        c.report("R5", ERRNO, IMPORTER, (b.name,),
                 f"dma_buf_get of an fd that is not a dma-buf where {b.name} was expected",
                 tag="not-a-dma-buf")
        c.exit(-EINVAL)
        return
    has_fd(c, b, "dma_buf_get")
    c.inc(b.kref)
    c.holds(b, "ref", 1)


@op("get_dma_buf", actor="importer", target="buffer", enabled=exported,
    kernel="get_dma_buf", rules=("R5",))
def get_dma_buf(c: Ctx, b: BufRef) -> None:
    buffer_alive(c, b, "get_dma_buf", own_reference=False)
    with c.when(c.own_refs(b).eq(0)):
        c.report("R5", SILENT, IMPORTER, (b.name,),
                 f"get_dma_buf on {b.name} by a caller holding no reference of its own: the "
                 "holders of the other {0} may drop them first", b.refcount,
                 tag="get-without-reference")
    c.inc(b.kref)
    c.holds(b, "ref", 1)


@op("put", actor="importer", target="buffer", enabled=exported, kernel="dma_buf_put",
    rules=("R5", "R6"))
def put(c: Ctx, b: BufRef) -> None:
    buffer_alive(c, b, "dma_buf_put", own_reference=False)
    with c.when(c.own_refs(b).eq(0)):
        c.report("R5", SILENT, IMPORTER, (b.name,),
                 f"dma_buf_put on {b.name} without a reference of the caller's own: it would "
                 "drop one held by an fd, a vma or a poll callback (refcount {0}, fds {1}); the "
                 "model leaves the count as it was",
                 b.refcount, b.fds, tag="put-without-reference")
        c.exit(0)
    caller_keeps_reference(c, b)
    c.holds(b, "ref", -1)
    drop(c, b, b.kref)


@op("close", actor="user", target="buffer", enabled=exported, kernel="close",
    rules=("R5", "R6"))
def close(c: Ctx, b: BufRef) -> None:
    errno_check(c, b.fds.eq(0), "R5", IMPORTER, (b.name,),
                f"close() of an fd of {b.name} that is not open", EBADF, tag="bad-fd")
    objects = [a.o for a in b.atts if a.o is not None]
    if objects:
        # with driver code holding the buffer, the release may come later, in the driver:
        # the process's own CPU-access brackets must be ended before its last fd goes
        theirs = b.cpu - total([ite(o.live, o.cpu, 0) for o in objects])
        with c.when(b.fds.eq(1) & (theirs > 0)):
            c.report("R21", SILENT, IMPORTER, (b.name,),
                     f"the last fd of {b.name} is closed with {{0}} DMA_BUF_IOCTL_SYNC "
                     "START bracket(s) of the process never ended", theirs,
                     tag="cpu-access-unbalanced")
    drop(c, b, b.fds)
