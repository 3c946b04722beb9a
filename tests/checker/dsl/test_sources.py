"""The import sandbox, tried as a hostile spec would: imports that reach for secrets, devices,
FIFOs and files outside the project are refused with a located E114 that quotes nothing of
the refused file; shipped specs import by name; one file through two paths is one file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from checker.dsl.diagnostics import SpecError
from checker.dsl.resolve import load
from checker.dsl.sources import MAX_SPEC_BYTES

ROOT = Path(__file__).resolve().parents[3]
SECRET = "TOKEN=hunter2-do-not-leak"


def refused(spec: Path) -> str:
    """The rendered diagnostics of loading ``spec`` (which must fail)."""
    with pytest.raises(SpecError) as info:
        load([str(spec)])
    return info.value.render()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project directory, and a secret beside it (outside the project)."""
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.dmabuf").write_text(SECRET + "\n", encoding="utf-8")
    (tmp_path / "outside" / "secret.txt").write_text(SECRET + "\n", encoding="utf-8")
    (tmp_path / "project").mkdir()
    return tmp_path / "project"


@pytest.mark.parametrize("target", [
    "/proc/self/environ",
    "../../../../../../../../../../etc/passwd",
    "../outside/secret.dmabuf",
    "../outside/secret.txt",
    "/dev/zero",
    "/dev/stdin",
])
def test_imports_cannot_read_outside_the_project(project: Path, target: str) -> None:
    spec = project / "pr.dmabuf"
    spec.write_text(f'import "{target}"\n', encoding="utf-8")
    text = refused(spec)
    assert "error[E114]" in text and "pr.dmabuf:1:1" in text
    assert "hunter2" not in text and "root:" not in text and "PATH=" not in text


def test_a_link_inside_the_project_to_a_secret_is_refused(project: Path) -> None:
    (project / "innocent.dmabuf").symlink_to(project.parent / "outside" / "secret.dmabuf")
    (project / "env.dmabuf").symlink_to("/proc/self/environ")
    spec = project / "pr.dmabuf"
    spec.write_text('import "innocent.dmabuf"\nimport "env.dmabuf"\n', encoding="utf-8")
    text = refused(spec)
    assert text.count("error[E114]") == 2 and "outside the spec's project" in text
    assert "hunter2" not in text and "PATH=" not in text


def test_a_fifo_or_device_named_or_imported_does_not_hang(project: Path) -> None:
    fifo = project / "pipe.dmabuf"
    os.mkfifo(fifo)
    (project / "imports_pipe.dmabuf").write_text('import "pipe.dmabuf"\n', encoding="utf-8")
    code = ("import sys\nfrom checker.dsl.resolve import load\nfrom checker.dsl.diagnostics "
            "import SpecError\nfor f in sys.argv[1:]:\n    try:\n        load([f])\n"
            "    except SpecError as e:\n        print(e.render())\n")
    out = subprocess.run([sys.executable, "-c", code, str(fifo),
                          str(project / "imports_pipe.dmabuf"), "/dev/zero", "/dev/stdin",
                          str(project)], capture_output=True, text=True, timeout=60,
                         cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdin=None)
    assert out.returncode == 0, out.stderr
    assert "pipe.dmabuf is a FIFO" in out.stdout
    assert "is under /dev" in out.stdout
    assert "is a directory" in out.stdout
    assert "Traceback" not in out.stderr


def test_non_utf8_and_oversized_specs(project: Path) -> None:
    bad = project / "latin1.dmabuf"
    bad.write_bytes(b"# ok\nproperty p { always true } # caf\xe9\n")
    assert "latin1.dmabuf:2:33: not UTF-8 text (byte 0xe9)" in refused(bad)
    big = project / "big.dmabuf"
    big.write_bytes(b"#" * (MAX_SPEC_BYTES + 1))
    assert "a spec file is at most" in refused(big)


def test_core_by_name_and_one_file_through_two_paths(project: Path) -> None:
    core = ROOT / "specs" / "rules" / "core.dmabuf"
    (project / "sub").mkdir()
    (project / "sub" / "props.dmabuf").write_text(
        "property mine { always true }\n", encoding="utf-8")
    (project / "alias").symlink_to(project / "sub")
    spec = project / "a.dmabuf"
    spec.write_text(f'import "core"\nimport "{core}"\nimport "rules/core"\n'
                    'import "sub/props.dmabuf"\nimport "alias/props.dmabuf"\n'
                    'import "sub/../sub/props.dmabuf"\n', encoding="utf-8")
    lib = load([str(spec)])
    assert {"released_exactly_at_zero", "mine"} <= set(lib.properties)
    assert len(lib.files) == 3, [f.path for f in lib.files]


def test_an_unknown_shipped_name_says_what_there_is(project: Path) -> None:
    spec = project / "a.dmabuf"
    spec.write_text('import "coer"\n', encoding="utf-8")
    text = refused(spec)
    assert "'coer' is not a shipped spec (did you mean 'core'?)" in text
