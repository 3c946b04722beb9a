"""Report writes, tried as an attack would: ``--junit``, ``--sarif``, ``--itf-dir``,
``--output`` and the counterexample directory never replace a symbolic link, a device, a
FIFO or a directory, and an unwritable path is refused with exit 2 before any engine runs."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from checker.cli import main
from checker.files import UnsafeTarget, atomic_write

ROOT = Path(__file__).resolve().parents[2]
SPEC = '''import "core"

check small {
  exporter system_heap
  importers static
  profiles v6.1
  scope 1x1
  depth 2
  engines bmc
  properties released_exactly_at_zero
}
'''


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    path = tmp_path / "small.dmabuf"
    path.write_text(SPEC, encoding="utf-8")
    return path


def test_a_symlinked_report_is_refused_and_left_alone(spec: Path, tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious", encoding="utf-8")
    link = tmp_path / "report.xml"
    link.symlink_to(victim)
    for option in ("--junit", "--sarif"):
        code, out, err = run("check", "--no-write", option, str(link), str(spec))
        assert code == 2, err
        assert "is a symbolic link" in err and "Traceback" not in err
        assert out == "", "refused before any engine ran"
    assert link.is_symlink() and victim.read_text(encoding="utf-8") == "precious"


@pytest.mark.parametrize("kind", ["device", "fifo", "directory", "under-a-file"])
def test_non_regular_report_paths_exit_2_before_any_engine(spec: Path, tmp_path: Path,
                                                           kind: str) -> None:
    if kind == "device":
        target = "/dev/null"
    elif kind == "fifo":
        target = str(tmp_path / "fifo")
        os.mkfifo(target)
    elif kind == "directory":
        target = str(tmp_path)
    else:
        (tmp_path / "plain").write_text("", encoding="utf-8")
        target = str(tmp_path / "plain" / "report.xml")
    code, out, err = run("check", "--no-write", "--junit", target, str(spec))
    assert code == 2, err
    assert out == "" and "Traceback" not in err
    assert f"--junit {target}" in err
    assert os.path.exists("/dev/null") and not os.path.isfile("/dev/null")


def test_itf_dir_and_counterexample_dir_must_be_directories(spec: Path, tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.write_text("", encoding="utf-8")
    code, _, err = run("check", "--itf-dir", str(plain), "--no-write", str(spec))
    assert code == 2 and "not a directory" in err
    code, _, err = run("check", "--counterexamples", str(plain), str(spec))
    assert code == 2 and "not a directory" in err


def test_validate_exporter_output_is_checked_first(tmp_path: Path) -> None:
    link = tmp_path / "cert.md"
    link.symlink_to(tmp_path / "elsewhere.md")
    code, out, err = run("validate-exporter", "system_heap", "--output", str(link))
    assert code == 2 and "is a symbolic link" in err and out == ""


def test_a_passing_run_with_a_good_junit_writes_it(spec: Path, tmp_path: Path) -> None:
    report = tmp_path / "reports" / "r.xml"
    code, out, _err = run("check", "--no-write", "--jobs", "1", "--junit", str(report),
                         str(spec))
    assert code == 0 and report.is_file() and "gate PASS (exit 0)" in out


def test_atomic_write_refuses_what_is_not_a_regular_file(tmp_path: Path) -> None:
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "target")
    with pytest.raises(UnsafeTarget):
        atomic_write(link, b"x")
    with pytest.raises(UnsafeTarget):
        atomic_write(tmp_path, b"x")
    assert not (tmp_path / "target").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["link"], "no temporary file left"
    atomic_write(tmp_path / "ok", b"x")
    assert (tmp_path / "ok").read_bytes() == b"x"
