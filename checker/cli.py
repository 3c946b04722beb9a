"""The ``dmabuf-check`` command line (also ``python -m checker``): the CI invariant gate and
the tools around it.

Subcommands:

* ``check [SPEC ...]``: run the ``check`` blocks of the given spec files or directories (by
  default every shipped spec that declares checks) with their engines, write each new
  counterexample under ``counterexamples/``, print the traces and a summary table (or JSON),
  and write JUnit XML and SARIF when asked;
* ``replay [PATH ...]``: replay kept counterexamples (by default ``counterexamples/``);
* ``scenario FILE ...``: run the scenarios of spec files, showing every step;
* ``explain RULE|FILE``: a rule of the catalogue (R1..R32), or a counterexample's trace;
* ``rules``: the rule catalogue as a table;
* ``validate-exporter EXPORTER``: an exporter's certificate, one verdict per obligation and
  profile (``checker.validate``, ``checker.certificate``); ``--reference --output-dir
  docs/certificates`` regenerates the shipped ones;
* ``selftest``: the mutant catalogue against every engine, as a kill matrix
  (``checker.selftest``);
* ``merge SHARD ...``: the reports of a sharded run (``--shard K/N`` on ``check``,
  ``validate-exporter``, ``validate-importer`` and ``selftest``), exactly as one unsharded
  run writes them.

Exit codes (``check``): 0 every verdict holds, is proved or witnessed; 1 a violation; 2 a
spec or usage error (nothing was checked); 3 an unknown answer (solver timeout, time
budget) or a ``sometimes`` property never reached. Unknown is never a pass.

``main(argv, stdout=..., stderr=...)`` is the whole program: it never calls ``sys.exit``
and returns the exit code, so tests run it in-process.

Engine runs are independent units (one engine on one profile of one check, one seed for
the explorer); ``--jobs N`` runs them in ``N`` worker processes, each of which loads the
spec files itself. The units' answers come back as plain data and are put back together in
a fixed order, so ``--jobs`` never changes a verdict or the order of the report.
``--cluster ADDRESS`` runs them on the workers of a Dask cluster instead
(``checker.cluster``), and ``--shard K/N`` runs one shard of them and writes its results
for ``merge`` (``checker.shards``); every command whose work is a list of runs goes
through ``_execute``, which does all three.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
import textwrap
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, TypeVar, cast

from checker.cluster import Cluster, ClusterError
from checker.counterexample.replay import ITF_SUFFIX, parse_finding, replay
from checker.counterexample.replay import Status as ReplayStatus
from checker.counterexample.write import (
    CounterexampleError,
    CounterexampleExists,
    WrittenFiles,
    itf_text,
    render,
    write,
)
from checker.dsl.diagnostics import SpecError
from checker.dsl.resolve import Library, ResolvedProperty, ResolvedStep, load
from checker.files import UnsafeTarget, check_report_dir, check_report_path
from checker.problem import (
    Counterexample,
    Problem,
    Status,
    Verdict,
    engine_property,
    problems,
)
from checker.report.outcome import (
    EXIT_ERROR,
    EXIT_HOLDS,
    EXIT_UNKNOWN,
    EXIT_VIOLATED,
    Summary,
    atomic_write,
    display_path,
    tool_version,
    written,
)
from checker.rulebook import COMMAND, DOC, markdown, reference
from checker.runs import (
    ENGINES,
    UNIT_LIMIT,
    Limit,
    RunLost,
    Unit,
    UnitResult,
    library,
    parallel,
    run_unit,
)
from checker.runs import cost as unit_cost
from checker.runs import estimate as unit_estimate
from checker.shards import (
    Merged,
    Shard,
    ShardError,
    ShardResult,
    code_fingerprint,
    parse_shard,
    select,
    shard_files,
    work_fingerprint,
)
from checker.shards import merge as merge_shards
from model.profiles import PROFILES
from model.rules import RULES as RULEBOOK
from model.rules import Rule

if TYPE_CHECKING:
    from checker.validate import Settings as ValidateSettings

T = TypeVar("T")
R = TypeVar("R")

PROG = "dmabuf-check"
DEFAULT_COUNTEREXAMPLES = "counterexamples"
DEFAULT_EXAMPLES = 300  # explorer runs per seed
_CHECK_LINE = re.compile(r"(?m)^[ \t]*check[ \t]+[A-Za-z_]")
_RULE_ID = re.compile(r"[Rr]\d+")


class UsageError(Exception):
    """A mistake on the command line or in the files it names (exit 2); the message says
    what is wrong and how to fix it."""


# ---------------------------------------------------------------- spec files


def shipped_check_files() -> list[str]:
    """The shipped spec files that declare ``check`` blocks (what ``check`` runs by
    default)."""
    from checker.scenario import shipped_spec_files

    return [f for f in shipped_spec_files()
            if _CHECK_LINE.search(Path(f).read_text(encoding="utf-8"))]


def spec_files(paths: Sequence[str]) -> list[str]:
    """The ``.dmabuf`` files named by ``paths``: files as given, directories searched
    recursively (sorted). Raises ``UsageError`` for a missing path or an empty directory."""
    out: list[str] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            found = sorted(str(f) for f in path.rglob("*.dmabuf"))
            if not found:
                raise UsageError(f"{p}: no .dmabuf files in this directory")
            out.extend(found)
        elif path.exists():
            out.append(str(path))
        else:
            raise UsageError(f"{p}: no such file")
    return list(dict.fromkeys(out))


# ---------------------------------------------------------------- output helpers


@dataclass
class Out:
    """Where the program writes: ``out`` for results, ``err`` for diagnostics, warnings and
    progress."""

    out: TextIO
    err: TextIO

    def print(self, text: str = "") -> None:
        self.out.write(text + "\n")

    def error(self, text: str) -> None:
        self.err.write(text.rstrip("\n") + "\n")


def _tty(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class Progress:
    """One line on stderr, rewritten as each engine run finishes; only on a terminal and
    outside CI."""

    def __init__(self, stream: TextIO, total: int) -> None:
        self.stream = stream
        self.total = total
        self.on = _tty(stream) and not os.environ.get("CI")
        self.start = time.monotonic()
        self.width = 0

    def show(self, text: str) -> None:
        if not self.on:
            return
        line = f"[{time.monotonic() - self.start:5.1f}s] {text}"
        self.stream.write("\r" + line.ljust(self.width))
        self.stream.flush()
        self.width = len(line)

    def finished(self, n: int, unit: Unit, result: UnitResult) -> None:
        worst = _worst(a.status for a in result.answers)
        self.show(f"{n}/{self.total} engine runs done; last: {unit.check} "
                  f"{unit.engine}: {worst}")

    def close(self) -> None:
        if self.on and self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()


def _worst(statuses: Iterable[Status]) -> str:
    from checker.report.outcome import worst

    present = list(statuses)
    return worst(present).value if present else "no verdict"


# ---------------------------------------------------------------- where runs run


class ShardWritten(Exception):
    """A ``--shard`` run wrote its results (not an error: ``main`` returns ``code``)."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


