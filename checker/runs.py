"""Engine runs as data, and running many of them in parallel processes.

A ``Unit`` is one engine on one profile of one ``check`` block. The check comes from spec
files on disk (``files``) or from spec text built by a command (``source``, as
``validate-exporter`` does); every worker process resolves the same specs itself, so only
plain data crosses the process boundary: the unit going out, its ``Answer`` values coming
back. ``parallel`` runs any picklable work items in processes of their own (each forked
from this one for its item, so that no run sees what an earlier one left in the solver or
the caches: a solver's answer can depend on the terms a process already holds), or on a
Dask cluster
(``checker.cluster``), and returns the results in the items' order, so ``--jobs`` and
``--cluster`` never change a verdict or the order of a report. ``estimate`` is a unit's
expected engine time, by which ``--shard`` balances the shards (``checker.shards``).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import pickle
import select
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import cache
from typing import TYPE_CHECKING, Generic, TypeVar, cast

from checker.dsl.resolve import Library, load, load_text
from checker.problem import RULES, Counterexample, Finding, Problem, Status, Verdict, problems
from model.action import Action

if TYPE_CHECKING:
    from checker.cluster import Cluster

ENGINES = ("hypothesis", "bmc", "prove")


@cache
def library(files: tuple[str, ...], allow_python: bool = False) -> Library:
    """The resolved spec files (once per process)."""
    return load(files, allow_python=allow_python)


@cache
def library_text(source: str, path: str, allow_python: bool = False,
                 roots: tuple[str, ...] = ()) -> Library:
    """Resolved spec text; its imports are read relative to ``path``, inside ``roots`` and
    the usual project (once per process)."""
    return load_text(source, path, allow_python=allow_python, roots=roots)


@dataclass(frozen=True)
class Unit:
    """One engine run: ``engine`` on profile number ``profile`` of check ``check``, loaded
    from ``files``, or from ``source`` (spec text standing for the file ``source_path``)."""

    files: tuple[str, ...]
    check: str
    profile: int
    engine: str
    seed: int | None
    depth: int | None
    budget_s: float
    examples: int
    source: str = ""
    source_path: str = ""
    allow_python: bool = False  # Python behaviours the specs name may be imported
    roots: tuple[str, ...] = ()  # more directories imports of ``source`` may reach
    max_findings: int | None = None  # findings before an engine stops (None: its default)

    def library(self) -> Library:
        if self.source:
            return library_text(self.source, self.source_path, self.allow_python, self.roots)
        return library(self.files, self.allow_python)


@dataclass(frozen=True)
class Found:
    """A counterexample without its problem (what crosses the process boundary)."""

    finding: Finding
    actions: tuple[Action, ...]
    engine: str
    seed: int | None

    @classmethod
    def of(cls, cex: Counterexample) -> Found:
        return cls(cex.finding, cex.actions, cex.engine, cex.seed)

    def on(self, problem: Problem) -> Counterexample:
        return Counterexample(problem, self.finding, self.actions, self.engine, self.seed)


@dataclass(frozen=True)
class Answer:
    """A verdict without its problem."""

    prop: str
    status: Status
    engine: str
    depth: int | None
    counterexample: Found | None
    reason: str
    seconds: float
    details: tuple[tuple[str, object], ...]
    findings: tuple[tuple[str, Found], ...]  # the engine's other counterexamples, by finding

    @classmethod
    def of(cls, v: Verdict) -> Answer:
        details: list[tuple[str, object]] = []
        findings: list[tuple[str, Found]] = []
        for key, value in v.details.items():
            if key == "findings" and isinstance(value, dict):
                findings.extend((str(k), Found.of(c)) for k, c in value.items()
                                if isinstance(c, Counterexample))
            elif _plain(value):
                details.append((key, value))
        cex = None if v.counterexample is None else Found.of(v.counterexample)
        return cls(v.prop, v.status, v.engine, v.depth, cex, v.reason, v.seconds,
                   tuple(details), tuple(findings))

    def on(self, problem: Problem) -> Verdict:
        details: dict[str, object] = dict(self.details)
        if self.findings:
            details["findings"] = {k: f.on(problem) for k, f in self.findings}
        cex = None if self.counterexample is None else self.counterexample.on(problem)
        return Verdict(problem, self.prop, self.status, self.engine, self.depth, cex,
                       self.reason, self.seconds, details)


def _plain(value: object) -> bool:
    if value is None or isinstance(value, str | int | float | bool):
        return True
    if isinstance(value, list | tuple):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


@dataclass(frozen=True)
class UnitResult:
    answers: tuple[Answer, ...]
    coverage: str = ""
    warnings: tuple[str, ...] = ()


def unit_problem(unit: Unit) -> Problem:
    """The problem a unit runs (the same in every process that loads the same specs)."""
    problem = problems(unit.library().checks[unit.check])[unit.profile]
    return problem if unit.depth is None else replace(problem, depth=unit.depth)


def run_unit(unit: Unit) -> UnitResult:
    """Run one engine on one problem (in this process). The unit's budget covers the whole
    run: resolving the specs and building the model (when this process has not yet) come
    out of it, and the engine gets what is left; a budget spent before the engine starts
    answers unknown."""
    start = time.monotonic()
    problem = unit_problem(unit)
    built = time.monotonic() - start
    left = unit.budget_s - built
    if left <= 0:
        from checker.engines.symbolic.bmc import unknown_all

        reason = (f"time budget: the {unit.budget_s:g}s were spent resolving the specs and "
                  f"building the model ({built:.1f}s)")
        return UnitResult(tuple(Answer.of(replace(v, seconds=built))
                                for v in unknown_all(problem, reason, unit.engine)))
    unit = replace(unit, budget_s=left)
    if unit.engine == "hypothesis":
        from checker.engines.explore import ExploreSettings, explore

        settings = ExploreSettings.default(unit.seed, max_examples=unit.examples,
                                           time_budget_s=unit.budget_s,
                                           **({} if unit.max_findings is None else
                                              {"max_findings": unit.max_findings}))
        run = explore(problem, settings)
        return UnitResult(tuple(Answer.of(replace(v, seconds=v.seconds + built))
                                for v in run.verdicts), run.coverage.render(),
                          tuple(run.coverage.warnings()))
    from checker.engines.symbolic.encode import fresh_context

    fresh_context()  # the answer depends on the unit alone, not on what ran before it here
    if unit.engine == "bmc":
        from checker.engines.symbolic.bmc import bmc

        if unit.max_findings is None:
            verdicts = bmc(problem, timeout_s=unit.budget_s)
        else:
            verdicts = bmc(problem, timeout_s=unit.budget_s, max_findings=unit.max_findings)
    else:
        from checker.engines.symbolic.induction import prove

        verdicts = prove(problem, timeout_s=unit.budget_s)
    # a row's time is the whole run's: building the model is part of it
    return UnitResult(tuple(Answer.of(replace(v, seconds=v.seconds + built))
                            for v in verdicts))


# how long past its budget a unit's process runs before it is killed: the engines stop at
# the budget themselves and then shorten and report what they found, which takes a moment
# (more on a loaded machine); the kill catches work that cannot be interrupted
GRACE_S = 2.0
GRACE_SHARE = 0.1  # and this share of the budget
ENGINE_NAMES = {"hypothesis": "hypothesis", "bmc": "bmc", "prove": "k-induction"}


def unit_limit(unit: Unit) -> float:
    """How long a unit's process may run: its budget and a grace (``GRACE_S`` and
    ``GRACE_SHARE`` of the budget)."""
    return unit.budget_s + grace(unit.budget_s)


def grace(budget_s: float) -> float:
    return GRACE_S + GRACE_SHARE * budget_s


def unit_overdue(unit: Unit, seconds: float) -> UnitResult:
    """The result of a unit whose process was killed past its budget: unknown for every
    target (never a pass)."""
    check = unit.library().checks[unit.check]
    names = [RULES, *(p.decl.name for p in check.properties
                      if unit.engine != "prove" or p.decl.kind == "always")]
    reason = (f"time budget exhausted: no answer within the {unit.budget_s:g}s budget "
              f"(+{grace(unit.budget_s):g}s grace); the run was stopped after {seconds:.1f}s")
    engine = ENGINE_NAMES.get(unit.engine, unit.engine)
    return UnitResult(tuple(Answer(n, Status.UNKNOWN, engine, None, None, reason, seconds,
                                   (), ()) for n in names))


def cost(unit: Unit) -> tuple[float, int]:
    """Longest first, so that parallel runs end together: the budget, then the engine
    (a proof is usually the longest, exploration the shortest)."""
    return (-unit.budget_s, -ENGINES.index(unit.engine))


def estimate(unit: Unit) -> float:
    """The expected seconds of a unit, for balancing shards (a rough model fitted to the
    benchmarks: the explorer's setup grows with the model's ground actions and its steps
    with runs x depth; bounded model checking with actions x depth squared; k-induction
    with the actions), at most its budget."""
    problem = unit_problem(unit)
    actions = len(problem.model.ground)
    if unit.engine == "hypothesis":
        seconds = 0.012 * actions + unit.examples * problem.depth / 1500
    elif unit.engine == "bmc":
        seconds = 0.5 + 0.0004 * actions * problem.depth ** 2
    else:
        seconds = 0.5 + 0.02 * actions
    return min(seconds, unit.budget_s)


T = TypeVar("T")
R = TypeVar("R")


class RunLost(Exception):
    """A run ended without an answer: the process running it died (exit 3, nothing is
    reported for it, never a pass)."""


def _describe(item: object) -> str:
    check, engine = getattr(item, "check", None), getattr(item, "engine", None)
    if check is not None and engine is not None:
        return f"check {check}, engine {engine}"
    return repr(item)[:100]


def _child(write_fd: int, fn: Callable[[T], R], item: T, parent: int) -> None:
    """Run ``fn(item)`` in a forked child and send the pickled outcome up ``write_fd``;
    never returns. The child dies with its parent (``_worker_start``)."""
    code = 0
    try:
        _worker_start(parent)
        try:
            message: tuple[bool, object] = (True, fn(item))
        except BaseException as e:  # the parent raises it
            message = (False, e)
        try:
            data = pickle.dumps(message)
        except Exception as e:  # an answer or an exception that does not pickle
            data = pickle.dumps((False, RuntimeError(
                f"{_describe(item)}: {type(e).__name__}: {e}")))
        with os.fdopen(write_fd, "wb") as out:
            out.write(data)
    except BaseException:
        code = 1
    finally:
        os._exit(code)


@dataclass(frozen=True)
class Limit(Generic[T, R]):
    """How long a forked item may run (``seconds(item)``, None for no limit) and what
    stands for its result when it runs longer and is killed (``overdue(item, seconds)``)."""

    seconds: Callable[[T], float | None]
    overdue: Callable[[T, float], R]


def forked(fn: Callable[[T], R], items: Sequence[T], order: Sequence[int], jobs: int,
           done: Callable[[int, T, R], None], limit: Limit[T, R] | None = None) -> list[R]:
    """``fn`` of every item, each in a process forked for it (``os.fork``: a worker of a
    process pool or a cluster may fork too), at most ``jobs`` at once, started in
    ``order``; results in the items' order. ``RunLost`` when one dies. With ``limit``, a
    process that runs past its item's limit is killed and ``limit.overdue`` is its
    result."""
    results: dict[int, R] = {}
    parent = os.getpid()
    queue = list(order)
    running: dict[int, tuple[int, int, bytearray]] = {}  # read fd -> item, pid, data
    ends: dict[int, tuple[float, float]] = {}  # read fd -> (started, kill time)
    try:
        while queue or running:
            while queue and len(running) < max(1, jobs):
                i = queue.pop(0)
                read_fd, write_fd = os.pipe()
                began = time.monotonic()
                pid = os.fork()
                if pid == 0:  # the child
                    os.close(read_fd)
                    _child(write_fd, fn, items[i], parent)
                os.close(write_fd)
                running[read_fd] = (i, pid, bytearray())
                seconds = None if limit is None else limit.seconds(items[i])
                if seconds is not None:
                    ends[read_fd] = (began, began + seconds)
            wait = None
            if ends:
                wait = max(0.0, min(end for _, end in ends.values()) - time.monotonic())
            ready, _, _ = select.select(list(running), [], [], wait)
            now = time.monotonic()
            for fd in sorted((f for f, (_, end) in ends.items() if end <= now
                              and f not in ready), key=lambda f: running[f][0]):
                assert limit is not None
                i, pid, _ = running.pop(fd)
                began, _ = ends.pop(fd)
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                os.close(fd)
                results[i] = limit.overdue(items[i], now - began)
                done(len(results), items[i], results[i])
            for fd in sorted(ready, key=lambda f: running[f][0]):
                i, pid, data = running[fd]
                chunk = os.read(fd, 1 << 20)
                if chunk:
                    data += chunk
                    continue
                del running[fd]
                ends.pop(fd, None)
                os.close(fd)
                _, status = os.waitpid(pid, 0)
                if not data:
                    raise RunLost(f"the process running {_describe(items[i])} ended without "
                                  f"an answer ({_status(status)})")
                ok, value = pickle.loads(bytes(data))
                if not ok:
                    assert isinstance(value, BaseException)
                    raise value
                results[i] = cast(R, value)
                done(len(results), items[i], results[i])
    finally:
        for fd, (_, pid, _) in running.items():
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            os.close(fd)
    return [results[i] for i in range(len(items))]


def _status(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"exit code {os.waitstatus_to_exitcode(status)}"


def parallel(fn: Callable[[T], R], items: Sequence[T], jobs: int,
             done: Callable[[int, T, R], None],
             key: Callable[[T], tuple[float, int]] | None = None,
             cluster: Cluster | None = None, isolated: bool = False,
             limit: Limit[T, R] | None = None) -> list[R]:
    """``fn`` of every item, in the items' order; ``jobs > 1`` (or ``isolated``) runs each
    in a process forked for it, ``jobs`` at a time; ``cluster`` on the workers of a Dask
    cluster (``fn`` and the items must pickle). Items start in ``key`` order. ``done`` is
    called with the number finished so far as each item finishes; ``limit`` (forked
    processes only) kills a run that takes too long."""
    order = sorted(range(len(items)), key=(lambda i: key(items[i])) if key else None)
    if cluster is not None:
        return cluster.map(fn, items, order, done)
    if jobs <= 1 and not isolated:
        results: dict[int, R] = {}
        for i, item in enumerate(items):
            results[i] = fn(item)
            done(len(results), item, results[i])
        return [results[i] for i in range(len(items))]
    return forked(fn, items, order, jobs, done, limit)


PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when its parent dies
WATCH_S = 1.0  # how often a worker checks that its parent is alive


def _worker_start(parent: int) -> None:
    """A worker's first act: ask the kernel to kill it when its parent dies
    (``prctl(PR_SET_PDEATHSIG, SIGKILL)``, Linux), and watch the parent's pid as well
    (where prctl is missing, and for the gap before it took effect): a worker never outlives
    the command that started it, however that command ended (SIGTERM, SIGKILL, Ctrl-C)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(WATCH_S)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


UNIT_LIMIT: Limit[Unit, UnitResult] = Limit(unit_limit, unit_overdue)


def run_units(units: Sequence[Unit], jobs: int,
              done: Callable[[int, Unit, UnitResult], None],
              cluster: Cluster | None = None) -> list[UnitResult]:
    """Every unit's result, in the units' order (see ``parallel``)."""
    return parallel(run_unit, units, jobs, done, cost, cluster, limit=UNIT_LIMIT)


__all__ = [
    "ENGINES",
    "GRACE_S",
    "GRACE_SHARE",
    "UNIT_LIMIT",
    "Answer",
    "Found",
    "Limit",
    "RunLost",
    "Unit",
    "UnitResult",
    "cost",
    "estimate",
    "forked",
    "grace",
    "library",
    "library_text",
    "parallel",
    "run_unit",
    "run_units",
    "unit_limit",
    "unit_overdue",
    "unit_problem",
]
