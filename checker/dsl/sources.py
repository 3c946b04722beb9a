"""Reading spec files, and where imports may lead.

A spec can arrive in a pull request that a CI gate then checks, so reading one must not be
a way to read anything else. The rules:

* a spec file is a regular file (never a directory, a device, a FIFO or a socket), outside
  ``/proc``, ``/sys`` and ``/dev``, at most ``MAX_SPEC_BYTES`` long, and UTF-8 text;
* an ``import`` names a ``.dmabuf`` file inside the spec's project: the directories of the
  files named on the command line and the git checkouts they lie in, the current
  directory, and the shipped specs; its real path (symbolic links followed) must lie there
  too;
* ``import "core"`` (a bare name) is a shipped spec: ``core`` is ``specs/rules/core.dmabuf``,
  ``exporters/ttm`` is ``specs/exporters/ttm.dmabuf`` and so on;
* one file reached through two paths is one file: ``real_key`` is its identity.

Every refusal is a ``SourceError`` whose message says what is wrong and how to fix it; it
never quotes the refused file's content.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable
from functools import cache
from importlib import resources
from pathlib import Path

MAX_SPEC_BYTES = 4 * 1024 * 1024
SPEC_SUFFIX = ".dmabuf"
FORBIDDEN = ("/proc", "/sys", "/dev")
ALIASES = {"core": "rules/core"}
_BARE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*(?:/[A-Za-z_][A-Za-z0-9_-]*)?")


class SourceError(Exception):
    """A spec file that cannot or may not be read; the message says why and what to do
    (``line`` and ``col``: where in the file, when the problem is at a place in it)."""

    def __init__(self, message: str, line: int = 1, col: int = 1) -> None:
        super().__init__(message)
        self.line, self.col = line, col


@cache
def shipped_root() -> Path:
    return Path(str(resources.files("specs"))).resolve()


@cache
def shipped_names() -> dict[str, Path]:
    """The bare import names of the shipped specs: ``rules/core``, ``exporters/ttm``... and
    the aliases (``core``)."""
    root = shipped_root()
    out = {p.relative_to(root).with_suffix("").as_posix(): p
           for p in sorted(root.rglob(f"*{SPEC_SUFFIX}"))}
    for alias, target in ALIASES.items():
        out[alias] = out[target]
    return out


def is_bare(name: str) -> bool:
    """Whether an import names a shipped spec (``core``, ``exporters/ttm``) rather than a
    path."""
    return not name.endswith(SPEC_SUFFIX) and _BARE.fullmatch(name) is not None


def shipped_import(name: str) -> Path:
    found = shipped_names().get(name)
    if found is None:
        import difflib

        close = difflib.get_close_matches(name, list(shipped_names()), n=1, cutoff=0.6)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise SourceError(f"'{name}' is not a shipped spec{hint}; the shipped specs are "
                          + ", ".join(sorted(shipped_names()))
                          + f"; a path to a file of your own ends in {SPEC_SUFFIX}")
    return found


def real_key(path: str | Path) -> str:
    """The identity of a file: its real path (links followed, normalised)."""
    return os.path.realpath(path)


def _within(path: str, root: Path) -> bool:
    return path == str(root) or path.startswith(str(root).rstrip(os.sep) + os.sep)


def checkout_of(directory: Path) -> Path | None:
    """The nearest directory at or above ``directory`` that holds ``.git``: the repository
    a spec belongs to."""
    for d in (directory, *directory.parents):
        if (d / ".git").exists():
            return d
    return None


def project_roots(named: Iterable[str | Path]) -> tuple[Path, ...]:
    """The directories imports may reach: those of the ``named`` files (a directory named
    is itself a root) and the git checkout each lies in, the current directory and the
    shipped specs."""
    out: list[Path] = []
    for p in named:
        real = Path(real_key(p))
        here = real if real.is_dir() else real.parent
        out.append(here)
        checkout = checkout_of(here)
        if checkout is not None:
            out.append(checkout)
    out += [Path(real_key(".")), shipped_root()]
    return tuple(dict.fromkeys(out))


def check_import(target: str, roots: Iterable[Path]) -> str:
    """The real path of an import's target, after checking that it may be read."""
    if not target.endswith(SPEC_SUFFIX):
        raise SourceError(f"an import names a {SPEC_SUFFIX} file or a shipped spec "
                          f"(import \"core\"), not '{target}'")
    real = real_key(target)
    if not any(_within(real, r) for r in roots):
        raise SourceError(f"'{target}' is outside the spec's project (the directories of "
                          "the files named on the command line and their git checkouts, the "
                          "current directory and the shipped specs): imports may not leave "
                          "it; copy the file into the project, or import a shipped spec by "
                          "name (import \"core\")")
    return real


def read_spec(path: str | Path) -> str:
    """The text of a spec file, refusing anything that is not a regular UTF-8 file of at most
    ``MAX_SPEC_BYTES`` outside ``/proc``, ``/sys`` and ``/dev``."""
    real = real_key(path)
    top = next((f for f in FORBIDDEN if _within(real, Path(f))), None)
    if top is not None:
        raise SourceError(f"{path} is under {top}: a spec is a regular file of your project")
    try:
        fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except OSError as e:
        raise SourceError(f"cannot read {path}: {e.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = ("a directory" if stat.S_ISDIR(info.st_mode) else "a FIFO"
                    if stat.S_ISFIFO(info.st_mode) else "a device"
                    if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode) else
                    "a socket" if stat.S_ISSOCK(info.st_mode) else "not a regular file")
            raise SourceError(f"{path} is {kind}: a spec is a regular file")
        if info.st_size > MAX_SPEC_BYTES:
            raise SourceError(f"{path} is {info.st_size:,} bytes: a spec file is at most "
                              f"{MAX_SPEC_BYTES:,} bytes; split it into files that import "
                              "each other")
        chunks: list[bytes] = []
        size = 0
        while size <= MAX_SPEC_BYTES:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > MAX_SPEC_BYTES:
            raise SourceError(f"{path} is over {MAX_SPEC_BYTES:,} bytes: a spec file is at "
                              "most that long")
    finally:
        os.close(fd)
    data = b"".join(chunks)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        col = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise SourceError(f"{path}:{line}:{col}: not UTF-8 text (byte 0x{data[e.start]:02x}): "
                          "save the spec as UTF-8", line, col) from None


__all__ = [
    "MAX_SPEC_BYTES",
    "SourceError",
    "check_import",
    "is_bare",
    "project_roots",
    "read_spec",
    "real_key",
    "shipped_import",
    "shipped_names",
    "shipped_root",
]
