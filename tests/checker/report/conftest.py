"""The verdicts the report tests share: a run of the three checks of ``specs/gate.dmabuf``
with every status, built from the mutants' real counterexamples.

The spec files are copied into a temporary source root (``<root>/tests/...`` and
``<root>/specs/rules/core.dmabuf``, the repository's layout) and the counterexamples are
written under ``<root>/counterexamples``, so every path a report shows is relative to that
root and the reports are the same on every machine.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from checker.counterexample.write import WrittenFiles, write
from checker.dsl.resolve import load
from checker.problem import RULES, Counterexample, Finding, Problem, Status, Verdict, problems
from checker.report.outcome import tool_version, written
from checker.rulebook import checkout_doc
from model.action import Action
from model.mutants import MUTANTS

REPO = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parent
GATE = Path("tests/checker/report/specs/gate.dmabuf")
CORE = Path("specs/rules/core.dmabuf")
INFO = "https://example.invalid/dmabuf-check"


@dataclass(frozen=True)
class Run:
    """A run's verdicts, the counterexample files written for them, and the source root."""

    root: Path
    verdicts: tuple[Verdict, ...]
    files: dict[str, WrittenFiles]


def normalise(text: str, root: Path | None = None) -> str:
    """A report as its golden file keeps it: the tool's version as ``<version>``, and the
    temporary root as ``<root>`` where a text the reports embed names a file absolutely
    (the property's declaration in a rendered trace)."""
    text = text.replace(f'"{tool_version()}"', '"<version>"')
    doc = checkout_doc()
    if doc is not None:  # SARIF's helpUri: the rulebook of this checkout
        text = text.replace(doc.as_uri(), "<rulebook>")
    return text if root is None else text.replace(str(root), "<root>")


def _problem(problem: Problem, mutant: str) -> Problem:
    ref = f"model.mutants:MUTANTS.{mutant}"
    return dataclasses.replace(problem, exporter_ref=f"{ref}.exporter",
                               importer_refs=(f"{ref}.importers",))


def _cex(problem: Problem, finding: Finding, actions: tuple[str, ...], engine: str,
         seed: int | None = 0) -> Counterexample:
    return Counterexample(problem, finding, tuple(Action.parse(a) for a in actions), engine,
                          seed)


def make_run(root: Path) -> Run:
    (root / ".git").mkdir(exist_ok=True)  # a checkout: its specs import each other
    for rel in (GATE, CORE):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO / rel, root / rel)
    lib = load([str(root / GATE)])
    (double,) = problems(lib.checks["double_unmap"])
    (move,) = problems(lib.checks["access_after_move"])
    (heap,) = problems(lib.checks["heap"])
    double = _problem(double, "double_unmap")
    move = _problem(move, "access_after_move_notify")
    du = MUTANTS["double_unmap"]
    am = MUTANTS["access_after_move_notify"]
    du_cex = _cex(double, Finding(RULES, du.rule, du.tag), du.witness, "hypothesis")
    du_bmc = _cex(double, Finding(RULES, du.rule, du.tag), du.witness, "bmc", None)
    am_rule = _cex(move, Finding(RULES, am.rule, am.tag), am.witness, "hypothesis")
    am_prop = _cex(move, Finding("remap_after_move"), am.witness, "hypothesis")
    witness = _cex(heap, Finding("can_release"), ("export(b0)", "put(b0)"), "hypothesis")
    effort = "400 runs, 2210 steps, seed 0"
    verdicts = (
        Verdict(double, RULES, Status.VIOLATED, "hypothesis", 3, du_cex, effort, 1.25),
        Verdict(double, RULES, Status.VIOLATED, "bmc", 3, du_bmc, "", 0.5),
        Verdict(move, RULES, Status.VIOLATED, "hypothesis", 5, am_rule, effort, 2.0),
        Verdict(move, "remap_after_move", Status.VIOLATED, "hypothesis", 5, am_prop, effort,
                2.0),
        Verdict(move, "can_vmap", Status.UNWITNESSED, "hypothesis", 8, None, effort, 2.0),
        Verdict(move, RULES, Status.UNKNOWN, "k-induction", 4, None,
                "solver returned unknown (timeout)", 30.0),
        Verdict(heap, RULES, Status.PROVED, "k-induction", 1, None, "inductive at k=1", 0.75),
        Verdict(heap, "released_exactly_at_zero", Status.HOLDS, "bmc", 10, None, "", 3.5),
        Verdict(heap, "can_release", Status.WITNESSED, "hypothesis", 2, witness, effort, 1.0),
        Verdict(heap, "can_share", Status.UNKNOWN, "hypothesis", 10, None,
                "stopped: time budget", 60.0),
    )
    # one file per counterexample name: two engines that find the same trace share it (the
    # file records the engine that wrote it; writing it again for the other would clash)
    out = root / "counterexamples"
    cexs = {v.counterexample.name: v.counterexample for v in reversed(verdicts)
            if v.status is Status.VIOLATED and v.counterexample is not None}
    files = written(write(cex, out) for cex in cexs.values())
    return Run(root, verdicts, files)


@dataclass(frozen=True)
class Kit:
    """What the report tests use beside the run: a fresh run in another root, the golden
    normalisation and the information URI the golden logs name."""

    make_run: Callable[[Path], Run]
    normalise: Callable[..., str]
    info: str = INFO


@pytest.fixture(scope="session")
def gate_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return make_run(tmp_path_factory.mktemp("gate"))


@pytest.fixture(scope="session")
def kit() -> Kit:
    return Kit(make_run, normalise)
