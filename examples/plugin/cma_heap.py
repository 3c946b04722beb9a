"""The CMA heap as a Python plug-in: a tutorial exporter.

This module models ``drivers/dma-buf/heaps/cma_heap.c``, the dma-buf heap that hands out
physically contiguous buffers from a CMA area, as a ``PythonExporter`` (``model.plugin``).
Read it top to bottom: it is written as the walk-through an exporter author needs. The same
exporter in the specification language is ``cma_heap.dmabuf`` beside this file; the two are
checked to behave identically (``tests/test_examples_plugin.py``). ``docs/plugin-api.md`` is
the reference of the API used here.

How the model uses this class
-----------------------------

The model is a state machine over a bounded state: ``Model(exporter, importers, profile,
scope)`` instantiates every dma-buf operation (export, attach, map, vmap, begin_cpu_access,
put...) for every buffer and attachment of the scope. When an operation reaches the
exporter, the core's model calls the method named after the ``dma_buf_ops`` member, with a
``CallView``:

* ``call.buf``: the buffer. ``call.buf.x["NAME"]`` reads and writes the fields this class
  declares in ``buffer_fields``; the core's fields (``call.buf.vmap_cnt``,
  ``call.buf.refcount``...) are read-only; ``call.buf.attachments`` lists the attachments;
* ``call.att``: the attachment, for the callbacks that have one (``attach``, ``detach``,
  ``map_dma_buf``, ``unmap_dma_buf``; ``pin``/``unpin`` for dynamic exporters);
* ``call.dir``: the DMA direction (``"TO_DEVICE"``...) of map, unmap and the CPU-access
  callbacks;
* ``call.failing``: whether this action injects the failure of a callback the class declares
  ``fallible``.

A method returns 0 (or ``None``) for success, or a negative errno. After every step the
model checks its rules R1..R32 (dma-buf core obligations, which an exporter can break too:
a vmap that leaves the core's cache inconsistent, a move without move_notify...) and
whatever the exporter reports with ``call.report(...)``.

Run it (from the repository root; ``PYTHONPATH=.`` makes ``examples.plugin.cma_heap``
importable)::

    PYTHONPATH=. dmabuf-check check examples/plugin/cma_heap.dmabuf

or script it::

    >>> from model import Model
    >>> from model.plugin import as_exporter
    >>> m = Model(as_exporter(CmaHeap()), profile="v6.16+", scope="1x2")
    >>> out = m.run(["export(b0)", "attach(b0.a0, importer=static)",
    ...              "map_unlocked(b0.a0, dir=TO_DEVICE)", "vmap_unlocked(b0)"])
    >>> [m.value(out[-1].state, v) for v in ("b0.a0.x.mapped", "b0.x.vmaps", "b0.x.vaddr")]
    [1, 1, 1]

What the Python version cannot do: the solver engines (bounded model checking, k-induction)
need the exporter as a program over the state, so they answer "unknown" for a Python class;
only random exploration and replay check it. Facts about the exporter's own fields that must
hold in every state (``invariant`` in the DSL) are reported here from the callbacks that rely
on them. Write the exporter in the DSL (``cma_heap.dmabuf``) for proofs.
"""

from __future__ import annotations

from model.kernel import ENOMEM, VM_FAULT_SIGBUS
from model.plugin import CallView, PythonExporter, Severity, counter, flag


