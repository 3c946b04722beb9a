"""Benchmark of the gate's two self-checks: ``python3 -m checker.gate_bench``.

* **Kill matrix**: the mutation self-test over the whole catalogue, one process (no
  parallel runs, so the times are each engine's own); per engine the median, 90th
  percentile and largest time to kill, and the slowest mutants.
* **Certificates**: ``validate-exporter`` on every reference exporter, one profile at a
  time with the shipped settings, timing each (exporter, profile) and each engine in it.

* **Driver code**: for every driver-code mutant (routines), the seconds bounded model
  checking takes to its shortest counterexample at scope 1x1 and the explorer's median
  seconds over five seeds; then ``validate-importer`` on every shipped importer with two
  worker processes (the shipped settings), its wall time and each engine's share.

``--skip-matrix`` / ``--skip-certificates`` / ``--skip-drivers`` leave a part out;
``--exporter NAME`` (repeatable) and ``--profile P`` narrow the certificates.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence

from checker.runs import run_unit, run_units
from checker.selftest import Kill, selftest
from checker.selftest import Settings as KillSettings
from checker.validate import IMPORTER_SETTINGS, Settings, parse_target, plan, shipped_importers


def _percentile(xs: Sequence[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * (len(xs) - 1) + 0.5))]


def kill_matrix() -> None:
    start = time.monotonic()
    mx = selftest(jobs=1)
    wall = time.monotonic() - start
    print(f"kill matrix: {len(mx.mutants)} mutants x {len(mx.engines)} engines, "
          f"{len(mx.cells) - len(mx.failures)} killed cleanly, {wall:.0f} s in one process")
    print(f"{'engine':<12} {'median s':>9} {'p90 s':>7} {'max s':>7} {'total s':>8}  slowest")
    for engine in mx.engines:
        cells: list[Kill] = [c for c in mx.cells if c.engine == engine]
        secs = [c.seconds for c in cells]
        slow = sorted(cells, key=lambda c: -c.seconds)[:3]
        print(f"{engine:<12} {statistics.median(secs):>9.2f} {_percentile(secs, 0.9):>7.2f} "
              f"{max(secs):>7.2f} {sum(secs):>8.1f}  "
              + ", ".join(f"{c.mutant} {c.seconds:.1f}" for c in slow))
    print()


def certificates(exporters: Sequence[str], profile: str | None) -> None:
    from model.exporters import EXPORTERS

    print(f"{'exporter':<12} {'profile':<10} {'hypothesis s':>12} {'bmc s':>7} "
          f"{'prove s':>8} {'total s':>8}")
    for name in exporters or list(EXPORTERS):
        for p in EXPORTERS[name].profiles:
            if profile and p != profile:
                continue
            pl = plan(parse_target(name), Settings(), (p,))
            per: dict[str, float] = {}
            for unit in pl.units:
                t = time.monotonic()
                run_unit(unit)
                per[unit.engine] = per.get(unit.engine, 0.0) + time.monotonic() - t
            print(f"{name:<12} {p:<10} {per.get('hypothesis', 0):>12.1f} "
                  f"{per.get('bmc', 0):>7.1f} {per.get('prove', 0):>8.1f} "
                  f"{sum(per.values()):>8.1f}", flush=True)


def driver_code(seeds: int = 5) -> None:
    from model.mutants import MUTANTS

    names = [n for n, m in MUTANTS.items() if m.driver_code]
    bmc = {c.mutant: c for c in selftest(names, ("bmc",)).cells}
    explored: dict[str, list[float]] = {n: [] for n in names}
    for seed in range(seeds):
        mx = selftest(names, ("hypothesis",), KillSettings(seed=seed, seeds=1))
        for c in mx.cells:
            explored[c.mutant].append(c.seconds if c.killed else float("inf"))
    print(f"driver-code mutants ({len(names)}): bmc to the shortest counterexample at 1x1, "
          f"the explorer's median over {seeds} seeds")
    print(f"{'mutant':<28} {'bmc s':>6} {'len':>4} {'explorer median s':>18} {'worst s':>8}")
    for n in names:
        c = bmc[n]
        times = explored[n]
        print(f"{n:<28} {c.seconds:>6.2f} {c.length or 0:>4} "
              f"{statistics.median(times):>18.2f} {max(times):>8.2f}")
    print(f"largest: bmc {max(c.seconds for c in bmc.values()):.2f} s, explorer median "
          f"{max(statistics.median(t) for t in explored.values()):.2f} s")
    print()


def importer_certificates(jobs: int = 2) -> None:
    print(f"validate-importer with {jobs} worker processes (shipped settings)")
    print(f"{'importer':<16} {'wall s':>7} {'hypothesis s':>12} {'bmc s':>7} {'prove s':>8}")
    for name in shipped_importers():
        pl = plan(parse_target(name, "importer"), IMPORTER_SETTINGS)
        start = time.monotonic()
        results = run_units(pl.units, jobs, lambda n, u, r: None)
        wall = time.monotonic() - start
        per: dict[str, float] = {}
        for unit, r in zip(pl.units, results, strict=True):
            took = max((a.seconds for a in r.answers), default=0.0)
            per[unit.engine] = per.get(unit.engine, 0.0) + took
        print(f"{name:<16} {wall:>7.1f} {per.get('hypothesis', 0):>12.1f} "
              f"{per.get('bmc', 0):>7.1f} {per.get('prove', 0):>8.1f}", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m checker.gate_bench", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--skip-matrix", action="store_true")
    ap.add_argument("--skip-certificates", action="store_true")
    ap.add_argument("--skip-drivers", action="store_true")
    ap.add_argument("--exporter", action="append", default=[])
    ap.add_argument("--profile")
    args = ap.parse_args(argv)
    if not args.skip_matrix:
        kill_matrix()
    if not args.skip_certificates:
        certificates(args.exporter, args.profile)
    if not args.skip_drivers:
        driver_code()
        importer_certificates()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
