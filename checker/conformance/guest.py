"""The host side of the guest: fetch a pinned kernel, build the conformance program and the
initramfs, boot QEMU (TCG) and read the results from the serial console."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from checker.conformance import initramfs
from checker.conformance.kernels import MODULES, Kernel

BOOT_TIMEOUT = 240  # seconds for one boot and run under TCG (it takes about 10)
CMDLINE = "console=ttyS0 quiet loglevel=1 panic=-1 rdinit=/init"
HOST_TOOLS = {  # program -> the Debian package that provides it
    "qemu-system-x86_64": "qemu-system-x86",
    "busybox": "busybox-static",
    "gcc": "gcc",
    "apt-get": "apt",
    "dpkg": "dpkg",
}
BUSYBOX = Path("/bin/busybox")


class HarnessError(RuntimeError):
    """The harness cannot run: a tool is missing, a download or the boot failed."""


def cache_dir() -> Path:
    """Where kernels and the built program are kept: ``$DMABUF_CHECK_CACHE`` or
    ``~/.cache/dmabuf-check``."""
    env = os.environ.get("DMABUF_CHECK_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "dmabuf-check"


def require_tools() -> None:
    missing = [f"{prog} (apt-get install {pkg})" for prog, pkg in HOST_TOOLS.items()
               if shutil.which(prog) is None]
    if not BUSYBOX.exists():
        missing.append(f"{BUSYBOX} (apt-get install busybox-static)")
    if missing:
        raise HarnessError("the conformance harness needs " + ", ".join(missing)
                           + "; checker/conformance/setup-host.sh installs them all")


def _run(cmd: list[str], cwd: Path | None = None) -> None:
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if p.returncode != 0:
        raise HarnessError(f"{' '.join(cmd)} failed (exit {p.returncode}): "
                           f"{(p.stderr or p.stdout).strip()[-800:]}")


def fetch(k: Kernel, root: Path | None = None) -> Path:
    """The kernel package unpacked (``apt-get download`` of the pinned version, then
    ``dpkg -x``), downloaded once."""
    base = (root or cache_dir()) / "kernels" / f"{k.package}_{k.version}"
    done = base / ".unpacked"
    if done.exists():
        return base
    base.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=base.parent) as tmp:
        os.chmod(tmp, 0o755)  # apt's _apt user writes here
        _run(["apt-get", "download", k.deb], cwd=Path(tmp))
        debs = list(Path(tmp).glob("*.deb"))
        if len(debs) != 1:
            raise HarnessError(f"apt-get download {k.deb} gave {len(debs)} files")
        _run(["dpkg", "-x", str(debs[0]), str(base)])
    if not vmlinuz(k, base).exists():
        raise HarnessError(f"{k.deb} holds no boot/vmlinuz-{k.release}: is the release "
                           "name in checker/conformance/kernels.py right?")
    done.write_text(k.deb + "\n")
    return base


def vmlinuz(k: Kernel, base: Path) -> Path:
    return base / "boot" / f"vmlinuz-{k.release}"


def program(root: Path | None = None) -> Path:
    """The conformance program, built static with gcc (rebuilt when its source changes)."""
    src = Path(str(resources.files("checker.conformance") / "guest.c"))
    out = (root or cache_dir()) / "conformance-guest"
    if out.exists() and out.stat().st_mtime >= src.stat().st_mtime:
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    _run(["gcc", "-static", "-O2", "-Wall", "-Werror", "-o", str(tmp), str(src)])
    os.replace(tmp, out)
    return out


@dataclass
class StepAnswer:
    index: int
    ret: int  # what the call returned (-1 on an error): a descriptor, an offset, revents
    errno: int  # 0 or the (positive) errno
    count: int  # the file count after the step; -1 when unknown


@dataclass
class CaseAnswer:
    name: str
    steps: list[StepAnswer] = field(default_factory=list)
    left: int = -1  # dma-bufs still listed after the case's cleanup
    finished: bool = False


@dataclass
class BootResult:
    cases: dict[str, CaseAnswer]
    seconds: float
    console: str  # the whole serial output, for the error message of a failed boot
    trace: str = ""  # the recorded trace (ftrace text), when one was asked for


def trace_of(console: str) -> str:
    """The trace the guest printed between ``@@ trace begin`` and ``@@ trace end``."""
    _, begin, rest = console.partition("@@ trace begin")
    body, end, _ = rest.partition("@@ trace end")
    if not begin or not end:
        return ""
    return "\n".join(line.rstrip("\r") for line in body.strip("\r\n").splitlines()) + "\n"


_LINE = re.compile(r"@@ (case|step|end|done|error) ?(.*)")


def parse_console(text: str) -> dict[str, CaseAnswer]:
    cases: dict[str, CaseAnswer] = {}
    current: CaseAnswer | None = None
    for raw in text.splitlines():
        m = _LINE.search(raw)
        if not m:
            continue
        kind, rest = m.group(1), m.group(2).split()
        if kind == "case" and rest:
            current = cases[rest[0]] = CaseAnswer(rest[0])
        elif kind == "step" and current is not None and len(rest) == 4:
            i, ret, err, count = (int(x) for x in rest)
            current.steps.append(StepAnswer(i, ret, err, count))
        elif kind == "end" and current is not None and len(rest) == 2:
            current.left, current.finished = int(rest[1]), True
            current = None
        elif kind == "error":
            raise HarnessError("the guest reports: " + " ".join(rest))
    return cases


def boot(k: Kernel, script: str, pages: int, root: Path | None = None,
         trace_probes: str = "") -> BootResult:
    """Boot ``k`` under QEMU with the cases of ``script`` and return its answers (and,
    with ``trace_probes``, the trace recorded while they ran)."""
    import time

    require_tools()
    base = fetch(k, root)
    prog = program(root)
    image = initramfs.build(base, k.release, MODULES, BUSYBOX, prog, script, pages,
                            trace_probes)
    with tempfile.TemporaryDirectory() as tmp:
        initrd = Path(tmp) / "initrd.gz"
        initrd.write_bytes(image)
        cmd = ["qemu-system-x86_64", "-accel", "tcg", "-m", "512", "-smp", "1",
               "-nographic", "-no-reboot", "-nodefaults", "-serial", "stdio", "-net", "none",
               "-kernel", str(vmlinuz(k, base)), "-initrd", str(initrd), "-append", CMDLINE]
        start = time.monotonic()
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, errors="replace",
                               timeout=BOOT_TIMEOUT, check=False)
        except subprocess.TimeoutExpired as e:
            raise HarnessError(f"Linux {k.name} did not power off within {BOOT_TIMEOUT} s"
                               ) from e
        seconds = time.monotonic() - start
    if p.returncode != 0:
        raise HarnessError(f"qemu exited {p.returncode}: {p.stderr.strip()[-800:]}")
    console = p.stdout
    if "@@ done" not in console:
        raise HarnessError(f"Linux {k.name}: the guest did not finish; console tail:\n"
                           + "\n".join(console.splitlines()[-25:]))
    trace = trace_of(console) if trace_probes else ""
    if trace_probes and not trace:
        raise HarnessError(f"Linux {k.name}: the guest printed no trace")
    return BootResult(parse_console(console), seconds, console, trace)
