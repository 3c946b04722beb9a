"""The rule catalogue R1..R32: what each rule demands, of whom, and what breaking it costs.

Derived from the rulebook ``shared/reference/dmabuf-rules.md`` (section 2 "Rules" and section 3
"Version changes"). Each entry names the kernel functions involved, the parties that must
keep the rule (main one first), the kernel's consequences when it is broken (typical one
first) and the kernel profiles in which it applies.

Profiles:

* ``v6.1``: pre-6.2 locking (resv needed for map only by dynamic importers or a dynamic
  exporter without a cached sg_table; vmap under ``dmabuf->lock``), cached sg_tables,
  map-at-attach.
* ``v6.2-6.15``: resv required for map/unmap/vmap/vunmap for all importers, ``_unlocked``
  variants, cached sg_tables, map-at-attach when dynamicity mismatches.
* ``v6.16+``: no sg_table caching, no map or pin at attach, pin-on-map.
* ``v7.x``: 6.16+ plus tracepoints and the 2026 revoke series (``invalidate_mappings``,
  CONFIG_DMABUF_MOVE_NOTIFY always on).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from model.violation import Party, Severity

PROFILE_NAMES: tuple[str, ...] = ("v6.1", "v6.2-6.15", "v6.16+", "v7.x")

_ALL: tuple[str, ...] = PROFILE_NAMES
_UP_TO_615: tuple[str, ...] = ("v6.1", "v6.2-6.15")
_FROM_62: tuple[str, ...] = ("v6.2-6.15", "v6.16+", "v7.x")
_FROM_616: tuple[str, ...] = ("v6.16+", "v7.x")
_V7: tuple[str, ...] = ("v7.x",)

_IMP = Party.IMPORTER
_EXP = Party.EXPORTER
_CORE = Party.CORE

_WARN_ERRNO = Severity.WARN_ERRNO
_WARN = Severity.WARN
_ERRNO = Severity.ERRNO
_LOCKDEP = Severity.LOCKDEP
_BUG = Severity.BUG
_SILENT = Severity.SILENT
_LEAK = Severity.LEAK


@dataclass(frozen=True, slots=True)
class Rule:
    """One rulebook rule as data."""

    id: str
    title: str
    kernel_functions: tuple[str, ...]
    parties: tuple[Party, ...]
    consequences: tuple[Severity, ...]
    profiles: tuple[str, ...]
    summary: str
    versions: str


_CATALOGUE: tuple[Rule, ...] = (
    # --- Export, fd and refcount -------------------------------------------------------
    Rule(
        id="R1",
        title="Mandatory ops and priv at export",
        kernel_functions=("dma_buf_export",),
        parties=(_EXP,),
        consequences=(_WARN_ERRNO,),
        profiles=_ALL,
        summary=(
            "An exporter must hand dma_buf_export a non-NULL priv and an ops table that "
            "implements map_dma_buf, unmap_dma_buf and release. If any is missing the export "
            "splats a WARN and fails with -EINVAL."
        ),
        versions="",
    ),
    Rule(
        id="R2",
        title="pin and unpin are both-or-neither",
        kernel_functions=("dma_buf_export",),
        parties=(_EXP,),
        consequences=(_WARN_ERRNO,),
        profiles=_ALL,
        summary=(
            "An exporter either implements both pin and unpin or neither of them. Providing "
            "only one makes dma_buf_export WARN and return -EINVAL."
        ),
        versions="",
    ),
    Rule(
        id="R3",
        title="cache_sgt_mapping excludes pin/unpin",
        kernel_functions=("dma_buf_export",),
        parties=(_EXP,),
        consequences=(_WARN_ERRNO,),
        profiles=_UP_TO_615,
        summary=(
            "An exporter that asks the core to cache sg_tables (cache_sgt_mapping) must not "
            "also be dynamic, i.e. must not supply pin or unpin. Combining them is rejected at "
            "export with a WARN and -EINVAL."
        ),
        versions=(
            "Checked only in v6.1 and v6.2-6.15; from v6.16 the cache_sgt_mapping field, and "
            "with it this check, no longer exists (R29)."
        ),
    ),
    Rule(
        id="R4",
        title="Module reference and other export failures",
        kernel_functions=("dma_buf_export", "try_module_get"),
        parties=(_EXP, _CORE),
        consequences=(_ERRNO,),
        profiles=_ALL,
        summary=(
            "Export fails with -ENOENT when the owner module reference cannot be taken, and "
            "with -ENOMEM or the file error when allocation fails; on those paths the core "
            "does not invoke ops->release, so the exporter keeps ownership of its private "
            "data. A successful export yields one caller-owned reference, no attachments, a "
            "zero vmap count and a place on the global buffer list."
        ),
        versions=(
            "The failure handling is the same in every profile; only v7.x additionally emits "
            "the dma_buf_export tracepoint after a successful export."
        ),
    ),
    Rule(
        id="R5",
        title="fd, get, put and get_dma_buf are plain file refcounting",
        kernel_functions=(
            "dma_buf_fd",
            "dma_buf_get",
            "dma_buf_put",
            "get_dma_buf",
            "fd_install",
            "fget",
            "fput",
            "get_file",
        ),
        parties=(_IMP,),
        consequences=(_SILENT, _WARN, _ERRNO),
        profiles=_ALL,
        summary=(
            "The buffer's lifetime is its file refcount: get_dma_buf and dma_buf_get add a "
            "reference, dma_buf_put drops one, and dma_buf_fd moves the caller's reference "
            "into the fd table without taking a new one. Dropping more references than were "
            "held is not detected and ends in a use-after-free or double free; a NULL buffer "
            "to dma_buf_put only WARNs, and bad fds or non-dma-buf files give error returns."
        ),
        versions=(
            "Identical refcounting in all profiles; v7.x adds fd/get/put tracepoints (early "
            "7.0 traced put after fput, itself a use-after-free, later fixed)."
        ),
    ),
    Rule(
        id="R6",
        title="Release runs ops->release exactly once, at the last reference",
        kernel_functions=("dma_buf_release", "dma_buf_file_release"),
        parties=(_IMP, _CORE),
        consequences=(_BUG, _WARN, _SILENT, _LOCKDEP),
        profiles=_ALL,
        summary=(
            "When the final file reference goes away the core unlinks the buffer, calls "
            "ops->release once and frees it, so importers must have dropped every vmap and "
            "detached every attachment before their last put. A live vmap or an armed poll "
            "callback hits a BUG_ON; leftover attachments only WARN (after ops->release has "
            "run) and are left pointing at freed memory."
        ),
        versions=(
            "The release order and its checks are the same in all four profiles; only the "
            "global-list bookkeeping differs (the 6.16+ list is also walked by the BPF "
            "iterator, which skips buffers whose refcount already hit zero)."
        ),
    ),
    # --- Attach / detach ----------------------------------------------------------------
    Rule(
        id="R7",
        title="A dynamic importer must provide move_notify",
        kernel_functions=(
            "dma_buf_dynamic_attach",
            "dma_buf_unsupported_invalidate_mappings",
        ),
        parties=(_IMP,),
        consequences=(_WARN_ERRNO,),
        profiles=_ALL,
        summary=(
            "An importer that passes importer_ops to dma_buf_dynamic_attach must fill in the "
            "move notification callback. Without it the attach WARNs and fails with -EINVAL."
        ),
        versions=(
            "In v7.x the callback is named invalidate_mappings and pinned importers may plug "
            "in the dma_buf_unsupported_invalidate_mappings stub; the check is otherwise the "
            "same everywhere."
        ),
    ),
    Rule(
        id="R8",
        title="Attach preconditions and effects",
        kernel_functions=("dma_buf_dynamic_attach", "dma_buf_attach", "dma_resv_lock"),
        parties=(_IMP,),
        consequences=(_WARN_ERRNO, _LOCKDEP, _ERRNO, _SILENT),
        profiles=_ALL,
        summary=(
            "The importer passes a non-NULL buffer and device, must not already hold the "
            "buffer's resv (the core takes it to link the attachment), and must keep its own "
            "reference on the buffer because attaching takes none. NULL arguments give a WARN "
            "and -EINVAL, holding resv deadlocks or trips lockdep, and an error from the "
            "exporter's attach callback is passed back to the caller."
        ),
        versions=(
            "Same contract in all profiles; v7.x also traces every successful attach (static "
            "ones included), and the attach-time map and pin of the pre-6.16 profiles is R10."
        ),
    ),
    Rule(
        id="R9",
        title="peer2peer is negotiated by the exporter",
        kernel_functions=(
            "dma_buf_dynamic_attach",
            "xe_dma_buf_attach",
            "pci_p2pdma_distance",
        ),
        parties=(_EXP,),
        consequences=(_SILENT,),
        profiles=_ALL,
        summary=(
            "The core merely copies the importer's allow_peer2peer wish into the attachment; "
            "the exporter must clear it (or refuse the attach) when peer-to-peer access is "
            "impossible, and must not pin into device-private memory while some attachment "
            "lacks peer2peer. Nothing checks this, so a wrong choice silently gives an "
            "importer addresses it cannot use."
        ),
        versions="",
    ),
    Rule(
        id="R10",
        title="Attach-time map and pin on dynamicity mismatch",
        kernel_functions=(
            "dma_buf_dynamic_attach",
            "dma_buf_attachment_is_dynamic",
            "dma_buf_is_dynamic",
            "dma_buf_pin",
            "dma_buf_detach",
        ),
        parties=(_CORE, _EXP),
        consequences=(_ERRNO,),
        profiles=_UP_TO_615,
        summary=(
            "When importer and exporter differ in dynamicity, attaching maps the buffer "
            "bidirectionally right away and caches the result; for a dynamic exporter with a "
            "static importer it pins first, and that pin lasts until detach, so the exporter "
            "must keep the buffer in place for the attachment's whole life. A failing pin or "
            "map makes the attach itself fail with that error after cleanup."
        ),
        versions=(
            "Present in v6.1 and v6.2-6.15 (with slightly different locking in v6.1); removed "
            "in v6.16, after which attach never maps or pins and pinning happens per map."
        ),
    ),
    Rule(
        id="R11",
        title="Detach",
        kernel_functions=("dma_buf_detach",),
        parties=(_IMP, _CORE),
        consequences=(_SILENT, _LEAK, _WARN, _LOCKDEP),
        profiles=_ALL,
        summary=(
            "The importer detaches from the buffer it attached to, without holding resv, "
            "after unmapping all of its own mappings, and still owes a separate dma_buf_put. "
            "Bad or mismatched arguments WARN and leak the attachment; mappings left behind "
            "leak together with their pins, and the exporter's detach may free state they "
            "still use, which nothing detects."
        ),
        versions=(
            "Up to v6.15 detach itself tears down a cached mapping and its attach-time pin, "
            "while from v6.16 it never unmaps or unpins; the buffer-mismatch WARN is missing "
            "in v6.1, and v7.x also traces detach."
        ),
    ),
    # --- Map / unmap --------------------------------------------------------------------
    Rule(
        id="R12",
        title="dma_buf_map_attachment (locked variant)",
        kernel_functions=(
            "dma_buf_map_attachment",
            "dma_resv_assert_held",
            "dma_buf_pin_on_map",
            "dma_resv_wait_timeout",
        ),
        parties=(_IMP, _EXP, _CORE),
        consequences=(_LOCKDEP, _WARN_ERRNO, _ERRNO, _SILENT, _WARN),
        profiles=_ALL,
        summary=(
            "The importer maps a valid attachment while holding the buffer's resv, and a "
            "dynamic importer must also honour the write fences itself; the exporter must "
            "return a fresh sg_table on every call whose memory is ready. Missing the lock "
            "is caught only by lockdep, NULL arguments WARN with -EINVAL, exporter, pin or "
            "fence-wait failures come back as errors, and ignored fences or reused tables "
            "corrupt data unnoticed."
        ),
        versions=(
            "v6.1 needs resv only for dynamic importers or a dynamic exporter without a "
            "cached table while 6.2+ needs it for every importer; up to v6.15 a cached table "
            "may be returned, and from v6.16 every map calls the exporter and may pin "
            "(WARNing if that pin reports -EBUSY)."
        ),
    ),
    Rule(
        id="R13",
        title="Direction consistency on cached mappings (-EBUSY)",
        kernel_functions=(
            "dma_buf_map_attachment",
            "dma_buf_unmap_attachment",
            "drm_gem_map_dma_buf",
            "dma_map_sgtable",
        ),
        parties=(_IMP,),
        consequences=(_ERRNO, _SILENT, _WARN_ERRNO, _BUG),
        profiles=_ALL,
        summary=(
            "Once a mapping is cached with a direction other than bidirectional, a map "
            "request for a different direction is refused with -EBUSY, so the first map of a "
            "caching exporter fixes the direction for the attachment's life. The direction "
            "given to unmap is not checked by the core and must match the map, or the "
            "exporter silently unmaps wrongly. DMA_NONE is never a valid direction: "
            "drm_prime's exporter WARNs and refuses it, and an exporter that maps with it "
            "hands it to the DMA API, which BUGs."
        ),
        versions=(
            "Only v6.1 and v6.2-6.15 cache sg_tables and so return -EBUSY; from v6.16 the "
            "core performs no direction check at all. The unmap direction and the DMA_NONE "
            "checks hold in every profile."
        ),
    ),
    Rule(
        id="R14",
        title="DMABUF_DEBUG hides struct page from importers",
        kernel_functions=(
            "mangle_sg_table",
            "dma_buf_wrap_sg_table",
            "dma_buf_unwrap_sg_table",
            "sg_page",
        ),
        parties=(_IMP,),
        consequences=(_SILENT, _ERRNO),
        profiles=_ALL,
        summary=(
            "Importers may use only the DMA addresses of a mapped sg_table, never its pages, "
            "and must give unmap exactly the table that map returned. With CONFIG_DMABUF_DEBUG "
            "the page links are made unusable, so touching them yields garbage or a NULL "
            "dereference, and a foreign table at unmap corrupts memory; the debug wrapper can "
            "also fail a map with -ENOMEM."
        ),
        versions=(
            "v6.1 and v6.2-6.15 scramble the page links in place, whereas the wrapper that "
            "hands out a page-less copy arrived around 6.19/7.0 (inferred), so v7.x uses it "
            "and early v6.16+ kernels may still scramble."
        ),
    ),
    Rule(
        id="R15",
        title="dma_buf_unmap_attachment (locked variant)",
        kernel_functions=(
            "dma_buf_unmap_attachment",
            "dma_resv_assert_held",
            "dma_buf_unwrap_sg_table",
        ),
        parties=(_IMP,),
        consequences=(_LOCKDEP, _SILENT, _WARN),
        profiles=_ALL,
        summary=(
            "Every map is paired with exactly one unmap of the same table on the same "
            "attachment, made with the resv held where the profile requires it. A missing "
            "lock only shows under lockdep, NULL arguments WARN and return, and a double "
            "unmap or an unmap of a table that did not come from map makes the exporter free "
            "things twice without any check."
        ),
        versions=(
            "v6.1 needs resv only for dynamic importers or exporters while 6.2+ needs it "
            "always; up to v6.15 unmapping the cached table does nothing until detach, and "
            "from v6.16 every unmap reaches the exporter and drops any map-time pin."
        ),
    ),
    Rule(
        id="R16",
        title="_unlocked map/unmap/vmap/vunmap variants",
        kernel_functions=(
            "dma_buf_map_attachment_unlocked",
            "dma_buf_unmap_attachment_unlocked",
            "dma_buf_vmap_unlocked",
            "dma_buf_vunmap_unlocked",
            "dma_resv_lock",
        ),
        parties=(_IMP,),
        consequences=(_LOCKDEP, _WARN_ERRNO),
        profiles=_FROM_62,
        summary=(
            "The _unlocked helpers acquire the buffer's resv themselves around the locked "
            "operation, so the caller must not already hold it. Calling them with resv held "
            "deadlocks on the ww_mutex or trips lockdep, and NULL arguments WARN with -EINVAL "
            "as in the locked calls."
        ),
        versions=(
            "These helpers do not exist in v6.1 and behave the same in the three 6.2+ "
            "profiles."
        ),
    ),
    # --- Pin / unpin / move -------------------------------------------------------------
    Rule(
        id="R17",
        title="dma_buf_pin/dma_buf_unpin: dynamic importers only, resv held",
        kernel_functions=("dma_buf_pin", "dma_buf_unpin", "dma_resv_assert_held"),
        parties=(_IMP, _EXP),
        consequences=(_WARN, _LOCKDEP, _SILENT, _LEAK),
        profiles=_ALL,
        summary=(
            "Only dynamic importers may pin or unpin, with the resv held, sparingly, and "
            "must balance every pin with an unpin; once pinned, the exporter must keep the "
            "memory ready and in place. A static caller gets a WARN but the call still goes "
            "through, a missing lock shows only under lockdep, and since the core counts no "
            "pins an imbalance goes unnoticed."
        ),
        versions=(
            "The rule is the same in every profile; from v6.16 the pins taken at map time "
            "stack on top of explicit ones, and the static-caller test checks importer_ops "
            "directly instead of via the helper."
        ),
    ),
    Rule(
        id="R18",
        title="dma_buf_move_notify (exporter to importers)",
        kernel_functions=(
            "dma_buf_move_notify",
            "dma_resv_assert_held",
            "dma_buf_invalidate_mappings",
            "dma_resv_wait_timeout",
        ),
        parties=(_EXP, _IMP),
        consequences=(_LOCKDEP, _SILENT),
        profiles=_ALL,
        summary=(
            "Before moving a buffer the exporter notifies all dynamic attachments while "
            "holding resv, and it never moves a pinned buffer; each notified importer must "
            "drop and re-create its mappings soon, fencing any access it cannot stop at "
            "once. Calling without the lock is caught only by lockdep, and moving a pinned "
            "buffer or ignoring the notification corrupts data silently."
        ),
        versions=(
            "The contract is the same through v6.16+; v7.x renames the call and callback to "
            "invalidate_mappings and lets it signal a permanent revocation to pinned "
            "revocable importers, after which the caller waits on the fences."
        ),
    ),
    # --- CPU access, poll, ioctls -------------------------------------------------------
    Rule(
        id="R19",
        title="poll (implicit sync)",
        kernel_functions=("dma_buf_poll", "dma_buf_poll_add_cb", "dma_buf_poll_cb"),
        parties=(_CORE,),
        consequences=(_BUG, _ERRNO),
        profiles=_ALL,
        summary=(
            "Polling for input waits for writers and polling for output waits for readers "
            "and writers; each direction arms at most one fence callback, which holds a file "
            "reference until it fires. That reference is what keeps a callback from still "
            "being active at release, which would hit a BUG_ON; a buffer without resv "
            "reports EPOLLERR."
        ),
        versions="",
    ),
    Rule(
        id="R20",
        title="DMA_BUF_IOCTL_SYNC flag validation",
        kernel_functions=(
            "dma_buf_ioctl",
            "dma_buf_begin_cpu_access",
            "dma_buf_end_cpu_access",
        ),
        parties=(_IMP,),
        consequences=(_ERRNO, _SILENT),
        profiles=_ALL,
        summary=(
            "The SYNC ioctl accepts only the read/write bits plus the END bit, with at least "
            "one of read or write set; anything else, a faulting copy or an unknown ioctl is "
            "refused with an error. Start/end pairing and matching directions are expected "
            "but not tracked, so an unbalanced sequence simply reaches the exporter."
        ),
        versions="",
    ),
    Rule(
        id="R21",
        title="dma_buf_begin_cpu_access / dma_buf_end_cpu_access",
        kernel_functions=(
            "dma_buf_begin_cpu_access",
            "dma_buf_end_cpu_access",
            "might_lock",
            "dma_resv_wait_timeout",
            "dma_sync_sgtable_for_cpu",
            "dma_sync_sgtable_for_device",
        ),
        parties=(_IMP, _EXP),
        consequences=(_LOCKDEP, _WARN_ERRNO, _WARN, _SILENT, _BUG),
        profiles=_ALL,
        summary=(
            "Kernel callers bracket CPU access with begin and end on a valid buffer without "
            "holding its resv; begin waits for the implicit fences matching the direction "
            "once the exporter hook succeeds, end waits for nothing. Holding resv is flagged "
            "by lockdep, a NULL buffer makes begin WARN with -EINVAL, and makes end WARN and "
            "then crash. Unless its memory is CPU-coherent, the exporter's begin hook syncs "
            "every DMA-mapped attachment for the CPU and its end hook for the device, with "
            "the caller's direction; a mapping left unsynced, synced the wrong way or with "
            "another direction leaves stale data unnoticed."
        ),
        versions="",
    ),
    Rule(
        id="R22",
        title="EXPORT_SYNC_FILE / IMPORT_SYNC_FILE",
        kernel_functions=(
            "dma_buf_export_sync_file",
            "dma_buf_import_sync_file",
            "dma_resv_get_singleton",
            "dma_resv_reserve_fences",
            "dma_resv_add_fence",
        ),
        parties=(_IMP,),
        consequences=(_ERRNO, _WARN),
        profiles=_ALL,
        summary=(
            "Both sync-file ioctls take only read/write flags with at least one set; export "
            "returns a fence covering the conflicting accesses as a new fd, and import adds "
            "a sync_file's fence to the resv as a read or write fence. Bad flags, bad fds, "
            "faulting copies and failed reservations return errors."
        ),
        versions=(
            "v6.1 adds an imported fence as it is, so a container fence can trip the "
            "add-fence WARN, whereas the 6.2+ profiles unwrap containers and add each leaf."
        ),
    ),
    Rule(
        id="R23",
        title="DMA_BUF_SET_NAME name length",
        kernel_functions=("dma_buf_set_name", "strndup_user"),
        parties=(_IMP,),
        consequences=(_ERRNO,),
        profiles=_ALL,
        summary=(
            "A buffer name set from userspace must fit in 32 bytes including the terminator "
            "and be readable; otherwise the ioctl returns the copy error (-EINVAL for too "
            "long, -EFAULT for a bad pointer). Renaming is allowed while attachments exist, "
            "despite the kernel-doc still claiming -EBUSY."
        ),
        versions="",
    ),
    # --- dma_resv obligations -----------------------------------------------------------
    Rule(
        id="R24",
        title="dma_resv fence rules",
        kernel_functions=(
            "dma_resv_reserve_fences",
            "dma_resv_add_fence",
            "dma_resv_unlock",
            "dma_resv_usage_rw",
        ),
        parties=(_IMP, _EXP),
        consequences=(_BUG, _WARN, _LOCKDEP, _SILENT),
        profiles=_ALL,
        summary=(
            "Fence slots are reserved under the resv lock, and again after any unlock, "
            "before a fence is added; container fences are not added, KERNEL fences are "
            "always waited for before touching the memory, and a fence's usage may be raised "
            "but never lowered. Adding without a slot is a BUG_ON, a container fence WARNs, "
            "reserving unlocked trips lockdep, and the waiting and usage rules go unchecked."
        ),
        versions="",
    ),
    # --- vmap / mmap --------------------------------------------------------------------
    Rule(
        id="R25",
        title="dma_buf_vmap / dma_buf_vunmap",
        kernel_functions=("dma_buf_vmap", "dma_buf_vunmap", "dma_resv_assert_held"),
        parties=(_IMP, _EXP, _CORE),
        consequences=(_BUG, _LOCKDEP, _WARN_ERRNO, _WARN, _ERRNO, _SILENT),
        profiles=_ALL,
        summary=(
            "Kernel mappings are refcounted by the core and share one cached address, so "
            "each vmap needs exactly one vunmap of that same address, and CPU access through "
            "it should be bracketed by begin/end_cpu_access. An unbalanced or mismatched "
            "vunmap (or a corrupt cache) hits a BUG_ON, NULL arguments WARN, a missing vmap "
            "op gives -EINVAL and a failing one WARNs once and returns its error."
        ),
        versions=(
            "v6.1 serialises vmap with the core's own dmabuf->lock and tests the vunmap "
            "BUG_ONs before taking it, whereas the 6.2+ profiles require the caller to hold "
            "resv (lockdep) and call the exporter's vmap/vunmap under it."
        ),
    ),
    Rule(
        id="R26",
        title="mmap bounds",
        kernel_functions=("dma_buf_mmap_internal", "dma_buf_mmap", "vma_set_file",
                          "vma_to_resize", "handle_mm_fault"),
        parties=(_IMP, _EXP),
        consequences=(_ERRNO, _WARN_ERRNO, _SILENT),
        profiles=_ALL,
        summary=(
            "A mapping must lie within the buffer's whole pages and the exporter must "
            "implement mmap; otherwise the userspace path fails with -EINVAL, and the kernel "
            "dma_buf_mmap also reports -EOVERFLOW on offset wrap and WARNs with -EINVAL on "
            "NULL. A successful mapping gives the vma its own file reference on the buffer. "
            "The exporter's mmap must set VM_DONTEXPAND so that mremap cannot grow the vma "
            "past the buffer (growing such a vma is -EFAULT), and its fault handler must "
            "answer VM_FAULT_SIGBUS for a page offset past the buffer's page count, and "
            "only there."
        ),
        versions=(
            "The checks are the same everywhere; the early 6.2 releases briefly ran the "
            "exporter's mmap under resv before that was dropped again, and v7.x traces both "
            "mmap paths."
        ),
    ),
    Rule(
        id="R27",
        title="llseek",
        kernel_functions=("dma_buf_llseek",),
        parties=(_IMP,),
        consequences=(_ERRNO,),
        profiles=_ALL,
        summary=(
            "Seeking is only meaningful for discovering the size: only a zero offset from "
            "the start or the end is accepted. Any other seek returns -EINVAL, and a file "
            "that is not a dma-buf gives -EBADF."
        ),
        versions="",
    ),
    # --- Debug / observability ----------------------------------------------------------
    Rule(
        id="R28",
        title="debugfs bufinfo, fdinfo and sysfs stats",
        kernel_functions=(
            "dma_buf_debug_show",
            "dma_buf_show_fdinfo",
            "dma_resv_describe",
        ),
        parties=(_CORE,),
        consequences=(_ERRNO,),
        profiles=_ALL,
        summary=(
            "The debugfs listing walks the global buffer list and takes each buffer's resv "
            "in turn, both interruptibly, so reading it contends with every lock holder and "
            "can be interrupted with an error; fdinfo reports size, references minus one and "
            "names. These views are observational only."
        ),
        versions=(
            "Per-buffer sysfs statistics exist in v6.1 and v6.2-6.15 but are absent from the "
            "v7.x-era source (removal release unconfirmed), and the 6.16+ list is the "
            "mutex-guarded one shared with the BPF iterator."
        ),
    ),
    # --- Version-sensitive rules --------------------------------------------------------
    Rule(
        id="R29",
        title="No sg_table caching and no map-on-attach from v6.16",
        kernel_functions=(
            "dma_buf_map_attachment",
            "dma_buf_dynamic_attach",
            "dma_buf_detach",
            "dma_buf_pin_on_map",
        ),
        parties=(_EXP, _IMP),
        consequences=(_SILENT, _LEAK),
        profiles=_FROM_616,
        summary=(
            "From v6.16 the core neither caches sg_tables nor maps or pins at attach, so an "
            "exporter receives one map_dma_buf call per map and an importer owns every "
            "mapping until it unmaps it itself. Code still relying on the old caching or on "
            "detach to clean up leaks mappings and pins without any warning."
        ),
        versions=(
            "Applies only to v6.16+ and v7.x; the older profiles follow the caching and "
            "attach-time rules R3, R10 and R13 instead."
        ),
    ),
    Rule(
        id="R30",
        title="Locking convention (6.2+)",
        kernel_functions=(
            "dma_buf_attach",
            "dma_buf_dynamic_attach",
            "dma_buf_detach",
            "dma_buf_pin",
            "dma_buf_unpin",
            "dma_buf_map_attachment",
            "dma_buf_unmap_attachment",
            "dma_buf_vmap",
            "dma_buf_vunmap",
            "dma_buf_move_notify",
            "dma_buf_mmap",
            "dma_buf_begin_cpu_access",
            "dma_buf_end_cpu_access",
        ),
        parties=(_EXP, _IMP),
        consequences=(_LOCKDEP,),
        profiles=_FROM_62,
        summary=(
            "Pin, unpin, map, unmap, vmap and vunmap run with resv held, so the exporter's "
            "callbacks for them must not take it, while attach, detach, release, CPU access "
            "and mmap callbacks run unlocked and may; importers hold resv exactly for the "
            "first group and never for the rest, and exporters hold it to send move "
            "notifications. Getting it wrong deadlocks or is reported by lockdep."
        ),
        versions=(
            "Not in v6.1; the three later profiles share it, except that early 6.2 briefly "
            "ran mmap locked and v7.x names the notification invalidate_mappings."
        ),
    ),
    Rule(
        id="R31",
        title="Revocation via invalidate_mappings (2026 revoke series)",
        kernel_functions=(
            "dma_buf_invalidate_mappings",
            "dma_buf_attach_revocable",
            "dma_buf_unsupported_invalidate_mappings",
            "dma_buf_pin_on_map",
            "dma_resv_wait_timeout",
        ),
        parties=(_EXP, _IMP),
        consequences=(_SILENT, _LOCKDEP, _WARN_ERRNO),
        profiles=_V7,
        summary=(
            "The move notification becomes invalidate_mappings, is always enabled, and may "
            "permanently revoke a pinned importer's access if that importer is revocable "
            "(supplies a real callback rather than the unsupported stub); the exporter then "
            "waits for outstanding fences. An importer that keeps using revoked memory goes "
            "undetected, invalidating without resv trips lockdep, and a dynamic attach "
            "lacking the callback is rejected as in R7."
        ),
        versions=(
            "Exists only in v7.x; earlier profiles use move_notify with the "
            "CONFIG_DMABUF_MOVE_NOTIFY switch and have no notion of permanent revocation."
        ),
    ),
    Rule(
        id="R32",
        title="Importer canonical sequence",
        kernel_functions=(
            "dma_buf_get",
            "dma_buf_attach",
            "get_dma_buf",
            "dma_buf_map_attachment_unlocked",
            "dma_buf_unmap_attachment_unlocked",
            "dma_buf_detach",
            "dma_buf_put",
            "drm_gem_prime_import_dev",
            "drm_prime_gem_destroy",
        ),
        parties=(_IMP,),
        consequences=(_SILENT, _LEAK, _WARN),
        profiles=_ALL,
        summary=(
            "A well-behaved importer obtains a reference, attaches, takes its own reference, "
            "maps, and later undoes these steps in reverse (unmap, detach, put), unwinding "
            "the same way on errors. Breaking the order leaks mappings or references, leaves "
            "attachments behind at release (a WARN), or frees the buffer under its users."
        ),
        versions=(
            "v6.1 has no _unlocked helpers, so a static importer there calls the plain map "
            "and unmap without resv, while 6.2+ importers use the _unlocked variants."
        ),
    ),
)


def _validate(catalogue: tuple[Rule, ...]) -> None:
    """Check the catalogue's shape once at import: ids in order, fields non-empty."""
    expected = [f"R{i}" for i in range(1, len(catalogue) + 1)]
    ids = [r.id for r in catalogue]
    if ids != expected:
        raise ValueError(f"rule ids out of order: {ids}")
    for r in catalogue:
        if not (
            r.title
            and r.kernel_functions
            and r.parties
            and r.consequences
            and r.summary
        ):
            raise ValueError(f"{r.id}: empty field")
        if not r.profiles or list(r.profiles) != [
            p for p in PROFILE_NAMES if p in r.profiles
        ]:
            raise ValueError(
                f"{r.id}: profiles must be an ordered subset of PROFILE_NAMES"
            )
        if len(set(r.parties)) != len(r.parties) or len(set(r.consequences)) != len(
            r.consequences
        ):
            raise ValueError(f"{r.id}: duplicate party or consequence")
        if Party.MODEL in r.parties or Severity.SCOPE in r.consequences:
            raise ValueError(f"{r.id}: MODEL/SCOPE are reserved for scope bounds")


_validate(_CATALOGUE)

RULES: Mapping[str, Rule] = MappingProxyType({r.id: r for r in _CATALOGUE})


def rule(rule_id: str) -> Rule:
    """Look a rule up; raise KeyError with a did-you-mean hint for an unknown id."""
    try:
        return RULES[rule_id]
    except KeyError:
        close = difflib.get_close_matches(rule_id.strip().upper(), list(RULES), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise KeyError(f"unknown rule id {rule_id!r}{hint}") from None
