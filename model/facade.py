"""A Pythonic façade with the kernel's verbs, over the same step function.

Every verb is one ``Action`` applied with ``Model.step``; nothing here decides semantics.

>>> from model.facade import Session
>>> s = Session("system_heap", profile="v6.16+")
>>> buf = s.export()
>>> att = buf.attach("static")
>>> sgt = att.map("BIDIRECTIONAL")                     # the locked form, without the lock
>>> [v.tag for v in s.violations]
['map-without-resv']
>>> att.unmap(sgt, unlocked=True), att.detach(), buf.put()
(0, 0, 0)
>>> s.value("b0.life")                                 # 2: released
2
"""

from __future__ import annotations

from dataclasses import dataclass, field

from model.action import Action, ParamValue
from model.behaviour import Exporter, Importer
from model.exporters import EXPORTERS
from model.importers import IMPORTERS
from model.kernel import errno_name
from model.machine import Model, ModelError, Outcome, State
from model.violation import Violation


class CallFailed(ModelError):
    """A call that returns an object (export, attach, map) returned an errno instead."""

    def __init__(self, action: Action, errno: int) -> None:
        super().__init__(f"{action} returned {errno_name(errno)}")
        self.action = action
        self.errno = errno


@dataclass
class Session:
    """A model plus the state it has reached; verbs on ``DmaBuf`` and ``Attachment``
    advance it. ``history`` keeps every (action, outcome)."""

    exporter: Exporter | str
    importers: tuple[Importer | str, ...] | None = None
    profile: str = "v6.16+"
    scope: str = "2x3"
    model: Model = field(init=False)
    state: State = field(init=False)
    history: list[tuple[Action, Outcome]] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        x = EXPORTERS[self.exporter] if isinstance(self.exporter, str) else self.exporter
        imps = None if self.importers is None else tuple(
            IMPORTERS[i] if isinstance(i, str) else i for i in self.importers)
        self.model = Model(x, imps, self.profile, self.scope)
        self.state = self.model.initial()

    @property
    def violations(self) -> list[Violation]:
        return [v for _, o in self.history for v in o.violations]

    def value(self, name: str) -> int:
        return self.model.value(self.state, name)

    def do(self, name: str, obj: str, **params: ParamValue) -> Outcome:
        """Apply ``name(obj, **params)``; the verbs below are spelled-out calls of this."""
        action = Action.make(name, obj, **params)
        out = self.model.step(self.state, action, len(self.history))
        self.history.append((action, out))
        self.state = out.state
        return out

    def export(self, fault: str = "none") -> DmaBuf:
        """dma_buf_export into the next unused buffer slot of the scope."""
        for b in self.model.layout.buffers:
            if self.model.value(self.state, f"{b.name}.life") == 0:
                out = self.do("export", b.name, fault=fault)
                if out.errno:
                    raise CallFailed(self.history[-1][0], out.errno)
                return DmaBuf(self, b.name)
        raise ModelError(f"every buffer of scope {self.model.scope} is already exported")


@dataclass(frozen=True)
class SgTable:
    """The handle a map returned: which mapping slot of the attachment holds it."""

    attachment: str
    slot: int | str
    dir: str


