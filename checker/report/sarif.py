"""SARIF 2.1.0 for GitHub code scanning (``output-formats.md`` 2(b)).

One run of the tool ``dmabuf-check``:

* ``tool.driver.rules`` holds every rule of the catalogue (``R1``..``R32``: title, the
  rulebook's text, kernel functions, responsible parties, consequences, profiles), then a
  descriptor for each DSL property the verdicts name (``property/NAME``, from its kind and
  summary), and the few the model reports outside the catalogue (``SCOPE``: a declared
  bound of the model was reached) or that stand for all rules at once (``rules``: an
  engine's unknown answer about the whole catalogue).
* one result per finding: each violated verdict (``level`` from the kernel consequence of the
  violation: a splat, lockdep report, BUG or silent corruption is an ``error``, a refused
  call or a leak a ``warning``, a model bound a ``note``); each unwitnessed ``sometimes``
  property (``warning``: the model may be vacuous); each unknown answer (``note``, also
  listed as a tool execution notification).
* a result's location is the DSL line it is about: the property's declaration for a
  property, the check block for a rule. URIs are relative to the source root
  (``uriBaseId: %SRCROOT%``) when the file lies under it, so they are the same on every
  checkout. A result whose check has no DSL location (a ``Problem`` built in Python) points
  at its written counterexample; with neither it cannot be shown by code scanning and is
  reported as a tool execution notification instead.
* a violated result's trace is ``codeFlows[0].threadFlows[0].locations``: one location per
  step of the written counterexample scenario (``.dmabuf``), at the step's line, with the
  step and its outcome as the message and the state changes as ``state``.
* ``partialFingerprints`` are hashes of the check, the rule or property and the canonical
  trace (``Counterexample.canonical``), never of paths or times, so the same finding keeps
  its alert across runs and edits of the spec file. ``primaryLocationLineHash`` (the one
  fingerprint GitHub reads) is set from the same hash, so uploads through the REST API do
  not duplicate alerts either.

The log has no dates or absolute paths of files under the root: the same verdicts give the
same bytes.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from checker.counterexample.write import RecordedStep, WrittenFiles, outcome_text, record
from checker.dsl import ast
from checker.dsl.diagnostics import CheckerError
from checker.dsl.parser import parse
from checker.problem import RULES, Counterexample, Problem, Status, Verdict
from checker.report.outcome import (
    TOOL,
    atomic_write,
    information_uri,
    operations_fired,
    per_finding,
    split_where,
    status_text,
    tool_version,
)
from checker.rulebook import help_uri, reference
from model.rules import RULES as RULEBOOK
from model.rules import Rule
from model.violation import Severity

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
SRCROOT = "%SRCROOT%"
FINGERPRINT = "dmabufCheckFinding/v1"
MAX_TEXT = 1024  # GitHub's limit for short and full descriptions
MAX_FLOW = 10_000  # GitHub's limit of thread-flow locations per result

# the kernel's consequence as a SARIF level
LEVELS: Mapping[Severity, str] = {
    Severity.BUG: "error",
    Severity.WARN: "error",
    Severity.WARN_ERRNO: "error",
    Severity.LOCKDEP: "error",
    Severity.SILENT: "error",
    Severity.ERRNO: "warning",
    Severity.LEAK: "warning",
    Severity.SCOPE: "note",
}
_PROBLEM_SEVERITY = {"error": "error", "warning": "warning", "note": "recommendation"}
ALL_RULES_ID = "rules"
SCOPE_ID = "SCOPE"


def property_rule_id(name: str) -> str:
    """The SARIF rule id of a DSL property: ``property/NAME``."""
    return f"property/{name}"


def _short(text: str, limit: int = MAX_TEXT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _semver(version: str) -> bool:
    return re.fullmatch(r"\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]+)?", version) is not None


# ---------------------------------------------------------------- rule descriptors


def rule_descriptor(r: Rule) -> dict[str, object]:
    """A catalogue rule as a SARIF reporting descriptor, with the rulebook's text as
    help."""
    level = LEVELS.get(r.consequences[0], "warning") if r.consequences else "warning"
    parties = ", ".join(str(p) for p in r.parties)
    consequences = ", ".join(str(c) for c in r.consequences)
    functions = ", ".join(r.kernel_functions)
    profiles = ", ".join(r.profiles)
    text = [f"{r.id} {r.title}", "", r.summary, "",
            f"Kernel functions: {functions}.", f"Responsible: {parties}.",
            f"Kernel consequence when broken: {consequences}.", f"Profiles: {profiles}."]
    if r.versions:
        text += ["", f"Versions: {r.versions}"]
    text += ["", f"Reference: {reference(r.id)}."]
    md = [f"**{r.id} {r.title}**", "", r.summary, "",
          "| | |", "|---|---|",
          f"| Kernel functions | {', '.join(f'`{f}()`' for f in r.kernel_functions)} |",
          f"| Responsible | {parties} |", f"| Consequence when broken | {consequences} |",
          f"| Kernel profiles | {profiles} |"]
    if r.versions:
        md += ["", f"*Versions:* {r.versions}"]
    md += ["", f"Reference: `{reference(r.id)}`."]
    tags = ["dma-buf", *(f"party:{p}" for p in r.parties),
            *(f"consequence:{c}" for c in r.consequences)]
    uri = help_uri(r.id)
    return {
        "id": r.id,
        "name": r.title[:255],
        "shortDescription": {"text": _short(f"{r.id} {r.title}")},
        "fullDescription": {"text": _short(r.summary)},
        **({"helpUri": uri} if uri else {}),
        "help": {"text": "\n".join(text), "markdown": "\n".join(md)},
        "defaultConfiguration": {"level": level},
        "properties": {"tags": tags[:20], "precision": "very-high",
                       "problem.severity": _PROBLEM_SEVERITY[level]},
    }


def _property_descriptor(problem: Problem, name: str, root: Path) -> dict[str, object]:
    try:
        prop = problem.property(name)
        kind, summary, where = prop.kind, prop.summary, prop.where
    except KeyError:
        kind, summary, where = "property", "", ""
    meaning = {
        "always": "holds in every reachable state",
        "sometimes": "is reached in some state (a witness that the model is not vacuous)",
        "response": "after its trigger, the event comes before the deadline",
    }.get(kind, "holds")
    short = f"{kind} property {name}" + (f": {summary}" if summary else "")
    full = f"The {kind} property {name} {meaning}." + (f" {summary}." if summary else "")
    place = _line_place(where)
    decl = "" if place is None else f"{_artifact(place.path, root)['uri']}:{place.line}"
    text = full + (f"\n\nDeclared at {decl}." if decl else "")
    md = f"**{kind} property `{name}`**\n\n{full}" + (
        f"\n\nDeclared at `{decl}`." if decl else "")
    level = "warning" if kind == "sometimes" else "error"
    return {
        "id": property_rule_id(name),
        "name": name[:255],
        "shortDescription": {"text": _short(short)},
        "fullDescription": {"text": _short(full)},
        "help": {"text": text, "markdown": md},
        "defaultConfiguration": {"level": level},
        "properties": {"tags": ["dma-buf", "property", kind], "precision": "very-high",
                       "problem.severity": _PROBLEM_SEVERITY[level]},
    }


def _special_descriptor(rule_id: str) -> dict[str, object]:
    if rule_id == SCOPE_ID:
        short = "A declared bound of the model was reached"
        full = ("A counter or object bound of the model's scope was reached: the check "
                "explored as far as its scope allows. This is a limit of the check, not a "
                "kernel event; raise the scope to explore further.")
        level = "note"
    elif rule_id == ALL_RULES_ID:
        short = "The model's rules R1..R32"
        full = ("Every rule of the catalogue holds on every explored step; an engine's "
                "answer about all rules at once.")
        level = "error"
    else:
        short = f"Rule {rule_id} reported by the model"
        full = f"The model reported a violation of {rule_id}, which the catalogue lacks."
        level = "warning"
    return {
        "id": rule_id,
        "shortDescription": {"text": short},
        "fullDescription": {"text": full},
        "help": {"text": full, "markdown": full},
        "defaultConfiguration": {"level": level},
        "properties": {"tags": ["dma-buf"], "precision": "very-high",
                       "problem.severity": _PROBLEM_SEVERITY[level]},
    }


def _rule_id(v: Verdict) -> str:
    """The rule a verdict's result is about."""
    cex = v.counterexample if v.status is Status.VIOLATED else None
    if v.prop != RULES:
        return property_rule_id(v.prop)
    if cex is not None and cex.finding.rule:
        return cex.finding.rule
    return ALL_RULES_ID


