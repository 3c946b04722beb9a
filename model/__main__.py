"""``python -m model``: the reference model's self-check.

Runs the canonical importer sequence (R32) for every reference exporter under every kernel
profile, in contract mode, and requires it to be clean; then runs every mutant's witness
and requires the mutant to be caught with its rule. Prints one line per check and a
summary; exits 0 when all pass, 1 otherwise.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from typing import TextIO

from model.exporters import REFERENCE_EXPORTERS
from model.machine import Model, ModelError
from model.mutants import MUTANTS
from model.profiles import PROFILES


def canonical_sequence(unlocked: bool) -> list[str]:
    """dma_buf_get, attach, get_dma_buf, map, DMA, unmap, detach, put (R32)."""
    m, u = ("map_unlocked", "unmap_unlocked") if unlocked else ("map", "unmap")
    return ["export(b0)", "fd(b0)", "get(b0)", "attach(b0.a0, importer=static)",
            "get_dma_buf(b0)", f"{m}(b0.a0, dir=BIDIRECTIONAL)", "access(b0.a0, slot=0)",
            f"{u}(b0.a0, dir=BIDIRECTIONAL, slot=0)", "detach(b0.a0)", "put(b0)", "put(b0)",
            "close(b0)"]


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    write = (out if out is not None else sys.stdout).write
    failed = passed = 0
    start = time.perf_counter()
    for x in REFERENCE_EXPORTERS:
        for name, prof in PROFILES.items():
            m = Model(x, profile=prof, scope="1x1")
            try:
                outs = m.run(canonical_sequence(prof.unlocked_variants), mode="contract")
                problems = [str(v) for o in outs for v in o.violations]
                if m.value(outs[-1].state, "b0.life") != 2:
                    problems.append("the buffer was not released")
            except ModelError as e:
                problems = [str(e)]
            ok = not problems
            passed, failed = passed + ok, failed + (not ok)
            write(f"{'ok  ' if ok else 'FAIL'} canonical sequence  {x.name:12s} {name}\n")
            for p in problems:
                write(f"       {p}\n")
    for mutant in MUTANTS.values():
        v = mutant.caught()
        ok = v is not None
        passed, failed = passed + ok, failed + (not ok)
        detail = f"{v.rule} at step {v.step}" if v else "NOT caught by its witness"
        write(f"{'ok  ' if ok else 'FAIL'} mutant {mutant.name:34s} {mutant.profile:10s} "
              f"{detail}\n")
    write(f"{passed} passed, {failed} failed in {time.perf_counter() - start:.1f}s\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