# options that say where and how the runs run, not what they compute (left out of the
# command line a shard records), with whether each takes a value
_WHERE = {"--shard": True, "--shard-output": True, "--cluster": True, "--jobs": True,
          "-j": True}


# the report options of the sharded commands, which merge passes on (name: takes a value)
_REPORTS = {"--format": True, "--junit": True, "--sarif": True, "--itf-dir": True,
            "--counterexamples": True, "--no-write": False, "--coverage": False,
            "--no-color": False, "--output": True, "-o": True, "--output-dir": True}


def _recorded_argv(argv: Sequence[str], leave_out: dict[str, bool] = _WHERE
                   ) -> tuple[str, ...]:
    """``argv`` after the command name, without the options of ``leave_out``."""
    out: list[str] = []
    rest = iter(argv[1:])
    for a in rest:
        name = a.split("=", 1)[0]
        if name in leave_out:
            if leave_out[name] and "=" not in a:
                next(rest, None)
            continue
        if a.startswith("-j") and not a.startswith("--") and a[2:].isdigit():
            continue
        out.append(a)
    return tuple(out)


def _add_where_options(p: argparse.ArgumentParser, what: str) -> None:
    """``--jobs``, ``--cluster``, ``--shard`` and ``--shard-output`` (every command whose
    work is a list of runs has them; ``_execute`` reads them)."""
    p.add_argument("--jobs", "-j", type=int, default=0, metavar="N",
                   help=f"{what} in parallel processes (default: one per CPU)")
    p.add_argument("--cluster", metavar="ADDRESS",
                   help=f"{what} on the workers of a Dask cluster: the scheduler's address "
                   "(tcp://HOST:8786) or its scheduler file; the results and their order are "
                   "those of a local run")
    p.add_argument("--shard", type=_shard, metavar="K/N",
                   help=f"only shard K of N of the {what} (split by their expected time), "
                   f"writing their results to --shard-output for '{PROG} merge', which "
                   "writes the reports")
    p.add_argument("--shard-output", metavar="PATH",
                   help="where --shard writes its results (default shard-K-of-N.json)")


def _shard(text: str) -> Shard:
    try:
        return parse_shard(text)
    except ShardError as e:
        raise argparse.ArgumentTypeError(str(e).removeprefix(f"--shard {text}: ")) from None


def _execute(args: argparse.Namespace, o: Out, items: Sequence[T], fn: Callable[[T], R], *,
             key: Callable[[T], tuple[float, int]], estimate: Callable[[T], float],
             sources: dict[str, str], shard_code: Callable[[Sequence[R]], int],
             what: str = "engine runs", limit: Limit[T, R] | None = None) -> list[R]:
    """Every item's result, in the items' order: run here (``--jobs``), on a Dask cluster
    (``--cluster``), or taken from merged shards (``merge``). With ``--shard K/N`` only
    that shard's items run; their results are written and ``ShardWritten`` ends the
    command with ``shard_code`` of them. ``sources`` are the spec texts the items load
    (by path), part of the shards' fingerprint."""
    command = args.command
    argv = _recorded_argv(getattr(args, "argv", (command,)))
    # the spec files as they are on disk now (a process may hold an earlier text loaded)
    sources = {k: Path(k).read_text(encoding="utf-8") if Path(k).is_file() else v
               for k, v in sources.items()}
    work = work_fingerprint(command, _recorded_argv([command, *argv], _REPORTS), items,
                            sources)
    merged: Merged | None = getattr(args, "merged", None)
    if merged is not None:
        if merged.work != work or len(merged.results) != len(items):
            raise ShardError("the shards were made from other specs than those here now (a "
                             "spec file changed since they ran, or the merge runs in another "
                             "directory): merge in the checkout the shards ran in, or run "
                             "the shards again")
        return [cast(R, r) for r in merged.results]
    shard: Shard | None = args.shard
    if args.shard_output and shard is None:
        raise UsageError("--shard-output says where --shard K/N writes its results: add "
                         "--shard")
    positions = list(range(len(items)))
    costs: list[float] = []
    if shard is not None:
        costs = [estimate(i) for i in items]
        positions = select(costs, shard)
    mine = [items[i] for i in positions]
    cluster = None
    if args.cluster:
        cluster = Cluster(args.cluster, tuple(k for k in sources if Path(k).is_file()))
    jobs = args.jobs if args.jobs else (os.cpu_count() or 1)
    progress = Progress(o.err, len(mine))
    where = f"cluster {args.cluster}" if cluster else f"{jobs} jobs"
    progress.show(f"0/{len(mine)} {what} ({where})"
                  + (f", shard {shard} of {len(items)}" if shard else ""))

    def done(n: int, item: T, result: R) -> None:
        if isinstance(item, Unit) and isinstance(result, UnitResult):
            progress.finished(n, item, result)
        else:
            progress.show(f"{n}/{len(mine)} {what} done")

    try:
        # each run in a process of its own, so that its answer does not depend on what ran
        # before it in the same process (and a shard's equal those of the whole run)
        results = parallel(fn, mine, jobs, done, key, cluster, isolated=True, limit=limit)
    finally:
        progress.close()
    if shard is None:
        return results
    path = Path(args.shard_output or f"shard-{shard.index}-of-{shard.count}.json")
    estimate_s = sum(costs[i] for i in positions)
    atomic_write(path, ShardResult(command, argv, shard, len(items), tuple(positions),
                                   tuple(results), code_fingerprint(), work,
                                   estimate_s).to_json().encode("utf-8"))
    code = shard_code(results)
    o.print(f"shard {shard}: {len(mine)} of {len(items)} {what} (about {estimate_s:.0f} s "
            f"of the {sum(costs):.0f} s expected in all), results written to "
            f"{display_path(path)}; '{PROG} merge' of the {shard.count} shards writes the "
            f"reports{'' if code == EXIT_HOLDS else f' (exit {code}: see the shard)'}")
    raise ShardWritten(code)


