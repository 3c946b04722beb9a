"""The operation table: every API call, ioctl and driver-side event the model knows."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from model.behaviour import Exporter, Importer
from model.kernel import errno_name
from model.profiles import Profile
from model.scope import Scope

Params = dict[str, Any]

# What an operation returns when it succeeds (``OpSpec.returns``); a failure is always a
# negative errno. A step's result is one integer: a negative errno, 0, or a value.
STATUS = "status"  # 0: the call succeeded (most calls)
VALUE = "value"  # a value the model predicts: llseek's offset, poll's revents
# a file descriptor: its number is the lowest one free in the process's whole fd table,
# which the model does not have (it counts each buffer's fds, not the process's files:
# stdio, the DRM device, sync files, other buffers), so the model does not number
# descriptors and its result is 0 ("a descriptor"); the conformance harness, which sees the
# number, takes any descriptor (>= 0) as agreeing with it
DESCRIPTOR = "descriptor"
RETURNS = (STATUS, VALUE, DESCRIPTOR)


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
    ``returns`` is what it returns on success (``STATUS``, ``VALUE`` or ``DESCRIPTOR``);
    ``results`` names values it can return (poll's ``POLLIN``...), which a scenario may
    write after ``returns``.
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
    returns: str = STATUS
    results: tuple[tuple[str, int], ...] = ()


REGISTRY: list[OpSpec] = []
DRIVER = "driver"  # the actor of a routine: driver code under test, never restricted


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
    returns: str = STATUS,
    results: Mapping[str, int] | None = None,
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register ``body`` as operation ``name``."""
    if returns not in RETURNS:
        raise ValueError(f"operation {name!r}: returns must be one of {', '.join(RETURNS)}")
    if results and returns != VALUE:
        raise ValueError(f"operation {name!r}: only an operation that returns a value names "
                         "its results")

    def register(body: Callable[..., None]) -> Callable[..., None]:
        if any(o.name == name for o in REGISTRY):
            raise ValueError(f"operation {name!r} registered twice")
        REGISTRY.append(OpSpec(name, actor, target, body, enabled, params, available, kernel,
                               rules, returns, tuple((results or {}).items())))
        return body

    return register


def spec_named(name: str) -> OpSpec | None:
    """The core operation ``name`` (None for a driver routine or an unknown name)."""
    return next((s for s in REGISTRY if s.name == name), None)


def returns_of(name: str) -> str:
    """What operation ``name`` returns on success (a routine: ``STATUS``)."""
    spec = spec_named(name)
    return STATUS if spec is None else spec.returns


def result_names(name: str) -> dict[str, int]:
    """The named values operation ``name`` can return (``{}`` when it names none)."""
    spec = spec_named(name)
    return {} if spec is None else dict(spec.results)


def result_text(name: str, ret: int) -> str:
    """A step's result as a scenario writes it: ``ok`` (exactly 0, from an operation that
    returns no value), ``-EINVAL``, or ``returns VALUE`` with the value's name when the
    operation names it (``returns POLLIN``, ``returns 8192``, ``returns 0``)."""
    if ret < 0 or (ret == 0 and returns_of(name) != VALUE):
        return errno_name(ret)
    named = [k for k, v in result_names(name).items() if v == ret]
    return f"returns {named[0] if len(named) == 1 else ret}"


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


def routine_specs(env: Env, routines: Sequence[tuple[Any, Any, Any]]) -> list[OpSpec]:
    """One operation per driver routine of a model (``model.routine``): its actions are
    each segment (``at``) with each failure it can inject."""
    from model.routine import build, enabled
    from model.routine import faults as routine_faults

    # a routine's own attach can fail as any attach can (the model's free API calls are
    # not made for importers with routines, so their parameters leave them out)
    free = replace(env, importers=tuple(replace(i, routines=()) for i in env.importers))

    def fault_values(name: str) -> list[str]:
        spec = next(s for s in REGISTRY if s.name == name)
        seen: list[str] = []
        for p in spec.params(free) if spec.available(free) else ():
            f = str(p.get("fault", "none"))
            if f not in seen:
                seen.append(f)
        return seen

    out = []
    for owner, party, r in routines:
        called = {op for seg in r.segments for _, op in seg.sites}
        rules = sorted({rule for s in REGISTRY if s.name in called for rule in s.rules}
                       | {"R32"}, key=lambda x: int(x[1:]))

        def body(c: Any, obj: Any, at: str, fault: str, _r: Any = r, _o: Any = owner,
                 _p: Any = party) -> None:
            build(c, _r, _p, _o.name, obj, at, fault)

        def pre(c: Any, obj: Any, at: str, fault: str, _r: Any = r) -> Any:
            return enabled(c, _r, obj, at)

        def params(e: Env, _r: Any = r) -> list[Params]:
            return [{"at": seg.label, "fault": f} for seg in _r.segments
                    for f in routine_faults(_r, seg.label, fault_values)]

        out.append(OpSpec(r.name, DRIVER, r.target, body, pre, params, always,
                          f"{owner.name}: {r.summary or r.name}", tuple(rules)))
    return out
