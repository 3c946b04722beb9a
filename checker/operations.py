"""The operations reference: every operation of the model's registry (``model/ops/``) with
its parameters and their values, the profiles it exists under and the rules it checks.

Generated from the registry itself, under the default scope, for every shipped exporter and
every profile: a value that only some exporters or profiles offer says which ones.
``dmabuf-check ops`` prints it; ``docs/operations.md`` is its Markdown form.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field

from model.action import DEFAULTS
from model.behaviour import Exporter, Importer
from model.ops.registry import DESCRIPTOR, REGISTRY, STATUS, VALUE, Env, OpSpec
from model.profiles import PROFILES
from model.rules import RULES
from model.scope import Scope

ACTORS = {
    "importer": "kernel code calling the dma-buf API",
    "user": "a process, through the dma-buf fd",
    "exporter": "the exporting driver",
    "device": "hardware completing work",
}


@dataclass
class Value:
    value: str
    profiles: set[str] = field(default_factory=set)
    exporters: set[str] = field(default_factory=set)


@dataclass
class Operation:
    name: str
    actor: str
    target: str
    kernel: str
    summary: str
    rules: tuple[str, ...]
    profiles: list[str]
    exporters: set[str]
    params: dict[str, list[Value]]
    returns: str = STATUS
    results: tuple[tuple[str, int], ...] = ()

    def usage(self) -> str:
        obj = "bN.aM" if self.target == "attachment" else "bN"
        args = "".join(f", {k}=..." for k in self.params if k not in DEFAULTS)
        return f"{self.name}({obj}{args})"


def _summary(spec: OpSpec) -> str:
    doc = inspect.getdoc(spec.body) or ""
    return " ".join(doc.split("\n\n")[0].split())


def reference(exporters: tuple[Exporter, ...] | None = None,
              importers: tuple[Importer, ...] | None = None,
              scope: Scope | None = None) -> list[Operation]:
    """The operations in registry order (by default: the shipped behaviours, scope 2x3)."""
    if exporters is None or importers is None:
        from checker.dsl.library import shipped_exporters, shipped_importers

        exporters = exporters or tuple(shipped_exporters())
        importers = importers or tuple(shipped_importers())
    scope = scope or Scope()
    out = []
    for spec in REGISTRY:
        params: dict[str, dict[str, Value]] = {}
        profiles: list[str] = []
        seen_exporters: set[str] = set()
        for pname, prof in PROFILES.items():
            for x in exporters:
                env = Env(prof, scope, x, importers)
                if not spec.available(env):
                    continue
                if pname not in profiles:
                    profiles.append(pname)
                seen_exporters.add(x.name)
                for ground in spec.params(env):
                    for key, v in ground.items():
                        slot = params.setdefault(key, {}).setdefault(str(v), Value(str(v)))
                        slot.profiles.add(pname)
                        slot.exporters.add(x.name)
        out.append(Operation(spec.name, spec.actor, spec.target, spec.kernel, _summary(spec),
                             spec.rules, profiles, seen_exporters,
                             {k: list(v.values()) for k, v in params.items()},
                             spec.returns, spec.results))
    return out


def _returns(op: Operation) -> str:
    """What the operation's success result is, as a scenario writes it ("" for 0)."""
    if op.returns == VALUE:
        names = ", ".join(f"{k} ({v:#x})" for k, v in op.results)
        return ("a value, written `returns N`" + (f" or by name: {names}" if names else ""))
    if op.returns == DESCRIPTOR:
        return ("a descriptor, which the model does not number: its result is 0, written "
                "`ok`")
    return ""


def _where(op: Operation, v: Value) -> str:
    notes = []
    if set(op.profiles) - v.profiles:
        notes.append("under " + ", ".join(p for p in op.profiles if p in v.profiles))
    if op.exporters - v.exporters:
        notes.append("with " + ", ".join(sorted(v.exporters)))
    return f" ({'; '.join(notes)})" if notes else ""


def _values(op: Operation, key: str) -> str:
    shown = []
    for v in op.params[key]:
        mark = " (default)" if DEFAULTS.get(key) is not None and str(DEFAULTS[key]) == v.value \
            else ""
        shown.append(f"{v.value}{mark}{_where(op, v)}")
    return " | ".join(shown)


def _profiles(op: Operation) -> str:
    return "all" if len(op.profiles) == len(PROFILES) else ", ".join(op.profiles)


def render_text(ops: list[Operation]) -> str:
    lines = []
    for op in ops:
        lines.append(f"{op.usage()}    [{op.actor}; kernel: {op.kernel}]")
        if op.summary:
            lines.append(f"  {op.summary}")
        lines.append(f"  profiles: {_profiles(op)}")
        rules = ", ".join(f"{r} {RULES[r].title}" if r in RULES else r for r in op.rules)
        lines.append(f"  rules: {rules}")
        if _returns(op):
            lines.append(f"  returns: {_returns(op)}")
        for key in op.params:
            lines.append(f"  {key} = {_values(op, key)}")
        lines.append("")
    lines.append(f"{len(ops)} operations; values under scope {Scope()} and the shipped "
                 "exporters (mmap ranges follow the scope's size_pages)")
    return "\n".join(lines) + "\n"


def render_markdown(ops: list[Operation]) -> str:
    lines = [
        "# Operations",
        "",
        "Every operation the model knows, as a scenario step names it. Generated from the "
        "operation registry (`model/ops/`) by\n"
        "`dmabuf-check ops --format markdown --output docs/operations.md`; a test "
        "keeps this file current.",
        "",
        "Who performs an operation (its actor): "
        + "; ".join(f"**{k}**: {v}" for k, v in ACTORS.items())
        + ". In contract mode importer and user calls are restricted to legal ones.",
        "",
        f"Parameter values are those under the default scope ({Scope()}: buffers x "
        "attachment slots) for the shipped exporters and importers; a value that only some "
        "profiles or exporters offer says which. A parameter at its default may be left out "
        "of a step.",
        "",
    ]
    for op in ops:
        lines.append(f"## `{op.usage()}`")
        lines.append("")
        if op.summary:
            lines.append(op.summary)
            lines.append("")
        lines.append(f"* actor: {op.actor}; target: {op.target}; kernel: `{op.kernel}`")
        lines.append(f"* profiles: {_profiles(op)}")
        rules = ", ".join(f"{r} ({RULES[r].title})" if r in RULES else r for r in op.rules)
        lines.append(f"* rules: {rules}")
        if _returns(op):
            lines.append(f"* returns: {_returns(op)}")
        for key in op.params:
            lines.append(f"* `{key}`: {_values(op, key)}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
