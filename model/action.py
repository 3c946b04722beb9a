"""Ground actions: one operation on one object with concrete parameters.

>>> a = Action.parse("map(b0.a1, dir=TO_DEVICE)")
>>> a.name, a.obj, a.param("dir"), a.param("fault")
('map', 'b0.a1', 'TO_DEVICE', 'none')
>>> str(a)
'map(b0.a1, dir=TO_DEVICE)'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

ParamValue = int | str
DEFAULTS: dict[str, ParamValue] = {"fault": "none", "map": "cached", "at": "start",
                                   "fence": "pending", "pointer": "valid", "tail": "whole",
                                   "sharing": "shared", "file": "dmabuf"}

_ACTION = re.compile(r"\s*([a-z_][a-z0-9_]*)\s*\(\s*(b\d+(?:\.a\d+)?)\s*((?:,[^)]*)?)\)\s*")
_PARAM = re.compile(r"\s*([a-z_][a-z0-9_]*)\s*=\s*([A-Za-z0-9_+-]+)\s*")


class ActionSyntaxError(ValueError):
    """An action written in a form the model cannot read."""


@dataclass(frozen=True, slots=True)
class Action:
    """``name(obj, key=value, ...)``; ``obj`` is ``bN`` or ``bN.aM``. Parameters are kept
    sorted by key and a parameter at its default (``fault=none``, ``map=cached``,
    ``fence=pending``, ``pointer=valid``, ``tail=whole``, ``sharing=shared``, ``file=dmabuf``) is
    left out."""

    name: str
    obj: str
    params: tuple[tuple[str, ParamValue], ...] = ()
    _hash: int = field(default=0, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_hash", hash((self.name, self.obj, self.params)))

    def __hash__(self) -> int:
        return self._hash

    @classmethod
    def make(cls, name: str, obj: str, **params: ParamValue) -> Action:
        kept = tuple(sorted((k, v) for k, v in params.items() if DEFAULTS.get(k) != v))
        return cls(name, obj, kept)

    @classmethod
    def parse(cls, text: str) -> Action:
        m = _ACTION.fullmatch(text)
        if not m:
            raise ActionSyntaxError(
                f"cannot read action {text!r}: write it as NAME(bN) or NAME(bN.aM, key=value)")
        params: dict[str, ParamValue] = {}
        rest = m.group(3).strip()
        for part in filter(None, (p.strip() for p in rest.split(",")[1:])):
            pm = _PARAM.fullmatch(part)
            if not pm:
                raise ActionSyntaxError(f"cannot read parameter {part!r} in {text!r}: "
                                        "write it as key=value")
            value = pm.group(2)
            params[pm.group(1)] = int(value) if re.fullmatch(r"-?\d+", value) else value
        return cls.make(m.group(1), m.group(2), **params)

    def param(self, key: str) -> ParamValue:
        for k, v in self.params:
            if k == key:
                return v
        if key in DEFAULTS:
            return DEFAULTS[key]
        raise KeyError(f"{self} has no parameter {key!r}")

    @property
    def buffer(self) -> int:
        return int(self.obj.split(".")[0][1:])

    @property
    def attachment(self) -> int | None:
        parts = self.obj.split(".")
        return int(parts[1][1:]) if len(parts) > 1 else None

    def __str__(self) -> str:
        args = "".join(f", {k}={v}" for k, v in self.params)
        return f"{self.name}({self.obj}{args})"
