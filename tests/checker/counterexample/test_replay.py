"""Replay: still fails, fixed, diverged and error, for scenario files and ITF traces."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from checker.counterexample.__main__ import main
from checker.counterexample.replay import ReplayResult, Status, parse_finding, replay
from checker.counterexample.write import WrittenFiles, write
from checker.problem import RULES, Counterexample, Finding

MutantCex = Callable[..., Counterexample]


@pytest.fixture
def vmap_leak(mutant_cex: MutantCex, tmp_path: Path) -> WrittenFiles:
    """The B16-like system heap whose vunmap keeps its kernel mapping (R25)."""
    return write(mutant_cex("heap_vunmap_keeps_mapping"), tmp_path)


def edited(path: Path, old: str, new: str, name: str = "") -> Path:
    text = path.read_text()
    assert old in text
    target = path.with_name(name) if name else path
    target.write_text(text.replace(old, new))
    return target


def test_still_fails(vmap_leak: WrittenFiles) -> None:
    for path in (vmap_leak.scenario, vmap_leak.itf):
        r = replay(path)
        assert r.status is Status.STILL_FAILS and r.passed, r
        assert r.message == "still fails: step 3 vunmap(b0) violates R25 vmap-leak"


def test_a_property_finding_still_fails(property_cex: Counterexample, tmp_path: Path) -> None:
    w = write(property_cex, tmp_path / "sub")
    for path in (w.scenario, w.itf):
        r = replay(path)
        assert r.status is Status.STILL_FAILS, r
        assert r.message.endswith("access(b0.a0, slot=0) breaks property remap_after_move")


def test_fixed_when_the_correct_exporter_is_named(vmap_leak: WrittenFiles) -> None:
    path = edited(vmap_leak.scenario,
                  'exporter "model.mutants:MUTANTS.heap_vunmap_keeps_mapping.exporter"',
                  "exporter system_heap", "fixed.dmabuf")
    r = replay(path)
    assert r.status is Status.FIXED, r
    assert r.message == ("fixed: step 3 vunmap(b0) no longer violates R25 vmap-leak "
                         "(now: ok, no violation)")
    assert "b0.vmap_cnt: 1 -> 0" in r.details


def test_fixed_itf(vmap_leak: WrittenFiles) -> None:
    data = json.loads(vmap_leak.itf.read_text())
    data["#meta"]["exporter"] = "system_heap"
    fixed = vmap_leak.itf.with_name("fixed.itf.json")
    fixed.write_text(json.dumps(data))
    assert replay(fixed).status is Status.FIXED


def test_fixed_importer_makes_the_call_illegal(mutant_cex: MutantCex, tmp_path: Path) -> None:
    """With an importer that keeps its obligation, the double put is no longer a legal call
    in contract mode: the bug cannot happen."""
    w = write(mutant_cex("double_put"), tmp_path)
    text = w.scenario.read_text()
    text = text.replace('importers "model.mutants:MUTANTS.double_put.importers"',
                        "importers static").replace("importer=double_put", "importer=static")
    path = w.scenario.with_name("fixed.dmabuf")
    path.write_text(text)
    r = replay(path)
    assert r.status is Status.FIXED, r
    assert "no longer a legal call in contract mode" in r.message


def test_diverged_when_an_errno_changes(vmap_leak: WrittenFiles) -> None:
    path = edited(vmap_leak.scenario, "lock(b0) -> ok", "lock(b0) -> -EBUSY", "div.dmabuf")
    r = replay(path)
    assert r.status is Status.DIVERGED and not r.passed
    assert r.message.startswith("diverged at step 1 lock(b0) (before the step that shows "
                                "R25 vmap-leak): expected -EBUSY, got ok [")
    assert "div.dmabuf:16:3]" in r.message


def test_diverged_when_the_last_step_changes_otherwise(vmap_leak: WrittenFiles) -> None:
    path = edited(vmap_leak.scenario, "vunmap(b0) -> ok, violates", "vunmap(b0) -> -EINVAL, "
                  "violates", "div.dmabuf")
    r = replay(path)
    assert r.status is Status.DIVERGED
    assert "step 3 vunmap(b0): expected -EINVAL, got ok" in r.message


def test_diverged_itf_state(vmap_leak: WrittenFiles) -> None:
    data = json.loads(vmap_leak.itf.read_text())
    data["states"][2]["b0"]["kref"] = {"#bigint": "7"}
    vmap_leak.itf.write_text(json.dumps(data))
    for path in (vmap_leak.scenario, vmap_leak.itf):
        r = replay(path)
        assert r.status is Status.DIVERGED, r
        assert r.message.endswith("state 2 (after lock(b0)): b0.kref: recorded 7, the model "
                                  "gives 1")


def test_reworded_messages_do_not_diverge(vmap_leak: WrittenFiles) -> None:
    data = json.loads(vmap_leak.itf.read_text())
    data["states"][-1]["#meta"]["violations"][0]["message"] = "said differently"
    vmap_leak.itf.write_text(json.dumps(data))
    assert replay(vmap_leak.scenario).status is Status.STILL_FAILS
    data["states"][-1]["#meta"]["violations"][0]["tag"] = "vmap-lake"
    vmap_leak.itf.write_text(json.dumps(data))
    r = replay(vmap_leak.scenario)
    assert r.status is Status.DIVERGED and "state 4 (after vunmap(b0)): #meta.violations" in \
        r.message


def test_diverged_itf_meta(vmap_leak: WrittenFiles) -> None:
    data = json.loads(vmap_leak.itf.read_text())
    data["#meta"]["scope"] = "2x2"
    vmap_leak.itf.write_text(json.dumps(data))
    r = replay(vmap_leak.scenario)
    assert r.status is Status.DIVERGED and '#meta.scope: recorded "2x2"' in r.message


@pytest.mark.parametrize("damage, expected", [
    (lambda t: t.replace("scope 1x1", "scope 1x1 {"), ":11:13: error[E001]: unexpected '{'"),
    (lambda t: t.replace("counterexample v1", "counterexample v2"),
     ":1:1: unknown counterexample format version v2; this dmabuf-check reads v1"),
    (lambda t: t.split("\n", 1)[1], ":1:1: not a dmabuf-check counterexample"),
    (lambda t: t.replace("# finding: R25 vmap-leak\n", ""), ":2:1: the header has no "
     "'# finding:' line"),
    (lambda t: t.replace("# finding: R25 vmap-leak", "# finding: R25 vmap-lake"),
     "the last step does not record the finding R25 vmap-lake"),
    (lambda t: t.replace("MUTANTS.heap_vunmap_keeps_mapping.exporter", "MUTANTS.nope.exporter"),
     ":12:12: error[E125]: 'model.mutants:MUTANTS' has no key 'nope'"),
    (lambda t: t + "scenario extra {\n  exporter system_heap\n  export(b0)\n}\n",
     "a counterexample holds exactly one scenario; this one holds 2"),
])
def test_unreadable_scenarios_are_errors(vmap_leak: WrittenFiles,
                                         damage: Callable[[str], str], expected: str) -> None:
    path = vmap_leak.scenario
    path.write_text(damage(path.read_text()))
    r = replay(path)
    assert r.status is Status.ERROR, r
    assert r.message.startswith(f"error: {path}") and expected in r.message, r.message


def test_corrupted_bytes_and_missing_files(vmap_leak: WrittenFiles, tmp_path: Path) -> None:
    path = vmap_leak.scenario
    path.write_bytes(b"\xff\xfe" + path.read_bytes())
    assert ":1:1: not UTF-8 text (byte 0xff)" in replay(path).message
    gone = replay(tmp_path / "gone.dmabuf")
    assert gone.status is Status.ERROR and "cannot read" in gone.message


@pytest.mark.parametrize("damage, expected, beside", [
    (lambda t: t[:300], ": not valid JSON (", Status.ERROR),
    (lambda t: t.replace('"dmabuf-check counterexample v1"', '"dmabuf-check counterexample v9"'),
     "unknown counterexample format version v9", Status.ERROR),
    (lambda t: json.dumps({"vars": [], "states": []}), "not an ITF trace with a #meta object",
     Status.ERROR),
    (lambda t: t.replace('"action": "lock(b0)"', '"action": "lock b0"'),
     "state 2: cannot read action 'lock b0'", Status.DIVERGED),
    (lambda t: t.replace('"errno": "ok"', '"errno": 0', 1), "#meta.errno must be",
     Status.DIVERGED),
])
def test_unreadable_itf_is_an_error(vmap_leak: WrittenFiles, damage: Callable[[str], str],
                                    expected: str, beside: Status) -> None:
    """Replayed on its own, a damaged ITF trace is an error; beside a scenario, a trace that
    cannot be read is an error too, and one whose step records differ from the run has
    diverged."""
    path = vmap_leak.itf
    path.write_text(damage(path.read_text()))
    r = replay(path)
    assert r.status is Status.ERROR, r
    assert expected in r.message, r.message
    assert replay(vmap_leak.scenario).status is beside


def test_parse_finding() -> None:
    assert parse_finding(" R18 access-after-move ") == Finding(RULES, "R18", "access-after-move")
    assert parse_finding("SCOPE") == Finding(RULES, "SCOPE", "")
    assert parse_finding("remap_after_move") == Finding("remap_after_move")
    with pytest.raises(ValueError):
        parse_finding("  ")


def test_result_text() -> None:
    r = ReplayResult(Path("x.dmabuf"), Status.FIXED, "fixed: ...", "details")
    assert str(r) == "x.dmabuf: fixed: ...\ndetails" and not r.passed


def test_command(vmap_leak: WrittenFiles, tmp_path: Path) -> None:
    out = io.StringIO()
    assert main([str(vmap_leak.scenario)], out) == 0
    assert "still fails" in out.getvalue()
    fixed = edited(vmap_leak.scenario,
                   'exporter "model.mutants:MUTANTS.heap_vunmap_keeps_mapping.exporter"',
                   "exporter system_heap", "fixed.dmabuf")
    assert main([str(vmap_leak.scenario), str(fixed)], io.StringIO()) == 1
    assert main([str(tmp_path / "none.dmabuf"), str(fixed)], io.StringIO()) == 2
