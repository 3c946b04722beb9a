"""The guest's initramfs: busybox, the kernel modules the cases need (with their
dependencies) and the conformance program, as a gzip-compressed newc cpio archive.

Written in Python so that the host needs neither cpio nor kmod.
"""

from __future__ import annotations

import gzip
import io
import lzma
import struct
from collections.abc import Iterable
from pathlib import Path

INIT = """#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /tmp
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sys /sys
/bin/busybox mount -t devtmpfs dev /dev
/bin/busybox mount -t debugfs debugfs /sys/kernel/debug
for m in $(/bin/busybox cat /modules.order); do
  /bin/busybox insmod /modules/$m || echo "@@ error insmod $m failed"
done
/conformance /cases.txt $(/bin/busybox cat /pages)
/bin/busybox poweroff -f
"""

# With a trace: the probes (checker.trace.probes) are installed before the conformance
# program runs, and the recorded trace is printed between markers after it.
TRACE_START = "/conformance /cases.txt"
TRACE_SETUP = """/bin/busybox mount -t tracefs tracefs /sys/kernel/tracing
/bin/busybox sh /trace-probes.sh
"""
TRACE_DUMP = """echo 0 > /sys/kernel/tracing/tracing_on
echo "@@ trace begin"
/bin/busybox cat /sys/kernel/tracing/trace
echo "@@ trace end"
"""


def init_script(trace: bool) -> str:
    """The guest's /init, recording a trace of the conformance program when ``trace``."""
    if not trace:
        return INIT
    head, start, rest = INIT.partition(TRACE_START)
    run, nl, tail = rest.partition("\n")
    return head + TRACE_SETUP + start + run + nl + TRACE_DUMP + tail


class ModuleError(RuntimeError):
    """A module, or one it depends on, is missing from the kernel package."""


def module_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    if path.name.endswith(".xz"):
        return lzma.decompress(data)
    return data


def modinfo(elf: bytes) -> dict[str, str]:
    """The ``key=value`` strings of an ELF64 module's ``.modinfo`` section."""
    if elf[:4] != b"\x7fELF" or elf[4] != 2:
        raise ModuleError("not an ELF64 kernel module")
    shoff, = struct.unpack_from("<Q", elf, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", elf, 0x3A)

    def section(i: int) -> tuple[int, int, int]:
        name, _type, _flags, _addr, off, size = struct.unpack_from(
            "<IIQQQQ", elf, shoff + i * shentsize)
        return name, off, size

    _, stroff, _ = section(shstrndx)
    for i in range(shnum):
        name, off, size = section(i)
        end = elf.index(b"\0", stroff + name)
        if elf[stroff + name:end] == b".modinfo":
            out: dict[str, str] = {}
            for item in elf[off:off + size].split(b"\0"):
                key, sep, value = item.decode(errors="replace").partition("=")
                if sep:
                    out.setdefault(key, value)
            return out
    return {}


def module_index(root: Path) -> dict[str, Path]:
    """Module name (``-`` written ``_``) to file, for every module under ``root``."""
    out = {}
    for p in root.rglob("*.ko*"):
        name = p.name.split(".ko")[0].replace("-", "_")
        out[name] = p
    return out


def closure(root: Path, wanted: Iterable[str]) -> list[tuple[str, bytes]]:
    """``wanted`` and everything they depend on, in load order (dependencies first)."""
    index = module_index(root)
    order: list[tuple[str, bytes]] = []
    seen: set[str] = set()

    def visit(name: str, chain: tuple[str, ...]) -> None:
        name = name.replace("-", "_")
        if name in seen:
            return
        if name not in index:
            via = " <- ".join(chain) if chain else "requested"
            raise ModuleError(f"module {name} ({via}) is not in {root}")
        data = module_bytes(index[name])
        for dep in filter(None, modinfo(data).get("depends", "").split(",")):
            visit(dep, (name, *chain))
        seen.add(name)
        order.append((name, data))

    for w in wanted:
        visit(w, ())
    return order


def _entry(out: io.BytesIO, ino: int, name: str, mode: int, data: bytes = b"") -> None:
    encoded = name.encode() + b"\0"
    fields = (ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(encoded), 0)
    out.write(b"070701" + "".join(f"{f:08x}" for f in fields).encode() + encoded)
    out.write(b"\0" * (-(110 + len(encoded)) % 4))
    out.write(data)
    out.write(b"\0" * (-len(data) % 4))


def cpio(files: dict[str, tuple[int, bytes]]) -> bytes:
    """A newc archive of ``files`` (path -> (mode, content)); directories are made for
    every parent; a mode of ``0o120777`` makes the content a symlink target."""
    out = io.BytesIO()
    dirs = sorted({str(Path(p).parents[i]) for p in files
                   for i in range(len(Path(p).parents) - 1)})
    ino = 1
    for d in dirs:
        _entry(out, ino, d, 0o040755)
        ino += 1
    for path, (mode, data) in sorted(files.items()):
        _entry(out, ino, path, mode, data)
        ino += 1
    _entry(out, ino, "TRAILER!!!", 0)
    return out.getvalue()


def build(kernel_root: Path, release: str, modules: Iterable[str], busybox: Path,
          program: Path, cases: str, pages: int, trace_probes: str = "") -> bytes:
    """The gzip-compressed initramfs for one kernel; ``trace_probes`` (a shell script that
    installs the trace probes) makes it record a trace of the conformance program."""
    mods = closure(kernel_root / "lib" / "modules" / release / "kernel", modules)
    files: dict[str, tuple[int, bytes]] = {
        "init": (0o100755, init_script(bool(trace_probes)).encode()),
        "bin/busybox": (0o100755, busybox.read_bytes()),
        "bin/sh": (0o120777, b"busybox"),
        "conformance": (0o100755, program.read_bytes()),
        "cases.txt": (0o100644, cases.encode()),
        "pages": (0o100644, f"{pages}\n".encode()),
        "modules.order": (0o100644, "".join(f"{n}.ko\n" for n, _ in mods).encode()),
    }
    if trace_probes:
        files["trace-probes.sh"] = (0o100644, trace_probes.encode())
    for name, data in mods:
        files[f"modules/{name}.ko"] = (0o100644, data)
    return gzip.compress(cpio(files), compresslevel=1, mtime=0)


__all__ = ["INIT", "ModuleError", "build", "closure", "cpio", "init_script", "modinfo"]
