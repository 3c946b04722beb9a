"""The mutation self-test: does the gate catch every seeded bug, with every engine?

``dmabuf-check selftest`` runs each mutant of the catalogue (``model.mutants``) through each
engine, in contract mode at scope 1x1 (all a witness needs), and prints the kill matrix:
mutant x engine, killed or survived, the time, the counterexample's length. A mutant is
killed by an engine when the engine reports the mutant's own (rule, tag) with a trace that
replays on the model through the judge; the random explorer gets up to three seeds (a
deep bug can need more runs than one seed's round: the matrix names the seed that found
it). The command fails when:

* a mutant survives an engine (the gate would let that bug through);
* the bounded model checker's trace is not exactly as long as the catalogue's witness (a
  shorter one means the witness is not minimal; a longer one, that the encoding and the
  model disagree);
* an engine's trace does not replay.

Every engine module is imported when this module is, so that each worker process explores
with the same modules loaded (Hypothesis mixes constants of loaded modules into what it
generates; a different set would change a seeded run).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

from checker.engines.explore import ExploreSettings, explore
from checker.engines.symbolic.bmc import bmc
from checker.engines.symbolic.induction import prove
from checker.judge import Judge
from checker.problem import RULES, Counterexample, Finding, Problem, Status
from checker.runs import ENGINES, parallel
from model.mutants import MUTANTS, Mutant

SCOPE = "1x1"


@dataclass(frozen=True)
class Settings:
    """``depth``: the solvers' bound and k-induction's largest k; ``explore_depth``: steps
    per random run; the explorer tries ``seeds`` seeds from ``seed`` (``examples`` runs a
    round each) until one finds the bug; ``budget_s`` per (mutant, engine, seed)."""

    depth: int = 8
    explore_depth: int = 40
    examples: int = 2000
    seed: int = 0
    seeds: int = 3
    budget_s: float = 120.0


@dataclass(frozen=True)
class Kill:
    """One cell of the matrix."""

    mutant: str
    engine: str
    killed: bool
    seconds: float
    length: int | None = None  # the counterexample's length
    problem: str = ""  # why the cell fails although killed, or why it survived
    note: str = ""  # e.g. the explorer's seed, when the first one missed

    @property
    def ok(self) -> bool:
        return self.killed and not self.problem


def problem_of(m: Mutant, depth: int) -> Problem:
    return Problem(m.name, m.model(SCOPE), "contract", depth,
                   exporter_ref=f"model.mutants:MUTANTS.{m.name}.exporter",
                   importer_refs=(f"model.mutants:MUTANTS.{m.name}.importers",))


def _found(cexs: Sequence[Counterexample], target: Finding) -> Counterexample | None:
    mine = [c for c in cexs if c.finding == target]
    return min(mine, key=lambda c: len(c.actions)) if mine else None


def run_cell(item: tuple[str, str, Settings]) -> Kill:
    """Run one engine on one mutant (picklable, for worker processes)."""
    name, engine, s = item
    m = MUTANTS[name]
    target = Finding(RULES, m.rule, m.tag)
    start = time.monotonic()
    cex: Counterexample | None = None
    why = note = ""
    if engine == "hypothesis":
        tried = []
        for seed in range(s.seed, s.seed + s.seeds):
            run = explore(problem_of(m, s.explore_depth),
                          ExploreSettings(seed=seed, max_examples=s.examples,
                                          time_budget_s=s.budget_s, database=None,
                                          stop_after=frozenset({target})))
            cex = _found(run.counterexamples, target)
            tried.append(f"seed {seed}: {run.examples} runs"
                         + (f", stopped: {run.stopped}" if run.stopped else ""))
            if cex is not None:
                note = f"seed {seed}" if seed != s.seed else ""
                break
        why = "; ".join(tried)
    elif engine == "bmc":
        (v,) = [v for v in bmc(problem_of(m, s.depth), timeout_s=s.budget_s,
                               rules={(m.rule, m.tag)}) if v.prop == RULES]
        cex = v.counterexample if v.status is Status.VIOLATED else None
        why = v.reason or v.status.value
    else:
        verdicts = prove(problem_of(m, s.depth), max_k=s.depth, timeout_s=s.budget_s,
                         stop_after={(m.rule, m.tag)})
        (v,) = [v for v in verdicts if v.prop == RULES]
        found = v.details.get("findings")
        cexs = [c for c in found.values() if isinstance(c, Counterexample)] if isinstance(
            found, dict) else []
        cex = _found(cexs, target)
        why = v.reason or v.status.value
    seconds = time.monotonic() - start
    if cex is None:
        return Kill(name, engine, False, seconds, problem=f"survived ({why})")
    return Kill(name, engine, True, seconds, len(cex.actions), _fault(m, engine, cex, target),
                note)


def _fault(m: Mutant, engine: str, cex: Counterexample, target: Finding) -> str:
    """What is wrong with a kill: a trace that does not replay, or a bounded model
    checker's trace of another length than the catalogue's witness."""
    if Judge(cex.problem).first(cex.actions, target) != len(cex.actions) - 1:
        return ("the trace does not replay (a step is not enabled, or the finding is not on "
                "its last step)")
    if engine == "bmc" and len(cex.actions) != len(m.witness):
        return (f"bmc's shortest trace has {len(cex.actions)} steps, the catalogue's witness "
                f"{len(m.witness)}")
    return ""


@dataclass(frozen=True)
class Matrix:
    mutants: tuple[str, ...]
    engines: tuple[str, ...]
    cells: tuple[Kill, ...]

    def cell(self, mutant: str, engine: str) -> Kill:
        return next(c for c in self.cells if c.mutant == mutant and c.engine == engine)

    @property
    def failures(self) -> list[Kill]:
        return [c for c in self.cells if not c.ok]

    @property
    def exit_code(self) -> int:
        return 1 if self.failures else 0


Cell = tuple[str, str, Settings]  # (mutant, engine, settings): one run of the matrix


def cells(names: Sequence[str] = (), engines: Sequence[str] = ENGINES,
          settings: Settings | None = None) -> list[Cell]:
    """The runs of the kill matrix of ``names`` (default: the whole catalogue) x
    ``engines``, mutant by mutant."""
    s = settings or Settings()
    mutants = tuple(names) or tuple(MUTANTS)
    unknown = [n for n in mutants if n not in MUTANTS]
    if unknown:
        raise KeyError(f"unknown mutant(s) {', '.join(unknown)}; the catalogue has "
                       f"{', '.join(MUTANTS)}")
    return [(n, e, s) for n in mutants for e in engines]


def cost(item: Cell) -> tuple[float, int]:
    """Start order: the deepest witnesses first, the explorer before the solvers (it is
    the slowest)."""
    return (-len(MUTANTS[item[0]].witness), -("bmc", "k-induction", "hypothesis").index(
        item[1] if item[1] != "prove" else "k-induction"))


def estimate(item: Cell) -> float:
    """A cell's expected seconds, for balancing shards (the kill matrix's medians: about
    0.6 s for the explorer and bmc, 1.6 s for k-induction, more for deeper witnesses)."""
    depth = len(MUTANTS[item[0]].witness)
    return {"hypothesis": 0.3, "bmc": 0.4, "prove": 1.2}.get(item[1], 1.0) + 0.1 * depth


def matrix(items: Sequence[Cell], kills: Sequence[Kill]) -> Matrix:
    """The matrix of ``cells`` and their kills."""
    mutants = tuple(dict.fromkeys(n for n, _, _ in items))
    engines = tuple(dict.fromkeys(e for _, e, _ in items))
    return Matrix(mutants, engines, tuple(kills))


def selftest(names: Sequence[str] = (), engines: Sequence[str] = ENGINES,
             settings: Settings | None = None, jobs: int = 1,
             done: Callable[[int, Cell, Kill], None] | None = None) -> Matrix:
    """The kill matrix of ``names`` (default: the whole catalogue) x ``engines``."""
    items = cells(names, engines, settings)
    kills = parallel(run_cell, items, jobs, done or (lambda n, i, k: None), cost)
    return matrix(items, kills)


def matrix_text(mx: Matrix) -> str:
    width = max(len(n) for n in mx.mutants)
    cols = [(e, 33 if e == "hypothesis" else 24) for e in mx.engines]
    head = f"{'mutant':<{width}}  {'rule tag':<38}" + "".join(f"  {e:<{w}}" for e, w in cols)
    lines = [head, "-" * len(head)]
    for n in mx.mutants:
        m = MUTANTS[n]
        row = f"{n:<{width}}  {m.rule + ' ' + m.tag:<38}"
        for e, w in cols:
            c = mx.cell(n, e)
            text = (f"killed {c.seconds:5.1f}s len {c.length}" if c.killed
                    else f"SURVIVED {c.seconds:5.1f}s") + (f" ({c.note})" if c.note else "")
            row += f"  {text + ('  !' if c.killed and c.problem else ''):<{w}}"
        lines.append(row.rstrip())
    lines.append("")
    for c in mx.failures:
        lines.append(f"FAIL {c.mutant} ({c.engine}): {c.problem}")
    total = sum(c.seconds for c in mx.cells)
    killed = sum(c.ok for c in mx.cells)
    lines.append(f"{len(mx.mutants)} mutants x {len(mx.engines)} engines: {killed} of "
                 f"{len(mx.cells)} killed cleanly ({total:.0f} s of engine time); "
                 + ("every mutant is killed by every engine" if not mx.failures
                    else f"{len(mx.failures)} failing cell(s)"))
    return "\n".join(lines) + "\n"


def matrix_json(mx: Matrix) -> str:
    doc = {"mutants": [{"name": n, "rule": MUTANTS[n].rule, "tag": MUTANTS[n].tag,
                        "witness_length": len(MUTANTS[n].witness),
                        "engines": {c.engine: {k: v for k, v in asdict(c).items()
                                               if k not in ("mutant", "engine")}
                                    for c in mx.cells if c.mutant == n}}
                       for n in mx.mutants],
           "failures": len(mx.failures), "exit_code": mx.exit_code}
    return json.dumps(doc, indent=2) + "\n"


__all__ = ["Cell", "Kill", "Matrix", "Settings", "cells", "cost", "estimate", "matrix",
           "matrix_json", "matrix_text", "run_cell", "selftest"]
