"""Files the checker writes: reports and counterexamples, each written atomically.

Only regular files are written. A report path that is a symbolic link, a device, a FIFO, a
directory, or lies in a directory that cannot be written is refused (``UnsafeTarget``):
``check_report_path`` and ``check_report_dir`` let a command refuse it before any engine
runs, and ``atomic_write`` refuses it again at the moment of writing, so nothing but a
regular file is ever replaced.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path


class UnsafeTarget(OSError):
    """A path the checker will not write: the message says what it is and what to do."""


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _existing_ancestor(path: Path) -> Path:
    here = path
    while not os.path.lexists(here) and here != here.parent:
        here = here.parent
    return here


def _check_directory(directory: Path, what: str) -> None:
    """``directory`` exists as a writable directory, or can be created."""
    base = _existing_ancestor(directory)
    if not base.is_dir():
        raise UnsafeTarget(f"{what}: {base} is not a directory")
    if not os.access(base, os.W_OK | os.X_OK):
        raise UnsafeTarget(f"{what}: {base} is not writable")


def check_report_path(path: Path | str, what: str = "") -> None:
    """Raise ``UnsafeTarget`` unless ``path`` is a regular file or absent, in a directory
    that exists or can be created, and that can be written."""
    p = Path(path)
    what = what or str(p)
    if p.is_symlink():
        raise UnsafeTarget(f"{what}: {p} is a symbolic link; reports are written only as "
                           "regular files (remove the link or name another path)")
    if p.exists():
        mode = os.stat(p).st_mode
        if not stat.S_ISREG(mode):
            raise UnsafeTarget(f"{what}: {p} is {_kind(mode)}; reports are written only as "
                               "regular files (name a file path)")
    _check_directory(p.parent if str(p.parent) else Path("."), what)


def check_report_dir(path: Path | str, what: str = "") -> None:
    """Raise ``UnsafeTarget`` unless ``path`` is a writable directory or can be created."""
    p = Path(path)
    what = what or str(p)
    if os.path.lexists(p) and not p.is_dir():
        mode = os.lstat(p).st_mode
        raise UnsafeTarget(f"{what}: {p} is {_kind(mode)}, not a directory")
    _check_directory(p, what)


def atomic_write(path: Path | str, data: bytes) -> Path:
    """Write ``data`` to ``path`` (its directory created if missing) through a temporary
    file in the same directory renamed into place, so a reader never sees half a report;
    the temporary file is removed whatever happens. Only a regular file (or nothing) at
    ``path`` is replaced: anything else raises ``UnsafeTarget``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    check_report_path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)
        check_report_path(path)  # still a regular file, or nothing, when it is replaced
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


__all__ = ["UnsafeTarget", "atomic_write", "check_report_dir", "check_report_path"]
