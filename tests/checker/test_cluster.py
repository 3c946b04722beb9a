"""``--cluster``: engine runs on a real Dask cluster. A scheduler and two workers are
started as separate processes (``dask scheduler``, ``dask worker``) on 127.0.0.1 only,
each waited for with a time limit and torn down whatever happens. The results and their
order equal a local run's; a worker killed in the middle of a run has the run started again
elsewhere; a run that kills more workers than the scheduler allows is lost, which the gate
reports as unknown (exit 3, no report), never as a pass; an unreachable scheduler and
workers that read other spec files are usage errors (exit 2)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from distributed import Client

from checker import cluster as cluster_module
from checker.cli import main

ROOT = Path(__file__).resolve().parents[2]
SMALL = "tests/checker/specs/small.dmabuf"  # relative: the workers run in ROOT too
CHECK = ["check", SMALL, "--examples", "30", "--engine", "hypothesis", "--engine", "bmc",
         "--format", "json", "--no-write"]
START_S = 90.0  # for the scheduler and both workers to start on a busy machine


def _start(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen([sys.executable, "-m", "dask", *argv], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)


def _stop(p: subprocess.Popen[bytes]) -> None:
    """End the process and everything it started (its own session's process group)."""
    for sig, wait_s in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(p.pid, sig)
        except ProcessLookupError:
            return
        try:
            p.wait(wait_s)
            os.killpg(p.pid, signal.SIGKILL)  # the nanny's worker, a run forked for a task
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The scheduler file of a running cluster: a scheduler that lets a run kill one
    worker (``allowed-failures`` 1) and two single-threaded workers under nannies (which
    start a killed worker again)."""
    d = tmp_path_factory.mktemp("dask")
    file = d / "scheduler.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
        "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "1"}
    procs = [_start(["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                     "--scheduler-file", str(file)], env, d / "scheduler.log")]
    try:
        deadline = time.monotonic() + START_S
        while not file.exists():
            if time.monotonic() > deadline or procs[0].poll() is not None:
                pytest.fail("the scheduler did not start:\n"
                            + (d / "scheduler.log").read_text(errors="replace"))
            time.sleep(0.2)
        for n in (1, 2):
            procs.append(_start(["worker", "--scheduler-file", str(file), "--host",
                                 "127.0.0.1", "--nthreads", "1", "--no-dashboard",
                                 "--name", f"w{n}", "--local-directory", str(d)],
                                env, d / f"worker{n}.log"))
        with Client(scheduler_file=str(file), timeout=START_S) as client:
            client.wait_for_workers(2, timeout=max(1.0, deadline - time.monotonic()))
        yield str(file)
    finally:
        for p in reversed(procs):
            _stop(p)


def _blank(report: str) -> str:
    return re.sub(r'"seconds": [0-9.e-]+', '"seconds": 0', report)


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


class Killer(threading.Thread):
    """Kills (SIGKILL) the worker process running one of our runs, ``times`` times, each
    once the run has been going for ``after_s``."""

    def __init__(self, scheduler: str, times: int, after_s: float = 0.3) -> None:
        super().__init__(daemon=True)
        self.scheduler, self.times, self.after_s = scheduler, times, after_s
        self.killed: list[str] = []
        self.stop = threading.Event()

    def run(self) -> None:
        with Client(scheduler_file=self.scheduler, timeout=30) as client:
            while len(self.killed) < self.times and not self.stop.is_set():
                busy = [w for w, keys in client.processing().items()
                        if any(str(k).startswith("dmabuf-") for k in keys)]
                if not busy:
                    time.sleep(0.05)
                    continue
                time.sleep(self.after_s)
                pids = client.run(os.getpid, workers=[busy[0]])
                if busy[0] in pids and client.processing().get(busy[0]):
                    os.kill(pids[busy[0]], signal.SIGKILL)
                    self.killed.append(busy[0])
                    time.sleep(0.5)  # the scheduler notices, the nanny starts it again


def test_runs_on_the_cluster_equal_a_local_run_and_survive_a_killed_worker(
        scheduler: str, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """One cluster for three questions (starting one takes seconds)."""
    monkeypatch.chdir(ROOT)
    local = _run([*CHECK, "-j", "2"], capsys)
    assert local[0] == 1  # the mutant is caught
    # a worker killed in the middle of a run: the run starts again on the other worker
    killer = Killer(scheduler, times=1)
    killer.start()
    try:
        on_cluster = _run([*CHECK, "--cluster", scheduler], capsys)
    finally:
        killer.stop.set()
        killer.join(30)
    assert len(killer.killed) == 1
    assert (on_cluster[0], _blank(on_cluster[1])) == (local[0], _blank(local[1]))
    assert [(v["check"], v["engine"]) for v in json.loads(on_cluster[1])["verdicts"]] == [
        (v["check"], v["engine"]) for v in json.loads(local[1])["verdicts"]]

    # a run that kills both workers it is given (the scheduler allows one failure) is lost:
    # unknown (exit 3), no report, never a pass
    killer = Killer(scheduler, times=2, after_s=0.2)
    killer.start()
    try:
        code, out, err = _run(["check", SMALL, "--engine", "hypothesis", "--examples", "5000",
                               "--no-write", "--cluster", scheduler], capsys)
    finally:
        killer.stop.set()
        killer.join(30)
    assert len(killer.killed) == 2
    assert code == 3
    assert "ended every worker it was given" in err and "no report was written" in err
    assert out == ""

    # the same relative path holds another text here than where the workers run
    spec = tmp_path / SMALL
    spec.parent.mkdir(parents=True)
    core = (ROOT / "specs" / "rules" / "core.dmabuf").as_posix()
    spec.write_text((ROOT / SMALL).read_text().replace("../../../specs/rules/core.dmabuf",
                                                       core))
    monkeypatch.chdir(tmp_path)
    code, out, err = _run([*CHECK, "--cluster", scheduler], capsys)
    assert code == 2 and out == ""
    assert "does not read the same spec files" in err and "Traceback" not in err


def test_an_unreachable_scheduler_is_a_usage_error(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cluster_module, "CONNECT_TIMEOUT_S", 1.0)
    monkeypatch.chdir(ROOT)
    code, out, err = _run([*CHECK, "--cluster", "tcp://127.0.0.1:9"], capsys)
    assert code == 2 and out == ""
    assert "--cluster tcp://127.0.0.1:9: cannot reach a Dask scheduler there" in err
    assert "Traceback" not in err
