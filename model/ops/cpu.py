"""CPU access brackets, the SYNC ioctl, poll, the resv lock, fences and sync files
(R19-R22, R24, R30)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from model.behaviour import Call
from model.context import Ctx
from model.expr import BOOL, Expr, ExprLike, Var, lift
from model.kernel import (
    DIRECTION_NAMES,
    DIRECTIONS,
    DMA_BIDIRECTIONAL,
    DMA_BUF_SYNC_END,
    DMA_BUF_SYNC_READ,
    DMA_BUF_SYNC_RW,
    DMA_BUF_SYNC_VALID_FLAGS_MASK,
    DMA_BUF_SYNC_WRITE,
    DMA_FROM_DEVICE,
    DMA_TO_DEVICE,
    EFAULT,
    EINTR,
    EINVAL,
    ENOMEM,
    ERESTARTSYS,
    POLLIN,
    POLLNVAL,
    POLLOUT,
    REVENTS,
    SYNC_FILE_FLAGS_TOP_BIT,
    SYNC_FLAGS_TOP_BIT,
    USAGES,
)
from model.layout import LIVE, UNEXPORTED, AttRef, BufRef
from model.ops.common import (
    BUG,
    ERRNO,
    EXPORTER,
    IMPORTER,
    LOCKDEP,
    SILENT,
    WARN,
    buffer_alive,
    exported,
    has_fd,
    must_hold,
)
from model.ops.lifetime import drop
from model.ops.registry import VALUE, Env, Params, faults, op, product

WRITE_SET = ("KERNEL", "WRITE")  # what readers wait for: dma_resv_usage_rw(false)
READ_SET = ("KERNEL", "WRITE", "READ")  # what writers wait for: dma_resv_usage_rw(true)



def _user_can_enter(c: Ctx, b: BufRef, **_: object) -> Expr:
    """A process's ioctl that takes resv waits while another context holds it."""
    return b.life.ne(UNEXPORTED) & ~b.resv



def begin_cpu_access(c: Ctx, b: BufRef, d: int, kernel_caller: bool) -> None:
    """dma_buf_begin_cpu_access: the exporter's callback, then a wait on the fences the
    direction conflicts with (R21)."""
    if kernel_caller:
        buffer_alive(c, b, "dma_buf_begin_cpu_access")
        with c.when(b.resv):
            c.report("R21", LOCKDEP, IMPORTER, (b.name,),
                     f"dma_buf_begin_cpu_access on {b.name} while holding its reservation "
                     "lock (might_lock)", tag="cpu-access-under-resv")
    bracket = open_bracket(c, b, d, begin=True)
    try:
        ret = c.call("begin_cpu_access", Call(b, dir=d))
    finally:
        c.cpu_bracket = None
    with c.when(ret.ne(0)):
        c.exit(ret)
    check_synced(c, bracket)
    write = d in (DMA_BIDIRECTIONAL, DMA_TO_DEVICE)
    waited = READ_SET if write else WRITE_SET
    with c.when(b.fence_set(waited)):
        if c.failing("intr"):
            c.exit(-ERESTARTSYS)  # the exporter's begin already ran; the caller restarts
        fences_signalled(c, b, waited)
    c.inc(b.cpu)
    c.holds(b, "cpu", 1)
    c.set(b.cpu_dir, d)


def end_cpu_access(c: Ctx, b: BufRef, d: int, kernel_caller: bool) -> None:
    """dma_buf_end_cpu_access: no wait; the core keeps no bracket state (R20, R21), the
    model keeps one to find unbalanced brackets."""
    if kernel_caller:
        buffer_alive(c, b, "dma_buf_end_cpu_access")
        with c.when(b.resv):
            c.report("R21", LOCKDEP, IMPORTER, (b.name,),
                     f"dma_buf_end_cpu_access on {b.name} while holding its reservation lock "
                     "(might_lock)", tag="cpu-access-under-resv")
    with c.when(b.cpu.eq(0)):
        # R20: "END without START ... accepted and passed to the exporter"
        c.report("R20", SILENT, IMPORTER, (b.name,),
                 f"end_cpu_access on {b.name} without a begin_cpu_access: the exporter syncs "
                 "for the device what was never synced for the CPU", tag="end-without-begin")
    with c.otherwise():
        with c.when(b.cpu_dir.ne(d)):
            c.report("R20", SILENT, IMPORTER, (b.name,),
                     f"end_cpu_access on {b.name} with {DIRECTION_NAMES[d]}, begun with "
                     "direction code {0}", b.cpu_dir, tag="cpu-access-direction")
        c.dec(b.cpu)
        c.holds(b, "cpu", -1)
    # dma_buf_end_cpu_access returns what ops->end_cpu_access returns (R20: the exporter's
    # errors reach userspace)
    bracket = open_bracket(c, b, d, begin=False)
    try:
        ret = c.call("end_cpu_access", Call(b, dir=d))
    finally:
        c.cpu_bracket = None
    with c.when(ret.ne(0)):
        c.exit(ret)
    check_synced(c, bracket)