# ---------------------------------------------------------------- locations


@dataclass(frozen=True)
class _Place:
    path: Path
    line: int
    col: int
    end_line: int
    end_col: int


def _artifact(path: Path, root: Path) -> dict[str, str]:
    target = path.resolve()
    try:
        return {"uri": target.relative_to(root).as_posix(), "uriBaseId": SRCROOT}
    except ValueError:
        return {"uri": target.as_uri()}


def _physical(place: _Place, root: Path, message: str = "") -> dict[str, object]:
    out: dict[str, object] = {"physicalLocation": {
        "artifactLocation": _artifact(place.path, root),
        "region": {"startLine": place.line, "startColumn": place.col,
                   "endLine": place.end_line, "endColumn": place.end_col}}}
    if message:
        out["message"] = {"text": message}
    return out


def _line_place(where: str) -> _Place | None:
    """A "file:line:col" position as a region to the end of that line."""
    parts = split_where(where)
    if parts is None or parts[0].startswith("<"):
        return None
    path, line, col = Path(parts[0]), parts[1], max(parts[2], 1)
    end = col + 1
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
        if 1 <= line <= len(lines):
            end = max(len(lines[line - 1]) + 1, col + 1)
    except OSError:
        pass
    return _Place(path, max(line, 1), col, max(line, 1), end)