class CmaHeap(PythonExporter):
    """``cma_heap_buf_ops``: a static exporter (no ``pin``, so importers are never told
    about moves: the pages never move)."""

    # ------------------------------------------------------------------ description
    # ``name`` is how reports and counterexamples name the exporter; ``modelled_on`` says
    # which driver it stands for.
    name = "cma_heap_py"
    summary = ("CMA heap: contiguous pages, one sg_table copy per attachment synced for the "
               "CPU only where mapped, a vmap count of its own")
    modelled_on = "drivers/dma-buf/heaps/cma_heap.c"

    # The members of cma_heap_buf_ops. Left out, ``ops`` would be the methods defined below
    # plus the mandatory map_dma_buf, unmap_dma_buf and release; listing them says exactly
    # what the driver fills in (a member without a method succeeds and changes nothing).
    ops = frozenset({"attach", "detach", "map_dma_buf", "unmap_dma_buf", "release",
                     "begin_cpu_access", "end_cpu_access", "mmap", "vmap", "vunmap",
                     "page_fault"})

    # Callbacks with a failure path of their own. For each, the model adds actions that
    # inject the failure (``attach(b0.a0, fault=exporter, importer=static)``), and in those
    # ``call.failing`` is true. cma_heap_attach allocates (kzalloc,
    # sg_alloc_table_from_pages), which can fail.
    #
    # cma_heap_vmap can fail as well (vmap() returns NULL), and ``vmap`` below is written
    # for it. But dma_buf_vmap answers any failure of ops->vmap with WARN_ON_ONCE, which
    # the model reports against the exporter (R25 vmap-failed): declared fallible, vmap
    # makes every check report that kernel WARN. ``CmaHeapVmapFails`` at the end of this
    # file is that variant.
    fallible = frozenset({"attach"})

    # ``profiles`` (the kernel profiles the driver exists in) is left at its default, every
    # profile: the CMA heap is older than all of them. ``priv`` (a priv pointer at export,
    # R1) is True, as for every real driver; ``cache_sgt_mapping`` (ask the core to cache
    # sg_tables, up to 6.15) is False: the heap never set it.

    # ------------------------------------------------------------------ private state
    # Everything the exporter remembers between calls lives in declared fields: the model
    # copies, compares and explores states, so a method must not keep anything in ``self``.
    # Each field is bounded; a write beyond the bound is reported, never wrapped.
    buffer_fields = (
        counter("vmaps", 2, "buffer->vmap_cnt: kernel mappings the heap has handed out"),
        flag("vaddr", "buffer->vaddr is set: the heap's vmap() of its pages exists"),
    )
    attachment_fields = (
        counter("mapped", 2, "a->mapped: DMA mappings of the attachment's sg_table copy"),
    )

    # ------------------------------------------------------------------ attachments
    def attach(self, call: CallView) -> int:
        """cma_heap_attach: a new dma_heap_attachment with its own copy of the sg_table
        (sg_alloc_table_from_pages), not mapped yet. Called by dma_buf_attach and
        dma_buf_dynamic_attach before the attachment is linked in."""
        assert call.att is not None
        if call.failing:  # kzalloc or sg_alloc_table_from_pages failed
            return -ENOMEM
        call.att.x["mapped"] = 0
        return 0

    def detach(self, call: CallView) -> None:
        """cma_heap_detach: the copy is freed (sg_free_table, kfree)."""
        assert call.att is not None
        call.att.x["mapped"] = 0

    # ------------------------------------------------------------------ DMA mapping
    def map_dma_buf(self, call: CallView) -> int:
        """cma_heap_map_dma_buf: dma_map_sgtable of the attachment's copy, then mark it
        mapped. Its failure (-ENOMEM) needs no ``fallible``: the model's map operation
        already explores the exporter failing to build the sg_table (``fault=nomem``). The
        core checks the locking (resv held, R12) and records the mapping; the heap only
        keeps its mark."""
        assert call.att is not None
        call.att.x["mapped"] += 1
        return 0

    def unmap_dma_buf(self, call: CallView) -> None:
        """cma_heap_unmap_dma_buf: clear the mark, dma_unmap_sgtable. (The heap keeps a
        flag per attachment; the model lets an importer map one attachment twice, so the
        mark counts: the copy is synced until its last unmap.)"""
        assert call.att is not None
        call.att.x["mapped"] -= 1

    # ------------------------------------------------------------------ CPU access
    def begin_cpu_access(self, call: CallView) -> int:
        """cma_heap_dma_buf_begin_cpu_access: invalidate_kernel_vmap_range on
        buffer->vaddr when vmap_cnt is positive, then dma_sync_sgtable_for_cpu on each
        attachment whose copy is mapped, with the caller's direction (R21: the core checks
        that every mapped attachment was synced, and synced the right way)."""
        assert call.dir is not None  # the CPU-access callbacks always have a direction
        self._check_vaddr(call, "invalidate_kernel_vmap_range")
        for a in call.buf.attachments:  # list_for_each_entry over buffer->attachments
            if a.x["mapped"] > 0:  # "if (!a->mapped) continue;"
                a.sync_for_cpu(call.dir)
        return 0

    def end_cpu_access(self, call: CallView) -> int:
        """cma_heap_dma_buf_end_cpu_access: flush_kernel_vmap_range, then
        dma_sync_sgtable_for_device on the mapped copies."""
        assert call.dir is not None
        self._check_vaddr(call, "flush_kernel_vmap_range")
        for a in call.buf.attachments:
            if a.x["mapped"] > 0:
                a.sync_for_device(call.dir)
        return 0

    def _check_vaddr(self, call: CallView, vmap_range: str) -> None:
        # A helper: its name starts with "_", so it is never taken for a callback (a public
        # method named close to a dma_buf_ops member is refused as a likely typo).
        #
        # ``call.report(rule, tag, message, severity)`` records a violation by the exporter
        # at this step. The severity says what the kernel does about it; this one goes
        # unnoticed (SILENT). Left out, it is the rule's typical consequence.
        buf = call.buf
        if buf.x["vmaps"] > 0 and not buf.x["vaddr"]:
            call.report("R25", "vmap-vaddr",
                        f"{buf.name}: the heap counts {buf.x['vmaps']} kernel mapping(s) but "
                        f"buffer->vaddr is NULL: {vmap_range} on no mapping", Severity.SILENT)

    def mmap(self, call: CallView) -> int:
        """cma_heap_mmap: installs the heap's fault handler (cma_heap_vm_fault) and, since
        "dma-buf: heaps: Don't track CMA dma-buf pages under RssFile", marks the vma
        VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP, so that mremap cannot grow it past
        the buffer (R26). The driver refuses a private mapping with -EINVAL; the model's
        mmap is always shared, and the core checks the bounds (R26) and takes the vma's
        file reference."""
        call.dontexpand()
        return 0

    def page_fault(self, call: CallView) -> int:
        """cma_heap_vm_fault: a page offset at or past the buffer's page count is
        VM_FAULT_SIGBUS (the comparison was '>' until "dma-buf: heaps: Fix off-by-one in
        CMA heap fault handler")."""
        assert call.pgoff is not None and call.pagecount is not None
        return VM_FAULT_SIGBUS if call.pgoff >= call.pagecount else 0

    # ------------------------------------------------------------------ kernel mapping
    def vmap(self, call: CallView) -> int:
        """cma_heap_vmap. The core (dma_buf_vmap) calls it only for the first user and
        shares its cached mapping with the others (R25), but the heap counts on its own
        anyway: later callers share buffer->vaddr, the first one maps the pages with
        vmap(), which fails with -ENOMEM when the mapping cannot be made."""
        buf = call.buf
        if buf.x["vmaps"] > 0:
            buf.x["vmaps"] += 1
            return 0
        if call.failing:  # vmap() returned NULL (only when "vmap" is in fallible)
            return -ENOMEM
        buf.x["vaddr"] = True
        buf.x["vmaps"] += 1
        return 0

    def vunmap(self, call: CallView) -> None:
        """cma_heap_vunmap: the last user unmaps (``if (!--buffer->vmap_cnt)``)."""
        buf = call.buf
        buf.x["vmaps"] -= 1
        if buf.x["vmaps"] == 0:
            buf.x["vaddr"] = False

    # ------------------------------------------------------------------ release
    def release(self, call: CallView) -> None:
        """cma_heap_dma_buf_release: runs once, when the last reference goes (R6). The
        driver WARNs when a kernel mapping is left, and unmaps it; the core itself BUGs
        on an outstanding vmap before calling release, so this fires only when the heap's
        count and the core's disagree: a vunmap that forgot to drop its count."""
        buf = call.buf
        if buf.x["vmaps"] > 0:
            call.report("R25", "vmap-leak",
                        f"{buf.name}: the heap still holds {buf.x['vmaps']} kernel mapping(s) "
                        "at release (cma_heap_dma_buf_release WARNs)", Severity.WARN)
            buf.x["vaddr"] = False
            buf.x["vmaps"] = 0


class CmaHeapVmapFails(CmaHeap):
    """The heap with vmap's failure explored too. A subclass is how a variant is made: it
    inherits every callback and field and changes what it declares.

    The model then reports the failure itself: dma_buf_vmap WARNs once (WARN_ON_ONCE) when
    ops->vmap fails, and blames the exporter (R25 vmap-failed). That is the kernel's
    behaviour, not a mistake in the heap's failure path: the core's vmap state is left
    untouched, and so is the heap's.

    >>> from model import Model
    >>> from model.plugin import as_exporter
    >>> m = Model(as_exporter(CmaHeapVmapFails()), profile="v6.16+", scope="1x1")
    >>> out = m.run(["export(b0)", "vmap_unlocked(b0, fault=exporter)"])
    >>> out[-1].errno, [(v.rule, v.tag, str(v.severity)) for v in out[-1].violations]
    (-12, [('R25', 'vmap-failed', 'WARN')])
    >>> m.describe(out[-1].state)
    {'b0.life': 1, 'b0.kref': 1}
    """

    name = "cma_heap_py_vmap_fails"
    fallible = CmaHeap.fallible | {"vmap"}
