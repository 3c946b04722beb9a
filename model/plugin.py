"""Behaviours written as plain Python classes.

Subclass ``PythonExporter`` (or ``PythonImporter``), write a method per ``dma_buf_ops``
member you implement, and pass ``as_exporter(MyExporter())`` to ``Model``. Methods receive a
``CallView`` and return 0 or a negative errno (``None`` is 0). Such a behaviour runs only in
the concrete step: the random explorer and replay can check it, the solver engines cannot,
and say so (``NotEncodable``). Write the behaviour with the builder (``model.exporters``) or
in the DSL to have every engine check it. ``docs/plugin-api.md`` is the reference, with a
worked example (``examples/plugin/cma_heap.py``).

>>> class Counting(PythonExporter):
...     name = "counting"
...     buffer_fields = (counter("maps", 4),)
...     def map_dma_buf(self, call):
...         call.buf.x["maps"] += 1
...         return 0
...     def unmap_dma_buf(self, call):
...         call.buf.x["maps"] -= 1
...         return 0
>>> from model.machine import Model
>>> m = Model(as_exporter(Counting()), profile="v6.16+")
>>> out = m.run(["export(b0)", "attach(b0.a0, importer=static)",
...              "map_unlocked(b0.a0, dir=TO_DEVICE)"])
>>> m.value(out[-1].state, "b0.x.maps"), m.encodable
(1, False)

A mistake in the class is reported with the class's name and the fix:

>>> class Typo(PythonExporter):
...     name = "typo"
...     ops = frozenset({"map_dma_buf", "unmap_dma_buf", "release", "vmapp"})
>>> as_exporter(Typo())  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
model.plugin.PluginError: Typo.ops: unknown dma_buf_ops member 'vmapp' (did you mean 'vmap'?); ...
"""

from __future__ import annotations

import difflib
import inspect
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from model.behaviour import MANDATORY_OPS, OPS, Call, Exporter, Importer
from model.context import Ctx
from model.expr import BOOL, Expr, Var, evaluate
from model.kernel import DIRECTION_NAMES, DIRECTIONS, VM_FAULT_SIGBUS
from model.layout import ATTACHED, AttRef, BufRef, Field, Layout, counter, flag
from model.ops.cpu import CpuBracket, cpu_sync
from model.ops.registry import FALLIBLE
from model.profiles import PROFILES
from model.program import Extern, Site, bound_site
from model.rules import RULES
from model.violation import Party, Severity

Fired = list[tuple[Site, tuple[int, ...]]]
TAG = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)+")  # as the DSL writes obligation tags
# the core's own fields, read-only through the views
BUF_CORE = ("life", "kref", "fds", "vmas", "resv", "reserved", "cb_in", "cb_out", "vmap_cnt",
            "vmap_ptr", "cpu", "cpu_dir", "refcount", "live")
ATT_CORE = ("st", "imp", "dyn", "p2p", "pins", "apin", "cached", "maps", "live")


class PluginError(ValueError):
    """A mistake in a Python behaviour: the message names the class (and the method) and
    says how to fix it."""


def _close(name: str, known: Iterable[str]) -> str:
    match = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


# ---------------------------------------------------------------- views


class _Fields:
    """Private fields of one object, read and written by name."""

    def __init__(self, values: list[int], fields: dict[str, Var], fired: Fired, who: str,
                 kind: str, obj: str) -> None:
        self._values, self._fields, self._fired = values, fields, fired
        self._who, self._kind, self._obj = who, kind, obj

    def __getitem__(self, name: str) -> int:
        return self._values[self._var(name).index]

    def __setitem__(self, name: str, value: int | bool) -> None:
        var = self._var(name)
        if not isinstance(value, int):
            raise PluginError(
                f"{self._who}: {self._obj}.x[{name!r}] = {value!r}: fields hold integers "
                "(a flag holds True/False or 1/0)")
        if not var.lo <= value <= var.hi:
            # the same rule as for programs: report the bound, hold the value at it
            self._fired.append((bound_site(var, over=value > var.hi), (int(value),)))
            value = min(max(value, var.lo), var.hi)
        self._values[var.index] = int(value)

    def __contains__(self, name: object) -> bool:
        return name in self._fields

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields)

    def _var(self, name: str) -> Var:
        try:
            return self._fields[name]
        except (KeyError, TypeError):
            declared = ", ".join(self._fields) or "none"
            close = _close(str(name), self._fields)
            raise PluginError(
                f"{self._who}: {self._kind} {self._obj} has no field {name!r}{close}"
                f"; declared {self._kind}_fields: {declared}. Declare it in {self._kind}_fields,"
                f" e.g. counter({name!r}, 2) or flag({name!r})") from None