def _finding_where(v: Verdict) -> str:
    """Where in a routine the finding's violation was made ("" if not in a routine)."""
    cex = v.counterexample if v.status is Status.VIOLATED else None
    if cex is None or v.prop != RULES:
        return ""
    last = record(cex)[-1]
    hit = [x.where for x in last.violations if x.rule == cex.finding.rule
           and cex.finding.tag in ("", x.tag) and x.where]
    return hit[0] if hit else ""


def _declared(v: Verdict) -> str:
    if v.prop != RULES:
        try:
            return v.problem.property(v.prop).where or v.problem.where
        except KeyError:
            pass
    return v.problem.where


@dataclass(frozen=True)
class _Scenario:
    """A written counterexample scenario: where it is declared, and each step's span."""

    decl: _Place
    steps: tuple[_Place, ...]


def _scenario(path: Path) -> _Scenario | None:
    try:
        spec = parse(path.read_text(encoding="utf-8"), str(path))
    except (OSError, UnicodeDecodeError, CheckerError):
        return None
    decls = [d for d in spec.items if isinstance(d, ast.ScenarioDecl)]
    if len(decls) != 1:
        return None

    def place(s: ast.Span) -> _Place:
        return _Place(path, s.line, s.col, s.end_line, s.end_col)

    d = decls[0]
    head = _Place(path, d.span.line, d.span.col, d.span.line, d.span.col + len("scenario"))
    return _Scenario(head, tuple(place(i.span) for i in d.body if isinstance(i, ast.Step)))


# ---------------------------------------------------------------- results


def fingerprint(v: Verdict) -> str:
    """The finding's identity across runs: a hash of the check, the rule or property, and
    the canonical trace (or, without a trace, the status and engine)."""
    cex = v.counterexample if v.status is Status.VIOLATED else None
    tail = [cex.canonical()] if cex is not None else [v.status.value, v.engine]
    text = "\n".join([v.problem.check, _rule_id(v), v.prop, *tail])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _flow(cex: Counterexample, steps: Sequence[RecordedStep], scenario: _Scenario,
          root: Path) -> dict[str, object] | None:
    if len(scenario.steps) != len(steps) or len(steps) > MAX_FLOW:
        return None
    m = cex.problem.model
    locations: list[dict[str, object]] = []
    for s, place in zip(steps, scenario.steps, strict=True):
        mark = " (the finding)" if s is steps[-1] else ""
        loc: dict[str, object] = {
            "location": _physical(place, root,
                                  f"step {s.index}: {s.action} -> {outcome_text(s)}{mark}"),
            "executionOrder": s.index,
        }
        diff = m.diff(s.before, s.after)
        if diff:
            loc["state"] = {name: {"text": f"{old} -> {new}"} for name, old, new in diff}
        if s is steps[-1]:
            loc["importance"] = "essential"
        locations.append(loc)
    return {"threadFlows": [{"locations": locations}]}


