"""The pytest plugin: a plain pytest run replays every file under counterexamples/."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from checker.counterexample.pytest_plugin import is_counterexample
from checker.counterexample.write import write
from checker.problem import Counterexample

pytest_plugins = ["pytester"]

MutantCex = Callable[..., Counterexample]


def folder(pytester: pytest.Pytester, mutant_cex: MutantCex) -> Path:
    """A project whose counterexamples/ folder holds one good, one fixed, one corrupted and
    one unknown-version file; a spec elsewhere is not a counterexample."""
    d = pytester.path / "counterexamples" / "found"
    w = write(mutant_cex("heap_vunmap_keeps_mapping"), d)
    text = w.scenario.read_text()
    (d / "fixed.dmabuf").write_text(text.replace(
        'exporter "model.mutants:MUTANTS.heap_vunmap_keeps_mapping.exporter"',
        "exporter system_heap"))
    (d / "corrupted.dmabuf").write_text(text[:-30])
    (d / "future.dmabuf").write_text(text.replace("counterexample v1", "counterexample v2"))
    (pytester.path / "specs").mkdir()
    (pytester.path / "specs" / "broken.dmabuf").write_text("scenario {")
    return d


def test_a_plain_run_replays_every_counterexample(pytester: pytest.Pytester,
                                                  mutant_cex: MutantCex) -> None:
    folder(pytester, mutant_cex)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=3)
    out = result.stdout.str()
    assert "fixed: step 3 vunmap(b0) no longer violates R25 vmap-leak (now: ok, no violation)" \
        in out
    assert "remove or move this counterexample" in out
    assert "unknown counterexample format version v2" in out
    assert "corrupted.dmabuf: the counterexample does not resolve" in out
    assert "corrupted.dmabuf:18:" in out and "error[E0" in out
    assert "Traceback" not in out and "replay.py" not in out  # no Python traceback


def test_collected_once_with_doctests_and_importlib(pytester: pytest.Pytester,
                                                   mutant_cex: MutantCex) -> None:
    """The project's own options: each file is one item, next to the doctests."""
    d = folder(pytester, mutant_cex)
    pytester.makepyfile(helper="def f():\n    '''\n    >>> 1 + 1\n    2\n    '''\n")
    result = pytester.runpytest("-p", "no:cacheprovider", "--collect-only", "-q",
                                "--doctest-modules", "--import-mode=importlib")
    items = [line for line in result.stdout.lines if "::" in line]
    files = sorted(p.name for p in d.glob("*.dmabuf"))
    assert sorted(i.split("::")[0].rsplit("/", 1)[-1] for i in items
                  if ".dmabuf" in i) == files
    assert all(i.endswith("::replay") for i in items if ".dmabuf" in i)
    assert not any("broken.dmabuf" in i for i in items)
    assert "helper.py::helper.f" in items


def test_what_is_a_counterexample(tmp_path: Path) -> None:
    root = tmp_path
    assert is_counterexample(root / "counterexamples" / "a.dmabuf", root)
    assert is_counterexample(root / "x" / "counterexamples" / "y" / "a.dmabuf", root)
    # an ITF trace is collected only when its scenario is gone (else the pair is one test)
    (root / "counterexamples").mkdir()
    (root / "counterexamples" / "a.dmabuf").write_text("")
    assert not is_counterexample(root / "counterexamples" / "a.itf.json", root)
    assert is_counterexample(root / "counterexamples" / "lone.itf.json", root)
    assert not is_counterexample(root / "tests" / "golden" / "a.dmabuf", root)
    assert not is_counterexample(Path("/elsewhere/specs/counterexamples.dmabuf"), root)
