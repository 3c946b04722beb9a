"""Benchmark: ``validate-exporter --reference`` on a local Dask cluster of 1, 2 and 4
workers, and how it would grow with more.

``python3 -m checker.cluster_bench`` starts a scheduler and N single-threaded workers as
separate processes on 127.0.0.1 (``dask scheduler``, ``dask worker``), runs every engine
run of the reference certificates on them (``--cluster``), and prints per worker count the
wall time, the engine time the runs report, the speed-up over one worker and the
efficiency. It then projects the wall time for more workers from the runs' own times (and
the per-run overhead measured with one worker): the runs start longest first, each on the
first free worker, so the wall time is about max(total / workers, the longest run). The
figures are printed, never asserted. On a machine with fewer cores than workers the extra
workers share cores, which the table shows as lost efficiency.

Options: ``--workers 1 2 4``, ``--profile P`` (repeatable; default every declared profile),
``--examples N`` (explorer runs per profile, default 300), ``--project 8 16 32``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from checker.cluster import Cluster
from checker.runs import Unit, UnitResult, cost, parallel, run_unit
from checker.validate import Settings, parse_target, plan
from model.exporters import EXPORTERS

START_S = 120.0


@contextmanager
def local_cluster(workers: int) -> Iterator[str]:
    """A scheduler and ``workers`` single-threaded workers on 127.0.0.1 (their scheduler
    file), stopped on leaving."""
    import distributed

    client_type: Any = distributed.Client  # (untyped)
    with tempfile.TemporaryDirectory(prefix="dmabuf-bench-") as d:
        file = Path(d) / "scheduler.json"
        dask = [sys.executable, "-m", "dask"]
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL,
                 "start_new_session": True}
        procs = [subprocess.Popen([*dask, "scheduler", "--host", "127.0.0.1", "--port", "0",
                                   "--no-dashboard", "--scheduler-file", str(file)],
                                  **quiet)]  # type: ignore[call-overload]
        try:
            deadline = time.monotonic() + START_S
            while not file.exists():
                if time.monotonic() > deadline:
                    raise RuntimeError("the scheduler did not start")
                time.sleep(0.2)
            procs += [subprocess.Popen([*dask, "worker", "--scheduler-file", str(file),
                                        "--host", "127.0.0.1", "--nthreads", "1",
                                        "--no-dashboard", "--local-directory", d],
                                       **quiet)  # type: ignore[call-overload]
                      for _ in range(workers)]
            with client_type(scheduler_file=str(file), timeout=START_S) as client:
                client.wait_for_workers(workers, timeout=START_S)
            yield str(file)
        finally:
            for p in reversed(procs):
                p.terminate()
            for p in procs:
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    p.kill()


def run_seconds(result: UnitResult) -> float:
    """A run's engine time: its longest answer's."""
    return max((a.seconds for a in result.answers), default=0.0)


def project(seconds: Sequence[float], workers: int, overhead_s: float) -> float:
    """The wall time of ``seconds`` (in start order) on ``workers``, each run on the
    first free worker."""
    free = [0.0] * workers
    for s in seconds:
        i = min(range(workers), key=lambda w: free[w])
        free[i] += s + overhead_s
    return max(free)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python3 -m checker.cluster_bench",
                                description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    p.add_argument("--profile", action="append", metavar="P")
    p.add_argument("--examples", type=int, default=300)
    p.add_argument("--project", type=int, nargs="+", default=[8, 16, 32])
    args = p.parse_args(argv)
    settings = Settings(examples=args.examples)
    units: list[Unit] = []
    for name in EXPORTERS:
        units += plan(parse_target(name), settings, tuple(args.profile or ())).units
    order = sorted(units, key=cost)
    print(f"validate-exporter --reference: {len(units)} engine runs "
          f"({', '.join(EXPORTERS)}; profiles {', '.join(args.profile or ['all declared'])}; "
          f"{args.examples} explorer runs), {os.cpu_count()} CPUs here")
    print()
    print(f"{'workers':>7}  {'wall s':>7}  {'engine s':>8}  {'speed-up':>8}  {'efficiency':>10}")
    first: tuple[float, list[float]] | None = None
    for w in args.workers:
        with local_cluster(w) as scheduler:
            start = time.monotonic()
            results = parallel(run_unit, units, 1, lambda n, u, r: None, cost,
                               Cluster(scheduler))
            wall = time.monotonic() - start
        seconds = [run_seconds(r) for r in results]
        first = first or (wall, seconds)
        speedup = first[0] / wall
        print(f"{w:>7}  {wall:>7.1f}  {sum(seconds):>8.1f}  {speedup:>7.2f}x  "
              f"{speedup / (w / args.workers[0]):>9.0%}")
    assert first is not None
    wall1, seconds1 = first
    by_unit = dict(zip(units, seconds1, strict=True))
    in_order = [by_unit[u] for u in order]
    overhead = max(0.0, (wall1 - sum(seconds1)) / len(units)) if args.workers[0] == 1 else 0.0
    print()
    print(f"projected from the runs' times with {args.workers[0]} worker(s) (longest run "
          f"{max(seconds1):.1f} s, {overhead:.2f} s overhead per run):")
    print(f"{'workers':>7}  {'wall s':>7}")
    for w in sorted({*args.workers, *args.project}):
        print(f"{w:>7}  {project(in_order, w, overhead):>7.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
