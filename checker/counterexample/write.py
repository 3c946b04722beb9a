"""Counterexample files: a DSL scenario and an ITF trace, written side by side.

``write(cex, directory)`` runs the counterexample on its model and writes
``<name>.dmabuf``, a scenario that records every step's exact outcome (return value, every
violation, and the finding on the last step), and ``<name>.itf.json``, the same trace as ITF
(Apalache ADR-015) with one state per step. The scenario is the file replay runs; the ITF is
for trace tools, and replay checks it against the model too.

Both files start with a format marker (``# dmabuf-check counterexample v1``,
``#meta.format-version``). The same counterexample always gives byte-identical files (no
date, no absolute paths), so the name ``<finding>-<hash of the trace>`` and the content go
together. Writes are atomic (a temporary file in the same directory, then ``os.replace``).
An existing file with other content is never overwritten: ``CounterexampleExists`` says
why, and nothing is written. The same name with other content means the file was edited by
hand, or the model now gives the same trace other outcomes; either way it is for a person to
look at (replay shows the difference), not for a writer to paper over.

>>> from checker.problem import Counterexample, Finding, Problem, RULES
>>> from model.action import Action
>>> from model.mutants import MUTANTS
>>> m = MUTANTS["double_unmap"]
>>> p = Problem("double_unmap", m.model("1x1"), "contract",
...             exporter_ref="model.mutants:MUTANTS.double_unmap.exporter",
...             importer_refs=("model.mutants:MUTANTS.double_unmap.importers",))
>>> cex = Counterexample(p, Finding(RULES, "R15", "unmap-unmapped"),
...                      tuple(Action.parse(a) for a in m.witness), "hand-written")
>>> print(scenario_text(cex).splitlines()[-2])
  unmap_unlocked(b0.a0, dir=TO_DEVICE, slot=0) -> ok, violates R15 unmap-unmapped
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from checker.counterexample.itf import FORMAT_DESCRIPTION, bigint, encode_state, variables
from checker.dsl import ast
from checker.dsl.diagnostics import CheckerError
from checker.dsl.format import format_spec
from checker.files import atomic_write
from checker.problem import RULES, Counterexample, Finding, Problem
from checker.rulebook import reference
from checker.scenario import PropertyWatch
from model.action import Action
from model.kernel import errno_name
from model.machine import ModelError, State
from model.ops.registry import VALUE, result_names, result_text, returns_of
from model.profiles import Profile
from model.rules import RULES as RULEBOOK
from model.violation import Violation

VERSION = "v1"
HEADER = f"# dmabuf-check counterexample {VERSION}"
DESCRIPTION = "Created by dmabuf-check"


class CounterexampleError(CheckerError):
    """A counterexample that cannot be written as given (its trace does not run, or does
    not show its finding)."""


class CounterexampleExists(CounterexampleError, FileExistsError):
    """A file of that name exists with other content; it was left as it is."""


# ---------------------------------------------------------------- the recorded run


@dataclass(frozen=True)
class RecordedStep:
    """One step as the model ran it: the state before and after, the call's result (a
    negative errno, 0 or a value), the violations, and whether the finding's property fails
    on it."""

    index: int
    action: Action
    before: State
    after: State
    ret: int
    violations: tuple[Violation, ...]
    failing: tuple[str, ...] = ()


def record(cex: Counterexample) -> tuple[RecordedStep, ...]:
    """Run ``cex`` on its problem's model. Raises ``CounterexampleError`` when a step cannot
    happen (or, in contract mode, is not a legal call) or the last step does not show the
    finding."""
    p = cex.problem
    m = p.model
    if not cex.actions:
        raise CounterexampleError(f"{cex.name}: a counterexample has at least one step")
    watch = PropertyWatch(())
    if cex.finding.prop != RULES:
        try:
            watch = PropertyWatch((p.property(cex.finding.prop),))
        except KeyError:
            raise CounterexampleError(
                f"{cex.name}: the problem {p.check} has no property {cex.finding.prop}; "
                f"it has: {', '.join(q.name for q in p.properties) or 'none'}") from None
    state = m.initial()
    steps: list[RecordedStep] = []
    for i, action in enumerate(cex.actions):
        try:
            possible = m.is_enabled(state, action, "misuse")
            legal = p.mode != "contract" or m.is_enabled(state, action, "contract")
        except ModelError as e:
            raise CounterexampleError(f"{cex.name}: step {i}: {e}") from None
        if not possible or not legal:
            why = "cannot happen" if not possible else "is not a legal call (contract mode)"
            raise CounterexampleError(f"{cex.name}: step {i} {action} {why} in the state "
                                      "the trace reaches")
        out = m.step(state, action, i)
        failing = watch.step(m.index(action), state, out)
        steps.append(RecordedStep(i, action, state, out.state, out.ret, out.violations,
                                  failing))
        state = out.state
    if not shows(steps[-1], cex.finding):
        raise CounterexampleError(
            f"{cex.name}: the last step {steps[-1].action} does not show {cex.finding} "
            f"(it gives {outcome_text(steps[-1])})")
    return tuple(steps)


def shows(step: RecordedStep, finding: Finding) -> bool:
    """Whether ``step`` shows ``finding``."""
    if finding.prop != RULES:
        return finding.prop in step.failing
    return any(v.rule == finding.rule and finding.tag in ("", v.tag) for v in step.violations)


def outcome_text(step: RecordedStep) -> str:
    """``ok, violates R15 unmap-unmapped`` as the scenario writes it."""
    return ", ".join(_outcome_words(step))


def _outcome_words(step: RecordedStep) -> list[str]:
    return [result_text(step.action.name, step.ret), *(f"violates {v.rule} {v.tag}".rstrip()
                                      for v in step.violations),
            *(f"violates {name}" for name in step.failing)]


# ---------------------------------------------------------------- the scenario


def scenario_name(cex: Counterexample) -> str:
    """The scenario's name: the file name as a DSL name (``R15_unmap_unmapped_1a2b3c4d``)."""
    out = "".join(c if c.isalnum() or c == "_" else "_" for c in cex.name)
    return out if out[:1].isalpha() or out[:1] == "_" else f"cex_{out}"


