"""The probe list: the single source of the kprobe events a trace is recorded with.

``trace probes`` prints these definitions, the guest of the conformance run installs them
and the parser reads the events they produce, so the three cannot drift apart. Every event
is in the ``dmabuf`` group and named ``dmabuf_*`` (ftrace prints the event name without
its group). Entry probes (``p:``) fetch the arguments, return probes (``r:``) the return
value; a function with both is one call, paired per task (a return closes the latest open
entry of that function on that task).

A buffer is named by its ``struct dma_buf`` pointer, an attachment by its ``struct
dma_buf_attachment`` pointer, a mapping by its ``struct sg_table`` pointer. Two fetches
read through structures: the buffer's file (``dmabuf->file``, the second member of struct
dma_buf in every kernel since 5.x, offset 8) and that file's reference count
(``file->f_count``), and for mmap the vma's ``vm_pgoff`` and ``vm_flags`` (whether the
mapping is shared: ``VM_MAYSHARE``). Their offsets depend on the kernel's struct layout:
``LAYOUTS`` holds the ones verified in the guest, and ``--layout count=N,pgoff=M,vmflags=K``
takes others (``pahole -C file vmlinux``, ``pahole -C vm_area_struct``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

GROUP = "dmabuf"
DMABUF_FILE = 8  # offsetof(struct dma_buf, file)


@dataclass(frozen=True)
class Layout:
    """Offsets of the fields the probes read through: ``file->f_count``,
    ``vma->vm_pgoff`` and ``vma->vm_flags``."""

    name: str
    count: int
    pgoff: int
    vmflags: int = 32  # since 6.1: vm_start, vm_end, vm_mm and vm_page_prot precede it

    def fill(self, fetch: str) -> str:
        """A fetch with this layout's offsets filled in."""
        return fetch.format(count=self.count, pgoff=self.pgoff, vmflags=self.vmflags)


# verified on Debian's 6.1 and 6.12 kernels under the conformance guest (x86_64)
LAYOUTS: dict[str, Layout] = {
    "6.1": Layout("6.1", count=56, pgoff=104, vmflags=32),
    "6.12": Layout("6.12", count=0, pgoff=120, vmflags=32),
}


@dataclass(frozen=True)
class Probe:
    """One kernel function: its entry fetches and whether its return value is fetched."""

    function: str
    args: tuple[tuple[str, str], ...]  # (field, fetch) at entry; Layout.fill's offsets
    ret: str = ""  # the return value's type ("x64" a pointer, "s32" an int); "" void
    since: str = ""  # the first kernel that has it ("" all)
    ret_args: tuple[tuple[str, str], ...] = ()  # fetched at return, after ret

    @property
    def event(self) -> str:
        return "dmabuf_" + self.function.removeprefix("dma_buf_")

    @property
    def ret_event(self) -> str:
        return self.event + "_ret"


# a buffer argument: the pointer, its file and the file's reference count
BUF = (("buf", "$arg1:x64"), ("file", f"+{DMABUF_FILE}($arg1):x64"),
       ("count", f"+{{count}}(+{DMABUF_FILE}($arg1)):s64"), ("size", "+0($arg1):u64"))