def _violated_result(v: Verdict, cex: Counterexample, files: Mapping[str, WrittenFiles],
                     root: Path) -> tuple[dict[str, object], _Place | None]:
    p = cex.problem
    m = p.model
    f = cex.finding
    steps = record(cex)
    last = steps[-1]
    shown = [x for x in last.violations if f.prop == RULES and x.rule == f.rule
             and f.tag in ("", x.tag)]
    n = len(cex.actions)
    context = (f"Found by {cex.engine} in {n} step{'s' if n != 1 else ''} "
               f"(exporter {p.exporter_ref}, profile {m.profile}, scope {m.scope}, "
               f"{p.mode} mode).")
    if f.prop == RULES:
        r = RULEBOOK.get(f.rule)
        what = shown[0].message if shown else f"{f} at {last.action}"
        title = f" ({r.title})" if r is not None else ""
        text = (f"{f} on check {p.check}: {what.rstrip('.')}. Rule {f.rule}{title} is broken "
                f"at step {last.index}, {last.action}. {context}")
        if shown:
            level = LEVELS.get(shown[0].severity, "warning")
        elif r is not None and r.consequences:
            level = LEVELS.get(r.consequences[0], "warning")
        else:
            level = "warning"
    else:
        summary = next((q.summary for q in p.properties if q.name == f.prop), "")
        text = (f"Property {f.prop} fails on check {p.check} at step {last.index}, "
                f"{last.action}" + (f": {summary}." if summary else ".") + f" {context}")
        level = "error"
    written = files.get(cex.name)
    scenario = _scenario(written.scenario) if written is not None else None
    if written is not None:
        text += f" Counterexample: {_artifact(written.scenario, root)['uri']}."
    result: dict[str, object] = {"level": level, "message": {"text": text}}
    extra: dict[str, object] = {"steps": n, "seed": cex.seed, "counterexample": cex.name}
    if scenario is not None:
        result["relatedLocations"] = [
            {"id": 1, **_physical(scenario.decl, root, f"counterexample {cex.name}")}]
        flow = _flow(cex, steps, scenario, root)
        if flow is not None:
            result["codeFlows"] = [flow]
    result["properties"] = extra
    return result, scenario.decl if scenario is not None else None


def _open_result(v: Verdict) -> dict[str, object]:
    p = v.problem
    reason = f": {v.reason.rstrip('.')}." if v.reason else "."
    if v.status is Status.UNWITNESSED:
        depth = "" if v.depth is None else f" within depth {v.depth}"
        text = (f"Property {v.prop} was never reached on check {p.check}{depth} by {v.engine}, "
                f"so the model may be vacuous{reason}")
        return {"level": "warning", "message": {"text": text}}
    what = "The rules are" if v.prop == RULES else f"Property {v.prop} is"
    text = (f"{what} unknown on check {p.check}: {v.engine} could not decide{reason}"
            " Unknown is not a pass.")
    return {"level": "note", "message": {"text": text}}


def _notification(v: Verdict, text: str) -> dict[str, object]:
    return {"level": "warning" if v.status is Status.UNKNOWN else "error",
            "message": {"text": text},
            "descriptor": {"id": _rule_id(v)},
            "properties": {"check": v.problem.check, "property": v.prop,
                           "engine": v.engine, "status": v.status.value}}