class _Bound:
    """What every view of one callback invocation shares: the state, the violations fired
    so far, who is running (for messages) and the model's services."""

    def __init__(self, values: list[int], fired: Fired, who: str, party: Party,
                 services: _Services, ctx: Ctx, callback: str,
                 bracket: CpuBracket | None = None) -> None:
        self.values, self.fired, self.who, self.party = values, fired, who, party
        self.services, self.ctx, self.callback = services, ctx, callback
        self.bracket = bracket  # begin/end_cpu_access: what the syncs record (R21)

    def read(self, ref: BufRef | AttRef, name: str, core: tuple[str, ...], kind: str) -> int:
        v = getattr(ref, name, None) if name in core else None
        if not isinstance(v, Expr):
            raise AttributeError(
                f"{self.who}: {kind} {ref.name} has no core field {name!r}"
                f"{_close(name, core)}; core fields (read-only): {', '.join(core)}; the "
                f"exporter's own fields are .x[NAME]")
        return evaluate(v, tuple(self.values)) if not isinstance(v, Var) \
            else self.values[v.index]

    def run(self, service: str, ref: BufRef | AttRef) -> None:
        self.services.run(service, ref, self)

    def sync(self, buf: BufRef, att: AttRef | None, direction: str, for_cpu: bool) -> None:
        name = "sync_for_cpu" if for_cpu else "sync_for_device"
        if self.bracket is None:
            raise PluginError(f"{self.who}: {name}() is cache maintenance for CPU access: "
                              "call it from begin_cpu_access or end_cpu_access")
        if direction not in DIRECTIONS:
            raise PluginError(f"{self.who}: {name}({direction!r}): give a direction name, "
                              f"{', '.join(DIRECTIONS)} (the caller's is call.dir)")
        self.services.sync(self, buf, att, DIRECTIONS[direction], for_cpu)


class _View:
    """Views refuse writes to anything but their writable attributes (``p2p``)."""

    _names: tuple[str, ...] = ()
    _kind = ""
    _b: _Bound

    def __setattr__(self, name: str, value: object) -> None:
        if name in self._names or name.startswith("_"):
            object.__setattr__(self, name, value)
            return
        raise PluginError(
            f"{self._b.who}: cannot set {self._kind} attribute {name!r}: the "
            "core's fields are read-only; keep state of your own in a declared field "
            "(buffer_fields / attachment_fields) and write it through .x[NAME]")