# the dma-buf ioctls the model has (include/uapi/linux/dma-buf.h): their flags, read from
# the caller's struct (user memory); other ioctls are not replayed
IOCTL_SYNC = 0x40086200  # DMA_BUF_IOCTL_SYNC, struct dma_buf_sync { __u64 flags; }
IOCTL_EXPORT_SYNC_FILE = 0xC0086202  # struct dma_buf_export_sync_file { __u32 flags; ... }
ATT = ("att", "$arg1:x64")
PROBES: tuple[Probe, ...] = (
    Probe("dma_buf_export", (), ret="x64",
          ret_args=(("file", f"+{DMABUF_FILE}($retval):x64"),)),
    Probe("dma_buf_fd", BUF, ret="s32"),
    Probe("dma_buf_get", (("fd", "$arg1:s32"),), ret="x64"),
    Probe("dma_buf_put", BUF),
    Probe("dma_buf_attach", BUF, ret="x64"),
    Probe("dma_buf_dynamic_attach", (*BUF, ("ops", "$arg3:x64")), ret="x64"),
    Probe("dma_buf_detach", (*BUF, ("att", "$arg2:x64"))),
    Probe("dma_buf_pin", (ATT,), ret="s32"),
    Probe("dma_buf_unpin", (ATT,)),
    Probe("dma_buf_map_attachment", (ATT, ("dir", "$arg2:s32")), ret="x64"),
    Probe("dma_buf_map_attachment_unlocked", (ATT, ("dir", "$arg2:s32")), ret="x64",
          since="6.2"),
    Probe("dma_buf_unmap_attachment", (ATT, ("sgt", "$arg2:x64"), ("dir", "$arg3:s32"))),
    Probe("dma_buf_unmap_attachment_unlocked",
          (ATT, ("sgt", "$arg2:x64"), ("dir", "$arg3:s32")), since="6.2"),
    Probe("dma_buf_move_notify", BUF),
    Probe("dma_buf_begin_cpu_access", (*BUF, ("dir", "$arg2:s32")), ret="s32"),
    Probe("dma_buf_end_cpu_access", (*BUF, ("dir", "$arg2:s32")), ret="s32"),
    Probe("dma_buf_vmap", BUF, ret="s32"),
    Probe("dma_buf_vmap_unlocked", BUF, ret="s32", since="6.2"),
    Probe("dma_buf_vunmap", BUF),
    Probe("dma_buf_vunmap_unlocked", BUF, since="6.2"),
    Probe("dma_buf_mmap_internal", (("file", "$arg1:x64"), ("count", "+{count}($arg1):s64"),
                                    ("start", "+0($arg2):x64"),
                                    ("end", "+8($arg2):x64"), ("pgoff", "+{pgoff}($arg2):u64"),
                                    ("vmflags", "+{vmflags}($arg2):x64")),
          ret="s32"),
    Probe("dma_buf_ioctl", (("file", "$arg1:x64"), ("count", "+{count}($arg1):s64"),
                            ("cmd", "$arg2:u32"), ("flags", "+u0($arg3):u32")), ret="s32"),
    Probe("dma_buf_file_release", (("file", "$arg2:x64"),)),
)

BY_EVENT: dict[str, tuple[Probe, bool]] = {
    **{p.event: (p, False) for p in PROBES},
    **{p.ret_event: (p, True) for p in PROBES},
}


def parse_layout(text: str) -> Layout:
    """A layout by name (``6.1``, ``6.12``) or as ``count=N,pgoff=M[,vmflags=K]``."""
    if text in LAYOUTS:
        return LAYOUTS[text]
    m = re.fullmatch(r"\s*count=(\d+)\s*,\s*pgoff=(\d+)\s*(?:,\s*vmflags=(\d+)\s*)?", text)
    if not m:
        known = ", ".join(LAYOUTS)
        raise ValueError(f"layout {text!r}: name one of {known} or give the offsets as "
                         "count=N,pgoff=M[,vmflags=K] (offsetof(struct file, f_count), "
                         "offsetof(struct vm_area_struct, vm_pgoff), offsetof(struct "
                         "vm_area_struct, vm_flags), 32 if not given)")
    if m.group(3) is None:
        return Layout(text.strip(), int(m.group(1)), int(m.group(2)))
    return Layout(text.strip(), int(m.group(1)), int(m.group(2)), int(m.group(3)))


def definitions(layout: Layout) -> list[str]:
    """The lines to append to tracefs ``kprobe_events``."""
    out = []
    for p in PROBES:
        fetch = " ".join(f"{name}={layout.fill(f)}" for name, f in p.args)
        out.append(f"p:{GROUP}/{p.event} {p.function} {fetch}".rstrip())
        ret = f" ret=$retval:{p.ret}" if p.ret else ""  # void: the return closes the call
        ret += "".join(f" {name}={f}" for name, f in p.ret_args)
        out.append(f"r:{GROUP}/{p.ret_event} {p.function}{ret}")
    return out


