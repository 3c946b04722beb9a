"""Benchmark: how fast specification text becomes syntax trees and checked declarations,
and how that scales.

Run ``python -m checker.dsl.bench`` (``--help`` for options). Two stages, per size:

* ``parse``: a spec of about that many lines built from random trees
  (``checker.dsl.generate``; exporters, importers, scenarios, properties and checks in turn,
  printed by ``checker.dsl.format``), parsed;
* ``resolve``: a spec of about that many lines that means something (the shipped scenarios
  that use the reference behaviours, copied under new names), parsed and resolved with cold
  caches, so the time includes building the models the scenarios run on.

Each stage runs ``--repeat`` times (the garbage collector paused, as ``timeit`` does) and
keeps the best. The same seed gives the same file, and a smaller file is the start of a
larger one, so the growth column (time against the first size) shows how the cost scales:
about 2x and 4x for linear growth. Figures are wall-clock and vary with the machine.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

from checker.dsl import ast
from checker.dsl.format import format_node
from checker.dsl.generate import TreeGen
from checker.dsl.parser import parse

DEFAULT_SIZES = (1250, 2500, 5000)
PATH = "bench.dmabuf"

def _resolve(text: str) -> object:
    from checker.dsl import resolve

    resolve._MODELS.clear()  # cold: as one run of the command would be
    return resolve.load_text(text, PATH)


# A stage: how to build the text of a given size, and what to time on it.
Stage = tuple[Callable[[int, int], str], Callable[[str], object]]
STAGES: dict[str, Stage] = {
    "parse": (lambda lines, seed: build(lines, seed), lambda text: parse(text, PATH)),
    "resolve": (lambda lines, seed: build_valid(lines), _resolve),
}


@dataclass
class Figures:
    stage: str
    lines: int
    chars: int
    items: int
    repeat: int
    seconds: float
    lines_per_s: float
    growth: float


def build(lines: int, seed: int) -> str:
    """A spec of at least ``lines`` lines: exporters, importers, scenarios, properties and
    checks in turn, each a random tree."""
    gen = TreeGen(random.Random(seed).randint)
    kinds: tuple[Callable[[], ast.Item], ...] = (gen.exporter, gen.importer, gen.scenario,
                                                  gen.property, gen.check)
    chunks: list[str] = []
    count = 0
    while count < lines:
        text = format_node(kinds[len(chunks) % len(kinds)]()) + "\n"
        count += text.count("\n") + bool(chunks)  # and a blank line before all but the first
        chunks.append(text)
    return "\n".join(chunks)


def build_valid(lines: int) -> str:
    """A spec of at least ``lines`` lines that resolves: the shipped scenarios that use only
    the reference behaviours, copied under fresh names."""
    from checker.scenario import shipped_spec_files
    from model.exporters import EXPORTERS
    from model.importers import IMPORTERS

    scenarios = []
    for path in shipped_spec_files():
        with open(path, encoding="utf-8") as f:
            tree = parse(f.read(), path)
        for item in tree.items:
            if (isinstance(item, ast.ScenarioDecl) and item.exporter in EXPORTERS
                    and set(item.importers) <= set(IMPORTERS)
                    and all(str(p.value) in IMPORTERS for s in item.body
                            if isinstance(s, ast.Step) for p in s.action.params
                            if p.name == "importer")):
                scenarios.append(item)
    chunks: list[str] = []
    count = 0
    while count < lines:
        item = scenarios[len(chunks) % len(scenarios)]
        copy = dataclasses.replace(item, name=f"{item.name}_{len(chunks)}")
        text = format_node(copy) + "\n"
        count += text.count("\n") + bool(chunks)
        chunks.append(text)
    return "\n".join(chunks)


def measure(lines: int, seed: int, repeat: int) -> list[Figures]:
    rows = []
    for name, (make, run) in STAGES.items():
        text = make(lines, seed)
        tree = parse(text, PATH)
        best = float("inf")
        for _ in range(repeat):
            gc.collect()
            gc.disable()  # as timeit does: collections would land in whichever run they hit
            try:
                start = time.perf_counter()
                run(text)
                best = min(best, time.perf_counter() - start)
            finally:
                gc.enable()
        n = text.count("\n")
        rows.append(Figures(name, n, len(text), len(tree.items), repeat, best, n / best, 1.0))
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    assert __doc__ is not None
    p = argparse.ArgumentParser(prog="python -m checker.dsl.bench",
                                description=__doc__.split("\n")[0])
    p.add_argument("--lines", type=int, nargs="+", default=list(DEFAULT_SIZES), metavar="N",
                   help="the sizes of the spec files, in lines")
    p.add_argument("--repeat", type=int, default=3, help="runs per stage; the best counts")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", action="store_true", help="print one JSON object per row")
    args = p.parse_args(argv)

    rows = [r for n in args.lines for r in measure(n, args.seed, max(1, args.repeat))]
    first: dict[str, float] = {}
    for r in rows:
        r.growth = r.seconds / first.setdefault(r.stage, r.seconds)
    if args.json:
        for r in rows:
            print(json.dumps(asdict(r)))
        return 0
    print(f"random specs (seed {args.seed}), best of {args.repeat} runs")
    head = (f"{'stage':>8} {'lines':>7} {'chars':>9} {'items':>6} {'seconds':>9} "
            f"{'lines/s':>9} {'growth':>7}")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r.stage:>8} {r.lines:>7} {r.chars:>9} {r.items:>6} {r.seconds:>9.3f} "
              f"{r.lines_per_s:>9.0f} {r.growth:>6.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