def _answers_code(results: Sequence[UnitResult]) -> int:
    """A shard of ``check``: the gate's code of its own answers."""
    statuses = {a.status for r in results for a in r.answers}
    if Status.VIOLATED in statuses:
        return EXIT_VIOLATED
    if statuses - {Status.HOLDS, Status.PROVED, Status.WITNESSED}:
        return EXIT_UNKNOWN
    return EXIT_HOLDS


def _violated_code(results: Sequence[UnitResult]) -> int:
    """A shard of ``validate-exporter``: 1 when a run found a violation (whether the
    certificate is unknown is the merge's to say: another engine may decide a row)."""
    found = any(a.status is Status.VIOLATED for r in results for a in r.answers)
    return EXIT_VIOLATED if found else EXIT_HOLDS


# ---------------------------------------------------------------- check


def _units(lib: Library, files: tuple[str, ...], args: argparse.Namespace,
           ) -> tuple[list[Unit], dict[tuple[str, int], Problem]]:
    """The engine runs the options ask for, and the problem of each (check, profile)."""
    engines: tuple[str, ...] | None = None
    if args.engine:
        engines = ENGINES if "all" in args.engine else tuple(
            e for e in ENGINES if e in args.engine)
    units: list[Unit] = []
    shown: dict[tuple[str, int], Problem] = {}
    for name, check in lib.checks.items():
        for k, problem in enumerate(problems(check)):
            prof = problem.model.profile
            if args.profile and args.profile not in (prof.name, str(prof)):
                continue
            shown[name, k] = problem
            budget = check.budget_s if args.time_budget is None else args.time_budget
            for engine in engines or check.engines:
                seeds: tuple[int | None, ...] = (
                    (args.seed,) if args.seed_given else tuple(check.seeds))
                for seed in (seeds if engine == "hypothesis" else (None,)):
                    units.append(Unit(files, name, k, engine, seed, args.depth, budget,
                                      args.examples, allow_python=args.allow_python,
                                      max_findings=args.max_findings))
    return units, shown


def _seed(text: str) -> int | None:
    if text == "random":
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"'{text}' is not a seed: give an integer, or 'random' for a random run that "
            "uses the example database (.hypothesis/)") from None


def _positive(kind: type[int] | type[float]) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
        if not math.isfinite(value) or value <= 0:
            raise argparse.ArgumentTypeError(f"'{text}' must be a finite number greater "
                                             "than 0")
        return value

    return parse


def _write_counterexamples(verdicts: Sequence[Verdict], args: argparse.Namespace,
                           o: Out) -> tuple[dict[str, WrittenFiles], list[Counterexample]]:
    """Write each distinct counterexample once (the same trace found by two engines has
    one name); a file of that name with other content is left as it is, with a warning."""
    cexs: dict[str, Counterexample] = {}
    for v in verdicts:
        if v.status is not Status.VIOLATED:
            continue
        found = [v.counterexample] if v.counterexample is not None else []
        extra = v.details.get("findings")
        if isinstance(extra, dict):
            found += [c for c in extra.values() if isinstance(c, Counterexample)]
        for c in found:
            cexs.setdefault(c.name, c)
    files: list[WrittenFiles] = []
    if not args.no_write:
        for name, cex in cexs.items():
            try:
                files.append(write(cex, args.counterexamples))
            except CounterexampleExists as e:
                o.error(f"warning: counterexample {name} not written: {e}")
            except CounterexampleError as e:
                o.error(f"warning: counterexample {name} cannot be written as a scenario: "
                        f"{e}")
    by_name = written(files)
    if args.itf_dir:
        directory = Path(args.itf_dir)
        for name, cex in cexs.items():
            target = directory / f"{name}{ITF_SUFFIX}"
            if name in by_name:
                atomic_write(target, by_name[name].itf.read_bytes())
                continue
            try:
                atomic_write(target, itf_text(cex, directory).encode("utf-8"))
            except CounterexampleError as e:
                o.error(f"warning: counterexample {name}: no ITF trace: {e}")
    return by_name, list(cexs.values())


def cmd_check(args: argparse.Namespace, o: Out) -> int:
    if args.depth is not None and args.depth < 1:
        raise UsageError(f"--depth {args.depth}: a depth is at least 1 transition")
    if args.profile and args.profile not in PROFILES:
        raise UsageError(f"--profile {args.profile}: unknown profile; the profiles are "
                         + ", ".join(PROFILES))
    if args.specs:
        files = tuple(spec_files(args.specs))
    else:
        files = tuple(shipped_check_files())
        if not files:
            raise UsageError("no spec files with check blocks are shipped; name the specs "
                             "to check")
    _check_outputs(args)
    lib = library(files, args.allow_python)
    if not lib.checks:
        o.error(f"note: no check blocks in {', '.join(files)}; the specs load without "
                "errors, nothing was explored (add a check block to run the engines)")
        return EXIT_HOLDS
    units, shown = _units(lib, files, args)
    if not units:
        raise UsageError(f"--profile {args.profile}: no check runs under this profile (the "
                         "checks name: " + ", ".join(sorted({
                             str(p.model.profile) for c in lib.checks.values()
                             for p in problems(c)})) + ")")
    results = _execute(args, o, units, run_unit, key=unit_cost, estimate=unit_estimate,
                       sources=lib.sources, shard_code=_answers_code, limit=UNIT_LIMIT)
    verdicts: list[Verdict] = []
    for u, r in zip(units, results, strict=True):
        problem = shown[u.check, u.profile]
        if u.depth is not None:
            problem = replace(problem, depth=u.depth)
        verdicts.extend(a.on(problem) for a in r.answers)
        seed = "" if u.engine != "hypothesis" else f", seed {u.seed}"
        for w in r.warnings:
            o.error(f"warning: {problem.check} ({u.engine}{seed}): {w}")
    files_by_name, cexs = _write_counterexamples(verdicts, args, o)
    try:
        if args.junit:
            from checker.report.junit import write_junit

            write_junit(args.junit, verdicts, files_by_name)
        if args.sarif:
            from checker.report.sarif import write_sarif

            write_sarif(args.sarif, verdicts, files_by_name)
    except OSError as e:
        raise UsageError(f"a report cannot be written ({e}); the checks ran ("
                         f"{Summary.of(verdicts)}), but the gate has no report") \
            from None
    colour = (not args.no_color and _tty(o.out) and "NO_COLOR" not in os.environ)
    if args.format == "json":
        from checker.report.text import json_text

        o.out.write(json_text(verdicts, files_by_name))
    else:
        from checker.report.text import summary_text

        if args.coverage:
            for r in results:
                if r.coverage:
                    o.print(r.coverage)
                    o.print()
        for cex in cexs:
            o.print(render(cex))
            where = files_by_name.get(cex.name)
            if where is not None:
                o.print(f"  written to {display_path(where.scenario)} (replay: {PROG} replay "
                        f"{display_path(where.scenario)})")
            o.print()
        o.out.write(summary_text(verdicts, files_by_name, colour=colour))
    if args.coverage and args.format == "json":
        for r in results:
            if r.coverage:
                o.error(r.coverage)
    return Summary.of(verdicts).exit_code


