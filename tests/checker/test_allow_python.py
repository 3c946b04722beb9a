"""Python behaviours run only with --allow-python, tried as a hostile pull request would: a
spec or a counterexample's ITF ``#meta`` naming a module that would run code on import is
refused at its location, and the module is never imported."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from checker.cli import main
from checker.counterexample.replay import Status, replay

ROOT = Path(__file__).resolve().parents[2]
PAYLOAD = ("import pathlib\n"
           "pathlib.Path({marker!r}).write_text('pwned')\n"
           "from model.mutants import MUTANTS\n"
           "EXPORTER = MUTANTS['double_put'].exporter\n"
           "IMPORTERS = MUTANTS['double_put'].importers\n")


@pytest.fixture
def hostile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path]:
    """A module on the import path that leaves a marker file when imported."""
    name = f"pr_payload_{tmp_path.name.replace('-', '_')}"
    marker = tmp_path / "IMPORTED"
    (tmp_path / f"{name}.py").write_text(PAYLOAD.format(marker=str(marker)), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    yield name, marker
    sys.modules.pop(name, None)


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def spec(tmp_path: Path, module: str) -> Path:
    path = tmp_path / "pr.dmabuf"
    path.write_text(f'import "core"\n\ncheck pr {{\n  exporter "{module}:EXPORTER"\n'
                    f'  importers "{module}:IMPORTERS"\n  scope 1x1\n  depth 4\n'
                    '  engines bmc\n  properties released_exactly_at_zero\n}\n',
                    encoding="utf-8")
    return path


def test_check_refuses_python_without_the_flag(hostile: tuple[str, Path],
                                               tmp_path: Path) -> None:
    module, marker = hostile
    code, _out, err = run("check", "--no-write", "--jobs", "1", str(spec(tmp_path, module)))
    assert code == 2, err
    assert "pr.dmabuf:4:12: error[E140]" in err and "--allow-python" in err
    assert not marker.exists(), "the module was imported without --allow-python"
    assert "Traceback" not in err


def test_check_imports_python_with_the_flag(hostile: tuple[str, Path], tmp_path: Path) -> None:
    module, marker = hostile
    code, _out, err = run("check", "--no-write", "--jobs", "1", "--allow-python",
                         str(spec(tmp_path, module)))
    assert code == 1, err  # the double_put mutant, found by bmc
    assert marker.exists()


def test_replaying_an_itf_trace_never_imports_what_its_meta_names(
        hostile: tuple[str, Path], tmp_path: Path) -> None:
    module, marker = hostile
    source = ROOT / "counterexamples" / "R5-put-without-reference-069fb3f3.itf.json"
    data = json.loads(source.read_text(encoding="utf-8"))
    data["#meta"]["exporter"] = f"{module}:EXPORTER"
    data["#meta"]["importers"] = [f"{module}:IMPORTERS"]
    lone = tmp_path / "counterexamples" / "lone.itf.json"
    lone.parent.mkdir()
    lone.write_text(json.dumps(data), encoding="utf-8")
    result = replay(lone)
    assert result.status is Status.ERROR and "E140" in result.message
    code, out, _err = run("replay", str(lone.parent))
    assert code == 2 and "--allow-python" in out
    assert not marker.exists()
    assert replay(lone, allow_python=True).status is Status.STILL_FAILS
    assert marker.exists()


def test_shipped_mutants_need_no_flag(tmp_path: Path) -> None:
    path = tmp_path / "tour.dmabuf"
    path.write_text(spec(tmp_path, "x").read_text(encoding="utf-8")
                    .replace('"x:EXPORTER"', '"model.mutants:MUTANTS.double_put.exporter"')
                    .replace('"x:IMPORTERS"', '"model.mutants:MUTANTS.double_put.importers"'),
                    encoding="utf-8")
    code, out, err = run("check", "--no-write", "--jobs", "1", str(path))
    assert code == 1, err
    assert "R5 put-without-reference" in out
