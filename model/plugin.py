"""Behaviours written as plain Python classes.

Subclass ``PythonExporter`` (or ``PythonImporter``), write a method per ``dma_buf_ops``
member you implement, and pass ``as_exporter(MyExporter())`` to ``Model``. Methods receive a
``CallView`` and return 0 or a negative errno. Such a behaviour runs only in the concrete
step: the random explorer and replay can check it, the solver engines cannot, and say so
(``NotEncodable``). Write the behaviour with the builder (``model.exporters``) or in the DSL
to have every engine check it.

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
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from model.behaviour import OPS, Call, Exporter, Importer
from model.context import Ctx
from model.expr import Var, evaluate
from model.kernel import DIRECTION_NAMES
from model.layout import AttRef, BufRef, Field, counter, flag
from model.program import Extern, Site, bound_site
from model.violation import Party, Severity

Fired = list[tuple[Site, tuple[int, ...]]]


class _Fields:
    """Private fields of one object, read and written by name."""

    def __init__(self, values: list[int], fields: dict[str, Any], fired: Fired) -> None:
        self._values = values
        self._fields = fields
        self._fired = fired

    def __getitem__(self, name: str) -> int:
        return self._values[self._index(name)]

    def __setitem__(self, name: str, value: int) -> None:
        var = self._var(name)
        if not var.lo <= value <= var.hi:
            # the same rule as for programs: report the bound, hold the value at it
            self._fired.append((bound_site(var, over=value > var.hi), (int(value),)))
            value = min(max(value, var.lo), var.hi)
        self._values[var.index] = int(value)

    def _index(self, name: str) -> int:
        index: int = self._var(name).index
        return index

    def _var(self, name: str) -> Any:
        try:
            return self._fields[name]
        except KeyError:
            raise KeyError(f"no private field {name!r}; declared: {sorted(self._fields)}") \
                from None


class BufView:
    """One buffer during a callback: ``x`` holds the exporter's fields (read/write); the
    core's fields (``kref``, ``resv``, ``vmap_cnt``...) are read-only attributes."""

    def __init__(self, ref: BufRef, values: list[int], fired: Fired, ctx: _Services) -> None:
        self.name = ref.name
        self._ref, self._values, self._fired, self._ctx = ref, values, fired, ctx
        self.x = _Fields(values, dict(ref.x), fired)

    def __getattr__(self, name: str) -> int:
        var = getattr(self._ref, name, None)
        if not isinstance(var, Var):
            raise AttributeError(f"buffer has no core field {name!r}")
        return self._values[var.index]

    def report(self, rule: str, severity: Severity, message: str, tag: str) -> None:
        """Report a violation of ``rule`` by this exporter."""
        self._fired.append((Site(rule, severity, Party.EXPORTER, (self.name,), message, tag),
                            ()))

    def move_notify(self) -> None:
        """dma_buf_move_notify on this buffer (hold resv first: ``set_resv(True)``)."""
        self._ctx.run("move_notify", self._ref, self._values, self._fired)

    def moved(self) -> None:
        """Tell the model that the backing storage is now elsewhere."""
        self._ctx.run("backing_moved", self._ref, self._values, self._fired)

    def set_resv(self, held: bool) -> None:
        """The exporter takes or drops the reservation lock itself (its move path)."""
        self._values[self._ref.resv.index] = int(held)


class AttView:
    """One attachment during a callback; ``p2p`` may be cleared by the exporter (R9)."""

    def __init__(self, ref: AttRef, values: list[int], fired: Fired) -> None:
        self.name = ref.name
        self._ref, self._values = ref, values
        self.x = _Fields(values, dict(ref.x), fired)

    @property
    def dynamic(self) -> bool:
        return bool(self._values[self._ref.dyn.index])

    @property
    def p2p(self) -> bool:
        return bool(self._values[self._ref.p2p.index])

    @p2p.setter
    def p2p(self, value: bool) -> None:
        self._values[self._ref.p2p.index] = int(value)


class CallView:
    """The arguments of one callback: ``buf``, ``att`` (or None) and ``dir`` (a name)."""

    def __init__(self, buf: BufView, att: AttView | None, dir: str | None) -> None:
        self.buf, self.att, self.dir = buf, att, dir


