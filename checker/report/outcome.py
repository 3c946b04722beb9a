"""What a run of checks comes to: the gate's exit code and counts per status.

The exit code follows the CI gate's contract (DESIGN.md, "Reports and CLI"):

* ``0``: every verdict holds, is proved or (for a ``sometimes`` property) witnessed;
* ``1``: some verdict is violated (a counterexample was found);
* ``3``: nothing is violated, but some verdict is unknown (timeout, solver unknown,
  budget) or unwitnessed (a ``sometimes`` property not reached within the bound, so not
  shown to hold). Unknown is never reported as a pass.

``2`` (spec or usage error) is the CLI's: no verdict exists then.

>>> exit_code([])
0
>>> sorted(EXIT_CODES.items())
[('error', 2), ('holds', 0), ('unknown', 3), ('violated', 1)]

Verdicts are grouped per (check, property, engine) for the reports: an engine can report
several counterexamples for the same target (the model's rules, broken in two ways). Every
report shows one entry per finding (``per_finding``, ``rows``): its depth, its own time
(when the engine found it) and its counterexample.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from importlib import metadata
from pathlib import Path

from checker.counterexample.write import WrittenFiles
from checker.files import atomic_write
from checker.problem import Counterexample, Problem, Status, Verdict

TOOL = "dmabuf-check"
# where a report says to read about the tool when the installed metadata names no home page
DEFAULT_INFORMATION_URI = "https://docs.kernel.org/driver-api/dma-buf.html"

EXIT_HOLDS = 0
EXIT_VIOLATED = 1
EXIT_ERROR = 2  # the CLI's: a spec or usage error, before any verdict
EXIT_UNKNOWN = 3
EXIT_CODES: Mapping[str, int] = {"holds": EXIT_HOLDS, "violated": EXIT_VIOLATED,
                                 "error": EXIT_ERROR, "unknown": EXIT_UNKNOWN}

PASSING = frozenset({Status.HOLDS, Status.PROVED, Status.WITNESSED})

# worst first: the status a group of verdicts shows
_RANK = (Status.VIOLATED, Status.UNKNOWN, Status.UNWITNESSED, Status.HOLDS, Status.WITNESSED,
         Status.PROVED)


def exit_code(verdicts: Iterable[Verdict]) -> int:
    """The gate's exit code for ``verdicts``: 1 if any is violated, else 3 if any is unknown
    or unwitnessed, else 0."""
    statuses = {v.status for v in verdicts}
    if Status.VIOLATED in statuses:
        return EXIT_VIOLATED
    if statuses - PASSING:
        return EXIT_UNKNOWN
    return EXIT_HOLDS


def worst(statuses: Iterable[Status]) -> Status:
    """The status that decides for a group: violated, then unknown, then unwitnessed, then
    the passing ones (holds before witnessed before proved)."""
    present = set(statuses)
    for s in _RANK:
        if s in present:
            return s
    raise ValueError("no status")


@dataclass(frozen=True)
class Summary:
    """Counts per status (every status present, in ``Status`` order) and the exit code."""

    counts: tuple[tuple[Status, int], ...]
    exit_code: int

    @classmethod
    def of(cls, verdicts: Sequence[Verdict]) -> Summary:
        return cls(tuple((s, sum(v.status is s for v in verdicts)) for s in Status),
                   exit_code(verdicts))

    @property
    def total(self) -> int:
        return sum(n for _, n in self.counts)

    def count(self, status: Status) -> int:
        return dict(self.counts)[status]

    @property
    def passed(self) -> bool:
        return self.exit_code == EXIT_HOLDS

    def as_dict(self) -> dict[str, int]:
        """``{"violated": 1, "holds": 3, ...}`` in ``Status`` order."""
        return {s.value: n for s, n in self.counts}

    def __str__(self) -> str:
        """``5 verdicts: 1 violated, 3 holds, 1 unknown`` (statuses with a zero count left
        out)."""
        parts = [f"{n} {s.value}" for s, n in self.counts if n]
        noun = "verdict" if self.total == 1 else "verdicts"
        return f"{self.total} {noun}" + (": " + ", ".join(parts) if parts else "")


@dataclass(frozen=True)
class Group:
    """The verdicts of one engine on one target (the rules, or one property) of one check."""

    problem: Problem
    prop: str
    engine: str
    verdicts: tuple[Verdict, ...]

    @property
    def check(self) -> str:
        return self.problem.check

    @property
    def status(self) -> Status:
        return worst(v.status for v in self.verdicts)

    @property
    def seconds(self) -> float:
        """The longest time among the verdicts (an engine that checks several targets in
        one run reports the run's time on each)."""
        return max(v.seconds for v in self.verdicts)

    @property
    def depth(self) -> int | None:
        depths = [v.depth for v in self.verdicts if v.depth is not None]
        return max(depths) if depths else None

    @property
    def failing(self) -> tuple[Verdict, ...]:
        """The verdicts that fail the gate (violated, unknown, unwitnessed)."""
        return tuple(v for v in self.verdicts if v.status.failing)

    @property
    def counterexamples(self) -> tuple[Counterexample, ...]:
        """The counterexamples of the violated verdicts, in order."""
        return tuple(v.counterexample for v in self.verdicts
                     if v.status is Status.VIOLATED and v.counterexample is not None)


def groups(verdicts: Iterable[Verdict]) -> list[Group]:
    """The verdicts grouped per (check, property, engine), in the order each group first
    appears."""
    out: dict[tuple[str, str, str], list[Verdict]] = {}
    problems: dict[tuple[str, str, str], Problem] = {}
    for v in verdicts:
        key = (v.problem.check, v.prop, v.engine)
        out.setdefault(key, []).append(v)
        problems.setdefault(key, v.problem)
    return [Group(problems[k], k[1], k[2], tuple(vs)) for k, vs in out.items()]


# the details of a verdict that list the engine's other findings (bounded model checking's
# and k-induction's ``rules`` verdict), taken apart by ``per_finding``
_FINDINGS_DETAILS = ("findings", "found_at")


def _own_time(times: Mapping[object, object], key: object, fallback: float) -> float:
    t = times.get(key)
    return float(t) if isinstance(t, int | float) else fallback


def per_finding(verdicts: Iterable[Verdict]) -> list[Verdict]:
    """``verdicts`` with one violated verdict per finding: a verdict whose engine lists
    further findings in ``details["findings"]`` (one run of bounded model checking finds
    every rule it can break) becomes one verdict per finding, each with its
    counterexample, its length as the depth and, as its time, when the engine found it
    (``details["found_at"]``; the run's time when not recorded). The other details stay
    with the first; ``details["capped"]`` moves to the last, the place a report says the
    run stopped at its cap. Idempotent; other verdicts pass unchanged."""
    out: list[Verdict] = []
    for v in verdicts:
        extra = v.details.get("findings")
        if v.status is not Status.VIOLATED or not isinstance(extra, dict):
            out.append(v)
            continue
        at = v.details.get("found_at")
        times = at if isinstance(at, dict) else {}


        rest = {k: x for k, x in v.details.items() if k not in _FINDINGS_DETAILS}
        capped = rest.pop("capped", None)
        first_key = next((k for k, c in extra.items() if isinstance(c, Counterexample)
                          and v.counterexample is not None
                          and c.name == v.counterexample.name), None)
        mine = [replace(v, details=rest,
                        seconds=_own_time(times, first_key, v.seconds))]
        shown = {v.counterexample.name} if v.counterexample is not None else set()
        for key, c in extra.items():
            if isinstance(c, Counterexample) and c.name not in shown:
                shown.add(c.name)
                mine.append(Verdict(v.problem, v.prop, Status.VIOLATED, v.engine,
                                    len(c.actions), c, "", _own_time(times, key, v.seconds)))
        if capped is not None:
            mine[-1] = replace(mine[-1], details={**mine[-1].details, "capped": capped})
        out.extend(mine)
    return out


def rows(verdicts: Iterable[Verdict]) -> list[Group]:
    """The reports' rows: the groups of ``per_finding(verdicts)``, a violated group split
    into one group per finding (the group's passing verdicts, such as another seed's,
    stay with its first finding)."""
    out: list[Group] = []
    for g in groups(per_finding(verdicts)):
        bad = [v for v in g.verdicts if v.status is Status.VIOLATED]
        if len(bad) <= 1:
            out.append(g)
            continue
        others = tuple(v for v in g.verdicts if v.status is not Status.VIOLATED)
        for i, v in enumerate(bad):
            out.append(Group(g.problem, g.prop, g.engine, (v, *others) if i == 0 else (v,)))
    return out


def written(files: Iterable[WrittenFiles]) -> dict[str, WrittenFiles]:
    """The mapping the reports take, from counterexample name (``Counterexample.name``) to
    the files ``checker.counterexample.write.write`` wrote for it."""
    return {f.scenario.name.removesuffix(".dmabuf"): f for f in files}


def split_where(where: str) -> tuple[str, int, int] | None:
    """``"specs/x.dmabuf:12:3"`` as ``("specs/x.dmabuf", 12, 3)``; None when empty or not
    of that form.

    >>> split_where("a/b.dmabuf:12:3")
    ('a/b.dmabuf', 12, 3)
    >>> split_where("") is None
    True
    """
    path, _, rest = where.rpartition(":")
    path, _, line = path.rpartition(":")
    if not path or not line.isdigit() or not rest.isdigit():
        return None
    return path, int(line), int(rest)


def operations_fired(v: Verdict) -> tuple[int, int] | None:
    """``(fired, total)`` operations of a random exploration's verdict, when it did not fire
    every operation of the model (else None)."""
    pair = v.details.get("operations_fired")
    if isinstance(pair, list | tuple) and len(pair) == 2 and all(
            isinstance(x, int) for x in pair) and pair[0] < pair[1]:
        return int(pair[0]), int(pair[1])
    return None


def status_text(v: Verdict) -> str:
    """The status as reports print it: a random exploration that holds without firing
    every operation is ``holds (N of M operations fired)``, never a plain pass."""
    partial = operations_fired(v) if v.status is Status.HOLDS else None
    if partial is None:
        return v.status.value
    return f"{v.status.value} ({partial[0]} of {partial[1]} operations fired)"


def tool_version() -> str:
    """The installed distribution's version (``0+unknown`` when run from a tree that was
    never installed)."""
    try:
        return metadata.version(TOOL)
    except metadata.PackageNotFoundError:
        return "0+unknown"


def information_uri() -> str:
    """The home page the installed metadata declares (``[project.urls]``), else the kernel's
    dma-buf documentation."""
    try:
        meta = metadata.metadata(TOOL)
    except metadata.PackageNotFoundError:
        return DEFAULT_INFORMATION_URI
    for entry in meta.get_all("Project-URL") or []:
        label, _, url = entry.partition(",")
        if label.strip().lower() in ("homepage", "home", "documentation", "source"):
            return str(url).strip()
    home = meta.get_all("Home-page") or []
    return str(home[0]) if home else DEFAULT_INFORMATION_URI


def display_path(path: Path, root: Path | None = None) -> str:
    """``path`` relative to ``root`` (the current directory by default) when it lies under
    it, else absolute; always with forward slashes."""
    base = (root or Path.cwd()).resolve()
    target = path.resolve()
    try:
        return target.relative_to(base).as_posix()
    except ValueError:
        return target.as_posix()


__all__ = [
    "DEFAULT_INFORMATION_URI",
    "EXIT_CODES",
    "EXIT_ERROR",
    "EXIT_HOLDS",
    "EXIT_UNKNOWN",
    "EXIT_VIOLATED",
    "PASSING",
    "TOOL",
    "Group",
    "Summary",
    "atomic_write",
    "display_path",
    "exit_code",
    "groups",
    "information_uri",
    "per_finding",
    "rows",
    "split_where",
    "tool_version",
    "worst",
    "written",
]
