"""Model states as ITF values (Apalache ADR-015): one record per buffer.

A state variable ``b0.a1.s0.dir`` becomes the field path ``b0 -> a1 -> s0 -> dir``, so each
buffer is one readable record holding its attachments, their mapping slots, its fences and
the behaviours' own fields (``x``, ``i``). Values: booleans as JSON booleans, the buffer life
and attachment state by name (``"live"``, ``"attached"``), an attachment's importer by the
importer's name, a mapping slot's direction by name (``"none"`` when the slot is free), every
other integer as ``{"#bigint": "N"}``: ITF has no bare JSON numbers.

>>> from model.exporters import SYSTEM_HEAP
>>> from model.machine import Model
>>> m = Model(SYSTEM_HEAP, profile="v6.16+", scope="1x1")
>>> s = m.run(["export(b0)"])[-1].state
>>> b0 = encode_state(m, s)["b0"]
>>> b0["life"], b0["kref"], b0["resv"], b0["a0"]["st"], b0["a0"]["s0"]["dir"]
('live', {'#bigint': '1'}, False, 'free', 'none')
"""

from __future__ import annotations

from typing import Any

from model.expr import BOOL, Var
from model.kernel import DIRECTION_NAMES
from model.layout import ATT_NAMES, LIFE_NAMES
from model.machine import Model, State

FORMAT_DESCRIPTION = "https://apalache-mc.org/docs/adr/015adr-trace.html"

Value = Any  # a JSON value in ITF form


def bigint(n: int) -> dict[str, str]:
    """An integer as ITF writes every integer."""
    return {"#bigint": str(int(n))}


def _value(model: Model, var: Var, value: int) -> Value:
    parts = var.name.split(".")
    leaf = parts[-1]
    if len(parts) == 2 and leaf == "life":
        return LIFE_NAMES.get(value, bigint(value))
    if len(parts) == 3 and leaf == "st":
        return ATT_NAMES.get(value, bigint(value))
    if len(parts) == 3 and leaf == "imp":
        return model.importers[value].name if 0 <= value < len(model.importers) else bigint(
            value)
    if len(parts) == 4 and leaf == "dir":  # a mapping slot: 0 free, else the direction + 1
        return "none" if value == 0 else DIRECTION_NAMES.get(value - 1, bigint(value))
    if var.type == BOOL:
        return bool(value)
    return bigint(value)


def encode_state(model: Model, state: State) -> dict[str, Value]:
    """The state as ITF records, one per buffer (the keys of ``variables(model)``)."""
    out: dict[str, Value] = {}
    for var in model.layout.vars:
        parts = var.name.split(".")
        node = out
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = _value(model, var, state.values[var.index])
    return out


def variables(model: Model) -> list[str]:
    """The ITF ``vars``: the buffers, in order."""
    return [b.name for b in model.layout.buffers]


def first_difference(expected: Value, got: Value, path: str = "") -> str | None:
    """Where two ITF values differ, as ``path: expected X, got Y``; None when equal."""
    if isinstance(expected, dict) and isinstance(got, dict) and "#bigint" not in expected:
        for key in sorted(set(expected) | set(got)):
            where = f"{path}.{key}" if path else key
            if key not in got:
                return f"{where}: recorded, but the model has no such variable"
            if key not in expected:
                return f"{where}: the model has it, the file does not record it"
            found = first_difference(expected[key], got[key], where)
            if found is not None:
                return found
        return None
    if expected != got:
        return f"{path}: recorded {_show(expected)}, the model gives {_show(got)}"
    return None


def _show(v: Value) -> str:
    if isinstance(v, dict) and set(v) == {"#bigint"}:
        return str(v["#bigint"])
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


__all__ = ["FORMAT_DESCRIPTION", "bigint", "encode_state", "first_difference", "variables"]