def sarif_log(verdicts: Sequence[Verdict], files: Mapping[str, WrittenFiles] | None = None,
              *, root: Path | None = None, category: str | None = None,
              information: str | None = None) -> dict[str, object]:
    """The SARIF log for ``verdicts``. ``files`` maps counterexample names to their written
    files (``outcome.written``); URIs are relative to ``root`` (the current directory by
    default: run from the repository's root, or pass it). ``category`` sets
    ``automationDetails.id`` (``category/``) to keep analyses apart; ``information`` the
    tool's ``informationUri`` (by default the installed package's home page)."""
    files = files or {}
    verdicts = per_finding(verdicts)  # one result per finding
    base = (root or Path.cwd()).resolve()
    descriptors = [rule_descriptor(r) for r in RULEBOOK.values()]
    index = {str(d["id"]): i for i, d in enumerate(descriptors)}

    def rule_index(rule_id: str, v: Verdict) -> int:
        if rule_id not in index:
            if rule_id.startswith("property/"):
                d = _property_descriptor(v.problem, v.prop, base)
            else:
                d = _special_descriptor(rule_id)
            index[rule_id] = len(descriptors)
            descriptors.append(d)
        return index[rule_id]

    # descriptors for every property the verdicts name, in name order, before any result
    named = {v.prop: v for v in verdicts if v.prop != RULES}
    for name in sorted(named):
        rule_index(property_rule_id(name), named[name])

    results: list[dict[str, Any]] = []
    by_digest: dict[str, dict[str, Any]] = {}
    notifications: list[dict[str, object]] = []
    for v in verdicts:
        if not v.status.failing:
            partial = operations_fired(v) if v.status is Status.HOLDS else None
            if partial is not None:  # not a plain pass: say what the exploration missed
                never = v.details.get("never_fired")
                missed = ", ".join(str(op) for op in never) if isinstance(never, list) else ""
                note = _notification(v, f"{v.prop} on {v.problem.check}: {status_text(v)} "
                                     f"by {v.engine}; never fired: {missed}")
                note["level"] = "warning"
                notifications.append(note)
            continue
        rule_id = _rule_id(v)
        cex = v.counterexample if v.status is Status.VIOLATED else None
        if cex is not None:
            body, fallback = _violated_result(v, cex, files, base)
        else:
            body, fallback = _open_result(v), None
        # a driver routine's finding is reported on the DSL line of the call that made it
        place = _line_place(_finding_where(v)) or _line_place(_declared(v)) or fallback
        msg = body["message"]
        assert isinstance(msg, dict)
        if place is None:
            notifications.append(_notification(v, str(msg["text"])))
            continue
        if v.status is Status.UNKNOWN:
            notifications.append(_notification(v, str(msg["text"])))
        digest = fingerprint(v)
        same = by_digest.get(digest)
        if same is not None:  # another engine found the same trace: one alert, both engines
            engines = same["properties"]["engines"]
            if v.engine not in engines:
                engines.append(v.engine)
            continue
        extra = body.pop("properties", {})
        assert isinstance(extra, dict)
        result: dict[str, Any] = {
            "ruleId": rule_id,
            "ruleIndex": rule_index(rule_id, v),
            "level": body.pop("level"),
            "message": body.pop("message"),
            "locations": [_physical(place, base)],
            **body,
            "partialFingerprints": {FINGERPRINT: digest,
                                    "primaryLocationLineHash": f"{digest[:16]}:1"},
            "properties": {"check": v.problem.check, "property": v.prop,
                           "status": v.status.value, "engines": [v.engine],
                           "depth": v.depth, **extra},
        }
        by_digest[digest] = result
        results.append(result)

    version = tool_version()
    driver: dict[str, object] = {"name": TOOL, "version": version}
    if _semver(version):
        driver["semanticVersion"] = version
    driver["informationUri"] = information or information_uri()
    driver["rules"] = descriptors
    run: dict[str, object] = {"tool": {"driver": driver}}
    if category:
        run["automationDetails"] = {"id": f"{category.rstrip('/')}/"}
    run["invocations"] = [{"executionSuccessful": True,
                           "toolExecutionNotifications": notifications}]
    run["columnKind"] = "unicodeCodePoints"
    run["results"] = results
    return {"$schema": SCHEMA, "version": SARIF_VERSION, "runs": [run]}


def sarif_text(verdicts: Sequence[Verdict], files: Mapping[str, WrittenFiles] | None = None,
               *, root: Path | None = None, category: str | None = None,
               information: str | None = None) -> str:
    """``sarif_log`` serialised: two-space indent, a final newline."""
    log = sarif_log(verdicts, files, root=root, category=category, information=information)
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"


def write_sarif(path: Path | str, verdicts: Sequence[Verdict],
                files: Mapping[str, WrittenFiles] | None = None, *,
                root: Path | None = None, category: str | None = None,
                information: str | None = None) -> Path:
    """Write ``sarif_text(...)`` to ``path`` atomically; returns the path."""
    text = sarif_text(verdicts, files, root=root, category=category, information=information)
    return atomic_write(path, text.encode("utf-8"))


__all__ = [
    "ALL_RULES_ID",
    "FINGERPRINT",
    "LEVELS",
    "SCHEMA",
    "SCOPE_ID",
    "fingerprint",
    "property_rule_id",
    "rule_descriptor",
    "sarif_log",
    "sarif_text",
    "write_sarif",
]