class _Services:
    """Core functions a Python behaviour may call, compiled per buffer on first use."""

    def __init__(self) -> None:
        self._fns: dict[tuple[str, str], Callable[..., Any]] = {}
        self.ctx: Ctx | None = None

    def run(self, service: str, ref: BufRef, values: list[int], fired: Fired) -> None:
        from model.compile import compile_program

        assert self.ctx is not None, "services are bound when the model is built"
        key = (service, ref.name)
        fn = self._fns.get(key)
        if fn is None:
            c = Ctx(self.ctx.layout, self.ctx.profile, self.ctx.exporter, self.ctx.importers)
            with c.function(service):
                getattr(c, service)(ref)
            fn = self._fns[key] = compile_program(c.builder.program(), len(c.builder.locals))
        n = self.ctx.layout.size
        out, more = fn(tuple(values[:n]))
        values[:n] = out[:n]
        fired.extend(more)


def _extern(owner: str, method: Callable[[CallView], int | None], services: _Services
            ) -> Callable[[Ctx, Call], None]:
    """A callback body that calls ``method`` at step time."""

    def body(c: Ctx, call: Call) -> None:
        services.ctx = c
        buf, att, d = call.buf, call.att, call.dir
        ret_var = c._returns[-1] if c._returns else None

        def run(values: list[int], fired: Fired) -> None:
            # a direction read from the state (an unmap of a recorded mapping) is evaluated now
            direction = d if d is None or isinstance(d, int) else evaluate(d, tuple(values))
            view = CallView(BufView(buf, values, fired, services),
                            AttView(att, values, fired) if att is not None else None,
                            DIRECTION_NAMES.get(direction) if direction is not None else None)
            ret = method(view) or 0
            if ret_var is not None:
                values[ret_var.index] = int(ret)

        c.builder.emit(Extern(owner, run))

    return body


class PythonExporter:
    """Base class of exporters written in Python. Class attributes describe it; a method
    named after a ``dma_buf_ops`` member implements that member (``ops`` defaults to the
    methods defined); ``move(call)`` is the exporter's own eviction path."""

    name = "python_exporter"
    summary = "an exporter written as a Python class"
    ops: frozenset[str] | None = None
    cache_sgt_mapping = False
    buffer_fields: tuple[Field, ...] = ()
    attachment_fields: tuple[Field, ...] = ()


class PythonImporter:
    """Base class of importers written in Python: ``dynamic`` and ``move_notify(call)``."""

    name = "python_importer"
    summary = "an importer written as a Python class"
    dynamic = True
    allow_peer2peer = False


def as_exporter(obj: PythonExporter) -> Exporter:
    services = _Services()
    owner = f"exporter {obj.name} ({type(obj).__qualname__})"
    defined = {op for op in OPS if callable(getattr(obj, op, None))}
    ops = frozenset(obj.ops) if obj.ops is not None else frozenset(
        defined | {"map_dma_buf", "unmap_dma_buf", "release"})
    callbacks = {op: _extern(owner, getattr(obj, op), services) for op in defined & ops}
    move = getattr(obj, "move", None)
    return Exporter(
        obj.name, obj.summary, ops=ops, callbacks=callbacks,
        cache_sgt_mapping=obj.cache_sgt_mapping, buffer_fields=obj.buffer_fields,
        attachment_fields=obj.attachment_fields,
        move=_extern(owner, move, services) if callable(move) else None,
        encodable=False, modelled_on=f"Python class {type(obj).__qualname__}")


def as_importer(obj: PythonImporter) -> Importer:
    services = _Services()
    owner = f"importer {obj.name} ({type(obj).__qualname__})"
    notify = getattr(obj, "move_notify", None)
    return Importer(
        obj.name, obj.summary, dynamic=obj.dynamic,
        move_notify=_extern(owner, notify, services) if callable(notify) else None,
        allow_peer2peer=obj.allow_peer2peer, encodable=False,
        modelled_on=f"Python class {type(obj).__qualname__}")


__all__ = ["AttView", "BufView", "CallView", "PythonExporter", "PythonImporter",
           "as_exporter", "as_importer", "counter", "flag"]
