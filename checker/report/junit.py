"""JUnit XML for CI test views (Jenkins, GitLab, the report actions of GitHub).

The shape is the Ant/Jenkins "junit-4" one that CI systems read
(``output-formats.md`` 2(c)):

* ``<testsuites name="dmabuf-check">`` with the aggregate counts and time;
* one ``<testsuite>`` per check (per check and profile when a check names several), with
  ``<properties>`` for the exporter, importers, profile, scope, mode, depth and the check's
  DSL location;
* one ``<testcase>`` per (property, engine), and per finding when an engine found several:
  ``classname`` is the check, ``name`` is ``property[engine]`` (``rules[bmc]`` for the
  model's rules; ``rules[bmc] R5 bad-fd`` for one of several findings), ``time`` in seconds
  (a finding's: when the engine found it), and the
  ``file``/``line`` extension pointing at the property's declaration (the check block for
  the rules).

Outcomes, following the mapping table of 2(c):

* violated: ``<failure type="RuleViolation|InvariantViolation|ResponseViolation">``; the
  message names the finding and its length, the text is each counterexample's trace as
  ``checker.counterexample.write.render`` gives it (steps, outcomes, state changes, the
  rule's text), and ``<system-out>`` links the written files with the
  ``[[ATTACHMENT|path]]`` convention;
* unwitnessed: ``<failure type="Unwitnessed">``: the ``sometimes`` property was not reached
  within the bound, so the model may be vacuous; the gate fails on it (exit 3);
* unknown: ``<error type="Inconclusive">``: the engine could not decide (timeout, solver
  unknown, budget). An error, not a failure: nothing was shown to fail, but nothing passed;
* holds, proved, witnessed: no child (a pass); ``<system-out>`` says to which depth (for
  every depth when proved, in how many steps when witnessed).

Nothing is ``<skipped>``: every verdict the engines give is either a pass or fails the gate.
The document has no date or host name unless they are passed.
"""

from __future__ import annotations

import contextlib
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from pathlib import Path

from checker.counterexample.write import WrittenFiles, render
from checker.problem import RULES, Status, Verdict
from checker.report.outcome import (
    TOOL,
    Group,
    atomic_write,
    display_path,
    rows,
    split_where,
    status_text,
)

# characters XML 1.0 cannot carry, even escaped
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _clean(text: str) -> str:
    return _INVALID_XML.sub("\N{REPLACEMENT CHARACTER}", text)


def _seconds(s: float) -> str:
    return f"{s:.3f}"


def case_name(prop: str, engine: str) -> str:
    """A test case's name: ``property[engine]``."""
    return f"{prop}[{engine}]"


def violation_type(g: Group) -> str:
    """The failure type of a violated group: what kind of thing broke."""
    if g.prop == RULES:
        return "RuleViolation"
    try:
        kind = g.problem.property(g.prop).kind
    except KeyError:
        kind = "always"
    return "ResponseViolation" if kind == "response" else "InvariantViolation"


def _location(g: Group, root: Path | None) -> tuple[str, int] | None:
    where = g.problem.where
    if g.prop != RULES:
        with contextlib.suppress(KeyError):
            where = g.problem.property(g.prop).where or where
    parts = split_where(where)
    if parts is None:
        return None
    path, line, _ = parts
    return (path if path.startswith("<") else display_path(Path(path), root)), line


def _outcome(case: ET.Element, g: Group, files: Mapping[str, WrittenFiles],
             root: Path | None) -> str:
    """Add the case's outcome child and system-out; the outcome's kind (``failure``,
    ``error`` or ``""`` for a pass)."""
    out_lines: list[str] = []
    kind = ""
    status = g.status
    if status is Status.VIOLATED:
        kind = "failure"
        cexs = g.counterexamples
        findings = ", ".join(f"{c.finding} ({len(c.actions)} steps)" for c in cexs)
        message = f"{g.prop} violated on {g.check} by {g.engine}: {findings}"
        text = "\n".join(render(c) for c in cexs)
        el = ET.SubElement(case, "failure", {"message": _clean(message),
                                             "type": violation_type(g)})
        el.text = _clean(text)
        for c in cexs:
            written = files.get(c.name)
            if written is not None:
                out_lines += [f"[[ATTACHMENT|{display_path(written.scenario, root)}]]",
                              f"[[ATTACHMENT|{display_path(written.itf, root)}]]"]
    elif status in (Status.UNWITNESSED, Status.UNKNOWN):
        bad = [v for v in g.verdicts if v.status is status]
        reasons = "; ".join(v.reason for v in bad if v.reason)
        if status is Status.UNWITNESSED:
            kind, kind_type = "failure", "Unwitnessed"
            depth = "" if g.depth is None else f" within depth {g.depth}"
            message = f"{g.prop} was not reached{depth} by {g.engine} (no witness)"
        else:
            kind, kind_type = "error", "Inconclusive"
            message = f"{g.prop} is unknown on {g.check} by {g.engine}"
        if reasons:
            message += f": {reasons}"
        el = ET.SubElement(case, kind, {"message": _clean(message), "type": kind_type})
        el.text = _clean(message)
    for v in g.verdicts:
        if v.status.failing:  # said by the failure or error
            continue
        if v.status is Status.PROVED:
            how = " for every depth"
        elif v.depth is None:
            how = ""
        elif v.status is Status.WITNESSED:
            how = f" in {v.depth} steps"
        else:
            how = f" to depth {v.depth}"
        out_lines.append(f"{status_text(v)}{how}" + (f" ({v.reason})" if v.reason else ""))
    if out_lines:
        ET.SubElement(case, "system-out").text = _clean("\n".join(out_lines))
    return kind