@dataclass(frozen=True)
class CpuBracket:
    """The exporter callback of one begin (``begin``) or end_cpu_access of ``buf`` with
    direction ``dir``, while it is built: ``synced`` holds, per attachment name (and the
    buffer's name for the exporter's own device mapping of all its pages), a local set once
    the callback has synced that mapping the way the bracket needs."""

    buf: BufRef
    dir: int
    begin: bool
    synced: Mapping[str, Var]


def open_bracket(c: Ctx, b: BufRef, d: int, begin: bool) -> CpuBracket:
    """The bracket the exporter's begin (end)_cpu_access callback syncs into."""
    what = "begin" if begin else "end"
    names = (b.name, *(a.name for a in b.atts))
    bracket = CpuBracket(b, d, begin, {
        n: c.builder.local(f"{what}_cpu_access.synced.{n}", 0, 1, BOOL) for n in names})
    c.cpu_bracket = bracket
    return bracket


def cpu_sync(c: Ctx, b: BufRef, a: AttRef | None, d: ExprLike, for_cpu: bool) -> None:
    """dma_sync_sgtable_for_cpu (``for_cpu``) or _for_device of attachment ``a``'s
    sg_table with direction ``d``, or, with ``a`` None, of the exporter's own device
    mapping of all the buffer's pages (udmabuf's misc device: dma_sync_sg_for_cpu). The
    exporter's begin_cpu_access moves the mappings into the CPU domain, its end_cpu_access
    back to the device, with the caller's direction (R21)."""
    bracket = c.cpu_bracket
    if bracket is None or bracket.buf is not b:
        raise RuntimeError("sync_for_cpu/sync_for_device outside the exporter's "
                           "begin/end_cpu_access")
    callback = "begin_cpu_access" if bracket.begin else "end_cpu_access"
    way = "CPU" if for_cpu else "device"
    target = f"{a.name}'s sg_table" if a is not None else f"its own mapping of {b.name}"
    objects = (b.name,) if a is None else (b.name, a.name)
    if for_cpu != bracket.begin:
        need = "CPU" if bracket.begin else "device"
        harm = ("the CPU reads stale cache lines" if bracket.begin
                else "the device misses what the CPU wrote")
        c.report("R21", SILENT, EXPORTER, objects,
                 f"the exporter's {callback} of {b.name} syncs {target} for the {way}: "
                 f"{callback} hands the buffer to the {need}, so {harm}",
                 tag="cpu-sync-wrong-way")
        return
    if a is not None:
        with c.when(~(a.live & (a.maps > 0))):
            c.report("R21", WARN, EXPORTER, objects,
                     f"the exporter's {callback} of {b.name} syncs {a.name}'s sg_table for "
                     f"the {way}, which holds no DMA mapping (DMA-API debug: a sync of "
                     "memory the device never mapped)", tag="cpu-sync-unmapped")
    sd = lift(d)
    with c.when(sd.ne(bracket.dir) & sd.ne(DMA_BIDIRECTIONAL)):
        c.report("R21", SILENT, EXPORTER, objects,
                 f"the exporter's {callback} of {b.name} syncs {target} for the {way} with "
                 f"direction code {{0}}, but the caller asked for "
                 f"{DIRECTION_NAMES[bracket.dir]}", sd, tag="cpu-sync-direction")
    c.set(bracket.synced[a.name if a is not None else b.name], 1)


def check_synced(c: Ctx, bracket: CpuBracket) -> None:
    """After the exporter's callback succeeded: every attachment with a live DMA mapping
    was synced for the CPU (begin) or the device (end), directly or through the exporter's
    own mapping of all the pages; nothing is owed by an exporter whose memory is
    CPU-coherent, nor by one without the callback (it is optional in dma_buf_ops: leaving
    it out says that CPU access needs no cache maintenance) (R21)."""
    callback = "begin_cpu_access" if bracket.begin else "end_cpu_access"
    if c.exporter.cpu_coherent or not c.exporter.has(callback):
        return
    b = bracket.buf
    way = "CPU" if bracket.begin else "device"
    tag = "begin-cpu-not-synced" if bracket.begin else "end-cpu-not-synced"
    for a in b.atts:
        with c.when(a.live & (a.maps > 0) & ~bracket.synced[a.name]
                    & ~bracket.synced[b.name]):
            c.report("R21", SILENT, EXPORTER, (b.name, a.name),
                     f"the exporter's {callback} of {b.name} with "
                     f"{DIRECTION_NAMES[bracket.dir]} leaves {a.name}'s DMA mapping unsynced "
                     f"for the {way} (dma_sync_sgtable_for_{way.lower()})", tag=tag)


