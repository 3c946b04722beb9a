"""Benchmark of the gate's two self-checks: ``python3 -m checker.gate_bench``.

* **Kill matrix**: the mutation self-test over the whole catalogue, one process (no
  parallel runs, so the times are each engine's own); per engine the median, 90th
  percentile and largest time to kill, and the slowest mutants.
* **Certificates**: ``validate-exporter`` on every reference exporter, one profile at a
  time with the shipped settings, timing each (exporter, profile) and each engine in it.

``--skip-matrix`` / ``--skip-certificates`` run one half; ``--exporter NAME`` (repeatable)
and ``--profile P`` narrow the certificates.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence

from checker.runs import run_unit
from checker.selftest import Kill, selftest
from checker.validate import Settings, parse_target, plan


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


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m checker.gate_bench", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--skip-matrix", action="store_true")
    ap.add_argument("--skip-certificates", action="store_true")
    ap.add_argument("--exporter", action="append", default=[])
    ap.add_argument("--profile")
    args = ap.parse_args(argv)
    if not args.skip_matrix:
        kill_matrix()
    if not args.skip_certificates:
        certificates(args.exporter, args.profile)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
