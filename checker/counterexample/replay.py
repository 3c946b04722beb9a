"""Replay: does a stored counterexample still show what it recorded?

``replay(path)`` runs a counterexample file on the reference model and answers with a
``ReplayResult``:

* ``STILL_FAILS``: every step gives the recorded outcome, and the last one shows the finding;
* ``FIXED``: the steps before the last give their recorded outcomes, and the last one no
  longer shows the finding (or is no longer a legal call in contract mode);
* ``DIVERGED``: some other difference: which step, what was recorded, what happened;
* ``ERROR``: the file cannot be read (not a counterexample, an unknown format version,
  corrupted text or JSON, spec errors located as ``file:line:col``).

The scenario (``.dmabuf``) is the replayed source: it names the behaviours, imports the
properties and records each step's outcome. When the ITF trace (``.itf.json``) is beside it,
it is checked against the same run: its actions, outcomes and every state must be what the
model gives, so the two files cannot drift apart unnoticed. An ITF file can also be replayed
on its own: its actions and outcomes are read from each state's ``#meta`` (the behaviours,
profile, scope, mode and imports from the trace's ``#meta``), run as a scenario the same
way, and its states compared with the model's.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from checker.counterexample.itf import first_difference
from checker.counterexample.write import (
    HEADER,
    VERSION,
    CounterexampleError,
    itf_trace,
    record,
)
from checker.dsl import ast
from checker.dsl.diagnostics import SpecError
from checker.dsl.format import format_spec
from checker.dsl.resolve import RULE_ID, Library, ResolvedScenario, ResolvedStep, load, load_text
from checker.dsl.sources import SourceError, read_spec
from checker.problem import RULES, Counterexample, Finding, Problem, engine_property
from checker.scenario import StepResult, run_scenario
from model.action import Action, ActionSyntaxError
from model.ops.registry import result_text

ITF_SUFFIX = ".itf.json"
ITF_VERSION = f"dmabuf-check counterexample {VERSION}"


class Status(enum.Enum):
    STILL_FAILS = "still fails"
    FIXED = "fixed"
    DIVERGED = "diverged"
    ERROR = "error"


@dataclass(frozen=True)
class ReplayResult:
    """One file's replay. ``message`` is one line that starts with the status; ``details``
    is the replayed run step by step (or the spec's diagnostics)."""

    path: Path
    status: Status
    message: str
    details: str = ""

    @property
    def passed(self) -> bool:
        """A kept counterexample passes when it still fails the way it recorded."""
        return self.status is Status.STILL_FAILS

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" + (f"\n{self.details}" if self.details else "")


class _Unreadable(Exception):
    """The file cannot be replayed at all (becomes an ERROR result)."""


def replay(path: Path | str, *, allow_python: bool = False) -> ReplayResult:
    """Replay one counterexample file (``.dmabuf``, or ``.itf.json`` on its own). The
    behaviours are those the file names; Python ones outside the shipped model are imported
    only with ``allow_python``."""
    p = Path(path)
    try:
        if p.name.endswith(ITF_SUFFIX):
            try:
                return _replay_itf(p, allow_python)
            except (KeyError, TypeError, ValueError, AttributeError) as e:
                raise _Unreadable(f"{p}: the ITF trace is malformed ({type(e).__name__}: "
                                  f"{e}): write the counterexample again") from None
        return _replay_scenario(p, allow_python)
    except _Unreadable as e:
        return ReplayResult(p, Status.ERROR, f"error: {e}")
    except RecursionError:
        return ReplayResult(p, Status.ERROR, f"error: {p}: nested too deeply to be a "
                            "counterexample: the file is corrupted")


# ---------------------------------------------------------------- reading


def _read(path: Path) -> str:
    """The file's text (a regular UTF-8 file of bounded size, as for specs)."""
    try:
        return read_spec(path)
    except SourceError as e:
        raise _Unreadable(f"{e}") from None


def parse_finding(text: str) -> Finding:
    """``R18 access-after-move`` (a rule) or ``remap_after_move`` (a property)."""
    words = text.split()
    if not words:
        raise ValueError("empty finding")
    if RULE_ID.fullmatch(words[0]):
        return Finding(RULES, words[0], words[1] if len(words) > 1 else "")
    return Finding(words[0])


def _version(found: str, where: str) -> None:
    raise _Unreadable(f"{where}: unknown counterexample format version {found}; this "
                      f"dmabuf-check reads {VERSION} (use the dmabuf-check that wrote it, or "
                      "write the counterexample again)")


def _header(text: str, path: Path) -> Finding:
    """The finding the scenario file's header records, after checking its version."""
    lines = text.splitlines()
    first = lines[0].strip() if lines else ""
    if first != HEADER:
        m = re.fullmatch(r"#\s*dmabuf-check counterexample\s+(\S+)", first)
        if m:
            _version(m.group(1), f"{path}:1:1")
        raise _Unreadable(f"{path}:1:1: not a dmabuf-check counterexample: the first line "
                          f"must be '{HEADER}'")
    for n, line in enumerate(lines[1:], 2):
        if not line.startswith("#"):
            break
        if line.startswith("# finding:"):
            try:
                return parse_finding(line.split(":", 1)[1])
            except ValueError:
                raise _Unreadable(f"{path}:{n}:1: '# finding:' names nothing: write the rule "
                                  "and tag (R15 unmap-unmapped) or the property") from None
    raise _Unreadable(f"{path}:2:1: the header has no '# finding:' line saying what the "
                      "counterexample shows")


def _resolve(load_fn: Callable[[], Library], path: Path, key: str
             ) -> tuple[Library, ResolvedScenario]:
    try:
        lib = load_fn()
    except SpecError as e:
        raise _Unreadable(f"{path}: the counterexample does not resolve:\n{e.render()}") \
            from None
    mine = [sc for sc in lib.scenarios.values() if sc.decl.span.path == key]
    if len(mine) != 1:
        raise _Unreadable(f"{path}: a counterexample holds exactly one scenario; this one "
                          f"holds {len(mine)}")
    return lib, mine[0]


# ---------------------------------------------------------------- judging the run


def _occurred(step: StepResult, finding: Finding) -> bool:
    if finding.prop != RULES:
        return finding.prop in step.failing
    return any(v.rule == finding.rule and finding.tag in ("", v.tag) for v in step.violations)


def _records(step: ResolvedStep, finding: Finding) -> bool:
    for o in step.outcomes:
        if o.kind != "violates":
            continue
        if finding.prop != RULES and o.rule == finding.prop:
            return True
        if finding.prop == RULES and o.rule == finding.rule and o.tag == finding.tag:
            return True
    return False


def _verb(finding: Finding) -> str:
    return f"violates {finding}" if finding.prop == RULES else f"breaks property {finding}"


def _now(step: StepResult) -> str:
    if step.refused == "contract":
        return "it is no longer a legal call in contract mode: it would break an importer " \
               "obligation"
    if step.ret is None:
        return "it did not run"
    bits = [result_text(step.op, step.ret)]
    bits += [f"violates {v.rule} {v.tag}".rstrip() for v in step.violations]
    bits += [f"breaks property {p}" for p in step.failing]
    if len(bits) == 1:
        bits.append("no violation")
    return "now: " + ", ".join(bits)


def _judge(path: Path, sc: ResolvedScenario, finding: Finding) -> ReplayResult:
    steps = [b for b in sc.body if isinstance(b, ResolvedStep)]
    if not steps:
        raise _Unreadable(f"{path}: the scenario has no steps")
    last = steps[-1]
    if not _records(last, finding):
        raise _Unreadable(f"{last.span}: the last step does not record the finding {finding} "
                          "that the header names; a counterexample ends with the step that "
                          "shows it")
    result = run_scenario(sc)
    details = result.render()
    if result.passed:
        return ReplayResult(path, Status.STILL_FAILS, f"still fails: step {len(steps) - 1} "
                            f"{last.action} {_verb(finding)}", details)
    fail = result.failure
    assert fail is not None
    at_last = fail.span == last.span
    if at_last and fail.refused != "impossible" and not _occurred(fail, finding):
        return ReplayResult(path, Status.FIXED, f"fixed: step {fail.index} {fail.text} no "
                            f"longer {_verb(finding)} ({_now(fail)})", details)
    where = "" if at_last else f" (before the step that shows {finding})"
    return ReplayResult(path, Status.DIVERGED,
                        f"diverged at step {fail.index} {fail.text}{where}: "
                        + "; ".join(fail.problems) + f" [{fail.span}]", details)


# ---------------------------------------------------------------- the ITF trace


def _load_itf(path: Path) -> dict[str, Any]:
    text = _read(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise _Unreadable(f"{path}:{e.lineno}:{e.colno}: not valid JSON ({e.msg}): the file "
                          "is corrupted") from None
    if not isinstance(data, dict) or not isinstance(data.get("#meta"), dict):
        raise _Unreadable(f"{path}: not an ITF trace with a #meta object")
    version = data["#meta"].get("format-version")
    if version != ITF_VERSION:
        if isinstance(version, str) and version.startswith("dmabuf-check counterexample "):
            _version(version.rsplit(" ", 1)[1], f"{path}: #meta.format-version")
        raise _Unreadable(f"{path}: #meta.format-version is {json.dumps(version)}, not "
                          f"{json.dumps(ITF_VERSION)}: not a dmabuf-check counterexample")
    states = data.get("states")
    if not isinstance(states, list) or not states or not all(
            isinstance(s, dict) and isinstance(s.get("#meta"), dict) for s in states):
        raise _Unreadable(f"{path}: 'states' must be a non-empty list of states with #meta")
    return data


def _expected_itf(lib: Library, sc: ResolvedScenario, finding: Finding) -> dict[str, Any]:
    """The ITF trace the writer gives for this scenario's run."""
    d = sc.decl
    exporter = d.exporter_py.target if d.exporter_py is not None else d.exporter
    importers = ((d.importers_py.target,) if d.importers_py is not None
                 else tuple(d.importers) or tuple(i.name for i in sc.model.importers))
    props = tuple(engine_property(p, sc.model) for p in sc.properties)
    problem = Problem(d.name, sc.model, sc.mode, properties=props, exporter_ref=exporter or "",
                      importer_refs=importers)
    actions = tuple(b.action for b in sc.body if isinstance(b, ResolvedStep))
    cex = Counterexample(problem, finding, actions, "replay")
    return itf_trace(cex, record(cex))


_COMPARED_META = ("finding", "exporter", "importers", "profile", "scope", "mode")


def _itf_difference(data: dict[str, Any], lib: Library, sc: ResolvedScenario,
                    finding: Finding) -> str | None:
    """Where a stored ITF trace differs from the model's run of the scenario."""
    try:
        expected = _expected_itf(lib, sc, finding)
    except CounterexampleError as e:
        return str(e)
    meta, want_meta = data["#meta"], expected["#meta"]
    for key in _COMPARED_META:
        if meta.get(key) != want_meta[key]:
            return (f"#meta.{key}: recorded {json.dumps(meta.get(key))}, the scenario says "
                    f"{json.dumps(want_meta[key])}")
    if data.get("vars") != expected["vars"]:
        return f"vars: recorded {data.get('vars')}, the model has {expected['vars']}"
    got, want = data["states"], expected["states"]
    if len(got) != len(want):
        return f"{len(got)} states recorded, the run has {len(want)} (initial state included)"
    for k, (g, w) in enumerate(zip(got, want, strict=True)):
        diff = first_difference(_without_messages(g), _without_messages(w))
        if diff is not None:
            action = w["#meta"]["action"]
            return f"state {k} (after {action}): {diff}"
    return None


def _without_messages(state: Any) -> Any:
    """A state with its violations' messages left out: they are prose for people, and a
    reworded message is not a different outcome."""
    if not isinstance(state, dict) or not isinstance(state.get("#meta"), dict):
        return state
    meta = dict(state["#meta"])
    if isinstance(meta.get("violations"), list):
        meta["violations"] = [{k: v for k, v in x.items() if k != "message"}
                              if isinstance(x, dict) else x for x in meta["violations"]]
    return {**state, "#meta": meta}


def _with_itf(result: ReplayResult, itf: Path, lib: Library, sc: ResolvedScenario,
              finding: Finding, data: dict[str, Any] | None = None) -> ReplayResult:
    """A still-failing result, checked against the ITF trace (when there is one)."""
    if result.status is not Status.STILL_FAILS or (data is None and not itf.exists()):
        return result
    diff = _itf_difference(data if data is not None else _load_itf(itf), lib, sc, finding)
    if diff is None:
        return result
    return ReplayResult(result.path, Status.DIVERGED, f"diverged: the ITF trace {itf.name} "
                        f"disagrees with the model: {diff}", result.details)


def _replay_scenario(path: Path, allow_python: bool) -> ReplayResult:
    text = _read(path)
    finding = _header(text, path)
    key = str(Path(str(path)))
    lib, sc = _resolve(lambda: load([key], allow_python=allow_python), path, key)
    itf = path.with_name(path.name.removesuffix(".dmabuf") + ITF_SUFFIX)
    return _with_itf(_judge(path, sc, finding), itf, lib, sc, finding)


def _field(meta: dict[str, Any], key: str, where: str) -> Any:
    if key not in meta:
        raise _Unreadable(f"{where}: #meta has no '{key}'")
    return meta[key]


def _itf_outcomes(state_meta: dict[str, Any], where: str) -> tuple[ast.Outcome, ...]:
    errno = state_meta.get("errno")
    if not isinstance(errno, str) or not re.fullmatch(r"ok|-E[A-Z]+", errno):
        raise _Unreadable(f"{where}: #meta.errno must be \"ok\" or \"-EXXX\", got "
                          f"{json.dumps(errno)}")
    value = state_meta.get("returns")
    if value is None:
        out = [ast.Outcome("ok") if errno == "ok" else ast.Outcome("errno", errno=errno[1:])]
    elif errno != "ok" or not isinstance(value, dict) or not re.fullmatch(
            r"[0-9]+", str(value.get("#bigint", ""))):
        raise _Unreadable(f"{where}: #meta.returns must be {{\"#bigint\": \"N\"}} with N >= 0 "
                          f"and #meta.errno \"ok\", got {json.dumps(value)}")
    else:
        out = [ast.Outcome("returns", value=int(value["#bigint"]))]
    violations = state_meta.get("violations", [])
    if not isinstance(violations, list) or not all(
            isinstance(v, dict) and isinstance(v.get("rule"), str) for v in violations):
        raise _Unreadable(f"{where}: #meta.violations must be a list of {{rule, tag}} records")
    out += [ast.Outcome("violates", rule=v["rule"], tag=str(v.get("tag", "")))
            for v in violations]
    out += [ast.Outcome("violates", rule=str(p)) for p in state_meta.get("properties", [])]
    return tuple(out)


def _replay_itf(path: Path, allow_python: bool) -> ReplayResult:
    data = _load_itf(path)
    meta = data["#meta"]
    where = f"{path}"
    found = _field(meta, "finding", where)
    if not isinstance(found, dict) or not isinstance(found.get("property"), str):
        raise _Unreadable(f"{where}: #meta.finding must be {{property, rule, tag}}")
    finding = Finding(found["property"], str(found.get("rule", "")), str(found.get("tag", "")))
    steps = []
    for k, state in enumerate(data["states"][1:], 1):
        text = state["#meta"].get("action")
        try:
            action = Action.parse(str(text))
        except ActionSyntaxError as e:
            raise _Unreadable(f"{where}: state {k}: {e}") from None
        call = ast.ActionCall(action.name, action.obj,
                              tuple(ast.Param(n, v) for n, v in action.params))
        steps.append(ast.Step(call, _itf_outcomes(state["#meta"], f"{where}: state {k}")))
    exporter = str(_field(meta, "exporter", where))
    importers = _field(meta, "importers", where)
    if not isinstance(importers, list):
        raise _Unreadable(f"{where}: #meta.importers must be a list")
    settings: dict[str, Any] = {}
    if ":" in exporter:
        settings["exporter_py"] = ast.PyRef(exporter)
    else:
        settings["exporter"] = exporter
    if len(importers) == 1 and ":" in str(importers[0]):
        settings["importers_py"] = ast.PyRef(str(importers[0]))
    else:
        settings["importers"] = tuple(str(i) for i in importers)
    base, _, option = str(_field(meta, "profile", where)).partition(",")
    profile = ast.ProfileRef(base, (("move_notify", option.endswith("y")),) if option else ())
    decl = ast.ScenarioDecl(
        "replayed", profile=profile, scope=str(_field(meta, "scope", where)),
        mode=str(_field(meta, "mode", where)), body=tuple(steps), **settings)
    listed = meta.get("imports", [])
    if not isinstance(listed, list) or not all(isinstance(i, str) for i in listed):
        raise _Unreadable(f"{where}: #meta.imports must be a list of spec file paths")
    imports = [ast.ImportDecl(i) for i in listed]
    text = format_spec(ast.SpecFile(str(path), (*imports, decl)))
    key = f"{path} (as a scenario)"
    lib, sc = _resolve(lambda: load_text(text, key, allow_python=allow_python), path, key)
    return _with_itf(_judge(path, sc, finding), path, lib, sc, finding, data)


__all__ = ["ITF_SUFFIX", "ReplayResult", "Status", "parse_finding", "replay"]