_CPU_DIRS = ("BIDIRECTIONAL", "TO_DEVICE", "FROM_DEVICE")


def _begin_params(env: Env) -> list[Params]:
    return [{**p, **f} for p in product(dir=_CPU_DIRS)
            for f in faults(env, "begin_cpu_access", "intr")]


@op("begin_cpu_access", actor="importer", target="buffer", enabled=exported,
    kernel="dma_buf_begin_cpu_access", rules=("R21",), params=_begin_params)
def begin_cpu_access_op(c: Ctx, b: BufRef, dir: str, fault: str) -> None:
    begin_cpu_access(c, b, DIRECTIONS[dir], kernel_caller=True)


@op("end_cpu_access", actor="importer", target="buffer", enabled=exported,
    kernel="dma_buf_end_cpu_access", rules=("R21", "R20"),
    params=lambda env: product(dir=_CPU_DIRS))
def end_cpu_access_op(c: Ctx, b: BufRef, dir: str) -> None:
    end_cpu_access(c, b, DIRECTIONS[dir], kernel_caller=True)


# dma_buf_ioctl refuses flags & ~DMA_BUF_SYNC_VALID_FLAGS_MASK, then flags whose RW part is
# 0; every flag value falls in one class of those two tests and the RW/END bits, so these
# stand for all 2^64: every combination of the mask's bits, the lowest bit past it alone
# (8) and with READ (9: only the mask test refuses it), and the top bit of the __u64 with
# READ (a mask test narrowed to 32 bits would let it through)
SYNC_FLAGS = (*range(8), 8, 9, SYNC_FLAGS_TOP_BIT | DMA_BUF_SYNC_READ)


def _sync_params(env: Env) -> list[Params]:
    out = [{"flags": f, **x} for f in SYNC_FLAGS for x in faults(env, "begin_cpu_access")]
    # struct dma_buf_sync at an address the process cannot read: copy_from_user fails
    return [*out, {"flags": DMA_BUF_SYNC_READ, "fault": "none", "pointer": "bad"}]


@op("sync", actor="user", target="buffer", enabled=_user_can_enter,
    kernel="dma_buf_ioctl(DMA_BUF_IOCTL_SYNC)", rules=("R20",), params=_sync_params)
def sync(c: Ctx, b: BufRef, flags: int, fault: str, pointer: str = "valid") -> None:
    """``flags`` as struct dma_buf_sync holds them; ``pointer=bad``: the struct is at an
    address the process cannot read (copy_from_user fails with -EFAULT before the flags are
    looked at)."""
    has_fd(c, b, "DMA_BUF_IOCTL_SYNC")
    if pointer == "bad":
        c.report("R20", ERRNO, IMPORTER, (b.name,),
                 f"DMA_BUF_IOCTL_SYNC on {b.name} with a struct dma_buf_sync the kernel "
                 "cannot read", tag="sync-fault")
        c.exit(-EFAULT)
        return
    if flags & ~DMA_BUF_SYNC_VALID_FLAGS_MASK or not flags & DMA_BUF_SYNC_RW:
        c.report("R20", ERRNO, IMPORTER, (b.name,),
                 f"DMA_BUF_IOCTL_SYNC on {b.name} with flags {flags:#x}: valid are READ, WRITE "
                 "or both, optionally with END", tag="sync-flags")
        c.exit(-EINVAL)
        return
    rw = flags & DMA_BUF_SYNC_RW
    d = {DMA_BUF_SYNC_READ: DMA_FROM_DEVICE, DMA_BUF_SYNC_WRITE: DMA_TO_DEVICE}.get(
        rw, DMA_BIDIRECTIONAL)
    if flags & DMA_BUF_SYNC_END:
        end_cpu_access(c, b, d, kernel_caller=False)
    else:
        begin_cpu_access(c, b, d, kernel_caller=False)