class BufView(_View):
    """One buffer during a callback: ``x`` holds the exporter's fields (read/write); the
    core's fields (``kref``, ``resv``, ``vmap_cnt``, ``refcount``...) are read-only
    attributes; ``attachments`` lists the live attachments."""

    _kind = "buffer"

    def __init__(self, ref: BufRef, b: _Bound) -> None:
        self._ref, self._b = ref, b
        object.__setattr__(self, "name", ref.name)
        object.__setattr__(self, "x", _Fields(b.values, dict(ref.x), b.fired, b.who, "buffer",
                                              ref.name))

    name: str
    x: _Fields

    def __getattr__(self, name: str) -> int:
        if name.startswith("_"):
            raise AttributeError(name)
        return self._b.read(self._ref, name, BUF_CORE, "buffer")

    @property
    def attachments(self) -> list[AttView]:
        """The buffer's attached attachments, in slot order (the exporter's list walk,
        ``list_for_each_entry(a, &dmabuf->attachments, node)``)."""
        return [AttView(a, self._b) for a in self._ref.atts
                if self._b.values[a.st.index] == ATTACHED]

    def report(self, rule: str, tag: str, message: str,
               severity: Severity | None = None) -> None:
        """Report a violation of ``rule`` by this exporter, about this buffer."""
        _report(self._b, rule, tag, message, severity, (self.name,))

    def sync_for_cpu(self, dir: str) -> None:
        """dma_sync_sg_for_cpu of the exporter's own device mapping of all the buffer's
        pages, which covers every attachment (udmabuf's misc device); only in
        begin_cpu_access (R21)."""
        self._b.sync(self._ref, None, dir, for_cpu=True)

    def sync_for_device(self, dir: str) -> None:
        """dma_sync_sg_for_device of the exporter's own mapping; only in end_cpu_access."""
        self._b.sync(self._ref, None, dir, for_cpu=False)

    def move_notify(self) -> None:
        """dma_buf_move_notify on this buffer (outside a locked callback, hold resv first:
        ``set_resv(True)``)."""
        self._b.run("move_notify", self._ref)

    def moved(self) -> None:
        """Tell the model that the backing storage is now elsewhere."""
        self._b.run("backing_moved", self._ref)

    def wait_dma(self) -> None:
        """Wait for every fence in this buffer's reservation object: no importer's job is
        in flight through a mapping of it (before a move frees the old location)."""
        self._b.run("wait_dma", self._ref)

    def set_resv(self, held: bool) -> None:
        """The exporter takes (True) or drops (False) the reservation lock itself, as its
        move path does; taking it while held or dropping it while not held breaks R24."""
        b, ref = self._b, self._ref
        now = b.values[ref.resv.index]
        if held and now:
            _report(b, "R24", "exporter-recursive-resv", f"the exporter takes {ref.name}'s "
                    "reservation lock in a context that already holds it", Severity.LOCKDEP,
                    (ref.name,))
        elif not held and not now:
            _report(b, "R24", "exporter-unlock-unheld", f"the exporter drops {ref.name}'s "
                    "reservation lock, which is not held", Severity.LOCKDEP, (ref.name,))
        b.values[ref.resv.index] = int(bool(held))


class AttView(_View):
    """One attachment during a callback: ``x`` holds the exporter's fields (read/write),
    the core's fields (``dyn``, ``maps``, ``pins``...) are read-only attributes, except
    ``p2p``, which the exporter may clear (R9)."""

    _names = ("p2p",)
    _kind = "attachment"

    def __init__(self, ref: AttRef, b: _Bound) -> None:
        self._ref, self._b = ref, b
        object.__setattr__(self, "name", ref.name)
        object.__setattr__(self, "x", _Fields(b.values, dict(ref.x), b.fired, b.who,
                                              "attachment", ref.name))

    name: str
    x: _Fields

    def __getattr__(self, name: str) -> int:
        if name.startswith("_"):
            raise AttributeError(name)
        return self._b.read(self._ref, name, ATT_CORE, "attachment")

    @property
    def dynamic(self) -> bool:
        """Attached with dma_buf_dynamic_attach (the importer receives move_notify)."""
        return bool(self._b.values[self._ref.dyn.index])

    @property
    def p2p(self) -> bool:
        return bool(self._b.values[self._ref.p2p.index])

    @p2p.setter
    def p2p(self, value: bool) -> None:
        self._b.values[self._ref.p2p.index] = int(bool(value))

    def sync_for_cpu(self, dir: str) -> None:
        """dma_sync_sgtable_for_cpu of this attachment's sg_table with direction ``dir``
        (the caller's is ``call.dir``); only in begin_cpu_access (R21)."""
        self._b.sync(self._b.ctx.layout.buffers[self._ref.buf], self._ref, dir, for_cpu=True)

    def sync_for_device(self, dir: str) -> None:
        """dma_sync_sgtable_for_device of this attachment's sg_table; only in
        end_cpu_access."""
        self._b.sync(self._b.ctx.layout.buffers[self._ref.buf], self._ref, dir, for_cpu=False)

    def unmap_all(self) -> None:
        """An importer's move_notify: unmap every mapping of this attachment through the
        exporter (resv is held, as unmap requires)."""
        self._b.run("unmap_all", self._ref)

    def wait_dma(self) -> None:
        """An importer waits for its device's jobs through this attachment's mappings
        (before move_notify tears them down)."""
        self._b.run("wait_dma", self._ref)


