"""The run's summary for people, and the same as JSON (``--format json``).

``summary_text`` prints one row per (check, property, engine): the status, the depth the
answer holds to (or the counterexample's length), the time, and what a failing row needs:
the counterexample's finding and the file it was written to, or why the answer is unknown
or unwitnessed. A totals line ends it with the counts per status and the gate's verdict.
ANSI colours are used only when ``colour=True`` (the CLI asks for them on a terminal).

``json_report`` gives the same facts as a dict with a fixed key order; nothing in it
depends on the clock unless a ``timestamp`` is passed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from checker.counterexample.write import WrittenFiles
from checker.problem import RULES, Counterexample, Status, Verdict
from checker.report.outcome import (
    TOOL,
    Group,
    Summary,
    display_path,
    operations_fired,
    per_finding,
    rows,
    split_where,
    status_text,
    tool_version,
)

_COLOURS = {Status.VIOLATED: "31;1", Status.UNKNOWN: "33;1", Status.UNWITNESSED: "33;1",
            Status.HOLDS: "32", Status.PROVED: "32", Status.WITNESSED: "32"}
_HEADER = ("check", "property", "engine", "status", "depth", "time", "detail")
_RIGHT = {"depth", "time"}


def _paint(text: str, code: str, colour: bool) -> str:
    return f"\033[{code}m{text}\033[0m" if colour and code else text


def _cex_text(cex: Counterexample, files: Mapping[str, WrittenFiles],
              root: Path | None) -> str:
    steps = len(cex.actions)
    where = files.get(cex.name)
    text = f"{cex.finding} in {steps} step{'s' if steps != 1 else ''}"
    if where is not None:
        return f"{text}: {display_path(where.scenario, root)}"
    return f"{text} (not written)"


def _details(g: Group, files: Mapping[str, WrittenFiles], root: Path | None) -> list[str]:
    """The detail column's lines for a group: one per counterexample, or the reasons of the
    unknown and unwitnessed verdicts."""
    cexs = g.counterexamples
    if cexs:
        return [_cex_text(c, files, root) for c in cexs]
    lines = []
    for v in g.failing:
        if v.status is Status.UNWITNESSED:
            depth = "" if v.depth is None else f" within depth {v.depth}"
            lines.append(f"not reached{depth}" + (f" ({v.reason})" if v.reason else ""))
        elif v.reason:
            lines.append(v.reason)
    return lines or [""]


def _seconds(s: float) -> str:
    return f"{s:.2f}s"


def summary_text(verdicts: Sequence[Verdict], files: Mapping[str, WrittenFiles] | None = None,
                 *, colour: bool = False, root: Path | None = None) -> str:
    """The summary table and totals line. ``files`` maps counterexample names to their
    written files (``outcome.written``); paths are shown relative to ``root`` (the current
    directory by default)."""
    files = files or {}
    verdicts = per_finding(verdicts)
    table: list[tuple[list[str], Status | None]] = []
    groups = rows(verdicts)
    for n, g in enumerate(groups):
        details = _details(g, files, root)
        depth = "-" if g.depth is None else str(g.depth)
        shown = next((status_text(v) for v in g.verdicts if v.status is g.status
                      and status_text(v) != g.status.value), g.status.value)
        table.append(([g.check, g.prop, g.engine, shown, depth, _seconds(g.seconds),
                       details[0]], g.status))
        table.extend((["", "", "", "", "", "", d], None) for d in details[1:])
        key = (g.check, g.prop, g.engine)
        last = n + 1 == len(groups) or (groups[n + 1].check, groups[n + 1].prop,
                                        groups[n + 1].engine) != key
        if last and g.status is Status.VIOLATED:
            mine = [v for h in groups if (h.check, h.prop, h.engine) == key
                    for v in h.verdicts]
            if any(v.details.get("capped") is True or "(--max-findings)" in v.reason
                   for v in mine):
                found = sum(v.status is Status.VIOLATED for v in mine)
                table.append((["", "", "", "", "", "", f"stopped after {found} findings "
                               "(--max-findings): more may exist"], None))
    widths = [max([len(h), *(len(r[i]) for r, _ in table)]) for i, h in enumerate(_HEADER)]

    def line(cells: Sequence[str], status: Status | None, head: bool = False) -> str:
        out = []
        for i, (cell, width) in enumerate(zip(cells, widths, strict=True)):
            if i == len(cells) - 1:
                padded = cell
            elif _HEADER[i] in _RIGHT:
                padded = cell.rjust(width)
            else:
                padded = cell.ljust(width)
            if head:
                padded = _paint(padded, "1", colour)
            elif i == 3 and status is not None:
                padded = _paint(padded, _COLOURS[status], colour)
            out.append(padded)
        return "  ".join(out).rstrip()

    lines = [line(_HEADER, None, head=True)]
    lines += [line(cells, status) for cells, status in table]
    summary = Summary.of(verdicts)
    gate = "PASS" if summary.passed else "FAIL"
    gate_colour = "32;1" if summary.passed else ("31;1" if summary.exit_code == 1 else "33;1")
    lines += ["", f"{summary}; gate {_paint(gate, gate_colour, colour)} "
                  f"(exit {summary.exit_code})"]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- JSON


def _cex_json(cex: Counterexample, files: Mapping[str, WrittenFiles],
              root: Path | None) -> dict[str, object]:
    f = cex.finding
    where = files.get(cex.name)
    return {
        "name": cex.name,
        "finding": str(f),
        "rule": f.rule if f.prop == RULES else None,
        "tag": f.tag if f.prop == RULES else None,
        "steps": len(cex.actions),
        "actions": [str(a) for a in cex.actions],
        "engine": cex.engine,
        "seed": cex.seed,
        "scenario": None if where is None else display_path(where.scenario, root),
        "itf": None if where is None else display_path(where.itf, root),
    }


def _where(where: str, root: Path | None) -> str | None:
    parts = split_where(where)
    if parts is None:
        return where or None
    path, line, col = parts
    shown = path if path.startswith("<") else display_path(Path(path), root)
    return f"{shown}:{line}:{col}"


def verdict_json(v: Verdict, files: Mapping[str, WrittenFiles] | None = None,
                 root: Path | None = None) -> dict[str, object]:
    """One verdict as a JSON object (fixed key order)."""
    p = v.problem
    m = p.model
    return {
        "check": p.check,
        "property": v.prop,
        "engine": v.engine,
        "status": v.status.value,
        "status_text": status_text(v),
        "operations_fired": list(operations_fired(v) or ()) or None,
        "depth": v.depth,
        "seconds": round(v.seconds, 3),
        "reason": v.reason,
        "exporter": p.exporter_ref,
        "importers": list(p.importer_refs),
        "profile": str(m.profile),
        "scope": str(m.scope),
        "mode": p.mode,
        "where": _where(p.where, root),
        "counterexample": (None if v.counterexample is None
                           else _cex_json(v.counterexample, files or {}, root)),
    }


def json_report(verdicts: Sequence[Verdict], files: Mapping[str, WrittenFiles] | None = None,
                *, root: Path | None = None, timestamp: str | None = None) -> dict[str, object]:
    """The run as a JSON-ready dict: tool, exit code, counts per status and every verdict
    (a ``counterexample`` object for violated verdicts and witnessed ``sometimes``
    properties, with the written files relative to ``root``). ``timestamp`` is included
    only when given."""
    verdicts = per_finding(verdicts)
    summary = Summary.of(verdicts)
    out: dict[str, object] = {"tool": {"name": TOOL, "version": tool_version()}}
    if timestamp is not None:
        out["timestamp"] = timestamp
    out["exit_code"] = summary.exit_code
    out["summary"] = {"total": summary.total, **summary.as_dict()}
    out["verdicts"] = [verdict_json(v, files, root) for v in verdicts]  # one per finding
    return out


def json_text(verdicts: Sequence[Verdict], files: Mapping[str, WrittenFiles] | None = None,
              *, root: Path | None = None, timestamp: str | None = None) -> str:
    """``json_report`` serialised: two-space indent, keys in their fixed order, a final
    newline."""
    report = json_report(verdicts, files, root=root, timestamp=timestamp)
    return json.dumps(report, indent=2, ensure_ascii=False) + "\n"


__all__ = ["json_report", "json_text", "summary_text", "verdict_json"]