@op("poll", actor="user", target="buffer", enabled=_user_can_enter, kernel="dma_buf_poll",
    rules=("R19",), params=lambda env: product(events=("EPOLLIN", "EPOLLOUT")),
    returns=VALUE, results=REVENTS)
def poll(c: Ctx, b: BufRef, events: str) -> None:
    """poll(2) of an fd of the buffer for ``events`` with timeout 0; returns revents:
    ``POLLIN`` (``POLLOUT``) when the buffer is ready, 0 when it is not, ``POLLNVAL`` when
    no fd is open.

    EPOLLIN waits for writers (KERNEL and WRITE fences), EPOLLOUT for readers and writers
    (dma_buf_poll_add_cb over dma_resv_usage_rw). The buffer is ready when no such fence is
    pending and the direction's callback is not armed. A pending fence arms the callback,
    which holds a file reference until the fence signals (R19); while it is armed, a poll
    of that direction reports nothing and arms nothing. poll(2) reports an fd that is not
    open as POLLNVAL in revents (the call returns 1, never an errno): the bad fd is still
    the process's mistake (R5 bad-fd)."""
    with c.when(b.fds.eq(0)):
        c.report("R5", ERRNO, IMPORTER, (b.name,),
                 f"poll() with no open fd of {b.name}: revents is POLLNVAL", tag="bad-fd")
        c.exit(POLLNVAL)
    ready, waited, cb = ((POLLIN, WRITE_SET, b.cb_in) if events == "EPOLLIN"
                         else (POLLOUT, READ_SET, b.cb_out))
    with c.when(cb):
        c.exit(0)  # dcb->active: this direction is already waiting
    with c.when(b.fence_set(waited)):
        c.set(cb, 1)
        c.exit(0)
    c.exit(ready)


@op("lock", actor="importer", target="buffer", enabled=exported, kernel="dma_resv_lock",
    rules=("R24",), params=lambda env: product(fault=("none", "intr")))
def lock(c: Ctx, b: BufRef, fault: str) -> None:
    buffer_alive(c, b, "dma_resv_lock")
    with c.when(b.resv):
        c.report("R24", LOCKDEP, IMPORTER, (b.name,),
                 f"dma_resv_lock of {b.name}, already held by the caller: recursive locking "
                 "deadlocks", tag="resv-recursive")
        c.exit(-EINTR)
    if fault == "intr":
        c.exit(-EINTR)  # dma_resv_lock_interruptible: a signal; the lock is NOT held
        return
    c.set(b.resv, 1)
    c.set(b.reserved, 0)


@op("unlock", actor="importer", target="buffer", enabled=exported, kernel="dma_resv_unlock",
    rules=("R24",))
def unlock(c: Ctx, b: BufRef) -> None:
    buffer_alive(c, b, "dma_resv_unlock")
    with c.when(~b.resv):
        c.report("R24", LOCKDEP, IMPORTER, (b.name,),
                 f"dma_resv_unlock of {b.name}, which the caller does not hold",
                 tag="resv-unlock-unheld")
        c.exit(0)
    c.set(b.resv, 0)
    c.set(b.reserved, 0)  # with CONFIG_DEBUG_MUTEXES the reservation is forgotten


@op("reserve_fences", actor="importer", target="buffer", enabled=exported,
    kernel="dma_resv_reserve_fences", rules=("R24",),
    params=lambda env: product(fault=("none", "nomem")))
def reserve_fences(c: Ctx, b: BufRef, fault: str) -> None:
    buffer_alive(c, b, "dma_resv_reserve_fences")
    must_hold(c, b, "R24", IMPORTER, f"dma_resv_reserve_fences on {b.name}",
              tag="reserve-without-resv")
    if fault == "nomem":
        c.exit(-ENOMEM)
        return
    c.inc(b.reserved)


@op("add_fence", actor="importer", target="buffer", enabled=exported,
    kernel="dma_resv_add_fence", rules=("R24",), params=lambda env: product(usage=USAGES))
def add_fence(c: Ctx, b: BufRef, usage: str) -> None:
    buffer_alive(c, b, "dma_resv_add_fence")
    must_hold(c, b, "R24", IMPORTER, f"dma_resv_add_fence on {b.name}",
              tag="add-fence-without-resv")
    with c.when(b.reserved.eq(0)):
        c.report("R24", BUG, IMPORTER, (b.name,),
                 f"dma_resv_add_fence on {b.name} with no slot reserved since the lock was "
                 "taken (BUG_ON num_fences >= max_fences)", tag="add-fence-unreserved")
        c.exit(0)
    c.dec(b.reserved)
    c.set(b.fences[usage], 1)


