"""``dmabuf-check conformance --trace``: the traced boot of the cases that break no rule,
its trace written and checked (the QEMU boot replaced by recorded console output)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from checker.cli import main
from checker.conformance import guest
from checker.conformance.kernels import Kernel
from checker.trace import probes

DATA = Path(__file__).parent / "data"
CASES = """scenario k_export "export and close" {
  exporter gem_prime
  importers static
  export(b0) -> ok
  fd(b0)     -> ok
  close(b0)  -> ok
}

scenario k_close_twice "the second close is EBADF" {
  exporter gem_prime
  importers static
  export(b0) -> ok
  fd(b0)     -> ok
  close(b0)  -> ok
  close(b0)  -> -EBADF, violates R5 bad-fd
}
"""
ANSWERS = ("@@ case k_export\n@@ step 0 0 0 1\n@@ step 1 0 0 1\n@@ step 2 0 0 0\n"
           "@@ end k_export 0\n@@ case k_close_twice\n@@ step 0 0 0 1\n@@ step 1 0 0 1\n"
           "@@ step 2 0 0 0\n@@ step 3 -1 9 0\n@@ end k_close_twice 0\n@@ done 2\n")


def fake_boot(monkeypatch: pytest.MonkeyPatch, trace: str, seen: list[str]) -> None:
    def boot(k: Kernel, script: str, pages: int, trace_probes: str = "") -> guest.BootResult:
        if not trace_probes:
            return guest.BootResult(guest.parse_console(ANSWERS), 1.0, ANSWERS)
        seen.append(script)
        assert trace_probes == probes.shell(probes.LAYOUTS[k.name])
        console = f"@@ trace begin\r\n{trace}@@ trace end\r\n@@ done 1\n"
        return guest.BootResult({}, 1.0, console, guest.trace_of(console))

    monkeypatch.setattr(guest, "boot", boot)


def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, trace: str
        ) -> tuple[int, str, str, list[str]]:
    spec = tmp_path / "k.dmabuf"
    spec.write_text(CASES, encoding="utf-8")
    seen: list[str] = []
    fake_boot(monkeypatch, trace, seen)
    out, err = io.StringIO(), io.StringIO()
    code = main(["conformance", "--cases", str(spec), "--kernel", "6.1", "--trace",
                 str(tmp_path)], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue(), seen


def test_the_recorded_trace_is_written_and_checked(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    trace = (DATA / "guest-6.1.txt").read_text()
    code, out, err, seen = run(tmp_path, monkeypatch, trace)
    assert code == 0, err
    # only the case that breaks no rule is traced
    assert seen == ["C k_export\nS 0 export 0 via=vgem\nS 1 fd 0\nS 2 close 0\nE\n"]
    assert (tmp_path / "trace-6.1.txt").read_text() == trace
    assert "Linux 6.1: trace " in out and ": clean, 726 events consumed" in out


def test_a_trace_with_a_violation_fails_the_run(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, err, _ = run(tmp_path, monkeypatch, (DATA / "double-put.txt").read_text())
    assert code == 1
    assert "R5 put-without-reference" in out and "is not clean on the model" in err


def test_a_trace_without_events_fails_the_run(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, err, _ = run(tmp_path, monkeypatch, "# tracer: nop\n")
    assert code == 1 and "has no dma-buf event" in err


def test_trace_of_reads_between_the_markers() -> None:
    assert guest.trace_of("noise\r\n@@ trace begin\r\na\r\nb\r\n@@ trace end\r\n") == "a\nb\n"
    assert guest.trace_of("@@ trace begin\nno end") == ""
