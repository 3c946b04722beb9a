"""pytest plugin: every counterexample kept under a ``counterexamples/`` folder is a test.

Registered as a ``pytest11`` entry point, so a plain ``pytest`` collects each
``counterexamples/**/*.dmabuf`` file as one item that replays it (with the ITF trace beside
it, when there is one):

* still fails the way it recorded: the item passes;
* fixed: the item fails, saying so: a kept counterexample documents a bug the model must keep
  finding, so a fixed one is removed or moved;
* diverged, or the file cannot be read (corrupted, unknown format version, spec errors): the
  item fails with the explanation, without a Python traceback.

Only ``.dmabuf`` files are collected, and ``.itf.json`` traces with no ``.dmabuf`` beside
them (a pair whose scenario was deleted still replays its trace, so the regression test is
not silently dropped); ``--doctest-modules`` (Python files) never collects them twice, and
nothing is imported from the folder, so every ``--import-mode`` works. Python behaviours the
files name are imported (``allow_python``): pytest already runs the project's own code.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from _pytest._code.code import TerminalRepr

    from checker.counterexample.replay import ReplayResult

FOLDER = "counterexamples"


class CounterexampleFailed(Exception):
    """A kept counterexample that does not replay as recorded."""

    def __init__(self, result: ReplayResult) -> None:
        super().__init__(result.message)
        self.result = result


def is_counterexample(path: Path, root: Path) -> bool:
    """A ``.dmabuf`` file, or an ITF trace without one beside it, inside a
    ``counterexamples`` folder (below the rootdir when it is inside it)."""
    itf = ".itf.json"
    lone_itf = path.name.endswith(itf) and not path.with_name(
        path.name.removesuffix(itf) + ".dmabuf").exists()
    if path.suffix != ".dmabuf" and not lone_itf:
        return False
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        parts = path.parts
    return FOLDER in parts[:-1]


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if is_counterexample(file_path, parent.config.rootpath):
        return CounterexampleFile.from_parent(parent, path=file_path)
    return None


class CounterexampleFile(pytest.File):
    """One counterexample file: one replay item."""

    def collect(self) -> list[pytest.Item]:
        return [CounterexampleItem.from_parent(self, name="replay")]


class CounterexampleItem(pytest.Item):
    """Replays the file; passes when it still fails as recorded."""

    def runtest(self) -> None:
        from checker.counterexample.replay import Status, replay

        result = replay(self.path, allow_python=True)
        self.user_properties.append(("replay", result.status.value))
        if result.status is not Status.STILL_FAILS:
            raise CounterexampleFailed(result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: str | None = None) -> str | TerminalRepr:
        if isinstance(excinfo.value, CounterexampleFailed):
            return explain(excinfo.value.result)
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"counterexample {self.path.name}"


def explain(result: ReplayResult) -> str:
    """The failure text: what happened and what to do about it."""
    from checker.counterexample.replay import Status

    lines = [result.message]
    if result.status is Status.FIXED:
        lines.append("The model no longer finds this bug: remove or move this counterexample "
                     "(a kept counterexample documents a bug the model must keep finding).")
    elif result.status is Status.DIVERGED:
        lines.append("The trace no longer runs as recorded: look at what changed in the "
                     "model or the behaviours, then write the counterexample again or fix the "
                     "model.")
    if result.details:
        lines += ["", result.details]
    return "\n".join(lines)


__all__ = ["CounterexampleFailed", "CounterexampleFile", "CounterexampleItem", "explain",
           "is_counterexample", "pytest_collect_file"]
