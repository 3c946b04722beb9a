"""``dmabuf-check conformance`` (checker/conformance/run.py): the table, the counts per
profile and the exit codes, with the QEMU boot replaced by recorded console output."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from checker.cli import main
from checker.conformance import guest
from checker.conformance.kernels import KERNELS, Kernel

CASE = """scenario k_export "export and close" {
  exporter gem_prime
  importers static
  export(b0) -> ok
  fd(b0)     -> ok
  close(b0)  -> ok
}
"""


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def spec(tmp_path: Path) -> str:
    f = tmp_path / "k.dmabuf"
    f.write_text(CASE, encoding="utf-8")
    return str(f)


def console(counts: tuple[int, int, int]) -> str:
    steps = "".join(f"@@ step {i} 0 0 {c}\n" for i, c in enumerate(counts))
    return f"@@ case k_export\n{steps}@@ end k_export 0\n@@ done 1\n"


def fake_boot(monkeypatch: pytest.MonkeyPatch, answers: dict[str, str | None]) -> None:
    def boot(k: Kernel, script: str, pages: int) -> guest.BootResult:
        assert script.startswith("C k_export\n") and pages == 2
        text = answers[k.name]
        if text is None:
            raise guest.HarnessError("qemu-system-x86_64 not found")
        return guest.BootResult(guest.parse_console(text), 1.5, text)

    monkeypatch.setattr(guest, "boot", boot)


def test_every_kernel_agrees(monkeypatch: pytest.MonkeyPatch, spec: str) -> None:
    fake_boot(monkeypatch, {k.name: console((1, 1, 0)) for k in KERNELS})
    code, out, _ = run(["conformance", "--cases", spec])
    assert code == 0
    assert "k_export  6.1     3 steps, counts 1 1 0  3 steps, counts 1 1 0  agree" in out
    assert "v6.1 (Linux 6.1): 1 cases, 1 agree, 0 disagree, 0 not modelled (100 % " \
        "agreement)" in out
    assert "v6.2-6.15 (Linux 6.12): 1 cases, 1 agree" in out


def test_a_disagreement_fails(monkeypatch: pytest.MonkeyPatch, spec: str) -> None:
    fake_boot(monkeypatch, {"6.1": console((1, 2, 0))})
    code, out, _ = run(["conformance", "--cases", spec, "--kernel", "6.1"])
    assert code == 1
    assert "step 1 fd(b0): ok, count 1  ok, count 2  disagree" in out
    assert "1 disagree" in out


def test_a_kernel_that_cannot_run_is_unknown(monkeypatch: pytest.MonkeyPatch,
                                             spec: str) -> None:
    fake_boot(monkeypatch, {"6.1": console((1, 1, 0)), "6.12": None})
    code, out, err = run(["conformance", "--cases", spec])
    assert code == 3
    assert "Linux 6.12: qemu-system-x86_64 not found" in err
    assert "v6.2-6.15 (Linux 6.12): not run" in out


def test_list_prints_the_guest_script(spec: str) -> None:
    code, out, _ = run(["conformance", "--cases", spec, "--list"])
    assert code == 0
    assert out.splitlines() == ["C k_export", "S 0 export 0 via=vgem", "S 1 fd 0", "S 2 close 0",
                                "E"]


def test_a_case_without_the_kernels_driver_is_not_run(monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    f = tmp_path / "u.dmabuf"
    f.write_text(CASE.replace("k_export", "k_udmabuf").replace("gem_prime", "udmabuf"),
                 encoding="utf-8")
    seen: dict[str, str] = {}

    def boot(k: Kernel, script: str, pages: int) -> guest.BootResult:
        seen[k.name] = script
        text = console((1, 1, 0)).replace("k_export", "k_udmabuf")
        return guest.BootResult(guest.parse_console(text), 1.0, text)

    monkeypatch.setattr(guest, "boot", boot)
    code, out, _ = run(["conformance", "--cases", f"{f}"])
    assert code == 0
    assert list(seen) == ["6.12"] and "via=udmabuf" in seen["6.12"]
    assert "Linux 6.1: no case uses its drivers (gem_prime); not booted" in out
    assert "v6.1 (Linux 6.1): 0 cases, 0 agree, 0 disagree, 0 not modelled, 1 not run " \
        "(no driver) (- agreement)" in out
    assert "v6.2-6.15 (Linux 6.12): 1 cases, 1 agree" in out


def test_a_spec_error_exits_2(tmp_path: Path) -> None:
    f = tmp_path / "bad.dmabuf"
    f.write_text(CASE.replace("fd(b0)     -> ok", "attach(b0.a0, importer=static) -> ok"),
                 encoding="utf-8")
    code, _, err = run(["conformance", "--cases", str(f), "--list"])
    assert code == 2
    assert "error[E150]: attach is not a userspace call" in err


def test_an_unknown_kernel_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = run(["conformance", "--kernel", "5.4"])
    assert code == 2 and "invalid choice: '5.4'" in capsys.readouterr().err