@dataclass(frozen=True)
class DmaBuf:
    session: Session
    name: str

    def _do(self, verb: str, **params: ParamValue) -> int:
        """The call's result: a negative errno, 0, or the value it returns."""
        return self.session.do(verb, self.name, **params).ret

    # references and fds (R5, R6)
    def fd(self, fault: str = "none") -> int:
        """dma_buf_fd: 0 for the descriptor (the model does not number descriptors)."""
        return self._do("fd", fault=fault)

    def get(self) -> int:
        """dma_buf_get(fd)."""
        return self._do("get")

    def get_dma_buf(self) -> int:
        return self._do("get_dma_buf")

    def put(self) -> int:
        return self._do("put")

    def close(self) -> int:
        return self._do("close")

    # attach (R7-R10)
    def attach(self, importer: str, fault: str = "none") -> Attachment:
        """dma_buf_attach or dma_buf_dynamic_attach, as the importer style does."""
        imp = next((i for i in self.session.model.importers if i.name == importer), None)
        if imp is None:
            names = ", ".join(i.name for i in self.session.model.importers)
            raise ModelError(f"no importer {importer!r} in this session (have: {names})")
        verb = "dynamic_attach" if imp.dynamic else "attach"
        for a in self.session.model.layout.buffers[int(self.name[1:])].atts:
            if self.session.value(f"{a.name}.st") == 0:
                out = self.session.do(verb, a.name, importer=importer, fault=fault)
                if out.errno:
                    raise CallFailed(self.session.history[-1][0], out.errno)
                return Attachment(self.session, a.name)
        raise ModelError(f"{self.name} has no free attachment slot in this scope")

    # locking and fences (R24, R30)
    def lock(self, fault: str = "none") -> int:
        return self._do("lock", fault=fault)

    def unlock(self) -> int:
        return self._do("unlock")

    def reserve_fences(self, fault: str = "none") -> int:
        return self._do("reserve_fences", fault=fault)

    def add_fence(self, usage: str) -> int:
        return self._do("add_fence", usage=usage)

    def signal(self, usage: str) -> int:
        return self._do("signal", usage=usage)

    # CPU access (R19-R22)
    def begin_cpu_access(self, dir: str, fault: str = "none") -> int:
        return self._do("begin_cpu_access", dir=dir, fault=fault)

    def end_cpu_access(self, dir: str) -> int:
        return self._do("end_cpu_access", dir=dir)

    def sync(self, flags: int, fault: str = "none") -> int:
        """DMA_BUF_IOCTL_SYNC with raw flag bits."""
        return self._do("sync", flags=flags, fault=fault)

    def poll(self, events: str) -> int:
        """poll(2) with timeout 0: revents (``POLLIN``/``POLLOUT`` when ready, 0 when not,
        ``POLLNVAL`` with no fd open)."""
        return self._do("poll", events=events)

    def export_sync_file(self, flags: int) -> int:
        return self._do("export_sync_file", flags=flags)

    def import_sync_file(self, flags: int, fault: str = "none", fence: str = "pending") -> int:
        """``fence``: the state of the sync file's fence, ``pending`` or ``signalled``."""
        return self._do("import_sync_file", flags=flags, fault=fault, fence=fence)

    # vmap, mmap, llseek, name (R23, R25-R27)
    def vmap(self, unlocked: bool = False, fault: str = "none") -> int:
        return self._do("vmap_unlocked" if unlocked else "vmap", fault=fault)

    def vunmap(self, unlocked: bool = False, foreign: bool = False) -> int:
        return self._do("vunmap_unlocked" if unlocked else "vunmap",
                        map="foreign" if foreign else "cached")

    def vmap_access(self) -> int:
        return self._do("vmap_access")

    def mmap(self, pgoff: int, pages: int) -> int:
        return self._do("mmap", pgoff=pgoff, pages=pages)

    def dma_buf_mmap(self, pgoff: int | str, pages: int) -> int:
        return self._do("dma_buf_mmap", pgoff=pgoff, pages=pages)

    def munmap(self) -> int:
        return self._do("munmap")

    def llseek(self, whence: str, offset: int) -> int:
        """The new offset: 0 for SEEK_SET, the buffer's size in bytes for SEEK_END."""
        return self._do("llseek", whence=whence, offset=offset)

    def set_name(self, length: int) -> int:
        return self._do("set_name", length=length)

    # the exporter's side
    def move(self) -> int:
        """The exporter evicts or migrates the buffer (exporters with a move path)."""
        return self._do("move")


@dataclass(frozen=True)
class Attachment:
    session: Session
    name: str

    def _do(self, verb: str, **params: ParamValue) -> int:
        return self.session.do(verb, self.name, **params).ret

    def map(self, dir: str, unlocked: bool = False, fault: str = "none") -> SgTable:
        """dma_buf_map_attachment(_unlocked); the returned handle names the mapping."""
        before = self.session.state
        out = self.session.do("map_unlocked" if unlocked else "map", self.name, dir=dir,
                              fault=fault)
        if out.errno:
            raise CallFailed(self.session.history[-1][0], out.errno)
        for name, old, _ in self.session.model.diff(before, out.state):
            if name.startswith(self.name + ".s") and name.endswith(".dir") and old == 0:
                return SgTable(self.name, int(name.split(".")[2][1:]), dir)
        return SgTable(self.name, 0, dir)  # the cached sg_table (up to 6.15)

    def unmap(self, sgt: SgTable | None, dir: str | None = None, unlocked: bool = False) -> int:
        """Unmap ``sgt`` (``None``: an sg_table this attachment never mapped)."""
        slot: int | str = "foreign" if sgt is None else sgt.slot
        direction = dir or (sgt.dir if sgt is not None else "BIDIRECTIONAL")
        return self._do("unmap_unlocked" if unlocked else "unmap", slot=slot, dir=direction)

    def access(self, sgt: SgTable) -> int:
        """The importer's device does DMA through ``sgt``."""
        return self._do("access", slot=sgt.slot)

    def read_pages(self, sgt: SgTable) -> int:
        return self._do("read_pages", slot=sgt.slot)

    def pin(self, fault: str = "none") -> int:
        return self._do("pin", fault=fault)

    def unpin(self) -> int:
        return self._do("unpin")

    def detach(self) -> int:
        return self._do("detach")