def _profile_ref(profile: Profile) -> ast.ProfileRef:
    base, _, option = str(profile).partition(",")
    if option.startswith("move_notify="):
        return ast.ProfileRef(base, (("move_notify", option.endswith("y")),))
    return ast.ProfileRef(base)


@dataclass(frozen=True)
class _Behaviours:
    """The scenario's exporter and importers settings: names, or Python references."""

    exporter: str = ""
    exporter_py: ast.PyRef | None = None
    importers: tuple[str, ...] = ()
    importers_py: ast.PyRef | None = None


def _behaviours(p: Problem) -> _Behaviours:
    python = [r for r in p.importer_refs if ":" in r]
    if python and len(p.importer_refs) > 1:
        raise CounterexampleError(
            f"importer references {', '.join(p.importer_refs)}: a scenario takes names or one "
            "Python reference; name one sequence holding every importer instead")
    by_name = ":" not in p.exporter_ref
    return _Behaviours(p.exporter_ref if by_name else "",
                       None if by_name else ast.PyRef(p.exporter_ref),
                       () if python else tuple(p.importer_refs),
                       ast.PyRef(python[0]) if python else None)


def _step_node(step: RecordedStep) -> ast.Step:
    a = step.action
    call = ast.ActionCall(a.name, a.obj, tuple(ast.Param(k, v) for k, v in a.params))
    outcomes = [_result_node(a.name, step.ret)]
    outcomes += [ast.Outcome("violates", rule=v.rule, tag=v.tag) for v in step.violations]
    outcomes += [ast.Outcome("violates", rule=name) for name in step.failing]
    return ast.Step(call, tuple(outcomes))


def _result_node(op: str, ret: int) -> ast.Outcome:
    """A result as the scenario writes it: ``ok``, ``-EXXX`` or ``returns VALUE`` (the
    value's name when the operation names it)."""
    if ret < 0:
        return ast.Outcome("errno", errno=errno_name(ret)[1:])
    if not _is_value(op, ret):
        return ast.Outcome("ok")
    named = [k for k, v in result_names(op).items() if v == ret]
    return ast.Outcome("returns", value=named[0] if len(named) == 1 else ret)


def _is_value(op: str, ret: int) -> bool:
    """Whether a successful result is a value (``returns``) rather than ``ok``."""
    return ret > 0 or (ret == 0 and returns_of(op) == VALUE)


