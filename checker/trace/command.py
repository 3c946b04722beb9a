"""``dmabuf-check trace``: ``check`` a recorded ftrace text trace against the model,
``probes`` prints the kprobe definitions (or a bpftrace script) to record one."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from checker.trace import probes
from checker.trace.mapping import slice_trace
from checker.trace.parse import TraceError, parse
from checker.trace.replay import Report, replay
from model import EXPORTERS
from model.profiles import PROFILES

EXIT_CLEAN, EXIT_VIOLATION, EXIT_ERROR = 0, 1, 2
Print = Callable[[str], None]


def add_parser(sub: argparse._SubParsersAction[Any]) -> argparse.ArgumentParser:
    t: argparse.ArgumentParser = sub.add_parser(
        "trace", help="check a recorded kernel trace against the model",
        description="Kernel traces: record the dma-buf calls of a running kernel (kprobes, "
        "or the dma_buf tracepoints of 7.x) and replay them on the model.")
    tsub = t.add_subparsers(dest="trace_command", metavar="SUBCOMMAND", required=True)
    c = tsub.add_parser(
        "check", help="replay a recorded ftrace text trace on the model",
        description="Read an ftrace text trace (tracefs 'trace'), map every buffer and "
        "attachment it shows to model objects, replay each buffer on the model and report "
        "every violation with the trace's line and timestamp. Exit 0 clean, 1 on a "
        "violation or a call the model answers differently, 2 on a trace that cannot be "
        "read (or lost events).")
    c.add_argument("file", metavar="FILE", help="the trace (text, as tracefs prints it)")
    c.add_argument("--profile", required=True, choices=sorted(PROFILES),
                   help="the kernel profile the trace was recorded on")
    c.add_argument("--exporter", default="gem_prime", choices=sorted(EXPORTERS),
                   help="the model exporter the buffers are replayed with (default "
                   "gem_prime: vgem and other drm_prime drivers)")
    c.add_argument("--format", choices=("text", "json"), default="text")
    p = tsub.add_parser(
        "probes", help="print the kprobe definitions a trace is recorded with",
        description="Print a shell script that installs the kprobe events of every dma-buf "
        "function the checker reads and enables them (or, with --bpftrace, a bpftrace "
        "script printing the same events).")
    p.add_argument("--layout", default="6.12", metavar="NAME|count=N,pgoff=M[,vmflags=K]",
                   help="struct offsets the probes read through: " + ", ".join(
                       probes.LAYOUTS) + " (verified), or count=N,pgoff=M[,vmflags=K] "
                       "(offsetof(struct file, f_count), offsetof(struct vm_area_struct, "
                       "vm_pgoff), and of vm_flags, 32 if not given); default 6.12)")
    p.add_argument("--tracefs", default="/sys/kernel/tracing", metavar="DIR",
                   help="where tracefs is mounted (default /sys/kernel/tracing)")
    p.add_argument("--bpftrace", action="store_true", help="print a bpftrace script")
    p.add_argument("--remove", action="store_true",
                   help="print the script that disables and removes the probes")
    return t


def check(path: str, profile: str, exporter: str, fmt: str, say: Print, err: Print) -> int:
    return check_report(path, profile, exporter, fmt, say, err)[0]


def check_report(path: str, profile: str, exporter: str, fmt: str, say: Print, err: Print
                 ) -> tuple[int, Report | None]:
    """``trace check``: the exit code and the report (None when the trace is unreadable)."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        err(f"{path}: cannot read the trace: {e.strerror}")
        return EXIT_ERROR, None
    try:
        trace = parse(text, path)
        if trace.lost:
            err(f"{path}: the trace lost {trace.lost} event(s) ([LOST N EVENTS]); what "
                "is missing is unknown: record again with a larger buffer_size_kb")
            return EXIT_ERROR, None
        mapped = slice_trace(trace)
    except TraceError as e:
        err(str(e))
        return EXIT_ERROR, None
    report = Report(path, profile, exporter, lines=trace.lines, events=len(trace.events),
                    consumed=mapped.consumed, nested=mapped.nested, lost=trace.lost)
    report.skipped = {f"unknown event {k}": v for k, v in trace.skipped.items()}
    report.skipped.update(mapped.unmapped)
    replay(mapped, path, profile, exporter, report)
    if fmt == "json":
        say(json.dumps(asdict(report), indent=2, sort_keys=True))
    else:
        for line in render(report):
            say(line)
    return (EXIT_CLEAN if report.clean else EXIT_VIOLATION), report


def render(r: Report) -> list[str]:
    out = [f.render(r.path) for f in r.findings if f.kind != "refused"]
    skipped = sum(r.skipped.values())
    exporters = ", ".join(f"{n} {name}" for name, n in sorted(r.exporters.items()))
    out.append(f"trace {r.path} ({r.profile}): {r.events} events of ours, {r.consumed} "
               f"consumed, {r.nested} inside another call, {skipped} skipped; {r.buffers} "
               f"buffer(s) ({exporters or 'none'}), {r.steps} model steps ({r.inferred} "
               "inferred from the reference counts)")
    for why, n in sorted(r.skipped.items()):
        out.append(f"  skipped {n}: {why}")
    kinds = {k: sum(f.kind == k for f in r.findings)
             for k in ("violation", "refused", "divergence", "impossible")}
    if kinds["refused"]:
        out.append(f"  {kinds['refused']} call(s) refused by the kernel with the errno the "
                   "model gives for that misuse")
    out.append("clean: every step is allowed by the model" if r.clean else
               f"{kinds['violation']} violation(s), {kinds['divergence']} result(s) the "
               f"model answers differently, {kinds['impossible']} step(s) the model cannot "
               "take")
    return out


def print_probes(layout: str, tracefs: str, bpf: bool, say: Print, err: Print,
                 remove: bool = False) -> int:
    try:
        lay = probes.parse_layout(layout)
    except ValueError as e:
        err(f"--layout: {e}")
        return EXIT_ERROR
    if remove:
        say("#!/bin/sh\n# dmabuf-check trace probes --remove\n" + probes.remove(tracefs).rstrip())
        return EXIT_CLEAN
    text = probes.bpftrace(lay) if bpf else (
        "#!/bin/sh\n# dmabuf-check trace probes: install and enable the dma-buf kprobes "
        f"(layout {lay.name}: f_count at {lay.count}, vm_pgoff at {lay.pgoff}, "
        f"vm_flags at {lay.vmflags})\n"
        + probes.shell(lay, tracefs))
    say(text.rstrip("\n"))
    return EXIT_CLEAN
