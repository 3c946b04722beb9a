"""SARIF: every field GitHub code scanning requires (output-formats.md 2(b)), the golden
log, code flows that point at the counterexample's step lines, levels, fingerprints that
survive a move of the checkout, and a log built from a real engine run.

``github_problems(log)`` is the required-field check: it lists what GitHub would reject or
mishandle, so a test asserts it is empty. Regenerate the golden log after a deliberate
change with ``DMABUF_UPDATE_GOLDEN=1 pytest tests/checker/report`` and read the diff.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import pytest

from checker.counterexample.write import record, render, write
from checker.engines.symbolic.bmc import bmc
from checker.problem import RULES, Counterexample, Finding, Problem, Status, Verdict
from checker.report.outcome import written
from checker.report.sarif import (
    FINGERPRINT,
    LEVELS,
    SCHEMA,
    fingerprint,
    sarif_log,
    sarif_text,
    write_sarif,
)
from model.action import Action
from model.mutants import MUTANTS
from model.rules import RULES as RULEBOOK

GOLDEN = Path(__file__).parent / "golden"
LEVEL_VALUES = {"none", "note", "warning", "error"}


# ---------------------------------------------------------------- GitHub's required fields


def _text(obj: Any, where: str, out: list[str], limit: int | None = None) -> None:
    """A required non-empty string (GitHub does not accept the empty string)."""
    if not isinstance(obj, str) or not obj.strip():
        out.append(f"{where}: a non-empty string is required, got {obj!r}")
    elif limit is not None and len(obj) > limit:
        out.append(f"{where}: longer than {limit} characters ({len(obj)})")


def _location(loc: Any, where: str, out: list[str]) -> None:
    if not isinstance(loc, dict) or not isinstance(loc.get("physicalLocation"), dict):
        out.append(f"{where}.physicalLocation: required")
        return
    phys = loc["physicalLocation"]
    art = phys.get("artifactLocation")
    if not isinstance(art, dict):
        out.append(f"{where}.physicalLocation.artifactLocation: required")
    else:
        uri = art.get("uri")
        _text(uri, f"{where}...artifactLocation.uri", out)
        if isinstance(uri, str) and not uri.startswith("file:"):
            if uri.startswith("/") or ":" in uri.split("/")[0]:
                out.append(f"{where}: relative uri expected, got {uri}")
            if "uriBaseId" not in art:
                out.append(f"{where}: a relative uri needs a uriBaseId")
            if ".." in uri.split("/"):
                out.append(f"{where}: uri {uri} leaves the source root")
    region = phys.get("region")
    if not isinstance(region, dict):
        out.append(f"{where}.physicalLocation.region: required")
        return
    for key in ("startLine", "startColumn", "endLine", "endColumn"):
        value = region.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            out.append(f"{where}.region.{key}: a positive integer is required, got {value!r}")
    if all(isinstance(region.get(k), int) for k in ("startLine", "endLine", "startColumn",
                                                     "endColumn")):
        start = (region["startLine"], region["startColumn"])
        end = (region["endLine"], region["endColumn"])
        if end < start:
            out.append(f"{where}.region: ends {end} before it starts {start}")


def github_problems(log: Any) -> list[str]:
    """What GitHub code scanning requires of a SARIF log (output-formats.md 2(b)) and this
    log lacks, as messages; empty when the log is acceptable."""
    out: list[str] = []
    if not isinstance(log, dict):
        return ["the log is not an object"]
    _text(log.get("$schema"), "$schema", out)
    if log.get("version") != "2.1.0":
        out.append(f"version: 2.1.0 required, got {log.get('version')!r}")
    runs = log.get("runs")
    if not isinstance(runs, list) or not runs:
        return [*out, "runs: a non-empty array is required"]
    if len(runs) > 20:
        out.append("runs: at most 20 per file")
    for r, run in enumerate(runs):
        at = f"runs[{r}]"
        driver = run.get("tool", {}).get("driver") if isinstance(run, dict) else None
        if not isinstance(driver, dict):
            out.append(f"{at}.tool.driver: required")
            continue
        _text(driver.get("name"), f"{at}.tool.driver.name", out)
        rules = driver.get("rules")
        if not isinstance(rules, list):
            out.append(f"{at}.tool.driver.rules: an array is required")
            rules = []
        if len(rules) > 25_000:
            out.append(f"{at}: more than 25,000 rules")
        ids: list[Any] = []
        for i, rule in enumerate(rules):
            rat = f"{at}.tool.driver.rules[{i}]"
            _text(rule.get("id"), f"{rat}.id", out)
            ids.append(rule.get("id"))
            if "name" in rule:
                _text(rule["name"], f"{rat}.name", out, 255)
            _text(rule.get("shortDescription", {}).get("text"), f"{rat}.shortDescription.text",
                  out, 1024)
            _text(rule.get("fullDescription", {}).get("text"), f"{rat}.fullDescription.text",
                  out, 1024)
            _text(rule.get("help", {}).get("text"), f"{rat}.help.text", out)
            level = rule.get("defaultConfiguration", {}).get("level", "warning")
            if level not in ("note", "warning", "error"):
                out.append(f"{rat}.defaultConfiguration.level: {level!r}")
            tags = rule.get("properties", {}).get("tags", [])
            if len(tags) > 20:
                out.append(f"{rat}: more than 20 tags")
        if len(set(ids)) != len(ids):
            out.append(f"{at}.tool.driver.rules: duplicate ids")
        results = run.get("results")
        if not isinstance(results, list):
            out.append(f"{at}.results: an array is required (even when empty)")
            continue
        if len(results) > 25_000:
            out.append(f"{at}: more than 25,000 results")
        for k, res in enumerate(results):
            rat = f"{at}.results[{k}]"
            _text(res.get("message", {}).get("text"), f"{rat}.message.text", out)
            if "level" in res and res["level"] not in LEVEL_VALUES:
                out.append(f"{rat}.level: {res['level']!r}")
            if "ruleIndex" in res:
                idx = res["ruleIndex"]
                if not isinstance(idx, int) or not 0 <= idx < len(rules):
                    out.append(f"{rat}.ruleIndex {idx!r} out of range")
                elif "ruleId" in res and rules[idx].get("id") != res["ruleId"]:
                    out.append(f"{rat}: ruleIndex {idx} is {rules[idx].get('id')}, "
                               f"not {res['ruleId']}")
            elif "ruleId" in res and res["ruleId"] not in ids:
                out.append(f"{rat}.ruleId {res['ruleId']} is not a rule of the driver")
            locs = res.get("locations")
            if not isinstance(locs, list) or not locs:
                out.append(f"{rat}.locations: at least one is required")
            else:
                if len(locs) > 10:
                    out.append(f"{rat}.locations: at most 10")
                for j, loc in enumerate(locs):
                    _location(loc, f"{rat}.locations[{j}]", out)
            fps = res.get("partialFingerprints")
            if not isinstance(fps, dict) or not fps:
                out.append(f"{rat}.partialFingerprints: required")
            for f, flow in enumerate(res.get("codeFlows", [])):
                for t, thread in enumerate(flow.get("threadFlows", [])):
                    tlocs = thread.get("locations", [])
                    if not tlocs or len(tlocs) > 10_000:
                        out.append(f"{rat}.codeFlows[{f}].threadFlows[{t}]: 1..10,000 "
                                   "locations")
                    for j, tl in enumerate(tlocs):
                        _location(tl.get("location"),
                                  f"{rat}.codeFlows[{f}].threadFlows[{t}].locations[{j}]", out)
            for j, loc in enumerate(res.get("relatedLocations", [])):
                _location(loc, f"{rat}.relatedLocations[{j}]", out)
    return out


def test_the_required_field_check_catches_omissions(gate_run: Any) -> None:
    """The checker itself: each required field, removed or emptied, is reported."""
    log = sarif_log(gate_run.verdicts, gate_run.files, root=gate_run.root)
    assert github_problems(log) == []
    breakages = [
        lambda g: g.pop("$schema"),
        lambda g: g["runs"][0]["tool"]["driver"].pop("rules"),
        lambda g: g["runs"][0]["tool"]["driver"]["rules"][0]["help"].pop("text"),
        lambda g: g["runs"][0]["tool"]["driver"]["rules"][0]["fullDescription"].update(
            text=""),
        lambda g: g["runs"][0].pop("results"),
        lambda g: g["runs"][0]["results"][0].pop("partialFingerprints"),
        lambda g: g["runs"][0]["results"][0].update(locations=[]),
        lambda g: g["runs"][0]["results"][0]["locations"][0]["physicalLocation"][
            "region"].pop("endColumn"),
        lambda g: g["runs"][0]["results"][0]["locations"][0]["physicalLocation"][
            "artifactLocation"].pop("uriBaseId"),
        lambda g: g["runs"][0]["results"][0].update(ruleIndex=0),
        lambda g: g["runs"][0]["results"][0]["codeFlows"][0]["threadFlows"][0][
            "locations"][0]["location"]["physicalLocation"].pop("region"),
    ]
    for i, breakage in enumerate(breakages):
        broken = copy.deepcopy(log)
        breakage(broken)
        assert github_problems(broken), f"breakage {i} went unnoticed"


# ---------------------------------------------------------------- the log


def test_golden_log(gate_run: Any, kit: Any) -> None:
    text = kit.normalise(sarif_text(gate_run.verdicts, gate_run.files, root=gate_run.root,
                                    information=kit.info, category="dmabuf-check/gate"))
    path = GOLDEN / "gate.sarif"
    if os.environ.get("DMABUF_UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


def test_log_meets_github_requirements(gate_run: Any) -> None:
    log = sarif_log(gate_run.verdicts, gate_run.files, root=gate_run.root)
    assert github_problems(log) == []
    assert log["$schema"] == SCHEMA
    run = log["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "dmabuf-check" and driver["version"]
    assert driver["informationUri"].startswith("https://")
    assert "automationDetails" not in run  # only with a category


def test_rules_come_from_the_catalogue(gate_run: Any) -> None:
    log = sarif_log(gate_run.verdicts, gate_run.files, root=gate_run.root)
    rules = {r["id"]: r for r in log["runs"][0]["tool"]["driver"]["rules"]}
    assert set(RULEBOOK) <= set(rules)
    for rid, r in RULEBOOK.items():
        d = rules[rid]
        assert r.title in d["shortDescription"]["text"]
        assert d["fullDescription"]["text"] == " ".join(r.summary.split())
        for fn in r.kernel_functions:
            assert fn in d["help"]["text"] and f"`{fn}()`" in d["help"]["markdown"]
        assert d["defaultConfiguration"]["level"] == LEVELS[r.consequences[0]]
    # the properties the verdicts name, and the stand-in for all rules (an unknown answer)
    assert {"property/remap_after_move", "property/can_vmap", "property/can_share",
            "rules"} <= set(rules)
    assert rules["property/can_vmap"]["defaultConfiguration"]["level"] == "warning"


def test_one_result_per_failing_finding(gate_run: Any) -> None:
    run = sarif_log(gate_run.verdicts, gate_run.files, root=gate_run.root)["runs"][0]
    got = [(r["ruleId"], r["level"], r["properties"]["status"], r["properties"]["engines"])
           for r in run["results"]]
    assert got == [
        ("R15", "error", "violated", ["hypothesis", "bmc"]),  # one trace, two engines
        ("R18", "error", "violated", ["hypothesis"]),
        ("property/remap_after_move", "error", "violated", ["hypothesis"]),
        ("property/can_vmap", "warning", "unwitnessed", ["hypothesis"]),
        ("rules", "note", "unknown", ["k-induction"]),
        ("property/can_share", "note", "unknown", ["hypothesis"]),
    ]
    notes = run["invocations"][0]["toolExecutionNotifications"]
    assert [n["properties"]["status"] for n in notes] == ["unknown", "unknown"]


def test_level_follows_the_kernel_consequence(gate_run: Any) -> None:
    """R15's double unmap is silent corruption: an error. Detaching while mapped leaks the
    mapping: a warning."""
    assert LEVELS[RULEBOOK["R15"].consequences[0]] == "error"
    leak = MUTANTS["detach_while_mapped"]
    p = Problem("leak", leak.model("1x1"), "contract",
                exporter_ref=f"model.mutants:MUTANTS.{leak.name}.exporter",
                importer_refs=(f"model.mutants:MUTANTS.{leak.name}.importers",),
                where=gate_run.verdicts[0].problem.where)
    cex = Counterexample(p, Finding(RULES, leak.rule, leak.tag),
                         tuple(Action.parse(a) for a in leak.witness), "bmc")
    v = Verdict(p, RULES, Status.VIOLATED, "bmc", len(cex.actions), cex)
    (res,) = sarif_log([v], root=gate_run.root)["runs"][0]["results"]
    severity = next(x.severity for x in record(cex)[-1].violations if x.rule == leak.rule)
    assert str(severity) == "leak" and res["level"] == LEVELS[severity] == "warning"


def test_locations_point_at_the_dsl(gate_run: Any) -> None:
    run = sarif_log(gate_run.verdicts, gate_run.files, root=gate_run.root)["runs"][0]
    for res in run["results"]:
        phys = res["locations"][0]["physicalLocation"]
        path = gate_run.root / phys["artifactLocation"]["uri"]
        line = path.read_text(encoding="utf-8").splitlines()[phys["region"]["startLine"] - 1]
        prop = res["properties"]["property"]
        if prop == RULES:  # the check block
            assert line.startswith(f"check {res['properties']['check']} ")
        else:  # the property's declaration
            assert line.startswith(f"property {prop} ")
        assert phys["region"]["endColumn"] == len(line) + 1


def test_code_flow_steps_are_the_counterexample_lines(gate_run: Any) -> None:
    run = sarif_log(gate_run.verdicts, gate_run.files, root=gate_run.root)["runs"][0]
    violated = [v for v in gate_run.verdicts if v.status is Status.VIOLATED]
    flows = [r for r in run["results"] if r["properties"]["status"] == "violated"]
    assert len(flows) == 3
    for res in flows:
        cex = next(v.counterexample for v in violated
                   if v.counterexample is not None
                   and v.counterexample.name == res["properties"]["counterexample"])
        steps = res["codeFlows"][0]["threadFlows"][0]["locations"]
        assert len(steps) == len(cex.actions)
        file = gate_run.files[cex.name].scenario
        lines = file.read_text(encoding="utf-8").splitlines()
        for i, (step, action) in enumerate(zip(steps, cex.actions, strict=True)):
            phys = step["location"]["physicalLocation"]
            assert gate_run.root / phys["artifactLocation"]["uri"] == file
            line = lines[phys["region"]["startLine"] - 1]
            assert line.strip().startswith(str(action)), (line, action)
            assert step["location"]["message"]["text"].startswith(f"step {i}: {action} -> ")
            assert step["executionOrder"] == i
        assert "(the finding)" in steps[-1]["location"]["message"]["text"]
        assert steps[-1]["importance"] == "essential"
        # the state changes are those of the text trace
        trace = render(cex)
        for step in steps:
            for name, change in step.get("state", {}).items():
                assert f"{name}: {change['text']}" in trace


def test_no_code_flow_without_a_written_file(gate_run: Any) -> None:
    run = sarif_log(gate_run.verdicts, {}, root=gate_run.root)["runs"][0]
    assert github_problems({"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}) == []
    assert all("codeFlows" not in r for r in run["results"])


def test_fingerprints_survive_a_move_and_follow_the_trace(
        gate_run: Any, kit: Any, tmp_path: Path) -> None:
    """The same run in another checkout gives the same log; another trace of the same
    finding gives another fingerprint; time and engine effort do not count."""
    other = kit.make_run(tmp_path)
    first = sarif_text(gate_run.verdicts, gate_run.files, root=gate_run.root)
    again = sarif_text(other.verdicts, other.files, root=other.root)
    assert first == again
    assert str(gate_run.root) not in first
    v = gate_run.verdicts[0]
    assert v.counterexample is not None
    slower = dataclasses.replace(v, seconds=99.0, reason="other effort")
    assert fingerprint(slower) == fingerprint(v)
    shorter_trace = dataclasses.replace(
        v, counterexample=dataclasses.replace(
            v.counterexample, actions=(v.counterexample.actions[0], *v.counterexample.actions)))
    assert fingerprint(shorter_trace) != fingerprint(v)
    fps = [r["partialFingerprints"] for r in json.loads(first)["runs"][0]["results"]]
    assert len({fp[FINGERPRINT] for fp in fps}) == len(fps)
    assert all(fp["primaryLocationLineHash"] == fp[FINGERPRINT][:16] + ":1" for fp in fps)


def test_a_clean_run_has_an_empty_results_array(gate_run: Any) -> None:
    passing = [v for v in gate_run.verdicts if not v.status.failing]
    run = sarif_log(passing, root=gate_run.root)["runs"][0]
    assert run["results"] == []
    assert github_problems({"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}) == []


def test_no_dsl_location_falls_back_to_the_counterexample(gate_run: Any) -> None:
    v = gate_run.verdicts[0]
    assert v.counterexample is not None
    bare = dataclasses.replace(v.problem, where="")
    moved = dataclasses.replace(v, problem=bare, counterexample=dataclasses.replace(
        v.counterexample, problem=bare))
    run = sarif_log([moved], gate_run.files, root=gate_run.root)["runs"][0]
    (res,) = run["results"]
    uri = res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == f"counterexamples/{v.counterexample.name}.dmabuf"
    # with no file either, code scanning cannot show it: a notification, not a lost finding
    run = sarif_log([moved], {}, root=gate_run.root)["runs"][0]
    assert run["results"] == []
    (note,) = run["invocations"][0]["toolExecutionNotifications"]
    assert note["level"] == "error" and "R15 unmap-unmapped" in note["message"]["text"]


def test_files_outside_the_root_get_absolute_uris(gate_run: Any, tmp_path: Path) -> None:
    log = sarif_log(gate_run.verdicts, gate_run.files, root=tmp_path)
    assert github_problems(log) == []
    uri = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"][
        "artifactLocation"]
    assert uri == {"uri": (gate_run.root / "tests/checker/report/specs/gate.dmabuf").as_uri()}


def test_written_atomically(gate_run: Any, tmp_path: Path) -> None:
    path = tmp_path / "out" / "dmabuf.sarif"
    write_sarif(path, gate_run.verdicts, gate_run.files, root=gate_run.root)
    write_sarif(path, gate_run.verdicts, gate_run.files, root=gate_run.root)
    assert github_problems(json.loads(path.read_text(encoding="utf-8"))) == []
    assert [p.name for p in path.parent.iterdir()] == ["dmabuf.sarif"]


def test_a_real_bmc_run(gate_run: Any, tmp_path: Path) -> None:
    """Verdicts straight from the BMC engine, through the writer, into a valid log."""
    m = MUTANTS["double_unmap"]
    base = gate_run.verdicts[0].problem
    p = dataclasses.replace(base, model=m.model("1x1"), depth=4, properties=())
    verdicts = bmc(p, depth=4, timeout_s=60)
    assert [v.status for v in verdicts] == [Status.VIOLATED]
    cex = verdicts[0].counterexample
    assert cex is not None
    files = written([write(cex, tmp_path / "found")])
    log = sarif_log(verdicts, files, root=gate_run.root)
    assert github_problems(log) == []
    (res,) = log["runs"][0]["results"]
    assert res["ruleId"] == "R15" and res["properties"]["engines"] == ["bmc"]
    assert len(res["codeFlows"][0]["threadFlows"][0]["locations"]) == len(cex.actions)


@pytest.mark.parametrize("status", [Status.HOLDS, Status.PROVED, Status.WITNESSED])
def test_passing_verdicts_give_no_result(gate_run: Any, status: Status) -> None:
    v = next(v for v in gate_run.verdicts if v.status is status)
    assert sarif_log([v], root=gate_run.root)["runs"][0]["results"] == []
