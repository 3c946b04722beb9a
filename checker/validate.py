"""``validate-exporter`` and ``validate-importer``: explore one behaviour in contract mode
with every engine that can run it, and turn the verdicts into a certificate
(``checker.certificate``).

An importer is validated the other way round: its routines (the driver's own code) run
against every reference exporter, which keep their obligations, under every profile the
importer declares, so whatever breaks is the importer's doing.

The exporter is named as:

* ``NAME``: a shipped reference exporter (``system_heap``, ``udmabuf``, ``gem_prime``,
  ``ttm``);
* ``FILE.dmabuf:NAME`` (or ``FILE.dmabuf`` when the file declares one exporter): an
  exporter written in the specification language;
* ``module:attr``: a Python behaviour (a ``model.plugin.PythonExporter`` subclass or
  instance, or an ``Exporter``), imported from this Python.

The runs are written as two ``check`` blocks of spec text, so they go through the same
resolver, engines and worker processes as ``dmabuf-check check``: one for the bounded model
checker and k-induction (small scope), one for random exploration (larger scope). Every
profile the exporter declares is checked with the reference importers of every style
(static, dynamic, pinned).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path

from checker.certificate import Certificate, certify, certify_importer
from checker.dsl.diagnostics import SpecError
from checker.dsl.resolve import Library, ResolvedCheck
from checker.problem import Problem, Verdict, problems
from checker.runs import ENGINES, Unit, UnitResult, library_text, run_units
from model.behaviour import Exporter, Importer
from model.exporters import EXPORTERS

IMPORTERS = ("static", "dynamic", "pinned")
SOURCE_PATH = "<validate-exporter>"
# the generated checks' names (an imported spec file may declare checks of its own: those
# are not run)
SOLVER_CHECK, EXPLORE_CHECK = "validate_exporter_solvers", "validate_exporter_explore"
# an importer's properties: the rules, the safety properties and two witnesses that its
# routines really import and release (a driver need not share, vmap or move anything)
IMPORTER_PROPERTIES = ("released_exactly_at_zero", "clean_at_release", "one_cached_vmap",
                       "remap_after_move", "can_release", "can_map")


def shipped_importers() -> dict[str, str]:
    """The shipped importers validate-importer knows by name, with their summaries."""
    from checker.dsl.library import shipped_importers as load

    return {i.name: i.summary for i in load("drivers")}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PYTHON = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*")


class TargetError(ValueError):
    """An exporter reference that names nothing usable (the message says how to fix it)."""


@dataclass(frozen=True)
class Settings:
    """What the engines run: the solver engines at ``scope`` to ``depth`` steps, random
    exploration at ``explore_scope`` (``examples`` runs of up to ``explore_depth`` steps,
    ``seed``); ``budget_s`` per engine run."""

    scope: str = "1x2"
    depth: int = 5
    explore_scope: str = "2x3"
    explore_depth: int = 10
    examples: int = 300
    seed: int = 0
    budget_s: float = 300.0
    engines: tuple[str, ...] = ENGINES

    def describe(self) -> dict[str, str]:
        out = {}
        if "prove" in self.engines:
            out["k-induction"] = (f"k-induction (up to k = 4, base case from the initial state) at "
                            f"scope {self.scope}")
        if "bmc" in self.engines:
            out["bmc"] = f"every trace of up to {self.depth} steps at scope {self.scope}"
        if "hypothesis" in self.engines:
            out["hypothesis"] = (f"{self.examples} random runs of up to {self.explore_depth} "
                                 f"steps at scope {self.explore_scope}, seed {self.seed}")
        return out


# validate-importer's defaults: an import is short driver code, so one buffer with one
# attachment slot and fewer random runs reach all of it
IMPORTER_SETTINGS = Settings(scope="1x1", depth=5, explore_scope="1x2", explore_depth=8,
                             examples=100)


@dataclass(frozen=True)
class Target:
    """How the behaviour is named in the generated check (``exporter NAME`` or
    ``exporter "module:attr"``; ``importers ...`` for an importer) and which spec file
    declares it."""

    text: str  # as given on the command line
    clause: str  # the check's exporter (importers) clause
    spec_file: str = ""  # a DSL file to import ("" for shipped and Python behaviours)
    kind: str = "exporter"  # or "importer"


def shipped_file(name: str) -> str:
    return str(resources.files("specs") / "rules" / name)


def parse_target(text: str, kind: str = "exporter") -> Target:
    """Read an EXPORTER (or IMPORTER) argument; ``TargetError`` says what is wrong."""
    shipped = dict(EXPORTERS) if kind == "exporter" else shipped_importers()
    word = "exporter" if kind == "exporter" else "importers"
    if text in shipped:
        return Target(text, f"{word} {text}", kind=kind)
    path_part, _, name = text.rpartition(":") if ":" in text else (text, "", "")
    if path_part.endswith(".dmabuf") or text.endswith(".dmabuf"):
        file = Path(path_part if path_part.endswith(".dmabuf") else text)
        if not file.is_file():
            raise TargetError(f"{file}: no such spec file")
        if not name:
            from checker.dsl import ast
            from checker.dsl.parser import parse

            decl = ast.ExporterDecl if kind == "exporter" else ast.ImporterDecl
            found = [i.name for i in parse(file.read_text(encoding="utf-8"), str(file)).items
                     if isinstance(i, decl)]
            if len(found) != 1:
                raise TargetError(
                    f"{file} declares {len(found)} {kind}s"
                    + (f" ({', '.join(found)})" if found else "")
                    + f"; name one as {file}:NAME")
            name = found[0]
        if not _NAME.fullmatch(name):
            raise TargetError(f"'{name}' is not an {kind} name")
        spec = str(file.resolve())
        if name in shipped:
            spec = ""  # a shipped behaviour's own file: already in every library
        return Target(text, f"{word} {name}", spec, kind)
    if _PYTHON.fullmatch(text):
        return Target(text, f'{word} "{text}"', kind=kind)
    folder = "exporters" if kind == "exporter" else "drivers"
    raise TargetError(
        f"'{text}' names no {kind}: give a shipped {kind} ({', '.join(shipped)}), a "
        f"spec file and name (specs/{folder}/FILE.dmabuf:NAME), or a Python behaviour "
        "(module:Class)")


def counterparts(target: Target) -> tuple[str, ...]:
    """What the behaviour runs with: the importer styles, or every reference exporter."""
    return IMPORTERS if target.kind == "exporter" else tuple(EXPORTERS)


def check_names(target: Target) -> list[tuple[str, str]]:
    """The generated checks, as (solver check, explore check) per counterpart."""
    if target.kind == "exporter":
        return [(SOLVER_CHECK, EXPLORE_CHECK)]
    return [(f"validate_importer_solvers_{x}", f"validate_importer_explore_{x}")
            for x in counterparts(target)]


def spec_text(target: Target, profiles: tuple[str, ...], s: Settings) -> str:
    """The checks that validate the behaviour, as spec text."""
    imports = [shipped_file("core.dmabuf")] + ([target.spec_file] if target.spec_file else [])
    out = ["".join(f'import "{p}"\n' for p in imports)]
    if target.kind == "exporter":
        pairs = [(f"  {target.clause}\n  importers {', '.join(IMPORTERS)}\n", "all")]
    else:
        pairs = [(f"  exporter {x}\n  {target.clause}\n", ", ".join(IMPORTER_PROPERTIES))
                 for x in counterparts(target)]
    for (solver_name, explore_name), (parties, props) in zip(check_names(target), pairs,
                                                              strict=True):
        settings = (f"  mode contract\n  profiles {', '.join(profiles)}\n"
                    f"  budget {s.budget_s:g}s\n")
        common = f"{parties}  properties {props}\n{settings}"
        if target.kind == "importer":
            # the witnesses are the solvers' to give: whether a random run happens on a
            # map is no fact about the importer, and would make certificates unstable
            explored = ", ".join(p for p in IMPORTER_PROPERTIES if not p.startswith("can_"))
            explore_common = f"{parties}  properties {explored}\n{settings}"
        else:
            explore_common = common
        solver = [e for e in ("bmc", "prove") if e in s.engines]
        if solver:
            out.append(f"check {solver_name} {{\n{common}  scope {s.scope}\n"
                       f"  depth {s.depth}\n  engines {', '.join(solver)}\n}}\n")
        if "hypothesis" in s.engines:
            out.append(f"check {explore_name} {{\n{explore_common}  scope {s.explore_scope}\n"
                       f"  depth {s.explore_depth}\n  engines hypothesis\n"
                       f"  seeds {s.seed}\n}}\n")
    return "\n".join(out)


@dataclass(frozen=True)
class Plan:
    """The runs that validate one exporter."""

    target: Target
    settings: Settings
    source: str
    library: Library
    profiles: tuple[str, ...]
    declared: tuple[str, ...]
    units: tuple[Unit, ...]
    problems: dict[tuple[str, int], Problem]


def plan(target: Target, settings: Settings, only: tuple[str, ...] = (),
         allow_python: bool = False) -> Plan:
    """Resolve the exporter and lay out the engine runs (every declared profile, or those
    of ``only`` among them). A Python behaviour outside the shipped model needs
    ``allow_python``. Raises ``TargetError`` or ``SpecError``."""
    first = check_names(target)[0][0]
    # a probe at one profile reads the behaviour's declared profiles
    probe = spec_text(target, ("v6.16+",), Settings(engines=("bmc",)))
    roots = (str(Path(target.spec_file).parent),) if target.spec_file else ()
    lib = _load(probe, target, allow_python, roots)
    declared = tuple(_subject(lib.checks[first], target).profiles)
    profiles = tuple(p for p in declared if not only or p in only)
    if not profiles:
        raise TargetError(f"{target.text} declares the profiles {', '.join(declared)}; "
                          f"none of {', '.join(only)} is among them")
    source = spec_text(target, profiles, settings)
    lib = _load(source, target, allow_python, roots)
    units: list[Unit] = []
    shown: dict[tuple[str, int], Problem] = {}
    for name in (n for pair in check_names(target) for n in pair):
        check = lib.checks.get(name)
        if check is None:
            continue
        for k, problem in enumerate(problems(check)):
            if target.spec_file:
                problem = replace(problem, imports=(target.spec_file,))
            shown[name, k] = problem
            for engine in check.engines:
                seed = settings.seed if engine == "hypothesis" else None
                units.append(Unit((), name, k, engine, seed, None, settings.budget_s,
                                  settings.examples, source, SOURCE_PATH, allow_python,
                                  roots))
    return Plan(target, settings, source, lib, profiles, declared, tuple(units), shown)


def _subject(check: ResolvedCheck, target: Target) -> Exporter | Importer:
    """The behaviour a generated check validates."""
    return check.exporter if target.kind == "exporter" else check.importers[0]


def _load(source: str, target: Target, allow_python: bool, roots: tuple[str, ...]
          ) -> Library:
    try:
        return library_text(source, SOURCE_PATH, allow_python, roots)
    except SpecError as e:
        ours = [d for d in e.diagnostics if d.span.path == SOURCE_PATH]
        if ours:  # a mistake in the EXPORTER argument, not in a file
            d = ours[0]
            raise TargetError(f"{target.text}: {d.message}"
                              + (f" ({d.hint})" if d.hint else "")) from None
        raise


def verdicts(p: Plan, results: list[UnitResult]) -> list[Verdict]:
    out: list[Verdict] = []
    for u, r in zip(p.units, results, strict=True):
        problem = p.problems[u.check, u.profile]
        out.extend(a.on(problem) for a in r.answers)
    return out


def certificate(p: Plan, found: list[Verdict]) -> Certificate:
    check = next(p.library.checks[n] for pair in check_names(p.target) for n in pair
                 if n in p.library.checks)
    requested = None if p.profiles == p.declared else p.profiles
    if p.target.kind == "importer":
        importer = check.importers[0]
        return certify_importer(p.target.text, importer.summary, importer.modelled_on,
                                counterparts(p.target), p.declared, p.settings.describe(),
                                found, requested)
    exporter = check.exporter
    return certify(p.target.text, exporter.summary, exporter.modelled_on, IMPORTERS,
                   p.declared, p.settings.describe(), found, requested)


def validate(target: Target, settings: Settings, jobs: int = 1,
             only: tuple[str, ...] = (), allow_python: bool = False
             ) -> tuple[Certificate, list[Verdict]]:
    """Run every engine on the exporter and certify it (in-process helper for tests and
    the reference certificates)."""
    p = plan(target, settings, only, allow_python)
    results = run_units(p.units, jobs, lambda n, u, r: None)
    found = verdicts(p, results)
    return certificate(p, found), found


__all__ = [
    "IMPORTERS",
    "IMPORTER_PROPERTIES",
    "IMPORTER_SETTINGS",
    "Plan",
    "Settings",
    "Target",
    "TargetError",
    "certificate",
    "check_names",
    "counterparts",
    "parse_target",
    "plan",
    "shipped_importers",
    "spec_text",
    "validate",
    "verdicts",
]