def _check_outputs(args: argparse.Namespace) -> None:
    """Refuse report paths that are not regular files (or absent) in writable directories,
    before any engine runs."""
    try:
        for option in ("junit", "sarif", "output"):
            path = getattr(args, option, None)
            if path:
                check_report_path(path, f"--{option} {path}")
        for option in ("itf_dir", "output_dir"):
            path = getattr(args, option, None)
            if path:
                check_report_dir(path, f"--{option.replace('_', '-')} {path}")
        if not getattr(args, "no_write", True):
            check_report_dir(args.counterexamples, f"--counterexamples {args.counterexamples}")
    except UnsafeTarget as e:
        raise UsageError(str(e)) from None


# ---------------------------------------------------------------- validate-exporter


def cmd_validate_exporter(args: argparse.Namespace, o: Out) -> int:
    return _validate("exporter", args, o)


def cmd_validate_importer(args: argparse.Namespace, o: Out) -> int:
    return _validate("importer", args, o)


def _validate(kind: str, args: argparse.Namespace, o: Out) -> int:
    """validate-exporter and validate-importer: one certificate per behaviour named."""
    from checker.certificate import RENDERERS
    from checker.validate import (
        SOURCE_PATH,
        Settings,
        TargetError,
        certificate,
        parse_target,
        plan,
        shipped_importers,
        verdicts,
    )
    from model.exporters import EXPORTERS

    word = kind.upper()
    if args.reference == bool(args.target):
        raise UsageError(f"name one {word}, or give --reference for every shipped one")
    if args.reference and not args.output_dir:
        raise UsageError(f"--reference writes one certificate per {kind}: add --output-dir "
                         "DIR (the shipped ones are in docs/certificates)")
    if args.output and args.output_dir:
        raise UsageError("--output names one file and --output-dir a directory: use one")
    for p in args.profile or ():
        if p not in PROFILES:
            raise UsageError(f"--profile {p}: unknown profile; the profiles are "
                             + ", ".join(PROFILES))
    engines = ENGINES if not args.engine or "all" in args.engine else tuple(
        e for e in ENGINES if e in args.engine)
    settings = Settings(scope=args.scope, depth=args.depth, explore_scope=args.explore_scope,
                        explore_depth=args.explore_depth, examples=args.examples,
                        seed=args.seed, budget_s=args.time_budget, engines=engines)
    _check_outputs(args)
    shipped = list(EXPORTERS) if kind == "exporter" else list(shipped_importers())
    names = shipped if args.reference else [args.target]
    plans = []
    for name in names:
        try:
            plans.append(plan(parse_target(name, kind), settings, tuple(args.profile or ()),
                              args.allow_python))
        except TargetError as e:
            raise UsageError(f"{word} {e}") from None
    # one list of runs for every behaviour named, so that processes, a cluster or shards
    # share them all
    units = [u for p in plans for u in p.units]
    sources = {k: v for p in plans for k, v in p.library.sources.items()}
    sources.update({f"{SOURCE_PATH}:{p.target.text}": p.source for p in plans})
    all_results = _execute(args, o, units, run_unit, key=unit_cost, estimate=unit_estimate,
                           sources=sources, shard_code=_violated_code, limit=UNIT_LIMIT)
    code = EXIT_HOLDS
    start = 0
    for name, p in zip(names, plans, strict=True):
        results = all_results[start:start + len(p.units)]
        start += len(p.units)
        found = verdicts(p, results)
        by_name, _ = _write_counterexamples(found, args, o)
        files = {n: display_path(w.scenario) for n, w in by_name.items()}
        cert = certificate(p, found)
        code = max(code, cert.exit_code, key=lambda c: (c == EXIT_VIOLATED, c))
        if args.output_dir:
            directory = Path(args.output_dir)
            stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
            for fmt, suffix in (("markdown", ".md"), ("json", ".json")):
                atomic_write(directory / f"{stem}{suffix}",
                             RENDERERS[fmt](cert, files).encode("utf-8"))
            o.print(f"{name}: {cert.tally()} -> {directory / stem}.md, .json")
        elif args.output:
            atomic_write(Path(args.output), RENDERERS[args.format](cert, files).encode("utf-8"))
            o.print(f"{name}: {cert.tally()} -> {args.output}")
        else:
            o.out.write(RENDERERS[args.format](cert, files))
    return code


# ---------------------------------------------------------------- selftest


def cmd_selftest(args: argparse.Namespace, o: Out) -> int:
    from checker import selftest
    from model.mutants import MUTANTS

    unknown = [n for n in args.mutant or () if n not in MUTANTS]
    if unknown:
        raise UsageError(f"--mutant {unknown[0]}: no such mutant; the catalogue has "
                         + ", ".join(MUTANTS))
    engines = ENGINES if not args.engine or "all" in args.engine else tuple(
        e for e in ENGINES if e in args.engine)
    settings = selftest.Settings(seed=args.seed, budget_s=args.time_budget)
    items = selftest.cells(args.mutant or (), engines, settings)
    kills = _execute(args, o, items, selftest.run_cell, key=selftest.cost,
                     estimate=selftest.estimate, sources={},
                     shard_code=lambda ks: EXIT_VIOLATED if any(not k.ok for k in ks)
                     else EXIT_HOLDS, what="(mutant, engine) runs")
    mx = selftest.matrix(items, kills)
    o.out.write(selftest.matrix_json(mx) if args.format == "json" else selftest.matrix_text(mx))
    return mx.exit_code


# ---------------------------------------------------------------- replay


