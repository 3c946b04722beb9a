"""Checks shared by many operations: use after free, and the resv locking convention."""

from __future__ import annotations

from model.context import Ctx
from model.expr import Expr
from model.kernel import EBADF, EDEADLK, EFAULT
from model.layout import DETACHED, FREE, RELEASED, UNEXPORTED, AttRef, BufRef
from model.violation import Party, Severity

# EDEADLK: the model stops a call that would deadlock on a lock its caller holds
IMPORTER, EXPORTER, CORE = Party.IMPORTER, Party.EXPORTER, Party.CORE
WARN_ERRNO, WARN, ERRNO = Severity.WARN_ERRNO, Severity.WARN, Severity.ERRNO
LOCKDEP, BUG, SILENT, LEAK = Severity.LOCKDEP, Severity.BUG, Severity.SILENT, Severity.LEAK


def buffer_alive(c: Ctx, b: BufRef, what: str, own_reference: bool = True) -> None:
    """A call on a released buffer touches freed memory (R5, R6); the model stops it.

    With ``own_reference`` the caller must also hold a reference of its own: kernel code
    that uses a dma_buf pointer without one relies on other holders (an fd, a poll
    callback) that may drop theirs at any time (R5). Calls with an obligation of their own
    about references (fd, get_dma_buf, put, attach) pass False and report it themselves.
    """
    with c.when(b.life.eq(RELEASED)):
        c.report("R5", SILENT, IMPORTER, (b.name,),
                 f"{what} on {b.name} after its last reference was dropped and it was "
                 "released: use after free", tag="use-after-free")
        c.exit(-EFAULT)
    if own_reference:
        with c.when(c.own_refs(b).eq(0)):
            c.report("R5", SILENT, IMPORTER, (b.name,),
                     f"{what} on {b.name} by a caller holding no reference of its own: the "
                     "holders of the other {0} may drop them at any time", b.refcount,
                     tag="use-without-reference")


def attachment_alive(c: Ctx, a: AttRef, what: str) -> None:
    """A call on a detached attachment uses a freed ``dma_buf_attachment`` (R11)."""
    with c.when(a.st.eq(DETACHED)):
        c.report("R11", SILENT, IMPORTER, (a.name,),
                 f"{what} on {a.name} after dma_buf_detach freed it: use after free",
                 tag="use-after-detach")
        c.exit(-EFAULT)


def must_hold(c: Ctx, b: BufRef, rule: str, party: Party, what: str,
              tag: str, when: Expr | bool = True) -> None:
    """``dma_resv_assert_held``: a lockdep splat when resv is not held (nothing else)."""
    with c.when(~b.resv & when):
        c.report(rule, LOCKDEP, party, (b.name,),
                 f"{what} without holding {b.name}'s reservation lock "
                 "(dma_resv_assert_held)", tag=tag)


def must_not_hold(c: Ctx, b: BufRef, rule: str, what: str, tag: str) -> None:
    """The callee takes resv itself: a caller already holding it deadlocks (lockdep)."""
    with c.when(b.resv):
        c.report(rule, LOCKDEP, IMPORTER, (b.name,),
                 f"{what} while holding {b.name}'s reservation lock: the callee takes it "
                 "again and deadlocks", tag=tag)
        c.exit(-EDEADLK)


def errno_check(c: Ctx, cond: Expr, rule: str, party: Party, objs: tuple[str, ...],
                message: str, errno: int, tag: str) -> None:
    """A call the kernel rejects with ``errno`` (recorded as an ERRNO-severity violation)."""
    with c.when(cond):
        c.report(rule, ERRNO, party, objs, message, tag=tag)
        c.exit(-errno)


def exported(c: Ctx, b: BufRef, **_: object) -> Expr:
    """Enabledness of a call on a buffer: it has been exported (a caller can hold a pointer to
    it, even after its release: that is a use after free, which misuse mode explores)."""
    return b.life.ne(UNEXPORTED)


def attached_ever(c: Ctx, a: AttRef, **_: object) -> Expr:
    """Enabledness of a call on an attachment: it was created (possibly detached since)."""
    return a.st.ne(FREE)


def has_fd(c: Ctx, b: BufRef, what: str) -> None:
    """A call made through an fd: with none open it fails with -EBADF (R5)."""
    errno_check(c, b.fds.eq(0), "R5", IMPORTER, (b.name,),
                f"{what} with no open fd of {b.name}", EBADF, tag="bad-fd")
