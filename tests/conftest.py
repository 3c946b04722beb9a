"""Shared helpers for the model tests: models built once, and a compact view of a run.

Tests get three fixtures (session-scoped, so hypothesis tests can use them too):

* ``run(exporter, profile, seq, importers=None, scope="1x2", mode="misuse") -> Run`` applies
  a sequence of actions (text) to a cached ``Model`` and returns every outcome;
* ``canonical(profile) -> list[str]``: the importer's canonical sequence of R32 (static
  importer, bidirectional map, unlocked forms from 6.2 on), ending with the buffer released.

* ``models(exporter, profile, importers=None, scope="1x2") -> Model``: the cache itself.
"""

from __future__ import annotations

import gc
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pytest

from model import EXPORTERS, IMPORTERS, Exporter, Importer, Model, Outcome, State, Violation
from model.kernel import errno_name

ExporterLike = str | Exporter
ImporterLike = str | Importer

_MODELS: dict[tuple[int, str, tuple[int, ...] | None, str], Model] = {}

_ROOT = Path(__file__).resolve().parents[1]
_COVERED = (_ROOT / "tests" / "model", _ROOT / "model")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Line coverage is measured for ``model/`` and comes from the model's own tests
    (``tests/model/`` and the doctests in ``model/``; they alone cover it to the gate's
    threshold). Every other test runs the model through the engines and the command line,
    often millions of steps: traced, it would only slow the suite (coverage's tracer makes
    model code several times slower), so it runs with coverage paused (pytest-cov's
    ``no_cover`` marker), as do the few model tests marked so because they run the model at
    length."""
    for item in items:
        path = Path(str(item.path)).resolve()
        if not any(d == path or d in path.parents for d in _COVERED):
            item.add_marker(pytest.mark.no_cover)


def model_for(
    exporter: ExporterLike,
    profile: str,
    importers: Sequence[ImporterLike] | None = None,
    scope: str = "1x2",
) -> Model:
    """The model for these arguments, built once per test session. Derived exporters and
    importers are keyed by identity (the cache keeps them alive)."""
    x = EXPORTERS[exporter] if isinstance(exporter, str) else exporter
    imps = None if importers is None else tuple(
        IMPORTERS[i] if isinstance(i, str) else i for i in importers)
    key = (id(x), profile, None if imps is None else tuple(id(i) for i in imps), scope)
    m = _MODELS.get(key)
    if m is None:
        m = _MODELS[key] = Model(x, importers=imps, profile=profile, scope=scope)
        gc.freeze()  # it lives until the end: keep the collector from walking it again
    return m


@dataclass(frozen=True)
class Run:
    """The outcomes of one sequence, with accessors that keep assertions short."""

    model: Model
    actions: tuple[str, ...]
    outcomes: tuple[Outcome, ...]

    @property
    def state(self) -> State:
        return self.outcomes[-1].state

    def value(self, name: str, step: int = -1) -> int:
        """A state variable after ``step`` (default: the last one)."""
        return int(self.model.value(self.outcomes[step].state, name))

    def refcount(self, buf: str = "b0", step: int = -1) -> int:
        """The file refcount (R5): caller references, fds, vmas and armed poll callbacks."""
        return sum(self.value(f"{buf}.{f}", step)
                   for f in ("kref", "fds", "vmas", "cb_in", "cb_out"))

    def errno(self, step: int = -1) -> int:
        return self.outcomes[step].errno

    def ret(self, step: int = -1) -> int:
        """The step's result: a negative errno, 0, or the value it returns."""
        return self.outcomes[step].ret

    @property
    def errnos(self) -> list[int]:
        return [o.errno for o in self.outcomes]

    @property
    def violations(self) -> list[Violation]:
        return [v for o in self.outcomes for v in o.violations]

    def at(self, step: int) -> tuple[Violation, ...]:
        return self.outcomes[step].violations

    def rules(self, step: int | None = None) -> set[str]:
        vs = self.violations if step is None else self.at(step)
        return {v.rule for v in vs}

    def tags(self, step: int | None = None) -> set[str]:
        vs = self.violations if step is None else self.at(step)
        return {v.tag for v in vs}

    def only(self, step: int = -1) -> Violation:
        """The single violation of ``step``; fails unless there is exactly one."""
        vs = self.at(step)
        assert len(vs) == 1, self.explain()
        return vs[0]

    def find(self, tag: str) -> Violation:
        """The single violation tagged ``tag`` in the whole run."""
        vs = [v for v in self.violations if v.tag == tag]
        assert len(vs) == 1, self.explain()
        return vs[0]

    def explain(self) -> str:
        """The run as text, for assertion messages."""
        lines = [f"{self.model!r}"]
        for k, (a, o) in enumerate(zip(self.actions, self.outcomes, strict=True)):
            lines.append(f"  {k:2d} {a:48s} {errno_name(o.errno)}")
            lines.extend(f"       {v}" for v in o.violations)
        return "\n".join(lines)


class RunFn(Protocol):
    def __call__(
        self,
        exporter: ExporterLike,
        profile: str,
        seq: Sequence[str],
        importers: Sequence[ImporterLike] | None = None,
        scope: str = "1x2",
        mode: str = "misuse",
    ) -> Run: ...


class CanonicalFn(Protocol):
    def __call__(self, profile: str) -> list[str]: ...


class ModelFn(Protocol):
    def __call__(
        self,
        exporter: ExporterLike,
        profile: str,
        importers: Sequence[ImporterLike] | None = None,
        scope: str = "1x2",
    ) -> Model: ...


def run_sequence(
    exporter: ExporterLike,
    profile: str,
    seq: Sequence[str],
    importers: Sequence[ImporterLike] | None = None,
    scope: str = "1x2",
    mode: str = "misuse",
) -> Run:
    m = model_for(exporter, profile, importers, scope)
    return Run(m, tuple(seq), tuple(m.run(seq, mode=mode)))


def canonical_sequence(profile: str) -> list[str]:
    """R32: get (or hold) a reference, attach, get_dma_buf, map BIDIRECTIONAL, use, unmap,
    detach, put; then the caller's own reference and the fd go too."""
    unlocked = profile.split(",")[0] != "v6.1"  # the _unlocked variants exist from 6.2 (R16)
    mp, ump = ("map_unlocked", "unmap_unlocked") if unlocked else ("map", "unmap")
    return [
        "export(b0)", "fd(b0)", "get(b0)", "attach(b0.a0, importer=static)",
        "get_dma_buf(b0)", f"{mp}(b0.a0, dir=BIDIRECTIONAL)", "access(b0.a0, slot=0)",
        f"{ump}(b0.a0, dir=BIDIRECTIONAL, slot=0)", "detach(b0.a0)", "put(b0)", "put(b0)",
        "close(b0)",
    ]


@pytest.fixture(scope="session")
def run() -> RunFn:
    return run_sequence


@pytest.fixture(scope="session")
def canonical() -> CanonicalFn:
    return canonical_sequence


@pytest.fixture(scope="session")
def models() -> ModelFn:
    return model_for


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The cached models are large graphs of small objects; pytest's final
    ``gc.collect()`` passes would walk all of them several times (seconds). Nothing they
    hold needs collecting any more, so move everything out of the collector's sight."""
    gc.freeze()