def counterexample_files(paths: Sequence[str]) -> list[Path]:
    """The counterexample files named by ``paths``: files as given; in a directory every
    ``.dmabuf`` file, and every ``.itf.json`` file without a ``.dmabuf`` beside it (replay
    checks the ITF trace beside a scenario along with it)."""
    out: list[Path] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            found = []
            for f in sorted(path.iterdir()):
                lone_itf = f.name.endswith(ITF_SUFFIX) and not f.with_name(
                    f.name.removesuffix(ITF_SUFFIX) + ".dmabuf").exists()
                if f.name.endswith(".dmabuf") or lone_itf:
                    found.append(f)
            if not found:
                raise UsageError(f"{p}: no counterexample files (.dmabuf, .itf.json) in this "
                                 "directory: nothing was replayed")
            out.extend(found)
        elif path.exists():
            out.append(path)
        else:
            raise UsageError(f"{p}: no such file")
    return out


def cmd_replay(args: argparse.Namespace, o: Out) -> int:
    paths = args.paths or [DEFAULT_COUNTEREXAMPLES]
    if not args.paths and not Path(DEFAULT_COUNTEREXAMPLES).is_dir():
        o.print(f"no {DEFAULT_COUNTEREXAMPLES}/ directory here: nothing to replay")
        return EXIT_HOLDS
    files = counterexample_files(paths)
    counts = {s: 0 for s in ReplayStatus}
    for f in files:
        r = replay(f, allow_python=args.allow_python)
        counts[r.status] += 1
        o.print(f"{display_path(r.path)}: {r.message}")
        if r.details and (args.verbose or not r.passed):
            o.print(textwrap.indent(r.details, "  "))
    o.print(f"{len(files)} counterexample{'s' if len(files) != 1 else ''}: "
            + ", ".join(f"{n} {s.value}" for s, n in counts.items() if n or
                        s is ReplayStatus.STILL_FAILS))
    if counts[ReplayStatus.ERROR]:
        return EXIT_ERROR
    if counts[ReplayStatus.FIXED] or counts[ReplayStatus.DIVERGED]:
        return EXIT_VIOLATED
    return EXIT_HOLDS


# ---------------------------------------------------------------- scenario


def cmd_scenario(args: argparse.Namespace, o: Out) -> int:
    from checker.scenario import run_scenario

    files = tuple(spec_files(args.files))
    lib = library(files, args.allow_python)
    keys = {str(Path(f)) for f in files}
    mine = [sc for sc in lib.scenarios.values() if sc.decl.span.path in keys]
    if not mine:
        o.print(f"no scenarios in {', '.join(files)}")
        return EXIT_HOLDS
    also: tuple[ResolvedProperty, ...] = ()
    if args.check_properties:
        from checker.dsl.sources import shipped_names

        core = library((str(shipped_names()["core"]),))
        also = tuple(core.properties.values())
    failed = 0
    for sc in mine:
        result = run_scenario(sc, keep_going=args.keep_going, also=also)
        failed += not result.passed
        o.print(result.render())
        o.print()
    o.print(f"scenarios: {len(mine) - failed} passed, {failed} failed")
    return EXIT_VIOLATED if failed else EXIT_HOLDS


# ---------------------------------------------------------------- explain and rules


def _wrap(text: str, indent: str = "  ") -> str:
    return textwrap.fill(text, width=92, initial_indent=indent, subsequent_indent=indent)


def _profiles_text(r: Rule) -> str:
    return "all (" + ", ".join(r.profiles) + ")" if set(r.profiles) == set(PROFILES) else \
        ", ".join(r.profiles)


def explain_rule(r: Rule) -> str:
    """A rule of the catalogue for a person: text, kernel functions, parties, consequences
    and where kernel versions differ."""
    lines = [f"{r.id}  {r.title}", "", _wrap(r.summary), "",
             f"  kernel functions:    {', '.join(r.kernel_functions)}",
             f"  responsible:         {', '.join(p.value for p in r.parties)}",
             f"  kernel consequence:  {', '.join(c.value for c in r.consequences)}",
             f"  profiles:            {_profiles_text(r)}"]
    if r.versions:
        lines += ["", "  where kernel versions differ:", _wrap(r.versions, "    ")]
    else:
        lines += ["", "  the same in every profile"]
    lines += ["", f"  reference: {reference(r.id)}"]
    return "\n".join(lines)


