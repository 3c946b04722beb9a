"""The ``dmabuf-check`` command line, run in-process through ``main(argv)``: every exit
code, the text output against golden files, JSON, JUnit and SARIF reports, counterexamples
written and replayed, ``--jobs`` giving the same verdicts, and the ``replay``, ``scenario``,
``explain`` and ``rules`` subcommands.

Golden files live in ``tests/checker/golden_cli/``; times are replaced by ``X.XXs`` before
comparing. Regenerate them with ``DMABUF_UPDATE_GOLDEN=1 pytest tests/checker/test_cli.py``.
"""

from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from checker.cli import main, shipped_check_files
from checker.dsl.resolve import load
from checker.problem import problems
from model.exporters import EXPORTERS
from model.profiles import PROFILES
from model.rules import RULES

ROOT = Path(__file__).resolve().parents[2]
CORE = (ROOT / "specs" / "rules" / "core.dmabuf").as_posix()
GOLDEN = Path(__file__).parent / "golden_cli"
UPDATE = bool(os.environ.get("DMABUF_UPDATE_GOLDEN"))

PASSING = f'''import "{CORE}"

check small "the system heap with a static importer" {{
  exporter system_heap
  importers static
  profiles v6.1
  scope 1x1
  depth 3
  engines bmc
  properties released_exactly_at_zero, can_release
}}
'''

MUTANT = f'''import "{CORE}"

check double_put "an importer that drops its reference twice" {{
  exporter "model.mutants:MUTANTS.double_put.exporter"
  importers "model.mutants:MUTANTS.double_put.importers"
  profiles v6.16+
  scope 1x1
  depth 4
  engines bmc
  budget 60s
  properties released_exactly_at_zero
}}
'''

TWO_CHECKS = f'''import "{CORE}"

check heap "two profiles, two engines" {{
  exporter system_heap
  importers static, dynamic
  profiles v6.1, v7.x
  scope 1x1
  depth 3
  engines hypothesis, bmc
  seeds 0, 1
  properties released_exactly_at_zero, can_release
}}

check gem "a second check" {{
  exporter gem_prime
  importers static
  profiles v6.16+
  scope 1x1
  depth 3
  engines bmc
  properties clean_at_release
}}
'''

TIMES = re.compile(r"\b\d+\.\d\ds\b")


def normalise(text: str) -> str:
    return TIMES.sub("X.XXs", text)


def golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"missing golden {path}: run with DMABUF_UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8")


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary current directory (paths in the output are relative to it), outside
    CI-specific behaviour."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NO_COLOR", raising=False)
    return tmp_path


def spec(directory: Path, name: str, text: str) -> str:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return name


# ---------------------------------------------------------------- exit 0