def finding_text(cex: Counterexample) -> str:
    """What the finding breaks, in one line: ``rule: R15 <title>`` or
    ``property NAME: <summary>``."""
    f = cex.finding
    if f.prop == RULES:
        title = RULEBOOK[f.rule].title if f.rule in RULEBOOK else "a bound of the model"
        return f"rule: {f.rule} {title}"
    summary = next((p.summary for p in cex.problem.properties if p.name == f.prop), "")
    return f"property: {f.prop}" + (f": {summary}" if summary else "")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def header(cex: Counterexample, steps: Sequence[RecordedStep]) -> list[str]:
    """The scenario file's leading comment block; ``# finding:`` is read back by replay."""
    last = steps[-1]
    seed = "none" if cex.seed is None else str(cex.seed)
    return [
        HEADER,
        f"# finding: {cex.finding}",
        f"# check: {_one_line(cex.problem.check)}",
        f"# engine: {_one_line(cex.engine)}, seed {seed}",
        f"# {_one_line(finding_text(cex))}",
        f"# at step {last.index}: {last.action}",
        "# replay: python -m checker.counterexample FILE (pytest replays every file kept "
        "under counterexamples/)",
    ]


def spec_file(cex: Counterexample, steps: Sequence[RecordedStep],
              imports: Sequence[str]) -> ast.SpecFile:
    """The counterexample as a syntax tree: its imports and one scenario."""
    p = cex.problem
    b = _behaviours(p)
    decl = ast.ScenarioDecl(
        scenario_name(cex), _one_line(f"{cex.finding}, found by {cex.engine}"),
        profile=_profile_ref(p.model.profile), scope=str(p.model.scope), exporter=b.exporter,
        importers=b.importers, mode=p.mode, body=tuple(_step_node(s) for s in steps),
        exporter_py=b.exporter_py, importers_py=b.importers_py)
    return ast.SpecFile("<counterexample>", (*(ast.ImportDecl(i) for i in imports), decl))


def relative_imports(problem: Problem, directory: Path) -> tuple[str, ...]:
    """The problem's imports, relative to ``directory`` where possible (else absolute)."""
    out = []
    base = directory.resolve()
    for imp in problem.imports:
        target = Path(imp).resolve()
        try:
            out.append(Path(os.path.relpath(target, base)).as_posix())
        except ValueError:  # another drive
            out.append(target.as_posix())
    return tuple(out)


def scenario_text(cex: Counterexample, directory: Path | None = None,
                  steps: Sequence[RecordedStep] | None = None) -> str:
    """The ``.dmabuf`` file's text (imports written relative to ``directory``, by default
    the current one)."""
    steps = record(cex) if steps is None else steps
    imports = relative_imports(cex.problem, Path(directory or "."))
    return "\n".join(header(cex, steps)) + "\n\n" + format_spec(spec_file(cex, steps, imports))


# ---------------------------------------------------------------- the ITF trace


def _violation(v: Violation) -> dict[str, object]:
    return {"rule": v.rule, "tag": v.tag, "severity": str(v.severity), "party": str(v.party),
            "objects": list(v.objects), "message": v.message}


def itf_trace(cex: Counterexample, steps: Sequence[RecordedStep],
              imports: Sequence[str] = (), source: str = "") -> dict[str, object]:
    """The trace as an ITF object: ``#meta`` for the trace and for each state, one record per
    buffer, integers as ``#bigint``."""
    p = cex.problem
    m = p.model
    f = cex.finding
    meta = {
        "format": "ITF",
        "format-description": FORMAT_DESCRIPTION,
        "format-version": f"dmabuf-check counterexample {VERSION}",
        "source": source or f"{cex.name}.dmabuf",
        "description": DESCRIPTION,
        "check": p.check,
        "finding": {"property": f.prop, "rule": f.rule, "tag": f.tag},
        "engine": cex.engine,
        "seed": None if cex.seed is None else bigint(cex.seed),
        "exporter": p.exporter_ref,
        "importers": list(p.importer_refs),
        "profile": str(m.profile),
        "scope": str(m.scope),
        "mode": p.mode,
        "imports": list(imports),
    }
    states: list[dict[str, object]] = [
        {"#meta": {"index": bigint(0), "action": "init", "violations": []},
         **encode_state(m, m.initial())}]
    for s in steps:
        step_meta: dict[str, object] = {
            "index": bigint(s.index + 1), "action": str(s.action),
            "errno": errno_name(min(s.ret, 0)),
            "violations": [_violation(v) for v in s.violations]}
        if s.ret >= 0 and _is_value(s.action.name, s.ret):
            step_meta["returns"] = bigint(s.ret)  # a value; "errno" is then "ok"
        if s.failing:
            step_meta["properties"] = list(s.failing)
        states.append({"#meta": step_meta, **encode_state(m, s.after)})
    return {"#meta": meta, "vars": variables(m), "states": states}