def _header_fields(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines()[1:]:
        if not line.startswith("#"):
            break
        key, sep, value = line[1:].partition(":")
        if sep:
            out.setdefault(key.strip(), value.strip())
    return out


def counterexample_of(path: Path, allow_python: bool = False) -> Counterexample:
    """The counterexample a ``.dmabuf`` file records, rebuilt on the model (raises
    ``UsageError`` when the file does not hold one)."""
    text = path.read_text(encoding="utf-8")
    fields = _header_fields(text)
    if "finding" not in fields:
        raise UsageError(f"{path}:1:1: not a counterexample file: its header has no "
                         "'# finding:' line")
    finding = parse_finding(fields["finding"])
    key = str(Path(str(path)))
    lib = load([key], allow_python=allow_python)
    mine = [sc for sc in lib.scenarios.values() if sc.decl.span.path == key]
    if len(mine) != 1:
        raise UsageError(f"{path}: a counterexample holds exactly one scenario; this one "
                         f"holds {len(mine)}")
    sc = mine[0]
    d = sc.decl
    exporter = d.exporter_py.target if d.exporter_py is not None else d.exporter
    importers = ((d.importers_py.target,) if d.importers_py is not None
                 else tuple(d.importers) or tuple(i.name for i in sc.model.importers))
    props = tuple(engine_property(p, sc.model) for p in sc.properties)
    engine, _, seed = fields.get("engine", "file").partition(", seed ")
    problem = Problem(fields.get("check", d.name), sc.model, sc.mode, properties=props,
                      exporter_ref=exporter or sc.model.exporter.name,
                      importer_refs=importers)
    actions = tuple(b.action for b in sc.body if isinstance(b, ResolvedStep))
    return Counterexample(problem, finding, actions, engine,
                          int(seed) if seed.strip().isdigit() else None)


def cmd_explain(args: argparse.Namespace, o: Out) -> int:
    what: str = args.what
    if _RULE_ID.fullmatch(what):
        rid = what.upper()
        if rid not in RULEBOOK:
            raise UsageError(f"{what}: no such rule; the catalogue has R1..R{len(RULEBOOK)} "
                             f"({PROG} rules lists them)")
        o.print(explain_rule(RULEBOOK[rid]))
        return EXIT_HOLDS
    path = Path(what)
    if not path.exists():
        raise UsageError(f"{what}: no such file (explain takes a rule id such as R18, or a "
                         "counterexample file)")
    if path.name.endswith(ITF_SUFFIX):
        sibling = path.with_name(path.name.removesuffix(ITF_SUFFIX) + ".dmabuf")
        if sibling.exists():
            path = sibling
    result = replay(path, allow_python=args.allow_python)
    if result.status is ReplayStatus.ERROR:
        o.error(f"{display_path(path)}: {result.message}")
        return EXIT_ERROR
    try:
        o.print(render(counterexample_of(path, args.allow_python)))
    except CounterexampleError:  # the trace no longer shows its finding: show the replay
        o.print(result.details)
    o.print()
    o.print(f"replay: {result.message}")
    return EXIT_HOLDS


def cmd_rules(args: argparse.Namespace, o: Out) -> int:
    if args.markdown:
        try:
            check_report_path(args.markdown, f"--markdown {args.markdown}")
            atomic_write(Path(args.markdown), markdown().encode("utf-8"))
        except UnsafeTarget as e:
            raise UsageError(str(e)) from None
        o.print(f"{len(RULEBOOK)} rules written to {args.markdown}")
        return EXIT_HOLDS
    rows = [(r.id, r.title, ", ".join(p.value for p in r.parties),
             ", ".join(c.value for c in r.consequences),
             "all" if set(r.profiles) == set(PROFILES) else ", ".join(r.profiles))
            for r in RULEBOOK.values()]
    head = ("rule", "title", "responsible", "consequence", "profiles")
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(head)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    o.print(line(head))
    for row in rows:
        o.print(line(row))
    o.print()
    o.print(f"{len(rows)} rules; {PROG} explain RULE gives the text of one, {DOC} all of them")
    return EXIT_HOLDS


# ---------------------------------------------------------------- merge

def cmd_merge(args: argparse.Namespace, o: Out) -> int:
    merged = merge_shards(shard_files(args.shards))
    extra: list[str] = []
    for name, takes_value in _REPORTS.items():
        if not name.startswith("--"):  # a short alias of another
            continue
        value = getattr(args, name[2:].replace("-", "_"))
        if takes_value and value is not None:
            extra += [name, value]
        elif not takes_value and value:
            extra.append(name)
    command = [merged.command, *merged.argv, *extra]
    sub = parser()
    try:
        again = sub.parse_args(command)
    except SystemExit:
        raise UsageError(f"the shards ran '{PROG} {' '.join(command[:-len(extra) or None])}'"
                         + (f", which takes no {' '.join(extra)}" if extra else "")) from None
    again.argv = command
    again.seed_given = _seed_given(command)
    again.merged = merged
    code: int = again.run(again, o)
    return code


def cmd_ops(args: argparse.Namespace, o: Out) -> int:
    from checker.files import atomic_write
    from checker.operations import reference, render_markdown, render_text

    ops = reference()
    text = render_markdown(ops) if args.format == "markdown" else render_text(ops)
    if args.output:
        atomic_write(args.output, text.encode())
        o.print(f"wrote {args.output} ({len(ops)} operations)")
    else:
        o.out.write(text)
    return EXIT_HOLDS


def cmd_trace(args: argparse.Namespace, o: Out) -> int:
    from checker.trace import command

    if args.trace_command == "probes":
        return command.print_probes(args.layout, args.tracefs, args.bpftrace, o.print,
                                    o.error, args.remove)
    return command.check(args.file, args.profile, args.exporter, args.format, o.print,
                         o.error)


def cmd_conformance(args: argparse.Namespace, o: Out) -> int:
    from checker.conformance.run import run

    return run(args.cases, args.kernel, args.list, o.print, o.error, args.trace)


# ---------------------------------------------------------------- the parser


class _Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors end the program with exit 2 through
    ``main`` (never ``sys.exit`` inside a library call), and which takes no abbreviated
    options (``--see 1`` is an error, not ``--seed 1``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)


def _validate_options(v: argparse.ArgumentParser, kind: str, defaults: ValidateSettings
                      ) -> None:
    """The options validate-exporter and validate-importer share (their defaults differ:
    an importer's driver code is short, so a smaller scope and fewer runs reach it)."""
    scope, depth = defaults.scope, defaults.depth
    explore_scope, explore_depth = defaults.explore_scope, defaults.explore_depth
    examples = defaults.examples
    v.add_argument("--profile", action="append", metavar="P",
                   help="only profile P (repeat for several; default: every declared one)")
    v.add_argument("--engine", action="append", choices=(*ENGINES, "all"),
                   help="only this engine (repeat for several; default all)")
    v.add_argument("--scope", default=scope, metavar="BxA",
                   help=f"scope of bmc and prove (default {scope})")
    v.add_argument("--depth", type=_positive(int), default=depth, metavar="N",
                   help=f"bmc's bound in steps (default {depth})")
    v.add_argument("--explore-scope", default=explore_scope, metavar="BxA",
                   help=f"scope of random exploration (default {explore_scope})")
    v.add_argument("--explore-depth", type=_positive(int), default=explore_depth,
                   metavar="N", help=f"steps per random run (default {explore_depth})")
    v.add_argument("--examples", type=_positive(int), default=examples, metavar="N",
                   help=f"random runs per profile (default {examples})")
    v.add_argument("--seed", type=int, default=0, metavar="N", help="explorer seed (default 0)")
    v.add_argument("--time-budget", type=_positive(float), default=300.0, metavar="SECONDS",
                   help="budget of each engine run (default 300); a run that exhausts it "
                   "answers unknown")
    _add_where_options(v, "engine runs")
    v.add_argument("--format", choices=("text", "markdown", "json"), default="text")
    v.add_argument("--output", "-o", metavar="FILE", help="write the certificate to FILE")
    v.add_argument("--output-dir", metavar="DIR",
                   help=f"write NAME.md and NAME.json per {kind} into DIR")
    v.add_argument("--counterexamples", default=DEFAULT_COUNTEREXAMPLES, metavar="DIR",
                   help=f"where counterexamples are written (default "
                   f"{DEFAULT_COUNTEREXAMPLES}/)")
    v.add_argument("--no-write", action="store_true", help="write no counterexample files")
    v.add_argument("--allow-python", action="store_true",
                   help="import the Python behaviours (\"module:attr\") the specs name; they run "
                   "with your permissions, so only for specs you trust (the shipped model's "
                   "mutants and behaviours need no flag)")


def parser() -> argparse.ArgumentParser:
    from checker.validate import IMPORTER_SETTINGS
    from checker.validate import Settings as ValidateSettings

    p = _Parser(prog=PROG, description="A model checker for the Linux dma-buf buffer-sharing "
                "lifecycle: check specs, replay counterexamples, explain rules.",
                epilog="exit codes: 0 every property holds, 1 a violation, 2 a spec or usage "
                "error, 3 unknown or out of budget")
    p.add_argument("--version", action="version", version=f"{PROG} {tool_version()}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    c = sub.add_parser("check", help="run the check blocks of spec files (the CI gate)",
                       description="Run the check blocks of the given spec files or "
                       "directories (default: the shipped checks) with their engines. "
                       "Exit 0 every property holds, 1 a violation, 2 a spec or usage error, "
                       "3 unknown or out of budget.")
    c.add_argument("specs", nargs="*", metavar="SPEC", help=".dmabuf files or directories")
    c.add_argument("--engine", action="append", choices=(*ENGINES, "all"),
                   help="run this engine on every check instead of those each declares "
                   "(repeat for several)")
    c.add_argument("--profile", metavar="P", help="only the checks' runs under profile P")
    c.add_argument("--depth", type=int, metavar="N",
                   help="steps per run (hypothesis) and bound (bmc), instead of each check's")
    c.add_argument("--seed", type=_seed, metavar="N",
                   help="explorer seed instead of each check's seeds ('random': a random "
                   "run replaying earlier failures from .hypothesis/)")
    c.add_argument("--examples", type=_positive(int), default=DEFAULT_EXAMPLES, metavar="N",
                   help=f"explorer runs per seed (default {DEFAULT_EXAMPLES})")
    c.add_argument("--time-budget", type=_positive(float), metavar="SECONDS",
                   help="time budget of each engine run (one engine on one profile of a "
                   "check) instead of each check's budget; a run that exhausts it answers "
                   "unknown")
    _add_where_options(c, "engine runs")
    c.add_argument("--max-findings", type=_positive(int), metavar="N",
                   help="distinct findings an engine run reports before it stops looking "
                   "(default: the explorer 32, bmc 64; the table says when a run stopped "
                   "there)")
    c.add_argument("--format", choices=("text", "json"), default="text",
                   help="text: traces and a summary table; json: one JSON document")
    c.add_argument("--junit", metavar="PATH", help="write a JUnit XML report")
    c.add_argument("--sarif", metavar="PATH", help="write a SARIF 2.1.0 log")
    c.add_argument("--itf-dir", metavar="DIR", help="also copy each counterexample's ITF "
                   "trace into DIR")
    c.add_argument("--counterexamples", default=DEFAULT_COUNTEREXAMPLES, metavar="DIR",
                   help=f"where new counterexamples are written (default "
                   f"{DEFAULT_COUNTEREXAMPLES}/)")
    c.add_argument("--no-write", action="store_true", help="write no counterexample files")
    c.add_argument("--coverage", action="store_true",
                   help="print the explorer's coverage (its warnings always print)")
    c.add_argument("--no-color", action="store_true", help="no ANSI colours")
    c.add_argument("--allow-python", action="store_true",
                   help="import the Python behaviours (\"module:attr\") the specs name; they run "
                   "with your permissions, so only for specs you trust (the shipped model's "
                   "mutants and behaviours need no flag)")
    c.set_defaults(run=cmd_check)

    v = sub.add_parser("validate-exporter", help="certify an exporter against every "
                       "obligation, under each profile it declares",
                       description="Explore an exporter in contract mode (the reference "
                       "static, dynamic and pinned importers, every profile it declares) with "
                       "every engine that can run it, and print its certificate: one verdict "
                       "per exporter obligation (proved, holds to depth k, violated with a "
                       "counterexample, not applicable, unknown) and per core property. "
                       "EXPORTER is a shipped exporter's name, FILE.dmabuf:NAME, or a Python "
                       "behaviour module:Class. Exit 0 nothing violated or unknown, 1 a "
                       "violation, 2 a usage or spec error, 3 something unknown.")
    v.add_argument("target", nargs="?", metavar="EXPORTER")
    v.add_argument("--reference", action="store_true",
                   help="every shipped reference exporter (with --output-dir: how "
                   "docs/certificates is regenerated)")
    _validate_options(v, "exporter", ValidateSettings())
    v.set_defaults(run=cmd_validate_exporter, itf_dir=None)

    vi = sub.add_parser("validate-importer", help="certify an importer's driver code against "
                        "every reference exporter, under each profile it declares",
                        description="Explore an importer's routines (its driver code: import, "
                        "ioctls, teardown, with their error paths) in contract mode against "
                        "every reference exporter (which keep their obligations, so whatever "
                        "breaks is the importer's doing), under every profile it declares, "
                        "with every engine, and print its certificate: one verdict per "
                        "importer obligation of the rulebook and per core property, one "
                        "section per profile and exporter. IMPORTER is a shipped importer's "
                        "name, FILE.dmabuf:NAME, or a Python behaviour module:Class. Exit 0 "
                        "nothing violated or unknown, 1 a violation, 2 a usage or spec error, "
                        "3 something unknown.")
    vi.add_argument("target", nargs="?", metavar="IMPORTER")
    vi.add_argument("--reference", action="store_true",
                    help="every shipped importer written as driver code (with --output-dir: "
                    "how docs/certificates is regenerated)")
    _validate_options(vi, "importer", IMPORTER_SETTINGS)
    vi.set_defaults(run=cmd_validate_importer, itf_dir=None)

    st = sub.add_parser("selftest", help="run the mutant catalogue against every engine",
                        description="The mutation self-test: every seeded bug of the "
                        "catalogue (model/mutants.py) against every engine, as a kill matrix "
                        "(mutant x engine: killed, time, counterexample length). Exit 0 when "
                        "every engine kills every mutant with a trace that replays (and bmc's "
                        "is exactly as long as the catalogue's witness), 1 otherwise.")
    st.add_argument("--mutant", action="append", metavar="NAME",
                    help="only this mutant (repeat for several)")
    st.add_argument("--engine", action="append", choices=(*ENGINES, "all"),
                    help="only this engine (repeat for several; default all)")
    st.add_argument("--seed", type=int, default=0, metavar="N", help="explorer seed")
    st.add_argument("--time-budget", type=_positive(float), default=120.0, metavar="SECONDS",
                    help="budget per (mutant, engine) run (default 120)")
    _add_where_options(st, "(mutant, engine) runs")
    st.add_argument("--format", choices=("text", "json"), default="text")
    st.set_defaults(run=cmd_selftest)

    m = sub.add_parser("merge", help="merge the results of a sharded run into its reports",
                       description="Merge the results that the shards of one run wrote "
                       "(--shard K/N --shard-output FILE, on check, validate-exporter, "
                       "validate-importer or selftest) into the output, reports, "
                       "counterexamples and exit code of the same command run unsharded. "
                       "The shards must come from the same version of dmabuf-check, the "
                       "same command line and the same spec files (which must be here, as "
                       "they were), and together cover every run once; otherwise nothing is "
                       "written and the exit code is 2. Report options given here are added "
                       "to the shards' command line.")
    m.add_argument("shards", nargs="+", metavar="SHARD",
                   help="shard result files, or directories of them (*.json)")
    m.add_argument("--format", help="the command's output format (check: text, json; "
                   "validate-exporter: text, markdown, json; selftest: text, json)")
    m.add_argument("--junit", metavar="PATH", help="check: write a JUnit XML report")
    m.add_argument("--sarif", metavar="PATH", help="check: write a SARIF 2.1.0 log")
    m.add_argument("--itf-dir", metavar="DIR", help="check: copy each counterexample's ITF "
                   "trace into DIR")
    m.add_argument("--counterexamples", metavar="DIR",
                   help="where new counterexamples are written")
    m.add_argument("--no-write", action="store_true", help="write no counterexample files")
    m.add_argument("--coverage", action="store_true", help="check: print the explorer's "
                   "coverage")
    m.add_argument("--no-color", action="store_true", help="check: no ANSI colours")
    m.add_argument("--output", "-o", metavar="FILE",
                   help="validate-exporter: write the certificate to FILE")
    m.add_argument("--output-dir", metavar="DIR",
                   help="validate-exporter: write NAME.md and NAME.json per exporter into DIR")
    m.set_defaults(run=cmd_merge)

    r = sub.add_parser("replay", help="replay kept counterexamples",
                       description="Replay counterexample files. Exit 0 when every one "
                       "still fails as recorded, 1 when one is fixed or diverged, 2 when one "
                       "cannot be read.")
    r.add_argument("paths", nargs="*", metavar="PATH",
                   help=f"files or directories (default {DEFAULT_COUNTEREXAMPLES}/)")
    r.add_argument("--verbose", "-v", action="store_true", help="show every replayed run")
    r.add_argument("--allow-python", action="store_true",
                   help="import the Python behaviours (\"module:attr\") the specs name; they run "
                   "with your permissions, so only for specs you trust (the shipped model's "
                   "mutants and behaviours need no flag)")
    r.set_defaults(run=cmd_replay)

    s = sub.add_parser("scenario", help="run scenarios, showing every step",
                       description="Run the scenarios of spec files on the model. Exit 0 "
                       "when all pass, 1 when one fails, 2 on a spec error.")
    s.add_argument("files", nargs="+", metavar="FILE", help=".dmabuf files or directories")
    s.add_argument("--keep-going", action="store_true",
                   help="run every step of a failing scenario and show every finding "
                   "(default: stop at the first step that does not go as written)")
    s.add_argument("--check-properties", action="store_true",
                   help="also check the core properties (specs/rules/core.dmabuf: always "
                   "and response) on every step; a step that breaks one fails unless it "
                   "names it (violates NAME)")
    s.add_argument("--allow-python", action="store_true",
                   help="import the Python behaviours (\"module:attr\") the specs name; they run "
                   "with your permissions, so only for specs you trust (the shipped model's "
                   "mutants and behaviours need no flag)")
    s.set_defaults(run=cmd_scenario)

    e = sub.add_parser("explain", help="explain a rule or a counterexample",
                       description="Explain a rule of the catalogue (R1..R32) or a "
                       "counterexample file (its trace with state changes).")
    e.add_argument("what", metavar="RULE|FILE")
    e.add_argument("--allow-python", action="store_true",
                   help="import the Python behaviours (\"module:attr\") the specs name; they run "
                   "with your permissions, so only for specs you trust (the shipped model's "
                   "mutants and behaviours need no flag)")
    e.set_defaults(run=cmd_explain)

    ru = sub.add_parser("rules", help="list the rule catalogue",
                        description="The rule catalogue R1..R32 as a table.")
    ru.add_argument("--markdown", metavar="PATH",
                    help=f"write the rulebook as Markdown instead ({COMMAND} regenerates "
                    "the shipped one)")
    ru.set_defaults(run=cmd_rules)

    op = sub.add_parser("ops", help="the operations reference",
                        description="Every operation of the model with its parameters and "
                        "their values, the profiles it exists under and the rules it checks "
                        "(docs/operations.md is the Markdown form).")
    op.add_argument("--format", choices=("text", "markdown"), default="text")
    op.add_argument("--output", metavar="PATH", help="write to PATH instead of stdout")
    op.set_defaults(run=cmd_ops)

    from checker.conformance.run import add_parser as add_conformance

    add_conformance(sub)
    sub.choices["conformance"].set_defaults(run=cmd_conformance)

    from checker.trace.command import add_parser as add_trace

    add_trace(sub).set_defaults(run=cmd_trace)
    return p


def _seed_given(argv: Sequence[str]) -> bool:
    return "--seed" in argv or any(a.startswith("--seed=") for a in argv)


def main(argv: Sequence[str] | None = None, *, stdout: TextIO | None = None,
         stderr: TextIO | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    o = Out(stdout if stdout is not None else sys.stdout,
            stderr if stderr is not None else sys.stderr)
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parser().parse_args(argv)
    except SystemExit as e:  # --help (0) or a usage error, already printed (2)
        return int(e.code) if isinstance(e.code, int) else EXIT_ERROR
    args.seed_given = _seed_given(argv)
    args.argv = argv
    try:
        code: int = args.run(args, o)
    except ShardWritten as e:
        return e.code
    except (UsageError, ShardError, ClusterError) as e:
        o.error(f"{PROG}: error: {e}")
        return EXIT_ERROR
    except RunLost as e:
        o.error(f"{PROG}: error: {e}; no report was written")
        return EXIT_UNKNOWN
    except SpecError as e:
        o.error(e.render())
        o.error(f"{len(e.diagnostics)} error(s) in the spec; nothing was checked")
        return EXIT_ERROR
    except KeyboardInterrupt:
        o.error("interrupted")
        return 130
    finally:
        o.out.flush()
    return code


__all__ = [
    "ENGINES",
    "Unit",
    "UsageError",
    "counterexample_files",
    "counterexample_of",
    "explain_rule",
    "main",
    "parser",
    "shipped_check_files",
    "spec_files",
]