def test_a_passing_check_exits_0(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check", spec(work, "ok.dmabuf", PASSING)])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    golden("check_pass.txt", normalise(out))
    assert "Traceback" not in err
    assert not (work / "counterexamples").exists()


# ---------------------------------------------------------------- exit 1


def test_a_violation_exits_1_and_is_written_reported_and_replayable(
        work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    name = spec(work, "bug.dmabuf", MUTANT)
    code = main(["check", name, "--counterexamples", "found", "--junit", "reports/r.xml",
                 "--sarif", "reports/r.sarif", "--itf-dir", "itf"])
    out, err = capsys.readouterr()
    assert code == 1, out + err
    golden("check_violation.txt", normalise(out))
    written = sorted(p.name for p in (work / "found").iterdir())
    assert written == ["R5-put-without-reference-24803261.dmabuf",
                       "R5-put-without-reference-24803261.itf.json"]
    itf = work / "itf" / "R5-put-without-reference-24803261.itf.json"
    assert itf.read_bytes() == (work / "found" / itf.name).read_bytes()

    suite = ET.parse(work / "reports" / "r.xml").getroot()
    assert suite.tag == "testsuites"
    failures = suite.findall(".//failure")
    assert len(failures) == 1 and failures[0].get("type") == "RuleViolation"
    log = json.loads((work / "reports" / "r.sarif").read_text(encoding="utf-8"))
    assert log["version"] == "2.1.0"
    results = log["runs"][0]["results"]
    assert [r["ruleId"] for r in results] == ["R5"]

    # the written counterexample replays, through the CLI
    assert main(["replay", "found"]) == 0
    out, _ = capsys.readouterr()
    assert "still fails" in out and "1 counterexample: 1 still fails" in out
    # a second run finds the same trace and leaves the files as they are
    assert main(["check", name, "--counterexamples", "found", "--format", "json"]) == 1
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert report["exit_code"] == 1 and "warning" not in err
    cex = report["verdicts"][0]["counterexample"]
    assert cex["scenario"] == "found/R5-put-without-reference-24803261.dmabuf"
    assert cex["actions"] == ["export(b0)", "fd(b0)", "put(b0)"]


def test_no_write_writes_nothing(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", spec(work, "bug.dmabuf", MUTANT), "--no-write"]) == 1
    out, _ = capsys.readouterr()
    assert "(not written)" in out
    assert not (work / "counterexamples").exists()


# ---------------------------------------------------------------- exit 3


@pytest.mark.parametrize("engine", ["hypothesis", "bmc"])
def test_an_engine_out_of_budget_exits_3_with_unknown(
        work: Path, capsys: pytest.CaptureFixture[str], engine: str) -> None:
    code = main(["check", spec(work, "ok.dmabuf", PASSING), "--engine", engine,
                 "--time-budget", "0.001", "--format", "json"])
    out, _ = capsys.readouterr()
    assert code == 3, out
    verdicts = json.loads(out)["verdicts"]
    statuses = {v["status"] for v in verdicts}
    assert "unknown" in statuses and "violated" not in statuses
    unknown = [v for v in verdicts if v["status"] == "unknown"]
    assert all("time budget" in v["reason"] or "timeout" in v["reason"]
               for v in unknown), unknown


# ---------------------------------------------------------------- exit 2


@pytest.mark.parametrize("argv, message", [
    (["check", "--engine", "nope"], "invalid choice: 'nope'"),
    (["check", "--jobs", "two"], "invalid int value"),
    (["check", "--time-budget", "0"], "must be a finite number greater than 0"),
    (["check", "--time-budget", "nan"], "must be a finite number greater than 0"),
    (["check", "--time-budget", "inf"], "must be a finite number greater than 0"),
    (["check", "--see", "1"], "unrecognized arguments: --see"),
    (["check", "--jun", "x.xml"], "unrecognized arguments: --jun"),
    (["check", "--seed", "x"], "is not a seed"),
    (["check", "--depth", "0", "ok.dmabuf"], "a depth is at least 1"),
    (["check", "--profile", "v5.4", "ok.dmabuf"], "unknown profile"),
    (["check", "--profile", "v7.x", "ok.dmabuf"], "no check runs under this profile"),
    (["check", "missing.dmabuf"], "missing.dmabuf: no such file"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    ([], "the following arguments are required"),
    (["explain", "R99"], "R99: no such rule"),
    (["explain", "nothing-here"], "nothing-here: no such file"),
    (["replay", "missing"], "missing: no such file"),
    (["scenario", "missing.dmabuf"], "missing.dmabuf: no such file"),
])
def test_usage_errors_exit_2_with_a_message(work: Path, capsys: pytest.CaptureFixture[str],
                                            argv: list[str], message: str) -> None:
    spec(work, "ok.dmabuf", PASSING)
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert message in err, err
    assert "Traceback" not in err + out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from checker.report.outcome import tool_version

    assert main(["--version"]) == 0
    out, _ = capsys.readouterr()
    assert out == f"dmabuf-check {tool_version()}\n"
    assert re.fullmatch(r"\d+\.\d+\.\d+.*|0\+unknown", tool_version())


def test_a_depth_of_zero_in_a_spec_is_an_error_not_the_default(
        work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    name = spec(work, "zero.dmabuf", PASSING.replace("depth 3", "depth 0"))
    assert main(["check", name]) == 2
    _, err = capsys.readouterr()
    assert "error[E113]: depth 0: a check explores 1 to 1000 steps" in err


def test_a_spec_error_exits_2_with_located_diagnostics(
        work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    name = spec(work, "bad.dmabuf", 'check broken {\n  exporter nonesuch\n  depth 4\n}\n')
    assert main(["check", name]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    golden("spec_error.txt", err)
    assert err.startswith("bad.dmabuf:1:1: error[E104]: unknown exporter 'nonesuch'")


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--help"]) == 0
    out, _ = capsys.readouterr()
    for option in ("--junit", "--sarif", "--jobs", "--itf-dir", "--counterexamples"):
        assert option in out


# ---------------------------------------------------------------- parallel runs


def _facts(report: str) -> list[tuple[object, ...]]:
    return [(v["check"], v["profile"], v["property"], v["engine"], v["status"], v["depth"],
             json.dumps(v["counterexample"]))
            for v in json.loads(report)["verdicts"]]


def test_jobs_2_gives_the_same_verdicts_as_jobs_1(
        work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    name = spec(work, "two.dmabuf", TWO_CHECKS)
    code = main(["check", name, "--jobs", "1", "--format", "json", "--examples", "50"])
    one, _ = capsys.readouterr()
    assert main(["check", name, "--jobs", "2", "--format", "json", "--examples", "50"]) == code
    two, _ = capsys.readouterr()
    assert _facts(one) == _facts(two)
    # two profiles x (two seeds of hypothesis + bmc) for heap, and gem: in check order
    runs = [(check, profile, engine)
            for check, profile, prop, engine, *_ in _facts(one) if prop == "rules"]
    assert runs == [
        ("heap[v6.1]", "v6.1", "hypothesis"), ("heap[v6.1]", "v6.1", "hypothesis"),
        ("heap[v6.1]", "v6.1", "bmc"), ("heap[v7.x]", "v7.x", "hypothesis"),
        ("heap[v7.x]", "v7.x", "hypothesis"), ("heap[v7.x]", "v7.x", "bmc"),
        ("gem", "v6.16+", "bmc")]


def test_profile_and_engine_restrict_the_runs(work: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    name = spec(work, "two.dmabuf", TWO_CHECKS)
    assert main(["check", name, "--profile", "v7.x", "--engine", "bmc", "--depth", "2",
                 "--format", "json"]) == 0
    verdicts = json.loads(capsys.readouterr().out)["verdicts"]
    assert {(v["check"], v["engine"]) for v in verdicts} == {("heap[v7.x]", "bmc")}
    assert {v["depth"] for v in verdicts if v["status"] == "holds"} == {2}


# ---------------------------------------------------------------- the shipped checks


def test_the_shipped_checks_cover_every_exporter_and_profile() -> None:
    files = shipped_check_files()
    assert [Path(f).relative_to(ROOT / "specs").as_posix() for f in files] == [
        "checks/drivers.dmabuf", "checks/reference.dmabuf"]
    lib = load([f for f in files if f.endswith("reference.dmabuf")])
    core = set(load([CORE]).properties)
    covered: dict[str, set[tuple[str, str]]] = {}
    for check in lib.checks.values():
        assert check.mode == "contract"
        assert {p.decl.name for p in check.properties} == core
        for problem in problems(check):
            for engine in check.engines:
                covered.setdefault(engine, set()).add(
                    (problem.exporter_ref, problem.model.profile.name))
    assert set(covered) == {"hypothesis", "bmc", "prove"}
    for engine, pairs in covered.items():
        assert {e for e, _ in pairs} == set(EXPORTERS), engine
        assert {p for _, p in pairs} == set(PROFILES), engine


def test_the_shipped_checks_cover_every_driver_with_every_engine() -> None:
    from checker.validate import shipped_importers

    lib = load([f for f in shipped_check_files() if f.endswith("drivers.dmabuf")])
    covered: dict[str, set[str]] = {}
    for check in lib.checks.values():
        assert check.mode == "contract"
        drivers = [b.name for b in (check.exporter, *check.importers) if b.routines]
        assert drivers, check.decl.name
        for engine in check.engines:
            covered.setdefault(engine, set()).update(drivers)
    assert set(covered) == {"hypothesis", "bmc", "prove"}
    for engine, names in covered.items():
        assert names >= set(shipped_importers()) | {"dma_heap"}, engine


def test_specs_without_checks_load_and_pass(work: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(ROOT / "specs" / "exporters" / "ttm.dmabuf")]) == 0
    assert "no check blocks" in capsys.readouterr().err


# ---------------------------------------------------------------- replay


def test_replay_exit_codes(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    kept = ROOT / "counterexamples" / "R18-access-after-move-736297ae.dmabuf"
    assert main(["replay", str(kept)]) == 0
    assert "still fails" in capsys.readouterr().out
    # the same trace with a correct importer: the last step is no longer legal, so fixed
    fixed = work / "fixed.dmabuf"
    fixed.write_text(kept.read_text(encoding="utf-8").replace(
        'importers "model.mutants:MUTANTS.access_after_move_notify.importers"',
        "importers dynamic").replace("importer=access_after_move_notify",
                                     "importer=dynamic"), encoding="utf-8")
    assert main(["replay", "fixed.dmabuf"]) == 1
    out = capsys.readouterr().out
    assert "fixed.dmabuf: fixed" in out
    (work / "junk.dmabuf").write_text("scenario x {}\n", encoding="utf-8")
    assert main(["replay", "junk.dmabuf", str(kept)]) == 2
    assert "junk.dmabuf: error" in capsys.readouterr().out


def test_replay_with_nothing_to_replay(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay"]) == 0
    assert "nothing to replay" in capsys.readouterr().out


# ---------------------------------------------------------------- scenario, explain, rules


def test_scenario_shows_every_step(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = ROOT / "specs" / "scenarios" / "refcount.dmabuf"
    assert main(["scenario", str(path)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"scenarios: \d+ passed, 0 failed", out)
    assert "export(b0)" in out


def test_a_failing_scenario_exits_1(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    name = spec(work, "s.dmabuf", 'scenario wrong "expects an error" {\n  exporter system_heap\n'
                "  importers static\n  scope 1x1\n"
                "  export(b0) -> -EINVAL\n}\n")
    assert main(["scenario", name]) == 1
    assert "scenarios: 0 passed, 1 failed" in capsys.readouterr().out


def test_explain_a_rule(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "r18"]) == 0
    out = capsys.readouterr().out
    golden("explain_R18.txt", out)
    r = RULES["R18"]
    assert all(f in out for f in r.kernel_functions)
    assert "where kernel versions differ" in out


def test_explain_a_counterexample(capsys: pytest.CaptureFixture[str]) -> None:
    path = ROOT / "counterexamples" / "R18-access-after-move-736297ae.dmabuf"
    assert main(["explain", str(path)]) == 0
    out = capsys.readouterr().out
    assert "<-- finding" in out and "b0.a0.s0.stale: 0 -> 1" in out
    assert "replay: still fails" in out


def test_rules_lists_the_catalogue(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules"]) == 0
    lines = capsys.readouterr().out.splitlines()
    ids = [line.split()[0] for line in lines[1:] if re.match(r"R\d+ ", line)]
    assert ids == list(RULES)


def test_python_m_checker_is_the_cli() -> None:
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "checker", "explain", "R5"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("R5  ")