def _pending(c: Ctx, b: BufRef, usage: str, **_: object) -> Expr:
    return b.life.eq(LIVE) & b.fences[usage]


def fences_signalled(c: Ctx, b: BufRef, usages: tuple[str, ...]) -> None:
    """The fences of ``usages`` have signalled (the device finished, or a wait on them
    completed): poll callbacks armed on them fire and drop their file reference, which may
    be the last one (R19)."""
    for u in usages:
        c.set(b.fences[u], 0)
    for cb, waited in ((b.cb_in, WRITE_SET), (b.cb_out, READ_SET)):
        if set(usages) & set(waited):
            with c.when(cb):
                drop(c, b, cb)


@op("signal", actor="device", target="buffer", enabled=_pending,
    kernel="dma_fence_signal", rules=("R19", "R24"),
    params=lambda env: product(usage=USAGES))
def signal(c: Ctx, b: BufRef, usage: str) -> None:
    """The device finishes the work a fence stands for."""
    fences_signalled(c, b, (usage,))


SYNC_FILE_FENCES = ("pending", "signalled")  # the state of an imported sync file's fence


# dma_buf_export_sync_file and dma_buf_import_sync_file refuse flags & ~DMA_BUF_SYNC_RW,
# then flags without READ or WRITE: 0..3 (each RW combination), END alone (4) and with
# READ (5: valid for the SYNC ioctl, refused here by the mask test alone), and the top bit
# of the __u32 with READ
SYNC_FILE_FLAGS = (0, 1, 2, 3, 4, 5, SYNC_FILE_FLAGS_TOP_BIT | DMA_BUF_SYNC_READ)


def _sync_file_params(env: Env) -> list[Params]:
    return product(flags=SYNC_FILE_FLAGS)


def _sync_file_flags(c: Ctx, b: BufRef, flags: int, what: str) -> bool:
    if flags & ~DMA_BUF_SYNC_RW or not flags & DMA_BUF_SYNC_RW:
        c.report("R22", ERRNO, IMPORTER, (b.name,),
                 f"{what} on {b.name} with flags {flags:#x}: valid are READ, WRITE or both",
                 tag="sync-file-flags")
        c.exit(-EINVAL)
        return False
    return True


@op("export_sync_file", actor="user", target="buffer", enabled=exported,
    kernel="dma_buf_export_sync_file", rules=("R22",), params=_sync_file_params)
def export_sync_file(c: Ctx, b: BufRef, flags: int) -> None:
    """A snapshot of the fences a reader (READ) or writer (WRITE) would wait for; the resv
    is not changed."""
    has_fd(c, b, "DMA_BUF_IOCTL_EXPORT_SYNC_FILE")
    _sync_file_flags(c, b, flags, "DMA_BUF_IOCTL_EXPORT_SYNC_FILE")


@op("import_sync_file", actor="user", target="buffer", enabled=_user_can_enter,
    kernel="dma_buf_import_sync_file", rules=("R22", "R24"),
    params=lambda env: [{**p, **f, "fence": s} for p in _sync_file_params(env)
                        for f in ({"fault": "none"}, {"fault": "nomem"})
                        for s in SYNC_FILE_FENCES])
def import_sync_file(c: Ctx, b: BufRef, flags: int, fault: str, fence: str) -> None:
    """Adds the sync file's fence to the resv as a writer (WRITE bit) or a reader.

    ``fence`` is the state of the sync file's fence: ``pending`` (work not yet done) or
    ``signalled`` (for example a sync file exported from an idle buffer, which holds the
    signalled stub fence). A signalled fence in the resv is nothing to wait for: poll's
    dma_fence_add_callback on it returns -ENOENT and arms no callback (dma_buf_poll_add_cb),
    so the model records no pending fence for it."""
    has_fd(c, b, "DMA_BUF_IOCTL_IMPORT_SYNC_FILE")
    if not _sync_file_flags(c, b, flags, "DMA_BUF_IOCTL_IMPORT_SYNC_FILE"):
        return
    if fault == "nomem":
        c.exit(-ENOMEM)  # dma_resv_reserve_fences failed
        return
    if fence == "pending":
        c.set(b.fences["WRITE" if flags & DMA_BUF_SYNC_WRITE else "READ"], 1)


__all__ = ["SYNC_FILE_FENCES", "SYNC_FILE_FLAGS", "SYNC_FLAGS", "CpuBracket",
           "begin_cpu_access", "check_synced", "cpu_sync", "end_cpu_access", "open_bracket"]