def _suite(name: str, gs: list[Group], files: Mapping[str, WrittenFiles],
           root: Path | None, timestamp: str | None,
           hostname: str | None) -> tuple[ET.Element, dict[str, int], float]:
    p = gs[0].problem
    m = p.model
    suite = ET.Element("testsuite", {"name": _clean(name)})
    props = ET.SubElement(suite, "properties")
    values = [("exporter", p.exporter_ref), ("importers", ", ".join(p.importer_refs)),
              ("profile", str(m.profile)), ("scope", str(m.scope)), ("mode", p.mode),
              ("depth", str(p.depth))]
    where = split_where(p.where)
    if where is not None:
        values.append(("where", f"{display_path(Path(where[0]), root)}:{where[1]}"))
    for key, value in values:
        ET.SubElement(props, "property", {"name": key, "value": _clean(value)})
    counts: dict[str, int] = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    total = 0.0
    several = {(g.prop, g.engine) for g in gs
               if sum((h.prop, h.engine) == (g.prop, g.engine) for h in gs) > 1}
    for g in gs:
        name = case_name(g.prop, g.engine)
        if (g.prop, g.engine) in several and g.counterexamples:
            name += f" {g.counterexamples[0].finding}"
        attrs = {"classname": _clean(g.check), "name": _clean(name),
                 "time": _seconds(g.seconds)}
        loc = _location(g, root)
        if loc is not None:
            attrs["file"], attrs["line"] = _clean(loc[0]), str(loc[1])
        case = ET.SubElement(suite, "testcase", attrs)
        kind = _outcome(case, g, files, root)
        counts["tests"] += 1
        if kind == "failure":
            counts["failures"] += 1
        elif kind == "error":
            counts["errors"] += 1
        total += g.seconds
    for key, n in counts.items():
        suite.set(key, str(n))
    suite.set("time", _seconds(total))
    if timestamp is not None:
        suite.set("timestamp", timestamp)
    if hostname is not None:
        suite.set("hostname", hostname)
    return suite, counts, total


def junit_xml(verdicts: Sequence[Verdict], files: Mapping[str, WrittenFiles] | None = None,
              *, root: Path | None = None, timestamp: str | None = None,
              hostname: str | None = None) -> bytes:
    """The JUnit XML document (UTF-8, with declaration) for ``verdicts``. ``files`` maps
    counterexample names to their written files; paths are relative to ``root`` (the
    current directory by default). ``timestamp`` (ISO 8601 without zone) and ``hostname``
    are set on each suite only when given."""
    files = files or {}
    by_check: dict[str, list[Group]] = {}
    for g in rows(verdicts):
        by_check.setdefault(g.check, []).append(g)
    root_el = ET.Element("testsuites", {"name": TOOL})
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    seconds = 0.0
    for name, gs in by_check.items():
        suite, counts, total = _suite(name, gs, files, root, timestamp, hostname)
        root_el.append(suite)
        for key, value in counts.items():
            totals[key] += value
        seconds += total
    for key, value in totals.items():
        root_el.set(key, str(value))
    root_el.set("time", _seconds(seconds))
    ET.indent(root_el, space="  ")
    data: bytes = ET.tostring(root_el, encoding="UTF-8", xml_declaration=True)
    return data + b"\n"


def write_junit(path: Path | str, verdicts: Sequence[Verdict],
                files: Mapping[str, WrittenFiles] | None = None, *,
                root: Path | None = None, timestamp: str | None = None,
                hostname: str | None = None) -> Path:
    """Write ``junit_xml(...)`` to ``path`` atomically; returns the path."""
    return atomic_write(path, junit_xml(verdicts, files, root=root, timestamp=timestamp,
                                        hostname=hostname))


__all__ = ["case_name", "junit_xml", "violation_type", "write_junit"]
