"""The writer: golden files, byte-identical rewrites, no overwriting, atomic writes, ITF
that validates against the schema of output-formats.md with every integer a ``#bigint``."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from checker.counterexample.write import (
    HEADER,
    CounterexampleError,
    CounterexampleExists,
    itf_text,
    render,
    scenario_text,
    write,
)
from checker.problem import Counterexample, Finding
from model.action import Action

GOLDEN = Path(__file__).parent / "golden"
MutantCex = Callable[..., Counterexample]

# output-formats.md, section 2(a): the ITF schema (draft 2020-12) derived from ADR-015
ITF_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["vars", "states"],
    "properties": {
        "#meta": {"type": "object"},
        "params": {"type": "array", "items": {"type": "string"}},
        "vars": {"type": "array", "items": {"type": "string"}},
        "loop": {"type": "integer", "minimum": 0},
        "states": {"type": "array", "items": {
            "type": "object", "properties": {"#meta": {"type": "object"}},
            "additionalProperties": {"$ref": "#/$defs/value"}}},
    },
    "$defs": {"value": {"oneOf": [
        {"type": "boolean"},
        {"type": "string"},
        {"type": "array", "items": {"$ref": "#/$defs/value"}},
        {"type": "object", "required": ["#bigint"], "additionalProperties": False,
         "properties": {"#bigint": {"type": "string", "pattern": "^-?[0-9]+$"}}},
        {"type": "object", "required": ["#tup"], "additionalProperties": False,
         "properties": {"#tup": {"type": "array", "items": {"$ref": "#/$defs/value"}}}},
        {"type": "object", "required": ["#set"], "additionalProperties": False,
         "properties": {"#set": {"type": "array", "items": {"$ref": "#/$defs/value"}}}},
        {"type": "object", "required": ["#map"], "additionalProperties": False,
         "properties": {"#map": {"type": "array", "items": {
             "type": "array", "minItems": 2, "maxItems": 2,
             "items": {"$ref": "#/$defs/value"}}}}},
        {"type": "object", "required": ["#unserializable"], "additionalProperties": False,
         "properties": {"#unserializable": {"type": "string"}}},
        {"type": "object", "required": ["tag", "value"], "additionalProperties": False,
         "properties": {"tag": {"type": "string"}, "value": {"$ref": "#/$defs/value"}}},
        {"type": "object", "minProperties": 0,
         "not": {"anyOf": [{"required": ["#bigint"]}, {"required": ["#tup"]},
                           {"required": ["#set"]}, {"required": ["#map"]},
                           {"required": ["#unserializable"]},
                           {"required": ["tag", "value"], "maxProperties": 2}]},
         "propertyNames": {"pattern": "^[^#]"},
         "additionalProperties": {"$ref": "#/$defs/value"}},
    ]}},
}


def golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("DMABUF_UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


def test_golden_scenario_and_itf(mutant_cex: MutantCex) -> None:
    cex = mutant_cex("double_unmap")
    name = cex.name
    assert name.startswith("R15-unmap-unmapped-")
    golden("double_unmap.dmabuf", scenario_text(cex))
    golden("double_unmap.itf.json", itf_text(cex))


def test_scenario_records_every_outcome(mutant_cex: MutantCex) -> None:
    text = scenario_text(mutant_cex("ttm_move_without_notify"))
    lines = text.splitlines()
    assert lines[0] == HEADER
    assert "# finding: R18 move-without-notify" in lines
    assert '  exporter "model.mutants:MUTANTS.ttm_move_without_notify.exporter"' in lines
    assert "  mode contract" in lines and "  profile v7.x" in lines
    assert lines[-2] == "  move(b0) -> ok, violates R18 move-without-notify"
    assert "2026" not in text and "date" not in text  # nothing that changes between runs


def test_errnos_are_recorded(mutant_cex: MutantCex) -> None:
    """The B12-like udmabuf mutant's begin_cpu_access fails with -ENOMEM and keeps it."""
    text = scenario_text(mutant_cex("udmabuf_begin_cpu_error_pointer"))
    assert "-> -ENOMEM" in text


def test_property_finding_and_relative_import(property_cex: Counterexample,
                                              tmp_path: Path) -> None:
    out = tmp_path / "deep" / "dir"
    text = scenario_text(property_cex, out)
    imports = [line for line in text.splitlines() if line.startswith("import ")]
    assert len(imports) == 1 and imports[0].startswith('import "../')
    assert (out / json.loads(imports[0].split(" ", 1)[1])).resolve().samefile(
        Path(property_cex.problem.imports[0]))
    assert text.splitlines()[-2].endswith(
        "-> ok, violates R18 access-after-move, violates remap_after_move")
    assert "# property: remap_after_move: after a move" in text


