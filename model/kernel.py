"""Kernel constants the model speaks in: errnos, DMA directions, UAPI flags, resv usages."""

from __future__ import annotations

# errno values (include/uapi/asm-generic/errno-base.h, errno.h; ERESTARTSYS is kernel-only)
ENOENT = 2
EINTR = 4
EBADF = 9
ENOMEM = 12
EFAULT = 14
EBUSY = 16
EINVAL = 22
EMFILE = 24
ENOTTY = 25
ENOSYS = 38
EDEADLK = 35
EOVERFLOW = 75
ERESTARTSYS = 512

ERRNO_NAMES = {
    ENOENT: "ENOENT", EINTR: "EINTR", EBADF: "EBADF", ENOMEM: "ENOMEM", EFAULT: "EFAULT",
    EBUSY: "EBUSY", EINVAL: "EINVAL", EMFILE: "EMFILE", ENOTTY: "ENOTTY", ENOSYS: "ENOSYS",
    EDEADLK: "EDEADLK", EOVERFLOW: "EOVERFLOW", ERESTARTSYS: "ERESTARTSYS",
}
ERRNOS = {name: value for value, name in ERRNO_NAMES.items()}


MAX_ERRNO = 4095  # include/linux/err.h: a result in -MAX_ERRNO..-1 is an error

# include/linux/mm_types.h, enum vm_fault_reason: what a vma's fault handler returns when
# the page cannot be given (the faulting process gets SIGBUS); 0 is a page given. A touch
# of an address no vma covers gets SIGSEGV, which the model writes as VM_FAULT_SIGSEGV
VM_FAULT_SIGBUS = 0x0002
VM_FAULT_SIGSEGV = 0x0040


def errno_name(ret: int) -> str:
    """``0`` -> ``"ok"``, ``-22`` -> ``"-EINVAL"``. (A call's result can also be a value:
    ``model.ops.registry.result_text`` writes any result as a scenario does.)"""
    if ret == 0:
        return "ok"
    if ret > 0:
        return f"returns {ret}"
    return "-" + ERRNO_NAMES.get(-ret, str(-ret))


# enum dma_data_direction
DMA_BIDIRECTIONAL = 0
DMA_TO_DEVICE = 1
DMA_FROM_DEVICE = 2
DMA_NONE = 3
DIRECTIONS = {
    "BIDIRECTIONAL": DMA_BIDIRECTIONAL, "TO_DEVICE": DMA_TO_DEVICE,
    "FROM_DEVICE": DMA_FROM_DEVICE, "NONE": DMA_NONE,
}
DIRECTION_NAMES = {v: k for k, v in DIRECTIONS.items()}

# include/uapi/linux/dma-buf.h (R20, R22)
DMA_BUF_SYNC_READ = 1
DMA_BUF_SYNC_WRITE = 2
DMA_BUF_SYNC_RW = 3
DMA_BUF_SYNC_START = 0
DMA_BUF_SYNC_END = 4
DMA_BUF_SYNC_VALID_FLAGS_MASK = DMA_BUF_SYNC_RW | DMA_BUF_SYNC_END
DMA_BUF_NAME_LEN = 32
# representatives of the bits outside a flags mask: the lowest one (past END, or past RW for
# the sync-file ioctls), and the top bit of the field (struct dma_buf_sync.flags is __u64,
# struct dma_buf_export_sync_file/import_sync_file.flags are __u32): the kernel tests
# flags & ~mask over the whole field, so a check narrowed to an int or a byte would miss it
SYNC_FLAGS_TOP_BIT = 1 << 63
SYNC_FILE_FLAGS_TOP_BIT = 1 << 31
PAGE_SIZE = 4096

# enum dma_resv_usage, in order (R24)
USAGES = ("KERNEL", "WRITE", "READ", "BOOKKEEP")

# lseek whence
SEEK_SET, SEEK_CUR, SEEK_END = 0, 1, 2
WHENCE = {"SEEK_SET": SEEK_SET, "SEEK_CUR": SEEK_CUR, "SEEK_END": SEEK_END}
WHENCE_NAMES = {v: k for k, v in WHENCE.items()}

# poll events (the values of poll's ``events`` parameter)
EPOLLIN = "EPOLLIN"
EPOLLOUT = "EPOLLOUT"
# poll(2) revents bits (include/uapi/asm-generic/poll.h; EPOLLIN... have the same values):
# what a poll step returns
POLLIN, POLLOUT, POLLERR, POLLHUP, POLLNVAL = 0x1, 0x4, 0x8, 0x10, 0x20
REVENTS = {"POLLIN": POLLIN, "POLLOUT": POLLOUT, "POLLERR": POLLERR, "POLLHUP": POLLHUP,
           "POLLNVAL": POLLNVAL}
