"""Worker processes exit with the command that started them: the parent is killed with
SIGKILL, SIGTERM or interrupted (Ctrl-C, SIGINT) while its workers run engines, and the
workers are gone within a few seconds."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SLOW = '''import "core"

check slow {
  exporter ttm
  scope 2x3
  depth 30
  engines hypothesis
  seeds 0, 1, 2, 3
  budget 120s
}
'''


def children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            out.append(int(entry.name))
    return out


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux)")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
def test_workers_exit_with_their_parent(tmp_path: Path, sig: signal.Signals) -> None:
    spec = tmp_path / "slow.dmabuf"
    spec.write_text(SLOW, encoding="utf-8")
    parent = subprocess.Popen(
        [sys.executable, "-m", "checker", "check", "--jobs", "2", "--no-write",
         "--examples", "100000", str(spec)], cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        workers: list[int] = []
        while time.monotonic() < deadline and len(workers) < 2:
            time.sleep(0.2)
            workers = children(parent.pid)
        assert len(workers) >= 2, "the workers never started"
        time.sleep(1.0)  # into the engine runs
        parent.send_signal(sig)
        parent.wait(30)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(alive(w) for w in workers):
            time.sleep(0.2)
        assert not [w for w in workers if alive(w)], f"workers outlived the parent ({sig!r})"
        if sig is signal.SIGINT:
            assert parent.returncode == 130
            assert b"Traceback" not in (parent.stderr.read() if parent.stderr else b"")
    finally:
        if parent.poll() is None:
            parent.kill()
        for w in children(parent.pid):
            os.kill(w, signal.SIGKILL)