def test_same_counterexample_same_bytes(mutant_cex: MutantCex, tmp_path: Path) -> None:
    first = write(mutant_cex("double_put"), tmp_path / "a")
    again = write(mutant_cex("double_put"), tmp_path / "a")
    other = write(mutant_cex("double_put"), tmp_path / "b")
    assert len(first.new) == 2 and again.new == ()
    assert first.scenario.read_bytes() == other.scenario.read_bytes()
    assert first.itf.read_bytes() == other.itf.read_bytes()
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == sorted(
        [first.scenario.name, first.itf.name])


def test_a_different_file_is_never_overwritten(mutant_cex: MutantCex, tmp_path: Path) -> None:
    w = write(mutant_cex("double_put"), tmp_path)
    edited = w.scenario.read_text() + "# a note\n"
    w.scenario.write_text(edited)
    w.itf.unlink()
    with pytest.raises(CounterexampleExists, match="was not overwritten"):
        write(mutant_cex("double_put"), tmp_path)
    assert w.scenario.read_text() == edited
    assert not w.itf.exists()  # nothing of the pair is written


def test_writes_are_atomic(mutant_cex: MutantCex, tmp_path: Path,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    real = os.replace
    calls: list[str] = []

    def failing_second(src: str, dst: str) -> None:
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real(src, dst)

    monkeypatch.setattr(os, "replace", failing_second)
    with pytest.raises(OSError, match="No space"):
        write(mutant_cex("double_put"), tmp_path)
    assert len(calls) == 2
    assert list(tmp_path.iterdir()) == []  # no temporary file, no half of the pair
    monkeypatch.setattr(os, "replace", real)
    assert len(write(mutant_cex("double_put"), tmp_path).new) == 2


def itf_of(cex: Counterexample) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(itf_text(cex))
    return data


def test_itf_validates_against_the_schema(mutant_cex: MutantCex,
                                          property_cex: Counterexample) -> None:
    validator = jsonschema.Draft202012Validator(ITF_SCHEMA)
    for cex in (mutant_cex("double_unmap"), mutant_cex("ttm_move_without_notify"), property_cex):
        data = itf_of(cex)
        validator.validate(data)
        broken = json.loads(json.dumps(data))
        broken["states"][1]["b0"]["kref"] = 1  # a bare JSON number is not ITF
        assert not validator.is_valid(broken)


def numbers(value: Any, path: str = "") -> list[str]:
    """Where a JSON value holds a bare number (booleans are not numbers here)."""
    if isinstance(value, bool):
        return []
    if isinstance(value, (int, float)):
        return [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in numbers(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in numbers(v, f"{path}[{i}]")]
    return []


def test_every_integer_is_a_bigint(mutant_cex: MutantCex, property_cex: Counterexample) -> None:
    for cex in (mutant_cex("double_unmap"), mutant_cex("gem_attach_error_keeps_pin", 2),
                property_cex):
        data = itf_of(cex)
        assert numbers(data) == []
        assert data["#meta"]["seed"] in (None, {"#bigint": "7"})
        states = data["states"]
        assert [s["#meta"]["index"] for s in states] == [
            {"#bigint": str(i)} for i in range(len(states))]
        assert states[0]["#meta"]["action"] == "init"
        assert [s["#meta"]["action"] for s in states[1:]] == [str(a) for a in cex.actions]
        assert data["vars"] == ["b0"] and all(set(s) == {"#meta", "b0"} for s in states)


def test_itf_is_canonical_and_describes_the_trace(mutant_cex: MutantCex) -> None:
    cex = mutant_cex("double_unmap")
    text = itf_text(cex)
    assert text == json.dumps(json.loads(text), sort_keys=True, indent=2) + "\n"
    meta = json.loads(text)["#meta"]
    assert meta["format"] == "ITF" and meta["description"] == "Created by dmabuf-check"
    assert meta["format-version"] == "dmabuf-check counterexample v1"
    assert meta["finding"] == {"property": "rules", "rule": "R15", "tag": "unmap-unmapped"}
    assert (meta["engine"], meta["profile"], meta["scope"], meta["mode"]) == (
        "hand-written", "v6.16+", "1x1", "contract")
    last = json.loads(text)["states"][-1]
    assert [v["tag"] for v in last["#meta"]["violations"]] == ["unmap-unmapped"]
    assert last["b0"]["a0"]["st"] == "attached" and last["b0"]["life"] == "live"


def test_a_trace_that_does_not_show_its_finding_is_refused(mutant_cex: MutantCex) -> None:
    short = mutant_cex("double_unmap", 4)  # stops before the second unmap
    with pytest.raises(CounterexampleError, match="does not show R15 unmap-unmapped"):
        scenario_text(short)


def test_an_illegal_contract_step_is_refused(mutant_cex: MutantCex) -> None:
    cex = mutant_cex("double_unmap")
    bad = Counterexample(cex.problem, cex.finding,
                         (Action.parse("export(b0)"), Action.parse("put(b0)"),
                          Action.parse("put(b0)")), "hand-written")
    with pytest.raises(CounterexampleError, match=r"step 2 put\(b0\) is not a legal call"):
        scenario_text(bad)


def test_an_unknown_property_is_refused(mutant_cex: MutantCex) -> None:
    cex = mutant_cex("double_unmap")
    bad = Counterexample(cex.problem, Finding("no_such"), cex.actions, "hand-written")
    with pytest.raises(CounterexampleError, match="has no property no_such"):
        scenario_text(bad)


def test_render_shows_steps_diffs_and_the_rule(mutant_cex: MutantCex,
                                              property_cex: Counterexample) -> None:
    text = render(mutant_cex("double_unmap"))
    assert "step  2  map_unlocked(b0.a0, dir=TO_DEVICE) -> ok" in text
    assert "b0.a0.s0.dir: 0 -> 2" in text
    assert "-> ok, violates R15 unmap-unmapped  <-- finding" in text
    assert "R15 dma_buf_unmap_attachment" in text and "Every map is paired" in text
    prop = render(property_cex)
    assert "property remap_after_move (response): after a move" in prop
    assert "core.dmabuf:" in prop  # where the property is declared


def values_cex() -> Counterexample:
    """A misuse-mode trace whose steps return values: llseek's size, poll's revents, and
    the finding: poll with no open fd (POLLNVAL, R5 bad-fd)."""
    from checker.problem import RULES, Problem
    from model.exporters import SYSTEM_HEAP
    from model.importers import IMPORTERS
    from model.machine import Model

    m = Model(SYSTEM_HEAP, (IMPORTERS["static"],), "v6.16+", "1x1")
    p = Problem("values", m, "misuse", exporter_ref="system_heap", importer_refs=("static",))
    actions = ("export(b0)", "fd(b0)", "llseek(b0, offset=0, whence=SEEK_END)",
               "poll(b0, events=EPOLLIN)", "import_sync_file(b0, fault=none, fence=pending, "
               "flags=2)", "poll(b0, events=EPOLLOUT)", "signal(b0, usage=WRITE)",
               "close(b0)", "poll(b0, events=EPOLLIN)")
    return Counterexample(p, Finding(RULES, "R5", "bad-fd"),
                          tuple(Action.parse(a) for a in actions), "hand-written")


def test_values_are_recorded_and_replay(tmp_path: Path) -> None:
    from checker.counterexample.replay import Status, replay

    cex = values_cex()
    steps = [line.strip() for line in scenario_text(cex).splitlines() if "->" in line]
    assert steps[2] == "llseek(b0, offset=0, whence=SEEK_END) -> returns 8192"
    assert steps[3] == "poll(b0, events=EPOLLIN) -> returns POLLIN"
    assert steps[5] == "poll(b0, events=EPOLLOUT) -> returns 0"  # not ready: a value, 0
    assert steps[1] == "fd(b0) -> ok"  # a descriptor: the model's 0
    assert steps[-1] == "poll(b0, events=EPOLLIN) -> returns POLLNVAL, violates R5 bad-fd"
    metas = [s["#meta"] for s in json.loads(itf_text(cex))["states"][1:]]
    assert [m.get("returns") for m in metas] == [
        None, None, {"#bigint": "8192"}, {"#bigint": "1"}, None, {"#bigint": "0"}, None,
        None, {"#bigint": "32"}]
    assert {m["errno"] for m in metas} == {"ok"}  # a value is not an error
    w = write(cex, tmp_path)
    for path in (w.scenario, w.itf):
        r = replay(path)
        assert r.status is Status.STILL_FAILS, r
    # a stored value the model no longer gives: the trace diverged
    w.itf.write_text(w.itf.read_text().replace('"8192"', '"4096"'))
    r = replay(w.itf)
    assert r.status is Status.DIVERGED and "expected returns 4096, got returns 8192" in r.message
    assert replay(w.scenario).status is Status.DIVERGED  # beside the scenario too
    data = json.loads(w.itf.read_text())
    data["states"][3]["#meta"]["returns"] = -1
    w.itf.write_text(json.dumps(data))
    r = replay(w.itf)
    assert r.status is Status.ERROR and "#meta.returns must be" in r.message, r
