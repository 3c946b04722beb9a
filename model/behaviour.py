"""Exporter and importer behaviours: the callbacks the core calls, as guarded updates.

An ``Exporter`` is a driver's ``struct dma_buf_ops``: which callbacks exist, the flags it
exports with, private per-buffer and per-attachment fields, and a body for each callback
written with the same builder the core's rules use. An ``Importer`` is a
``struct dma_buf_attach_ops`` user (or a static importer). Because bodies are programs over
the bounded state, every engine can check them; a plain Python class can be plugged in too
(``model.plugin``), but only the random explorer and replay can run it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

from model.expr import Expr, Var
from model.layout import AttRef, BufRef, Field, SlotRef
from model.profiles import PROFILES

if TYPE_CHECKING:
    from model.context import Ctx
    from model.invariants import Invariant
    from model.routine import Routine

# the members of struct dma_buf_ops the model knows, and ``page_fault``: the ``fault``
# member of the vm_operations_struct the exporter's mmap installs on the vma (an exporter
# whose mmap fills the whole vma at once, as remap_pfn_range does, has none)
OPS = (
    "attach", "detach", "pin", "unpin", "map_dma_buf", "unmap_dma_buf", "release",
    "begin_cpu_access", "end_cpu_access", "mmap", "vmap", "vunmap", "page_fault",
)
MANDATORY_OPS = ("map_dma_buf", "unmap_dma_buf", "release")  # R1


@dataclass(frozen=True, slots=True)
class Call:
    """The arguments of one callback invocation. ``dir`` is a DMA direction: a constant, or
    an expression when it comes from the state (an unmap of a recorded mapping). ``shared``
    (mmap only) says whether the vma is VM_SHARED (MAP_SHARED) or a private copy-on-write
    mapping (MAP_PRIVATE|PROT_WRITE), which an exporter may refuse. ``dontexpand`` (mmap
    only) is the local the exporter sets when it marks the vma VM_DONTEXPAND. ``pgoff``
    (page_fault only) is ``vmf->pgoff``: the faulting page's offset in the buffer, in
    pages."""

    buf: BufRef
    att: AttRef | None = None
    dir: int | Expr | None = None
    slot: SlotRef | None = None
    shared: bool | None = None  # mmap: a MAP_SHARED vma (VM_SHARED), or a private COW one
    dontexpand: Var | None = None  # mmap: set to 1 by vm_flags_set(vma, VM_DONTEXPAND)
    pgoff: Expr | None = None  # page_fault: vmf->pgoff


Callback = Callable[["Ctx", Call], None]


def _empty() -> Mapping[str, Callback]:
    return MappingProxyType({})


@dataclass(frozen=True)
class Exporter:
    """A dma-buf exporter.

    ``ops`` lists the ``dma_buf_ops`` members the driver fills in; a member in ``ops``
    without a body in ``callbacks`` succeeds and changes nothing. ``move`` is the
    exporter's own eviction path (an action of its own), called with nothing held.
    """

    name: str
    summary: str
    ops: frozenset[str]
    callbacks: Mapping[str, Callback] = field(default_factory=_empty)
    priv: bool = True
    cache_sgt_mapping: bool = False
    buffer_fields: tuple[Field, ...] = ()
    attachment_fields: tuple[Field, ...] = ()
    move: Callback | None = None
    fallible: frozenset[str] = frozenset()  # callbacks with a failure path of their own
    invariants: tuple[Invariant, ...] = ()  # facts about its own fields, checked every step
    profiles: tuple[str, ...] = tuple(PROFILES)
    modelled_on: str = ""
    encodable: bool = True  # False for Python classes (model.plugin)
    routines: tuple[Routine, ...] = ()  # the driver's own code that calls the core
    # its memory needs no cache maintenance for CPU access: begin/end_cpu_access owe no
    # sync of the attachments' mappings (R21)
    cpu_coherent: bool = False

    def __post_init__(self) -> None:
        unknown = set(self.ops) - set(OPS)
        if unknown:
            raise ValueError(f"exporter {self.name}: unknown dma_buf_ops {sorted(unknown)}")
        stray = (set(self.callbacks) | set(self.fallible)) - set(self.ops)
        if stray:
            raise ValueError(
                f"exporter {self.name}: callbacks {sorted(stray)} are not in its ops; "
                "add them to ops or drop the bodies")
        for p in self.profiles:
            if p not in PROFILES:
                raise ValueError(f"exporter {self.name}: unknown profile {p!r}")

    @property
    def dynamic(self) -> bool:
        """dma_buf_is_dynamic(): the exporter implements pin (R3 in rulebook 1.3)."""
        return "pin" in self.ops

    def has(self, op: str) -> bool:
        return op in self.ops

    def derive(self, name: str, summary: str, **changes: object) -> Exporter:
        """A variant of this exporter (how mutants are made)."""
        from dataclasses import replace

        callbacks = changes.pop("callbacks", None)
        new_callbacks = dict(self.callbacks)
        if isinstance(callbacks, Mapping):
            for k, v in callbacks.items():
                if v is None:
                    new_callbacks.pop(k, None)
                else:
                    new_callbacks[k] = v
        ops = changes.pop("ops", self.ops)
        assert isinstance(ops, frozenset)
        new_callbacks = {k: v for k, v in new_callbacks.items() if k in ops}
        return replace(self, name=name, summary=summary, ops=ops,
                       callbacks=MappingProxyType(new_callbacks), **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Importer:
    """An importer style.

    ``dynamic`` importers attach with dma_buf_dynamic_attach and receive move_notify;
    ``ignores`` names obligations (report tags) this importer does not keep, which is how an
    importer mutant differs from a correct importer in contract mode.
    """

    name: str
    summary: str
    dynamic: bool
    move_notify: Callback | None = None
    has_move_notify: bool = True
    allow_peer2peer: bool = False
    revocable: bool = True  # 7.x: invalidate_mappings is not the unsupported stub (R31)
    fields: tuple[Field, ...] = ()
    ignores: frozenset[str] = frozenset()
    modelled_on: str = ""
    encodable: bool = True  # False for Python classes (model.plugin)
    routines: tuple[Routine, ...] = ()  # the driver's own code that calls the core
    profiles: tuple[str, ...] = tuple(PROFILES)

    @property
    def driven(self) -> bool:
        """Its attachments are made by its own routines (importer objects), not by the
        model's free API calls."""
        return any(r.target == "attachment" for r in self.routines)

    def derive(self, name: str, summary: str, **changes: object) -> Importer:
        from dataclasses import replace

        return replace(self, name=name, summary=summary, **changes)  # type: ignore[arg-type]
