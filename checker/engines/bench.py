"""Benchmark of the random explorer: ``python -m checker.engines.bench``.

Prints, for the TTM exporter in contract mode with the core properties:

* explorer steps per second at several scopes, against a bare Hypothesis state machine with
  the same rules and trivial bodies run with the same settings (the ratio is the figure:
  how much of Hypothesis' own speed the model leaves);
* for each mutant, the median number of runs and seconds to find it over several seeds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from importlib import resources
from typing import Any

import hypothesis
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    get_state_machine_test,
    initialize,
    invariant,
    precondition,
    rule,
)

from checker.dsl.resolve import load
from checker.engines.explore import Explorer, ExploreSettings
from checker.problem import RULES, Finding, Problem, engine_property
from model import EXPORTERS, Model
from model.mutants import MUTANTS


def core_problem(scope: str, depth: int) -> Problem:
    lib = load([str(resources.files("specs").joinpath("rules", "core.dmabuf"))])
    model = Model(EXPORTERS["ttm"], profile="v6.16+", scope=scope)
    props = tuple(engine_property(p, model) for p in lib.properties.values())
    return Problem(f"ttm {scope}", model, "contract", depth, props)


def bare_machine(ops: int) -> type[RuleBasedStateMachine]:
    """The explorer's rules (the run's seed drawn at initialisation, one call drawing an
    operation, the rule that starts over, the invariant) with trivial bodies: the same
    Hypothesis work per step, no model."""
    choice = st.sampled_from(range(ops))

    class Bare(RuleBasedStateMachine):
        steps = 0

        @initialize(data=st.data())
        def swarm(self, data: st.DataObject) -> None:
            data.draw(st.integers(0, 2**64 - 1))

        @precondition(lambda self: True)
        @rule(data=st.data())
        def call(self, data: st.DataObject) -> None:
            data.draw(choice)
            Bare.steps += 1

        @precondition(lambda self: False)
        @rule()
        def start_over(self) -> None:
            pass

        @invariant()
        def check_always(self) -> None:
            pass

    return Bare


def bare_rate(ops: int, examples: int, depth: int) -> tuple[float, int]:
    machine = bare_machine(ops)
    settings = hypothesis.settings(
        max_examples=examples, stateful_step_count=depth, database=None, deadline=None,
        suppress_health_check=list(hypothesis.HealthCheck), derandomize=True,
        phases=(hypothesis.Phase.generate,))
    make_test: Any = get_state_machine_test  # typed in some Hypothesis versions only
    test = make_test(machine, settings=settings)
    start = time.monotonic()
    test()
    seconds = time.monotonic() - start
    steps = int(getattr(machine, "steps", 0))
    return steps / seconds, steps


def throughput(scopes: Sequence[str], examples: int, depth: int,
               emit: Callable[[str], None]) -> None:
    emit(f"explorer throughput (ttm, v6.16+, contract, core properties, depth {depth}, "
         f"{examples} runs, seed 0)")
    emit(f"  {'scope':<6} {'actions':>8} {'setup s':>8} {'steps':>8} {'steps/s':>9} "
         f"{'bare/s':>9} {'ratio':>6}")
    for scope in scopes:
        start = time.monotonic()
        ex = Explorer(core_problem(scope, depth))
        ex.model.enabled_indices(ex.model.initial(), "contract")
        setup = time.monotonic() - start
        run = ex.run(ExploreSettings(seed=0, max_examples=examples, time_budget_s=600))
        rate = run.steps / run.seconds
        bare, _ = bare_rate(len(ex.ops), examples, depth)
        emit(f"  {scope:<6} {len(ex.actions):>8} {setup:>8.2f} {run.steps:>8} {rate:>9.0f} "
             f"{bare:>9.0f} {rate / bare:>6.2f}")


def mutants(names: Sequence[str], seeds: int, emit: Callable[[str], None]) -> None:
    emit(f"runs and seconds to find each mutant (scope 1x1, depth 40, median of {seeds} "
         "seeds; runs 0 = found by an operation's start, run before the random runs; "
         "'-' = not found within the default settings)")
    emit(f"  {'mutant':<34} {'found':>6} {'runs':>7} {'seconds':>8}")
    for name in names:
        m = MUTANTS[name]
        target = Finding(RULES, m.rule, m.tag)
        runs: list[float] = []
        secs: list[float] = []
        for seed in range(seeds):
            problem = Problem(m.name, m.model("1x1"), "contract", 40)
            res = Explorer(problem).run(ExploreSettings(seed=seed,
                                                        stop_after=frozenset({target})))
            seen = res.first_seen.get(target)
            if seen is not None:
                runs.append(seen[0])
                secs.append(seen[1])
        if runs:
            emit(f"  {name:<34} {len(runs):>3}/{seeds:<2} {statistics.median(runs):>7.0f} "
                 f"{statistics.median(secs):>8.2f}")
        else:
            emit(f"  {name:<34} {0:>3}/{seeds:<2} {'-':>7} {'-':>8}")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m checker.engines.bench",
                                 description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--scopes", default="1x2,2x3,3x4")
    ap.add_argument("--examples", type=int, default=300)
    ap.add_argument("--depth", type=int, default=20)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--mutants", default="all", help="comma-separated names, all or none")
    args = ap.parse_args(argv)

    def emit(line: str) -> None:
        print(line, flush=True)

    throughput(args.scopes.split(","), args.examples, args.depth, emit)
    names: list[Any] = (list(MUTANTS) if args.mutants == "all" else
                        [] if args.mutants == "none" else args.mutants.split(","))
    if names:
        emit("")
        mutants(names, args.seeds, emit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
