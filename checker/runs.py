"""Engine runs as data, and running many of them in parallel processes.

A ``Unit`` is one engine on one profile of one ``check`` block. The check comes from spec
files on disk (``files``) or from spec text built by a command (``source``, as
``validate-exporter`` does); every worker process resolves the same specs itself, so only
plain data crosses the process boundary: the unit going out, its ``Answer`` values coming
back. ``parallel`` runs any picklable work items in worker processes and returns the
results in the items' order, so ``--jobs`` never changes a verdict or the order of a report.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, replace
from functools import cache
from typing import TypeVar

from checker.dsl.resolve import Library, load, load_text
from checker.problem import Counterexample, Finding, Problem, Status, Verdict, problems
from model.action import Action

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
        return UnitResult(tuple(Answer.of(v) for v in run.verdicts), run.coverage.render(),
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
    return UnitResult(tuple(Answer.of(v) for v in verdicts))


def cost(unit: Unit) -> tuple[float, int]:
    """Longest first, so that parallel runs end together: the budget, then the engine
    (a proof is usually the longest, exploration the shortest)."""
    return (-unit.budget_s, -ENGINES.index(unit.engine))


T = TypeVar("T")
R = TypeVar("R")


def parallel(fn: Callable[[T], R], items: Sequence[T], jobs: int,
             done: Callable[[int, T, R], None],
             key: Callable[[T], tuple[float, int]] | None = None) -> list[R]:
    """``fn`` of every item, in the items' order; ``jobs > 1`` runs them in that many
    processes (``fn`` and the items must pickle), started in ``key`` order. ``done`` is
    called with the number finished so far as each item finishes."""
    results: dict[int, R] = {}
    if jobs <= 1 or len(items) <= 1:
        for i, item in enumerate(items):
            results[i] = fn(item)
            done(len(results), item, results[i])
        return [results[i] for i in range(len(items))]
    order = sorted(range(len(items)), key=(lambda i: key(items[i])) if key else None)
    pool = ProcessPoolExecutor(max_workers=min(jobs, len(items)), initializer=_worker_start,
                               initargs=(os.getpid(),))
    try:
        futures: dict[Future[R], int] = {pool.submit(fn, items[i]): i for i in order}
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for f in sorted(finished, key=lambda f: futures[f]):
                i = futures[f]
                results[i] = f.result()
                done(len(results), items[i], results[i])
    except BaseException:  # Ctrl-C, a failing item: the workers stop now, not at the end
        _stop(pool)
        raise
    pool.shutdown(wait=True)
    return [results[i] for i in range(len(items))]


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


def _stop(pool: ProcessPoolExecutor) -> None:
    """Stop every worker of ``pool`` at once (queued items are cancelled, running ones
    killed)."""
    processes = list(getattr(pool, "_processes", {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in processes:
        with contextlib.suppress(Exception):
            proc.kill()
    for proc in processes:
        with contextlib.suppress(Exception):
            proc.join(5)


def run_units(units: Sequence[Unit], jobs: int,
              done: Callable[[int, Unit, UnitResult], None]) -> list[UnitResult]:
    """Every unit's result, in the units' order (see ``parallel``)."""
    return parallel(run_unit, units, jobs, done, cost)


__all__ = [
    "ENGINES",
    "Answer",
    "Found",
    "Unit",
    "UnitResult",
    "library",
    "library_text",
    "parallel",
    "run_unit",
    "run_units",
    "unit_problem",
]
