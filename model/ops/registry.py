"""The operation table: every API call, ioctl and driver-side event the model knows."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from model.behaviour import Exporter, Importer
from model.profiles import Profile
from model.scope import Scope

Params = dict[str, Any]


@dataclass(frozen=True)
class Env:
    """What decides which ground actions exist."""

    profile: Profile
    scope: Scope
    exporter: Exporter
    importers: tuple[Importer, ...]


@dataclass(frozen=True)
class OpSpec:
    """One operation.

    ``actor`` says who performs it: ``importer`` (kernel code calling the API), ``user``
    (a process, through the fd), ``exporter`` (the exporting driver) or ``device``
    (hardware completing work). In contract mode importer and user calls are restricted to
    the legal ones; exporter and device events are not. ``target`` is ``buffer`` or
    ``attachment``. ``body(c, obj, **params)`` writes the operation's statements;
    ``enabled(obj, **params)`` is when the call can be made at all (misuse mode).
    """

    name: str
    actor: str
    target: str
    body: Callable[..., None]
    enabled: Callable[..., Any]
    params: Callable[[Env], Sequence[Params]]
    available: Callable[[Env], bool]
    kernel: str
    rules: tuple[str, ...]


REGISTRY: list[OpSpec] = []


def no_params(env: Env) -> Sequence[Params]:
    return ({},)


def always(env: Env) -> bool:
    return True


def op(
    name: str,
    *,
    actor: str,
    target: str,
    enabled: Callable[..., Any],
    kernel: str,
    rules: tuple[str, ...],
    params: Callable[[Env], Sequence[Params]] = no_params,
    available: Callable[[Env], bool] = always,
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register ``body`` as operation ``name``."""

    def register(body: Callable[..., None]) -> Callable[..., None]:
        if any(o.name == name for o in REGISTRY):
            raise ValueError(f"operation {name!r} registered twice")
        REGISTRY.append(OpSpec(name, actor, target, body, enabled, params, available, kernel,
                               rules))
        return body

    return register


def product(**choices: Sequence[Any]) -> list[Params]:
    """Every combination of the given parameter values, in a fixed order."""
    out: list[Params] = [{}]
    for key, values in choices.items():
        out = [{**p, key: v} for p in out for v in values]
    return out


# the exporter callbacks whose failure an action can inject (``fault=exporter``): an exporter
# may declare only these ``fallible``
FALLIBLE = ("attach", "begin_cpu_access", "map_dma_buf", "pin", "vmap")


def faults(env: Env, callback: str, *core: str) -> list[Params]:
    """The failures an action can inject: none, the core's own (``nomem``, ``intr``...),
    and ``exporter`` when the exporter declares ``callback`` fallible."""
    names = ["none", *core]
    if callback in env.exporter.fallible:
        names.append("exporter")
    return [{"fault": n} for n in names]
