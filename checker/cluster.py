"""Engine runs on an existing Dask distributed cluster (``--cluster ADDRESS``).

``Cluster.map`` is the cluster's implementation of ``checker.runs.parallel``: the same
function of every item, results in the items' order, started longest first. Before any
run it checks each worker: the worker must run the same dmabuf-check sources as this
process (``checker.shards.code_fingerprint``) and read the same text at every spec path the
runs load (workers resolve the specs themselves, like local worker processes), so a result
never comes from another model or another spec.

A worker that dies during a run (killed, out of memory, its machine lost) does not lose the
run: the scheduler starts it again on another worker, up to the scheduler's
``distributed.scheduler.allowed-failures`` times (3 by default). A run that exhausts them
raises ``RunLost``: it is never reported, and never as a pass.

Each run starts in a worker with the local modules (dmabuf-check's, a plug-in's) that this
process has loaded, as a forked local worker process does: Hypothesis mixes constants of
the loaded local modules into what it draws, so a different set would change a seeded
exploration.

``distributed`` is an optional dependency (``pip install 'dmabuf-check[cluster]'``).
"""

from __future__ import annotations

import hashlib
import importlib
import sys
import sysconfig
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

from checker.runs import RunLost, _describe

CONNECT_TIMEOUT_S = 10.0
WORKER_TIMEOUT_S = 30.0  # for the first worker to join a scheduler that has none

T = TypeVar("T")
R = TypeVar("R")


class ClusterError(Exception):
    """The cluster cannot be used (exit 2): unreachable, no workers, workers that run
    other sources or see other spec files. The message says how to fix it."""


def _files_digest(paths: Sequence[str]) -> str:
    h = hashlib.sha256()
    for p in paths:
        try:
            data = Path(p).read_bytes()
        except OSError:
            data = b"\0missing"
        h.update(p.encode() + b"\0" + hashlib.sha256(data).digest())
    return h.hexdigest()


def _worker_facts(paths: Sequence[str]) -> tuple[str, str, str]:
    """What a worker runs and sees (called on each worker)."""
    from checker.shards import code_fingerprint

    return code_fingerprint(), _files_digest(paths), str(Path.cwd())


_SHARED = tuple({sysconfig.get_path(k) for k in ("stdlib", "platstdlib", "purelib",
                                                  "platlib")})


def local_modules() -> tuple[str, ...]:
    """The names of the loaded modules that are neither the standard library, installed
    third-party packages, nor tests."""
    out = []
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if not file or name.startswith("__") or file.startswith(_SHARED):
            continue
        p = Path(file)
        if ("site-packages" in p.parts or "dist-packages" in p.parts or "tests" in p.parts
                or "test" in p.parts or p.stem.startswith("test_") or p.stem == "conftest"):
            continue
        out.append(name)
    return tuple(sorted(out))


def _run_with(fn: Callable[[T], R], item: T, modules: tuple[str, ...]) -> R:
    """``fn(item)`` in a new Python process (called on a worker): a process forked from
    the worker would carry the memory state of the worker's own traffic, on which a
    solver's choice among equally short counterexamples can depend. ``RunLost`` when the
    process dies."""
    import pickle
    import subprocess

    done = subprocess.run([sys.executable, "-c", "from checker.cluster import _main; _main()"],
                          input=pickle.dumps((fn, item, modules)), capture_output=True,
                          check=False)
    if done.returncode != 0 or not done.stdout:
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-3:]
        raise RunLost(f"the process running {_describe(item)} ended without an answer "
                      f"(exit code {done.returncode}): {' / '.join(tail)}")
    ok, value = pickle.loads(done.stdout)
    if not ok:
        assert isinstance(value, BaseException)
        raise value
    return cast(R, value)