class CallView:
    """The arguments of one callback: ``buf``, ``att`` (or None), ``dir`` (a direction
    name, or None) and ``failing``: whether this action injects the exporter's own failure
    (its ``fault`` is ``exporter``, possible only for callbacks declared ``fallible``).
    ``page_fault`` (the vma's fault handler) is also given ``pgoff``, the faulting page's
    offset in the buffer, and ``pagecount``, the buffer's size in pages (both None
    elsewhere); ``mmap`` may call ``dontexpand()``."""

    def __init__(self, buf: BufView, att: AttView | None, dir: str | None,
                 failing: bool = False, pgoff: int | None = None,
                 pagecount: int | None = None,
                 dontexpand: Callable[[], None] | None = None) -> None:
        self.buf, self.att, self.dir, self.failing = buf, att, dir, failing
        self.pgoff, self.pagecount, self._dontexpand = pgoff, pagecount, dontexpand

    def dontexpand(self) -> None:
        """In ``mmap``: mark the vma VM_DONTEXPAND (with VM_DONTDUMP), so that mremap cannot
        grow it past the buffer (R26)."""
        if self._dontexpand is None:
            raise PluginError(f"{self.buf._b.who}: dontexpand() is for mmap(), which is "
                              "given the vma")
        self._dontexpand()

    def report(self, rule: str, tag: str, message: str,
               severity: Severity | None = None) -> None:
        """Report a violation of ``rule`` by this behaviour, about the call's buffer and
        attachment (as the DSL's ``report`` does)."""
        objects = (self.buf.name,) + ((self.att.name,) if self.att is not None else ())
        _report(self.buf._b, rule, tag, message, severity, objects)


def _report(b: _Bound, rule: str, tag: str, message: str, severity: Severity | None,
            objects: tuple[str, ...]) -> None:
    if rule not in RULES:
        raise PluginError(f"{b.who}: report of unknown rule {rule!r}{_close(str(rule), RULES)};"
                          " rules are R1..R32 (dmabuf-check rules)")
    if not isinstance(tag, str) or not TAG.fullmatch(tag):
        raise PluginError(f"{b.who}: report tag {tag!r} is not an obligation tag: write "
                          "lowercase words joined by '-', e.g. 'vmap-leak' (report(rule, tag, "
                          "message, severity=None))")
    if severity is None:
        severity = RULES[rule].consequences[0]
    if not isinstance(severity, Severity) or severity is Severity.SCOPE:
        raise PluginError(f"{b.who}: report severity {severity!r}: give a Severity "
                          "(model.plugin.Severity.WARN, .BUG, .SILENT...) or None for the "
                          "rule's typical consequence")
    template = str(message).replace("{", "{{").replace("}", "}}")
    b.fired.append((Site(rule, severity, b.party, objects, template, tag), ()))


# ---------------------------------------------------------------- services and bodies


class _Services:
    """Core functions a Python behaviour may call (move_notify, backing_moved, unmap_all,
    wait_dma),
    compiled on first use per model (layout), object and calling callback."""

    def __init__(self) -> None:
        self._fns: dict[tuple[str, str, str, Layout], Callable[..., Any]] = {}
        self._syncs: dict[tuple[str, str, str, Layout], tuple[Callable[..., Any], CpuBracket]] = {}

    def run(self, service: str, ref: BufRef | AttRef, b: _Bound) -> None:
        from model.compile import compile_program

        ctx = b.ctx
        key = (service, ref.name, b.callback, ctx.layout)
        fn = self._fns.get(key)
        if fn is None:
            c = Ctx(ctx.layout, ctx.profile, ctx.exporter, ctx.importers)
            c._callbacks.append(b.callback)  # what the body runs inside (R30)
            with c.function(service):
                getattr(c, service)(ref)
            fn = self._fns[key] = compile_program(c.builder.program(), len(c.builder.locals))
        n = ctx.layout.size
        out, more = fn(tuple(b.values[:n]))
        b.values[:n] = out[:n]
        b.fired.extend(more)

    def sync(self, b: _Bound, buf: BufRef, att: AttRef | None, d: int, for_cpu: bool) -> None:
        """The core's sync (model.ops.cpu.cpu_sync) into the calling begin/end_cpu_access's
        bracket: compiled with a bracket of its own, whose marks are copied to the caller's."""
        from model.compile import compile_program

        outer = b.bracket
        assert outer is not None
        ctx = b.ctx
        key = ("sync", f"{buf.name}/{att.name if att else ''}/{d}/{for_cpu}/{outer.begin}/"
               f"{outer.dir}", b.callback, ctx.layout)
        entry = self._syncs.get(key)
        if entry is None:
            c = Ctx(ctx.layout, ctx.profile, ctx.exporter, ctx.importers)
            c._callbacks.append(b.callback)
            inner = CpuBracket(outer.buf, outer.dir, outer.begin, {
                k: c.builder.local(f"synced.{k}", 0, 1, BOOL) for k in outer.synced})
            c.cpu_bracket = inner
            cpu_sync(c, buf, att, d, for_cpu)
            fn = compile_program(c.builder.program(), len(c.builder.locals))
            entry = self._syncs[key] = (fn, inner)
        fn, inner = entry
        n = ctx.layout.size
        out, more = fn(tuple(b.values[:n]))
        b.values[:n] = out[:n]
        for k, v in inner.synced.items():
            if out[v.index]:
                b.values[outer.synced[k].index] = 1
        b.fired.extend(more)