def shell(layout: Layout, tracefs: str = "/sys/kernel/tracing") -> str:
    """A POSIX shell script that installs the probes (a function the running kernel lacks
    is reported and skipped) and enables them."""
    lines = [f"T={tracefs}", "echo 0 > $T/tracing_on", "echo > $T/trace",
             "echo 8192 > $T/buffer_size_kb"]
    since = {p.function: p.since for p in PROBES}
    for d in definitions(layout):
        func = d.split()[1]
        why = f" (Linux {since[func]} and later have it)" if since[func] else ""
        lines.append(f"echo '{d}' >> $T/kprobe_events || echo 'no probe: {func}{why}' >&2")
    lines += [f"echo 1 > $T/events/{GROUP}/enable", "echo 1 > $T/tracing_on"]
    return "\n".join(lines) + "\n"


def remove(tracefs: str = "/sys/kernel/tracing") -> str:
    """A POSIX shell script that disables and removes the probes ``shell`` installed (and
    no other kprobe event)."""
    lines = [f"T={tracefs}", f"echo 0 > $T/events/{GROUP}/enable"]
    for p in PROBES:
        for event in (p.event, p.ret_event):
            lines.append(f"echo '-:{GROUP}/{event}' >> $T/kprobe_events 2>/dev/null")
    return "\n".join(lines) + "\n"


def bpftrace(layout: Layout) -> str:
    """A bpftrace script that prints the same events in the same text form (one line per
    event, with a timestamp, the task and pid, as ftrace does)."""
    out = ["#!/usr/bin/env bpftrace",
           "// dmabuf-check trace probes --bpftrace: the same events as the kprobe_events",
           "// definitions, printed in ftrace's text form for `dmabuf-check trace check`."]
    hdr = '"%s-%d [%03d] ..... %lu.%06lu: '
    tail = 'comm, pid, cpu, nsecs / 1000000000, (nsecs / 1000) % 1000000'
    for p in PROBES:
        fmt, vals = _bpf_fields(p.args, layout)
        out.append(f"kprobe:{p.function} {{ printf({hdr}{p.event}: ({p.function}) "
                   f"{fmt}\\n\", {tail}{vals}); }}")
        ret = (("ret", f"$retval:{p.ret}"),) if p.ret else ()
        fmt, vals = _bpf_fields((*ret, *p.ret_args), layout)
        out.append(f"kretprobe:{p.function} {{ printf({hdr}{p.ret_event}: "
                   f"(<- {p.function}) {fmt}\\n\", {tail}{vals}); }}")
    return "\n".join(out) + "\n"


def _bpf_fields(args: tuple[tuple[str, str], ...], layout: Layout) -> tuple[str, str]:
    """The printf format and arguments of some fetches."""
    fmt, vals = [], []
    for name, fetch in args:
        fetch = layout.fill(fetch)
        signed = fetch.endswith((":s32", ":s64"))
        fmt.append(f"{name}=" + ("%ld" if signed else "%lu" if fetch.endswith(":u64")
                                  else "%u" if fetch.endswith(":u32") else "0x%lx"))
        expr = _bpf_expr(fetch)
        vals.append(f"(int32){expr}" if fetch.endswith(":s32") else expr)
    return " ".join(fmt), "".join(", " + v for v in vals)


def _bpf_expr(fetch: str) -> str:
    """A kprobe fetch (``$argN``, ``$retval``, ``+OFF(EXPR)``, ``+uOFF(EXPR)`` for user
    memory) as a bpftrace expression."""
    fetch, _, kind = fetch.partition(":")
    if fetch == "$retval":
        return "retval"
    m = re.fullmatch(r"\$arg(\d+)", fetch)
    if m:
        return f"arg{int(m.group(1)) - 1}"
    m = re.fullmatch(r"\+(u?)(\d+)\((.*)\)", fetch)
    if not m:
        raise ValueError(f"no bpftrace form for the fetch {fetch!r}")
    width = "uint32" if kind in ("u32", "s32") else "uint64"
    addr = f"{_bpf_expr(m.group(3))} + {m.group(2)}"
    return f"*(({width} *)uptr({addr}))" if m.group(1) else f"*(({width} *)({addr}))"


# The dma_buf tracepoints of 7.x (include/trace/events/dma_buf.h): a buffer is named by
# its inode number; they fire on success only and carry no reference count.
TRACEPOINTS = ("dma_buf_export", "dma_buf_fd", "dma_buf_get", "dma_buf_put",
               "dma_buf_dynamic_attach", "dma_buf_detach", "dma_buf_mmap_internal",
               "dma_buf_mmap")