def _main() -> None:
    """The process ``_run_with`` starts: the pickled (fn, item, modules) on stdin, the
    pickled (ok, result or exception) on stdout."""
    import pickle

    fn, item, modules = pickle.loads(sys.stdin.buffer.read())
    for name in modules:
        if name not in sys.modules:
            try:
                importlib.import_module(name)
            except Exception:  # a module only the client can import
                continue
    try:
        message: tuple[bool, object] = (True, fn(item))
    except Exception as e:
        message = (False, e)
    sys.stdout.buffer.write(pickle.dumps(message))


@dataclass(frozen=True)
class Cluster:
    """A Dask scheduler (``tcp://host:8786``, or the path of a scheduler file) and the spec
    files whose text every worker must read as this process does."""

    address: str
    files: tuple[str, ...] = ()

    def client(self) -> Any:
        try:
            import distributed
        except ImportError:
            raise ClusterError("--cluster needs the Dask distributed package: pip install "
                               "'dmabuf-check[cluster]'") from None
        where = {"scheduler_file": self.address} if Path(self.address).is_file() else {
            "address": self.address}
        try:
            client_type: Any = distributed.Client  # (untyped)
            return client_type(**where, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
        except (OSError, TimeoutError, ValueError, TypeError) as e:
            raise ClusterError(
                f"--cluster {self.address}: cannot reach a Dask scheduler there within "
                f"{CONNECT_TIMEOUT_S:g} s ({str(e).strip() or type(e).__name__}); give the "
                "address a scheduler prints (tcp://HOST:8786) or its --scheduler-file") \
                from None

    def check_workers(self, client: Any) -> int:
        """The number of workers, each checked (``ClusterError`` otherwise)."""
        try:
            client.wait_for_workers(1, timeout=WORKER_TIMEOUT_S)
        except (OSError, TimeoutError) as e:
            raise ClusterError(f"--cluster {self.address}: the scheduler has no workers "
                               f"({e}); start some with: dask worker {self.address}") from None
        files = tuple(f for f in self.files if Path(f).is_file())
        facts: dict[str, tuple[str, str, str]] = client.run(_worker_facts, files)
        from checker.shards import code_fingerprint

        code, seen = code_fingerprint(), _files_digest(files)
        for worker, (their_code, their_files, cwd) in sorted(facts.items()):
            if their_code != code:
                raise ClusterError(
                    f"--cluster {self.address}: worker {worker} runs other dmabuf-check "
                    f"sources ({their_code[:12]}; these are {code[:12]}): install the same "
                    "version on every worker")
            if their_files != seen:
                raise ClusterError(
                    f"--cluster {self.address}: worker {worker} (working directory {cwd}) "
                    f"does not read the same spec files at {', '.join(files)}: start the "
                    "workers in the same checkout, or on a shared file system, at the same "
                    "paths")
        return len(facts)

    def map(self, fn: Callable[[T], R], items: Sequence[T], order: Sequence[int],
            done: Callable[[int, T, R], None]) -> list[R]:
        """``fn`` of every item on the cluster, submitted in ``order`` (first the most
        urgent), results in the items' order."""
        import distributed

        as_completed: Any = distributed.as_completed  # (untyped)

        client = self.client()
        futures: dict[Any, int] = {}
        try:
            self.check_workers(client)
            modules = local_modules()
            tag = uuid.uuid4().hex[:12]
            for rank, i in enumerate(order):
                f = client.submit(_run_with, fn, items[i], modules, key=f"dmabuf-{tag}-{i}",
                                  pure=False, priority=len(order) - rank)
                futures[f] = i
            results: dict[int, R] = {}
            for f in as_completed(list(futures), loop=client.loop):
                i = futures[f]
                try:
                    results[i] = f.result()
                except distributed.KilledWorker as e:
                    raise RunLost(
                        f"run {i + 1} of {len(items)} ({_describe(items[i])}) ended every "
                        f"worker it was given ({e}); nothing is reported for it") from None
                done(len(results), items[i], results[i])
            return [results[i] for i in range(len(items))]
        finally:
            if futures:
                client.cancel(list(futures))
            client.close()


__all__ = ["CONNECT_TIMEOUT_S", "Cluster", "ClusterError", "local_modules"]
