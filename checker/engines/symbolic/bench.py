"""Benchmark of the Z3 engines: ``python -m checker.engines.symbolic.bench``.

Prints:

1. for every mutant, the time to its shortest counterexample (building the model,
   encoding it, searching for the mutant's rule and tag, replaying the trace), median of
   ``--repeat`` runs;
2. the BMC depth reached within ``--budget`` seconds per scope on a correct reference
   model (``--exporter``, ``--profile``), with the encoding's size: growth with scope;
3. the k-induction proof time of all core invariants (``rules`` and the ``always``
   properties of ``specs/rules/core.dmabuf``) for the reference exporters under each
   profile at each ``--proof-scope`` (wall and CPU seconds), with each verdict.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence

from checker.dsl.resolve import load
from checker.engines.symbolic.bmc import bmc
from checker.engines.symbolic.encode import model_terms
from checker.engines.symbolic.induction import prove
from checker.problem import Problem, Property, engine_property
from model import Model
from model.exporters import EXPORTERS
from model.mutants import MUTANTS

CORE = "specs/rules/core.dmabuf"


def core_properties(model: Model, kinds: Sequence[str] = ("always",)) -> tuple[Property, ...]:
    lib = load([CORE])
    return tuple(engine_property(p, model) for p in lib.properties.values()
                 if p.decl.kind in kinds)


def mutants(repeat: int, names: Sequence[str], emit: Callable[[str], None]) -> None:
    emit("## time to the shortest counterexample per mutant (contract mode, 1x1)")
    emit(f"{'mutant':32} {'steps':>5} {'witness':>7} {'median s':>9}")
    worst = 0.0
    for m in (MUTANTS[n] for n in names):
        times = []
        steps = 0
        for _ in range(repeat):
            start = time.monotonic()
            problem = Problem(m.name, m.model("1x1"), "contract", depth=len(m.witness) + 1)
            v = bmc(problem, rules={(m.rule, m.tag)})[0]
            times.append(time.monotonic() - start)
            steps = len(v.counterexample.actions) if v.counterexample else -1
        med = statistics.median(times)
        worst = max(worst, med)
        emit(f"{m.name:32} {steps:>5} {len(m.witness):>7} {med:>9.2f}")
    emit(f"slowest: {worst:.2f} s")


def depth_in_budget(exporter: str, profile: str, scopes: Sequence[str], budget: float,
                    emit: Callable[[str], None]) -> None:
    emit(f"## BMC depth reached in {budget:g} s ({exporter}, {profile}, contract mode,"
               " rules and core always properties)")
    emit(f"{'scope':6} {'actions':>7} {'vars':>5} {'encode s':>9} {'depth':>6}")
    for scope in scopes:
        start = time.monotonic()
        model = Model(EXPORTERS[exporter], profile=profile, scope=scope)
        model_terms(model, "contract")
        encode_s = time.monotonic() - start
        problem = Problem(f"{exporter}-{scope}", model, "contract", depth=10_000,
                          properties=core_properties(model))
        verdicts = bmc(problem, timeout_s=max(0.0, budget - encode_s))
        reached = min((v.depth if v.depth is not None else -1) for v in verdicts)
        emit(f"{scope:6} {len(model.actions):>7} {model.layout.size:>5} "
                   f"{encode_s:>9.2f} {reached:>6}")


def proofs(scopes: Sequence[str], exporters: Sequence[str], profiles: Sequence[str] | None,
           timeout: float, emit: Callable[[str], None]) -> None:
    """Per scope, the k-induction proof of every core invariant for each exporter and
    profile: wall and CPU seconds (this process's, the solver's included: other jobs on
    the machine inflate the wall time), the auxiliary invariants found, each verdict."""
    for scope in scopes:
        emit(f"## k-induction of all core invariants at {scope} (contract mode)")
        emit(f"{'exporter':12} {'profile':10} {'wall s':>7} {'cpu s':>7} {'aux':>5}  verdicts")
        total = cpu_total = 0.0
        for name in exporters:
            x = EXPORTERS[name]
            for profile in x.profiles:
                if profiles is not None and profile not in profiles:
                    continue
                start, cpu = time.monotonic(), time.process_time()
                model = Model(x, profile=profile, scope=scope)
                problem = Problem(f"{name}[{profile}]", model, "contract",
                                  properties=core_properties(model))
                verdicts = prove(problem, timeout_s=timeout)
                took, cpu_took = time.monotonic() - start, time.process_time() - cpu
                total += took
                cpu_total += cpu_took
                aux = verdicts[0].details.get("auxiliary_invariants", "-")
                summary = ", ".join(f"{v.prop}={v.status.value}" for v in verdicts)
                emit(f"{name:12} {profile:10} {took:>7.1f} {cpu_took:>7.1f} {aux!s:>5}  "
                     f"{summary}")
        emit(f"total: {total:.1f} s wall, {cpu_total:.1f} s CPU")


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m checker.engines.symbolic.bench",
                                description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--budget", type=float, default=60.0,
                   help="seconds of BMC per scope (default 60)")
    p.add_argument("--scopes", nargs="+", default=["1x2", "2x3", "3x4"], metavar="BxA")
    p.add_argument("--exporter", default="ttm", choices=sorted(EXPORTERS))
    p.add_argument("--profile", default="v6.16+")
    p.add_argument("--repeat", type=int, default=3, help="runs per mutant (median)")
    p.add_argument("--mutants", nargs="*", default=list(MUTANTS), choices=sorted(MUTANTS))
    p.add_argument("--proof-scope", nargs="+", default=["2x3"], metavar="BxA",
                   help="scopes of the proofs (default 2x3; 1x2 2x3 3x4 shows the growth)")
    p.add_argument("--proof-exporters", nargs="*", default=list(EXPORTERS),
                   choices=sorted(EXPORTERS))
    p.add_argument("--proof-profiles", nargs="*", default=None, metavar="PROFILE")
    p.add_argument("--proof-timeout", type=float, default=300.0)
    p.add_argument("--skip", nargs="*", default=[], choices=["mutants", "depth", "proofs"])
    args = p.parse_args(argv)
    def emit(line: str) -> None:
        print(line, flush=True)

    sections: list[tuple[str, Callable[[Callable[[str], None]], None]]] = [
        ("mutants", lambda out: mutants(args.repeat, args.mutants, out)),
        ("depth", lambda out: depth_in_budget(args.exporter, args.profile, args.scopes,
                                              args.budget, out)),
        ("proofs", lambda out: proofs(args.proof_scope, args.proof_exporters,
                                      args.proof_profiles, args.proof_timeout, out)),
    ]
    for name, run in sections:
        if name in args.skip:
            continue
        run(emit)
        emit("")
    return 0


if __name__ == "__main__":
    sys.exit(main())