def itf_text(cex: Counterexample, directory: Path | None = None,
             steps: Sequence[RecordedStep] | None = None) -> str:
    """The ``.itf.json`` file's text: canonical (sorted keys, two-space indent)."""
    steps = record(cex) if steps is None else steps
    imports = relative_imports(cex.problem, Path(directory or "."))
    return json.dumps(itf_trace(cex, steps, imports), sort_keys=True, indent=2) + "\n"


# ---------------------------------------------------------------- writing


@dataclass(frozen=True)
class WrittenFiles:
    """The two files of one counterexample; ``new`` lists those this call created (the
    others already held exactly this content)."""

    scenario: Path
    itf: Path
    new: tuple[Path, ...]


def write(cex: Counterexample, directory: Path | str) -> WrittenFiles:
    """Write ``<cex.name>.dmabuf`` and ``<cex.name>.itf.json`` into ``directory`` (created
    if missing). Writing the same counterexample again changes nothing; a file of that name
    with other content raises ``CounterexampleExists`` and nothing is written."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    steps = record(cex)
    files = [(directory / f"{cex.name}.dmabuf",
              scenario_text(cex, directory, steps).encode("utf-8")),
             (directory / f"{cex.name}.itf.json",
              itf_text(cex, directory, steps).encode("utf-8"))]
    todo = []
    for path, data in files:
        if path.exists():
            if path.read_bytes() != data:
                raise CounterexampleExists(
                    f"{path} exists with other content and was not overwritten. Its name is "
                    "a hash of the trace, so either it was edited by hand or the model now "
                    "gives this trace other outcomes (replay it to see which). Move or "
                    "remove it to write this counterexample.")
        else:
            todo.append((path, data))
    created: list[Path] = []
    try:
        for path, data in todo:
            atomic_write(path, data)
            created.append(path)
    except BaseException:
        for path in created:  # no half-written pair
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        raise
    return WrittenFiles(files[0][0], files[1][0], tuple(created))


# ---------------------------------------------------------------- the text report


def render(cex: Counterexample) -> str:
    """The counterexample for a person: each step with its outcome and the state change,
    then the finding with the rule's text (or the property's summary)."""
    p = cex.problem
    m = p.model
    steps = record(cex)
    seed = "none" if cex.seed is None else str(cex.seed)
    lines = [f"counterexample {cex.name}: {cex.finding}",
             f"  check {p.check}, engine {cex.engine}, seed {seed}",
             f"  exporter {p.exporter_ref}, importers {', '.join(p.importer_refs)}, "
             f"profile {m.profile}, scope {m.scope}, {p.mode} mode", ""]
    for s in steps:
        mark = "  <-- finding" if s is steps[-1] else ""
        lines.append(f"  step {s.index:>2}  {s.action} -> {outcome_text(s)}{mark}")
        for v in s.violations:
            lines.append(f"           {v.rule} [{v.severity}, {v.party}] {v.tag}: {v.message}")
            if v.where:
                lines.append(f"             at {v.where}")
        lines.extend(f"           {name}: {old} -> {new}"
                     for name, old, new in m.diff(s.before, s.after))
    last = steps[-1]
    lines += ["", f"finding: {cex.finding} at step {last.index} ({last.action})"]
    f = cex.finding
    if f.prop == RULES and f.rule in RULEBOOK:
        r = RULEBOOK[f.rule]
        lines += [f"  {r.id} {r.title}", f"  {r.summary}",
                  f"  kernel: {', '.join(r.kernel_functions)}; reference: {reference(r.id)}"]
    elif f.prop != RULES:
        prop = p.property(f.prop)
        lines.append(f"  property {prop.name} ({prop.kind})"
                     + (f": {prop.summary}" if prop.summary else "")
                     + (f", declared at {prop.where}" if prop.where else ""))
    return "\n".join(lines) + "\n"


__all__ = [
    "DESCRIPTION",
    "HEADER",
    "VERSION",
    "CounterexampleError",
    "CounterexampleExists",
    "RecordedStep",
    "WrittenFiles",
    "finding_text",
    "itf_text",
    "itf_trace",
    "record",
    "render",
    "scenario_text",
    "shows",
    "spec_file",
    "write",
]
