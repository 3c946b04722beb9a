"""The ftrace text format: ``TASK-PID [CPU] FLAGS TIMESTAMP: EVENT: FIELDS``.

Comment lines (``#``) and blank lines are ignored; a ``[LOST N EVENTS]`` line is counted
(a trace that lost events cannot be checked: what is missing is unknown). Every other line
must be an event line; its event is read when it is one of ours (``probes.BY_EVENT`` or a
7.x ``dma_buf`` tracepoint), and counted and skipped otherwise. A line of ours with a
missing or unreadable field is an error at ``file:line:col``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from checker.trace.probes import BY_EVENT, TRACEPOINTS

_HEAD = re.compile(
    r"^\s*(?P<task>.+?)-(?P<pid>\d+)\s+(?:\(\s*[-\d]+\)\s+)?\[(?P<cpu>\d+)\]\s+"
    r"(?:(?P<flags>[^\s:]{4,6})\s+)?(?P<ts>\d+\.\d+):\s+(?P<event>[A-Za-z_][\w]*):\s?"
    r"(?P<body>.*)$")
_LOST = re.compile(r"^\s*CPU:\s*\d+\s*\[LOST (\d+) EVENTS\]\s*$")
_SITE = re.compile(r"^\(([^()]*)\)\s*")  # the probe's location: (func+0x0/0x40 ...)
_FIELD = re.compile(r"(?P<key>[A-Za-z_]\w*)(?:=|:(?=0x|\(|[-\d]))(?P<value>\S*)")


class TraceError(ValueError):
    """A trace the checker cannot read: ``file:line:col: what, how to fix``."""

    def __init__(self, path: str, line: int, col: int, message: str) -> None:
        super().__init__(f"{path}:{line}:{col}: {message}")
        self.path, self.line, self.col = path, line, col


@dataclass(frozen=True)
class Event:
    line: int
    timestamp: str
    task: str
    pid: int
    name: str
    fields: dict[str, str]
    columns: dict[str, int]  # field -> 1-based column of its value
    site: str = ""  # the probe's location, as ftrace printed it

    def where(self) -> str:
        return f"line {self.line}, t={self.timestamp}"


@dataclass
class Trace:
    path: str
    events: list[Event] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)  # unknown event -> count
    lost: int = 0
    lines: int = 0


def known(name: str) -> bool:
    return name in BY_EVENT or name in TRACEPOINTS


def parse(text: str, path: str = "<trace>") -> Trace:
    out = Trace(path)
    for n, raw in enumerate(text.splitlines(), 1):
        out.lines = n
        line = raw.rstrip("\r")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        lost = _LOST.match(line)
        if lost:
            out.lost += int(lost.group(1))
            continue
        m = _HEAD.match(line)
        if not m:
            raise TraceError(path, n, 1, "not an ftrace event line: expected "
                             "'TASK-PID [CPU] FLAGS TIMESTAMP: EVENT: FIELDS' (record the "
                             "trace from tracefs 'trace' or 'trace_pipe' unchanged)")
        name = m.group("event")
        if not known(name):
            out.skipped[name] = out.skipped.get(name, 0) + 1
            continue
        body, base = m.group("body"), m.start("body")
        site = ""
        s = _SITE.match(body)
        if s:
            site = s.group(1)
            base += s.end()
            body = body[s.end():]
        fields: dict[str, str] = {}
        columns: dict[str, int] = {}
        for f in _FIELD.finditer(body):
            fields[f.group("key")] = f.group("value")
            columns[f.group("key")] = base + f.start("value") + 1
        out.events.append(Event(n, m.group("ts"), m.group("task"), int(m.group("pid")),
                                name, fields, columns, site))
    return out


def integer(ev: Event, key: str, path: str) -> int:
    """Field ``key`` of ``ev`` as an integer (decimal or ``0x`` hex, as ftrace prints)."""
    if key not in ev.fields:
        have = ", ".join(ev.fields) or "none"
        raise TraceError(path, ev.line, 1, f"event {ev.name} has no field {key!r} "
                         f"(fields: {have}); record with the definitions "
                         "`dmabuf-check trace probes` prints")
    text = ev.fields[key]
    try:
        return int(text, 16) if text.lower().startswith(("0x", "-0x")) else int(text)
    except ValueError:
        what = "a fault (the probe could not read memory there)" if "fault" in text \
            else repr(text)
        raise TraceError(path, ev.line, ev.columns.get(key, 1),
                         f"field {key} of {ev.name} is {what}, not a number; check the "
                         "--layout offsets the probes were defined with") from None