def _extern(owner: str, cls: str, callback: str, method: Callable[[CallView], int | None],
            services: _Services, party: Party) -> Callable[[Ctx, Call], None]:
    """A callback body that calls ``method`` at step time."""

    def body(c: Ctx, call: Call) -> None:
        buf, att, d = call.buf, call.att, call.dir
        ret_var = c._returns[-1] if c._returns else None
        failing = c.failing("exporter")
        pagecount = c.scope.size_pages if call.pgoff is not None else None
        bracket = c.cpu_bracket if callback in ("begin_cpu_access", "end_cpu_access") else None

        def run(values: list[int], fired: Fired) -> None:
            # a direction read from the state (an unmap of a recorded mapping) is evaluated now
            direction = d if d is None or isinstance(d, int) else evaluate(d, tuple(values))
            pgoff = None if call.pgoff is None else evaluate(call.pgoff, tuple(values))
            flag_var = call.dontexpand

            def dontexpand() -> None:
                assert flag_var is not None
                values[flag_var.index] = 1

            b = _Bound(values, fired, f"{cls}.{callback}()", party, services, c, callback,
                       bracket)
            view = CallView(BufView(buf, b), AttView(att, b) if att is not None else None,
                            DIRECTION_NAMES.get(direction) if direction is not None else None,
                            failing, pgoff, pagecount,
                            dontexpand if flag_var is not None else None)
            ret = method(view)
            if ret is None:
                ret = 0
            if callback == "page_fault" and ret == VM_FAULT_SIGBUS:
                pass  # the fault handler's vm_fault_t: the page cannot be given
            elif isinstance(ret, bool) or not isinstance(ret, int) or ret > 0:
                raise PluginError(
                    f"{cls}.{callback}() returned {ret!r}: return 0 (or None) for success or a"
                    " negative errno such as -ENOMEM (errno constants: model.kernel); a"
                    " page_fault() returns 0 or VM_FAULT_SIGBUS")
            if ret_var is not None:
                values[ret_var.index] = ret

        c.builder.emit(Extern(owner, run))

    return body


# ---------------------------------------------------------------- the classes


class PythonExporter:
    """Base class of exporters written in Python. Class attributes describe it; a method
    named after a ``dma_buf_ops`` member implements that member; ``move(call)`` is the
    exporter's own eviction path.

    * ``name``, ``summary``, ``modelled_on``: how reports name it;
    * ``ops``: the ``dma_buf_ops`` members it fills in (default: the methods defined, plus
      the mandatory ``map_dma_buf``, ``unmap_dma_buf`` and ``release``); a member listed
      without a method succeeds and changes nothing;
    * ``fallible``: callbacks with a failure path of their own; the model then also explores
      the actions that inject it, where ``call.failing`` is true;
    * ``profiles``: the kernel profiles it exists in (default: all);
    * ``priv``: whether it passes a ``priv`` to dma_buf_export (R1);
    * ``cache_sgt_mapping``: asks the core to cache sg_tables (up to 6.15, R29);
    * ``cpu_coherent``: its memory needs no sync for CPU access; otherwise begin/end_cpu_access
      must sync every mapped attachment (``AttView.sync_for_cpu``...) with the caller's
      direction (R21);
    * ``buffer_fields``, ``attachment_fields``: its private state (``counter``, ``flag``).

    The model runs a callback on many states and in any order (also to find out which
    actions are enabled), so a method must keep every piece of state in declared fields:
    instance attributes are configuration, fixed once the object is built.
    """

    name = "python_exporter"
    summary = "an exporter written as a Python class"
    modelled_on = ""
    ops: frozenset[str] | None = None
    fallible: frozenset[str] = frozenset()
    profiles: tuple[str, ...] | None = None
    priv = True
    cache_sgt_mapping = False
    cpu_coherent = False
    buffer_fields: tuple[Field, ...] = ()
    attachment_fields: tuple[Field, ...] = ()


