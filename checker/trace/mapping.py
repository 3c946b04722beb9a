"""Kernel objects to model objects: the events of a trace sliced per buffer.

Every buffer the trace shows gets its own slice, replayed on a model of one buffer (the
model's buffers share no state, so a trace of any number of buffers replays on the
smallest scope). A buffer is named by its ``struct dma_buf`` pointer (kprobes) or its
inode number (7.x tracepoints); a pointer's life ends with ``dma_buf_file_release`` and a
new export of the same pointer is a new buffer. Attachments become the buffer's slots
``a0``, ``a1`` ... in the order they appear, an sg_table the slot of the mapping that
returned it, a file the buffer whose ``dmabuf->file`` it is.

Kprobe calls are paired per task: an entry opens a call, its return closes it and gives
the result; a call made inside another call of ours on the same task (dma_buf_attach's
dma_buf_dynamic_attach, map_attachment_unlocked's map_attachment ...) is part of the outer
operation and is not replayed on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from checker.trace.parse import Event, Trace, TraceError, integer
from checker.trace.probes import BY_EVENT, IOCTL_EXPORT_SYNC_FILE, IOCTL_SYNC, Probe

ERR_MAX = 4095  # IS_ERR_VALUE: the last 4095 addresses are negative errnos
DIRECTIONS = {0: "BIDIRECTIONAL", 1: "TO_DEVICE", 2: "FROM_DEVICE", 3: "NONE"}
PAGE = 4096
VM_MAYSHARE = 0x80  # include/linux/mm.h: set for every MAP_SHARED mapping


@dataclass
class Step:
    """One model operation a trace event stands for."""

    op: str
    event: Event
    att: int | None = None  # the attachment slot
    params: dict[str, int | str] = field(default_factory=dict)
    errno: int | None = None  # the kernel's result: 0, a negative errno, None unknown
    count: int | None = None  # the file's reference count before the call (kprobes)
    release: bool = False  # the file's last reference is gone (count 0 after)
    size: int = 0  # the buffer's size in bytes, where the event records it
    inferred: bool = False  # not an event: what the events imply (an untraced export)


@dataclass
class Slice:
    """The steps of one buffer, in trace order."""

    name: str  # the kernel's name for it: ``dma_buf 0xffff...`` or ``inode 12``
    steps: list[Step] = field(default_factory=list)
    attachments: int = 0
    exported: bool = False  # the trace shows its export
    site: str = ""  # the function that called dma_buf_export (kretprobes show it)


@dataclass
class Mapped:
    slices: list[Slice]
    consumed: int = 0  # events that became (part of) a step
    nested: int = 0  # calls inside another call of ours: part of the outer operation
    unmapped: dict[str, int] = field(default_factory=dict)  # why an event was not replayed


def _errno_of(value: int, pointer: bool) -> int:
    """0 for success, a negative errno for an ERR_PTR or negative int."""
    if pointer:
        if value >= (1 << 64) - ERR_MAX:
            return value - (1 << 64)
        if -ERR_MAX <= value < 0:
            return value
        return 0
    return value if value < 0 else 0


@dataclass
class _Call:
    probe: Probe
    entry: Event
    nested: bool


class _Mapper:
    def __init__(self, trace: Trace) -> None:
        self.path = trace.path
        self.trace = trace
        self.slices: list[Slice] = []
        self.live: dict[tuple[str, int], Slice] = {}  # buffer key -> its current slice
        self.files: dict[int, tuple[str, int]] = {}  # struct file * -> buffer key
        self.atts: dict[int, tuple[Slice, int]] = {}  # attachment pointer -> slot
        self.sgts: dict[tuple[int, int], int] = {}  # (attachment, sg_table) -> map slot
        self.maps: dict[int, list[int | None]] = {}  # attachment -> sg_table per slot
        self.stacks: dict[int, list[_Call]] = {}
        self.out = Mapped([])

    # -------------------------------------------------------------- objects
    def skip(self, why: str) -> None:
        self.out.unmapped[why] = self.out.unmapped.get(why, 0) + 1

    def new(self, key: tuple[str, int], exported: bool) -> Slice:
        name = f"dma_buf {key[1]:#x}" if key[0] == "ptr" else f"inode {key[1]}"
        s = Slice(name, exported=exported)
        self.slices.append(s)
        self.live[key] = s
        return s

    def buffer(self, key: tuple[str, int], ev: Event) -> Slice:
        """The live slice of ``key``; a buffer first seen after its export (exported
        before the trace began) starts with an export the trace does not show."""
        s = self.live.get(key)
        if s is None:
            s = self.new(key, exported=False)
            s.steps.append(Step("export", ev, errno=0, inferred=True))
        return s

    def slot(self, ev: Event, key: str) -> tuple[Slice, int] | None:
        ptr = integer(ev, key, self.path)
        hit = self.atts.get(ptr)
        if hit is None:
            self.skip("an attachment made before the trace began")
        return hit

    def buf_key(self, ev: Event) -> tuple[str, int]:
        key = ("ptr", integer(ev, "buf", self.path))
        if "file" in ev.fields:
            self.files[integer(ev, "file", self.path)] = key
        return key

    # -------------------------------------------------------------- events
    def event(self, ev: Event) -> None:
        hit = BY_EVENT.get(ev.name)
        if hit is None:
            self.tracepoint(ev)
            return
        probe, is_ret = hit
        stack = self.stacks.setdefault(ev.pid, [])
        if not is_ret:
            stack.append(_Call(probe, ev, nested=bool(stack)))
            return
        k = next((i for i in range(len(stack) - 1, -1, -1)
                  if stack[i].probe.function == probe.function), None)
        if k is None:
            self.skip("a return whose call began before the trace")
            return
        call = stack[k]
        if k != len(stack) - 1:
            self.skip("a call whose return the trace lost")
        del stack[k:]
        if call.nested:
            self.out.nested += 2
            return
        result = integer(ev, "ret", self.path) if probe.ret else None
        self.replay(probe, call.entry, ev, result, 2)

    def finish(self) -> None:
        """Calls still open when the trace ends: void calls are replayed, the others have
        no result and are not."""
        for stack in self.stacks.values():
            for call in stack:
                if call.nested:
                    self.out.nested += 1
                elif call.probe.ret:
                    self.skip("a call still running when the trace ended")
                else:
                    self.replay(call.probe, call.entry, call.entry, None, 1)
        self.stacks.clear()

    def replay(self, p: Probe, ev: Event, ret_ev: Event, result: int | None,
               events: int) -> None:
        """One call of ours (``events`` trace events): consumed unless it is skipped."""
        skipped = sum(self.out.unmapped.values())
        self.call(p, ev, ret_ev, result)
        if sum(self.out.unmapped.values()) == skipped:
            self.out.consumed += events

    def call(self, p: Probe, ev: Event, ret_ev: Event, result: int | None) -> None:
        name = p.function.removeprefix("dma_buf_")
        errno = None if result is None else _errno_of(result, p.ret == "x64")
        count = integer(ev, "count", self.path) if "count" in ev.fields else None
        if name == "export":
            assert result is not None
            s: Slice
            if errno:
                s = Slice(f"failed export at line {ret_ev.line}", exported=True)
                self.slices.append(s)
                s.steps.append(Step("export", ret_ev, errno=errno))
            else:
                s = self.new(("ptr", result), exported=True)
                s.steps.append(Step("export", ret_ev, errno=0))
                if "file" in ret_ev.fields:
                    self.files[integer(ret_ev, "file", self.path)] = ("ptr", result)
            s.site = ret_ev.site.split("+")[0].split(" ")[0]
            return
        if name == "get":
            assert result is not None
            if errno:
                self.skip("a failed dma_buf_get (no buffer)")
                return
            self.buffer(("ptr", result), ev).steps.append(Step("get", ev, errno=0))
            return
        if name in ("fd", "put", "move_notify", "begin_cpu_access", "end_cpu_access",
                    "vmap", "vmap_unlocked", "vunmap", "vunmap_unlocked"):
            op = {"move_notify": "move"}.get(name, name)
            params: dict[str, int | str] = {}
            if "dir" in ev.fields:
                params["dir"] = self.direction(ev)
            s = self.buffer(self.buf_key(ev), ev)
            s.steps.append(Step(op, ev, params=params, errno=errno, count=count,
                                size=self.size(ev)))
            return
        if name in ("attach", "dynamic_attach"):
            s = self.buffer(self.buf_key(ev), ev)
            dynamic = name == "dynamic_attach" and integer(ev, "ops", self.path) != 0
            op = "dynamic_attach" if dynamic else "attach"
            slot = s.attachments
            s.attachments += 1
            s.steps.append(Step(op, ev, att=slot, errno=errno, count=count,
                                size=self.size(ev),
                                params={"importer": "dynamic" if dynamic else "static"}))
            if not errno and result is not None:
                self.atts[result] = (s, slot)
            return
        if name == "detach":
            hit = self.slot(ev, "att")
            if hit:
                hit[0].steps.append(Step("detach", ev, att=hit[1], count=count))
            return
        if name in ("pin", "unpin"):
            hit = self.slot(ev, "att")
            if hit:
                hit[0].steps.append(Step(name, ev, att=hit[1], errno=errno))
            return
        if name in ("map_attachment", "map_attachment_unlocked"):
            hit = self.slot(ev, "att")
            if hit:
                op = "map" + name.removeprefix("map_attachment")
                hit[0].steps.append(Step(op, ev, att=hit[1], errno=errno,
                                         params={"dir": self.direction(ev)}))
                if not errno and result is not None:
                    self.mapped(integer(ev, "att", self.path), result)
            return
        if name in ("unmap_attachment", "unmap_attachment_unlocked"):
            hit = self.slot(ev, "att")
            if hit:
                op = "unmap" + name.removeprefix("unmap_attachment")
                which = self.unmapped(integer(ev, "att", self.path),
                                      integer(ev, "sgt", self.path))
                hit[0].steps.append(Step(op, ev, att=hit[1], errno=errno,
                                         params={"dir": self.direction(ev), "slot": which}))
            return
        if name == "mmap_internal":
            key = self.files.get(integer(ev, "file", self.path))
            if key is None or key not in self.live:
                self.skip("an mmap of a file the trace never tied to a buffer")
                return
            pages = (integer(ev, "end", self.path) - integer(ev, "start", self.path)) // PAGE
            area: dict[str, int | str] = {"pgoff": integer(ev, "pgoff", self.path),
                                          "pages": pages}
            # a mapping without VM_MAYSHARE is MAP_PRIVATE (a trace recorded before the
            # probe fetched vm_flags has no field, and its mappings replay as shared)
            if "vmflags" in ev.fields and not integer(ev, "vmflags", self.path) & VM_MAYSHARE:
                area["sharing"] = "private"
            self.live[key].steps.append(Step("mmap", ev, errno=errno, count=count,
                                             params=area))
            return
        if name == "ioctl":
            cmd = integer(ev, "cmd", self.path)
            ioctl = {IOCTL_SYNC: "sync", IOCTL_EXPORT_SYNC_FILE: "export_sync_file"}.get(cmd)
            key = self.files.get(integer(ev, "file", self.path))
            if ioctl is None:
                self.skip("a dma-buf ioctl other than SYNC and EXPORT_SYNC_FILE")
            elif key is None or key not in self.live:
                self.skip("an ioctl on a file the trace never tied to a buffer")
            else:
                self.live[key].steps.append(Step(
                    ioctl, ev, errno=errno, count=count,
                    params={"flags": integer(ev, "flags", self.path)}))
            return
        if name == "file_release":
            key = self.files.get(integer(ev, "file", self.path))
            if key is None or key not in self.live:
                self.skip("the release of a file the trace never tied to a buffer")
                return
            s = self.live.pop(key)
            s.steps.append(Step("release", ev, count=0, release=True))
            return
        raise AssertionError(f"probe {p.function} has no mapping")  # pragma: no cover

    def size(self, ev: Event) -> int:
        return integer(ev, "size", self.path) if "size" in ev.fields else 0

    def direction(self, ev: Event) -> str:
        d = integer(ev, "dir", self.path)
        if d not in DIRECTIONS:
            raise TraceError(self.path, ev.line, ev.columns.get("dir", 1),
                             f"dir={d} is not a DMA direction (0..3)")
        return DIRECTIONS[d]

    def mapped(self, att: int, sgt: int) -> None:
        slots = self.maps.setdefault(att, [])
        if (att, sgt) in self.sgts:  # a cached mapping handed out again
            return
        free = next((i for i, x in enumerate(slots) if x is None), len(slots))
        if free == len(slots):
            slots.append(None)
        slots[free] = sgt
        self.sgts[att, sgt] = free

    def unmapped(self, att: int, sgt: int) -> int | str:
        slot = self.sgts.pop((att, sgt), None)
        if slot is None:
            return "foreign"
        self.maps[att][slot] = None
        return slot

    # -------------------------------------------------------------- 7.x tracepoints
    def tracepoint(self, ev: Event) -> None:
        name = ev.name.removeprefix("dma_buf_")
        key = ("ino", integer(ev, "ino", self.path))
        self.out.consumed += 1
        if name == "export":
            self.new(key, exported=True).steps.append(Step("export", ev, errno=0))
        elif name in ("fd", "get", "put"):
            errno = None if name == "put" else 0  # a void call; the others succeeded
            self.buffer(key, ev).steps.append(Step(name, ev, errno=errno))
        elif name == "dynamic_attach":
            s = self.buffer(key, ev)
            dynamic = integer(ev, "is_dynamic", self.path) != 0
            slot = s.attachments
            s.attachments += 1
            self.atts[integer(ev, "attachment", self.path)] = (s, slot)
            s.steps.append(Step("dynamic_attach" if dynamic else "attach", ev, att=slot,
                                errno=0, params={"importer": "dynamic" if dynamic
                                                 else "static"}))
        elif name == "detach":
            hit = self.slot(ev, "attachment")
            if hit:
                hit[0].steps.append(Step("detach", ev, att=hit[1]))
        else:  # mmap_internal, mmap: no vma range to replay them with
            self.out.consumed -= 1
            self.skip(f"{ev.name} (the tracepoint has no vma range)")


def slice_trace(trace: Trace) -> Mapped:
    m = _Mapper(trace)
    for ev in trace.events:
        m.event(ev)
    m.finish()
    m.out.slices = m.slices
    return m.out
