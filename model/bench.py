"""Benchmark: random legal sequences through the step function, and how it scales.

Run ``python -m model.bench`` (``--help`` for options). For each scope it prints the size of
the model (ground actions, state variables), what building it costs (instantiating the
programs, compiling every step function, deriving the contract guards), and the throughput
of random walks: an action is drawn uniformly and kept if it is enabled in the mode (so
the walk is uniform over enabled actions), then stepped. A walk restarts from the initial
state after ``--length`` steps or when nothing is enabled. Figures are wall-clock and vary
with the machine; the growth column compares each scope with the first.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from model.exporters import EXPORTERS
from model.machine import MODES, Model

DEFAULT_SCOPES = ("1x2", "2x3", "4x4")


@dataclass
class Figures:
    exporter: str
    profile: str
    mode: str
    scope: str
    actions: int
    state_vars: int
    build_s: float
    compile_s: float
    guards_s: float
    steps: int
    seconds: float
    steps_per_s: float
    us_per_step: float
    restarts: int


def measure(exporter: str, profile: str, scope: str, mode: str, steps: int, length: int,
            seed: int) -> Figures:
    t0 = time.perf_counter()
    m = Model(EXPORTERS[exporter], profile=profile, scope=scope)
    t1 = time.perf_counter()
    m.compile_all()
    t2 = time.perf_counter()
    initial = m.initial()
    m.is_enabled(initial, m.actions[0], mode)  # derives the contract guards once
    t3 = time.perf_counter()

    rng = random.Random(seed)
    actions = m.actions
    n = len(actions)
    state, done, walked, misses, restarts = initial, 0, 0, 0, 0
    start = time.perf_counter()
    while done < steps:
        action = actions[rng.randrange(n)]
        if not m.is_enabled(state, action, mode):
            misses += 1
            if misses > 4 * n and not m.enabled(state, mode):
                state, walked, misses, restarts = initial, 0, 0, restarts + 1
            continue
        misses = 0
        state = m.step(state, action, walked).state
        done += 1
        walked += 1
        if walked >= length:
            state, walked, restarts = initial, 0, restarts + 1
    seconds = time.perf_counter() - start
    return Figures(exporter, profile, mode, scope, n, m.layout.size, t1 - t0, t2 - t1, t3 - t2,
                   done, seconds, done / seconds, 1e6 * seconds / done, restarts)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m model.bench", description=__doc__.split("\n")[0])
    p.add_argument("--exporter", default="ttm", choices=sorted(EXPORTERS))
    p.add_argument("--profile", default="v6.16+")
    p.add_argument("--mode", default="contract", choices=MODES)
    p.add_argument("--scopes", nargs="+", default=list(DEFAULT_SCOPES), metavar="BxA")
    p.add_argument("--steps", type=int, default=100_000, help="steps per scope")
    p.add_argument("--length", type=int, default=60, help="steps per walk before a restart")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", action="store_true", help="print one JSON object per scope")
    args = p.parse_args(argv)

    rows = [measure(args.exporter, args.profile, s, args.mode, args.steps, args.length,
                    args.seed) for s in args.scopes]
    if args.json:
        for r in rows:
            print(json.dumps(asdict(r)))
        return 0
    print(f"random {args.mode}-mode walks, exporter {args.exporter}, profile {args.profile}, "
          f"{args.steps} steps per scope, seed {args.seed}")
    head = (f"{'scope':>6} {'actions':>8} {'vars':>6} {'build s':>8} {'compile s':>10} "
            f"{'guards s':>9} {'steps/s':>9} {'us/step':>8} {'growth':>7}")
    print(head)
    print("-" * len(head))
    base = rows[0].us_per_step
    for r in rows:
        print(f"{r.scope:>6} {r.actions:>8} {r.state_vars:>6} {r.build_s:>8.2f} "
              f"{r.compile_s:>10.2f} {r.guards_s:>9.2f} {r.steps_per_s:>9.0f} "
              f"{r.us_per_step:>8.1f} {r.us_per_step / base:>6.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