class PythonImporter:
    """Base class of importers written in Python: ``dynamic``, ``allow_peer2peer`` and
    ``move_notify(call)`` (which may call ``call.att.unmap_all()``)."""

    name = "python_importer"
    summary = "an importer written as a Python class"
    modelled_on = ""
    dynamic = True
    allow_peer2peer = False


def _names(cls: str, attr: str, value: object, known: Iterable[str], what: str
           ) -> frozenset[str]:
    """A set of names from a class attribute, each one of ``known``."""
    known = tuple(known)
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise PluginError(f"{cls}.{attr} = {value!r}: give a set or tuple of names, e.g. "
                          f"{attr} = frozenset({{{known[0]!r}}})")
    out = frozenset(value)
    for name in sorted(out, key=str):
        if name not in known:
            raise PluginError(f"{cls}.{attr}: unknown {what} {name!r}{_close(str(name), known)};"
                              f" {what.split()[-1]}s: {', '.join(known)}")
    return out


def _takes_call(cls: str, name: str, method: Callable[..., Any]) -> None:
    try:
        inspect.signature(method).bind(None)
    except TypeError:
        raise PluginError(f"{cls}.{name} must take one argument, the call: "
                          f"def {name}(self, call)") from None
    except ValueError:  # no signature to inspect (a builtin): let the call decide
        pass


def _fields(cls: str, attr: str, value: object) -> tuple[Field, ...]:
    if not isinstance(value, tuple | list):
        raise PluginError(f"{cls}.{attr} = {value!r}: give a tuple of fields, e.g. "
                          f"{attr} = (counter('count', 2), flag('ready'))")
    seen: set[str] = set()
    for f in value:
        if not isinstance(f, Field):
            raise PluginError(f"{cls}.{attr}: {f!r} is not a field; declare fields with "
                              "counter(name, hi) or flag(name) from model.plugin")
        if f.name in seen:
            raise PluginError(f"{cls}.{attr}: field {f.name!r} is declared twice")
        seen.add(f.name)
    return tuple(value)


def _check_method_names(obj: object, cls: str, allowed: Iterable[str]) -> None:
    """A public method whose name is a near miss of a callback is almost always a typo
    (the model would never call it)."""
    allowed = tuple(allowed)
    base = PythonExporter if isinstance(obj, PythonExporter) else PythonImporter
    for name in dir(type(obj)):
        if name.startswith("_") or name in allowed or hasattr(base, name):
            continue
        if not callable(getattr(obj, name, None)):
            continue
        match = difflib.get_close_matches(name, allowed, n=1, cutoff=0.85)
        if match:
            raise PluginError(f"{cls} defines {name}(), which no callback is named: did you "
                              f"mean {match[0]}()? (prefix a helper's name with '_')")


