"""``dmabuf-check conformance``: boot each kernel, run the cases, print the table."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any

from checker.conformance import guest
from checker.conformance.cases import (
    AGREE,
    DISAGREE,
    NOT_MODELLED_VERDICT,
    NOT_RUN,
    Case,
    Verdict,
    compare,
    default_cases,
    load_cases,
    predict,
    script,
)
from checker.conformance.kernels import KERNELS, Kernel, kernel

EXIT_AGREE, EXIT_DISAGREE, EXIT_ERROR, EXIT_UNKNOWN = 0, 1, 2, 3

Print = Callable[[str], None]


def add_parser(sub: argparse._SubParsersAction[Any]) -> None:
    names = ", ".join(f"{k.name} ({k.profile})" for k in KERNELS)
    c = sub.add_parser(
        "conformance", help="compare the model with real kernels (vgem under QEMU)",
        description="Run the conformance cases (DSL scenarios of userspace calls) on the "
        "model and on Debian's Linux kernels booted under QEMU, and compare every step's "
        "result (its errno or the value it returns: llseek's offset, poll's revents; fd's "
        f"descriptor as a descriptor) and file count. Kernels: {names}. Exit 0 when every "
        "case agrees, 1 on a disagreement, 2 on a spec error, 3 when a kernel could not be "
        "run.")
    c.add_argument("--cases", action="append", metavar="FILE", help="a case file "
                   "(repeatable; default: the shipped specs/conformance/*.dmabuf)")
    c.add_argument("--kernel", action="append", metavar="NAME", choices=[k.name for k in
                   KERNELS], help="run on this kernel only (repeatable; default: all)")
    c.add_argument("--list", action="store_true",
                   help="print the cases and the guest script; boot nothing")
    c.add_argument("--trace", metavar="DIR", help="also record a kernel trace of the run "
                   "(the probes of `trace probes`), write it to DIR/trace-KERNEL.txt and "
                   "check it with `trace check`: it must be clean and consume events")


def _table(rows: list[Verdict]) -> list[str]:
    head = ("case", "kernel", "model", "real", "verdict")
    cells = [(r.case, r.kernel, r.model, r.real, r.verdict) for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(head)]
    out = ["  ".join(x.ljust(w) for x, w in zip(head, widths, strict=True)).rstrip()]
    out += ["  ".join(x.ljust(w) for x, w in zip(c, widths, strict=True)).rstrip()
            for c in cells]
    return out


def clean_cases(cases: list[Case]) -> list[Case]:
    """The cases whose every step the model allows: no written ``violates`` outcome."""
    return [c for c in cases if not any(o.kind == "violates" for s in c.steps
                                        for o in s.outcomes)]


def _traced_boot(k: Kernel, cases: list[Case], size: int, directory: str, say: Print,
                 err: Print) -> bool:
    """Boot ``k`` again with the cases that break no rule, record a kernel trace of them
    (the probes of ``trace probes``), write it to DIR/trace-KERNEL.txt and check it on the
    model: True when it is clean and consumed events. (The other cases misuse the API on
    purpose: their traces show the violations the cases name.)"""
    from pathlib import Path

    from checker.files import atomic_write
    from checker.trace.command import check_report
    from checker.trace.probes import LAYOUTS, shell

    mine = clean_cases(cases)
    if k.name not in LAYOUTS:
        err(f"Linux {k.name}: no probe layout in checker/trace/probes.py LAYOUTS")
        return False
    try:
        result = guest.boot(k, script(mine), size, trace_probes=shell(LAYOUTS[k.name]))
    except guest.HarnessError as e:
        err(f"Linux {k.name} (traced): {e}")
        return False
    say(f"Linux {k.name}: traced {len(mine)} cases that break no rule in "
        f"{result.seconds:.1f} s")
    text = result.trace
    path = Path(directory) / f"trace-{k.name}.txt"
    atomic_write(path, text.encode())
    code, report = check_report(str(path), k.profile, "gem_prime", "text", say, err)
    if report is None or code != 0:
        err(f"Linux {k.name}: the recorded trace {path} is not clean on the model")
        return False
    if report.consumed == 0:
        err(f"Linux {k.name}: the recorded trace {path} has no dma-buf event")
        return False
    say(f"Linux {k.name}: trace {path}: clean, {report.consumed} events consumed")
    return True


def run(case_files: Sequence[str] | None, kernels: Sequence[str] | None, list_only: bool,
        say: Print, err: Print, trace_dir: str | None = None) -> int:
    files = list(case_files or default_cases())
    cases = load_cases(files)
    chosen: list[Kernel] = [kernel(n) for n in kernels] if kernels else list(KERNELS)
    if not cases:
        err(f"{', '.join(files)}: no scenarios to run")
        return EXIT_ERROR
    runs = {k.name: [c for c in cases if c.exporter in k.exporters] for k in chosen}
    predictions = {(c.name, k.name): predict(c, k.profile) for k in chosen
                   for c in runs[k.name]}
    pages = {c.scenario.model.scope.size_pages for c in cases}
    if len(pages) != 1:
        err("every case must use the same buffer size (scope size_pages)")
        return EXIT_ERROR
    size = pages.pop()
    if list_only:
        say(script(cases).rstrip())
        return EXIT_AGREE
    rows: list[Verdict] = []
    failed: list[str] = []
    traced_badly = False
    for k in chosen:
        mine = runs[k.name]
        if not mine:
            say(f"Linux {k.name}: no case uses its drivers ({', '.join(k.exporters)}); "
                "not booted")
            rows += [Verdict(c.name, k.name, "-", "-", NOT_RUN, "") for c in cases]
            continue
        say(f"booting Linux {k.name} ({k.deb}) under QEMU (TCG) with {len(mine)} cases ...")
        try:
            result = guest.boot(k, script(mine), size)
        except guest.HarnessError as e:
            err(f"Linux {k.name}: {e}")
            failed.append(k.name)
            continue
        say(f"Linux {k.name}: booted, ran and powered off in {result.seconds:.1f} s")
        if trace_dir is not None and not _traced_boot(k, mine, size, trace_dir, say, err):
            traced_badly = True
        for c in cases:
            if c in mine:
                rows.append(compare(c, k.name, predictions[c.name, k.name],
                                    result.cases.get(c.name)))
            else:
                rows.append(Verdict(c.name, k.name, "-", "-", NOT_RUN,
                                    f"Linux {k.name} has no {c.exporter} driver here"))
    if rows:
        say("")
        for line in _table([r for r in rows if r.verdict != NOT_RUN]):
            say(line)
        notes = [r for r in rows if r.detail and r.verdict != NOT_RUN]
        if notes:
            say("")
            for r in notes:
                say(f"{r.case} on {r.kernel}: {r.detail}")
        say("")
    for k in chosen:
        if k.name in failed:
            say(f"{k.profile} (Linux {k.name}): not run")
            continue
        got = [r for r in rows if r.kernel == k.name and r.verdict != NOT_RUN]
        n = {v: sum(r.verdict == v for r in got) for v in (AGREE, DISAGREE,
                                                           NOT_MODELLED_VERDICT)}
        ran = n[AGREE] + n[DISAGREE]
        share = f"{100 * n[AGREE] / ran:.0f} %" if ran else "-"
        skipped = len(cases) - len(got)
        extra = f", {skipped} not run (no driver)" if skipped else ""
        say(f"{k.profile} (Linux {k.name}): {len(got)} cases, {n[AGREE]} agree, "
            f"{n[DISAGREE]} disagree, {n[NOT_MODELLED_VERDICT]} not modelled{extra} "
            f"({share} agreement)")
    if any(r.verdict == DISAGREE for r in rows) or traced_badly:
        return EXIT_DISAGREE
    return EXIT_UNKNOWN if failed else EXIT_AGREE