def as_exporter(obj: PythonExporter) -> Exporter:
    """The ``Exporter`` that runs ``obj``'s methods as its callbacks. Raises
    ``PluginError`` for a mistake in the class."""
    if isinstance(obj, type):
        raise PluginError(f"as_exporter takes an instance: as_exporter({obj.__qualname__}())")
    if not isinstance(obj, PythonExporter):
        raise PluginError(f"as_exporter takes a PythonExporter, not {type(obj).__name__}")
    cls = type(obj).__name__
    if not isinstance(obj.name, str) or not obj.name.isidentifier():
        raise PluginError(f"{cls}.name = {obj.name!r}: give an identifier, e.g. 'my_heap'")
    _check_method_names(obj, cls, (*OPS, "move"))
    defined = {op for op in OPS if callable(getattr(obj, op, None))}
    ops = (_names(cls, "ops", obj.ops, OPS, "dma_buf_ops member") if obj.ops is not None
           else frozenset(defined | set(MANDATORY_OPS)))
    fallible = _names(cls, "fallible", obj.fallible, OPS, "dma_buf_ops member")
    for op in sorted(fallible):
        if op not in FALLIBLE:
            raise PluginError(f"{cls}.fallible names {op!r}: the model has no call that can "
                              "inject its failure (the fallible callbacks are "
                              + ", ".join(FALLIBLE) + ")")
        if op not in ops:
            raise PluginError(f"{cls}.fallible names {op!r}, which is not in its ops: add it "
                              "to ops or drop it from fallible")
        if op not in defined:
            raise PluginError(f"{cls}.fallible names {op!r} but {cls} defines no {op}() "
                              f"method: write def {op}(self, call) with its failure path "
                              "(if call.failing: return -ENOMEM)")
    if obj.profiles is None:
        profiles = tuple(PROFILES)
    else:
        chosen = _names(cls, "profiles", obj.profiles, PROFILES, "kernel profile")
        if not chosen:
            raise PluginError(f"{cls}.profiles is empty: name at least one of "
                              f"{', '.join(PROFILES)} (or leave it None for all)")
        profiles = tuple(p for p in PROFILES if p in chosen)
    for attr in ("priv", "cache_sgt_mapping", "cpu_coherent"):
        if not isinstance(getattr(obj, attr), bool):
            raise PluginError(f"{cls}.{attr} = {getattr(obj, attr)!r}: give True or False")
    buffer_fields = _fields(cls, "buffer_fields", obj.buffer_fields)
    attachment_fields = _fields(cls, "attachment_fields", obj.attachment_fields)
    services = _Services()
    owner = f"exporter {obj.name} ({type(obj).__qualname__})"
    callbacks = {}
    for op in sorted(defined & ops):
        method = getattr(obj, op)
        _takes_call(cls, op, method)
        callbacks[op] = _extern(owner, cls, op, method, services, Party.EXPORTER)
    move = getattr(obj, "move", None)
    if callable(move):
        _takes_call(cls, "move", move)
    modelled_on = f"Python class {type(obj).__qualname__}"
    return Exporter(
        obj.name, obj.summary, ops=ops, callbacks=callbacks, priv=obj.priv,
        cache_sgt_mapping=obj.cache_sgt_mapping, cpu_coherent=obj.cpu_coherent,
        buffer_fields=buffer_fields,
        attachment_fields=attachment_fields,
        move=(_extern(owner, cls, "move", move, services, Party.EXPORTER) if callable(move)
              else None),
        fallible=fallible, profiles=profiles, encodable=False,
        modelled_on=f"{obj.modelled_on} ({modelled_on})" if obj.modelled_on else modelled_on)


def as_importer(obj: PythonImporter) -> Importer:
    """The ``Importer`` whose move_notify runs ``obj.move_notify``. Raises ``PluginError``
    for a mistake in the class."""
    if isinstance(obj, type):
        raise PluginError(f"as_importer takes an instance: as_importer({obj.__qualname__}())")
    if not isinstance(obj, PythonImporter):
        raise PluginError(f"as_importer takes a PythonImporter, not {type(obj).__name__}")
    cls = type(obj).__name__
    if not isinstance(obj.name, str) or not obj.name.isidentifier():
        raise PluginError(f"{cls}.name = {obj.name!r}: give an identifier, e.g. 'my_importer'")
    _check_method_names(obj, cls, ("move_notify",))
    services = _Services()
    notify = getattr(obj, "move_notify", None)
    if callable(notify):
        _takes_call(cls, "move_notify", notify)
        if not obj.dynamic:
            raise PluginError(f"{cls} defines move_notify() but is static: a static importer "
                              "is never notified; set dynamic = True or drop the method")
    modelled_on = f"Python class {type(obj).__qualname__}"
    return Importer(
        obj.name, obj.summary, dynamic=obj.dynamic,
        move_notify=_extern(f"importer {obj.name} ({type(obj).__qualname__})", cls,
                            "move_notify", notify, services, Party.IMPORTER)
        if callable(notify) else None,
        allow_peer2peer=obj.allow_peer2peer, encodable=False,
        modelled_on=f"{obj.modelled_on} ({modelled_on})" if obj.modelled_on else modelled_on)


__all__ = ["AttView", "BufView", "CallView", "PluginError", "PythonExporter",
           "PythonImporter", "Severity", "as_exporter", "as_importer", "counter", "flag"]
