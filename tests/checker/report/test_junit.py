"""JUnit XML: the golden document, read back element by element against the Jenkins
"junit-4" shape of output-formats.md 2(c): counts that add up, one suite per check, one case
per (property, engine), the outcome kinds of the mapping table, the traces as failure text.

Regenerate the golden file after a deliberate change with
``DMABUF_UPDATE_GOLDEN=1 pytest tests/checker/report`` and read the diff.
"""

from __future__ import annotations

import dataclasses
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from checker.counterexample.write import render
from checker.problem import RULES, Status
from checker.report.junit import junit_xml, write_junit

GOLDEN = Path(__file__).parent / "golden"

# the Jenkins junit-4 XSD's elements and attributes (plus the file/line extension)
ALLOWED: dict[str, set[str]] = {
    "testsuites": {"name", "tests", "failures", "errors", "skipped", "disabled", "time"},
    "testsuite": {"name", "tests", "failures", "errors", "skipped", "disabled", "time",
                  "timestamp", "hostname", "id", "package"},
    "properties": set(),
    "property": {"name", "value"},
    "testcase": {"classname", "name", "time", "assertions", "status", "file", "line"},
    "failure": {"message", "type"},
    "error": {"message", "type"},
    "skipped": {"message"},
    "system-out": set(),
    "system-err": set(),
}
CHILDREN = {"testsuites": {"testsuite"},
            "testsuite": {"properties", "testcase", "system-out", "system-err"},
            "properties": {"property"}, "property": set(),
            "testcase": {"failure", "error", "skipped", "system-out", "system-err"},
            "failure": set(), "error": set(), "skipped": set(), "system-out": set(),
            "system-err": set()}


def shape_problems(root: ET.Element) -> list[str]:
    """Where the document leaves the junit-4 shape, or its counts do not add up."""
    out: list[str] = []
    if root.tag != "testsuites":
        return [f"root is <{root.tag}>"]
    for el in root.iter():
        extra = set(el.attrib) - ALLOWED.get(el.tag, set())
        if el.tag not in ALLOWED:
            out.append(f"unknown element <{el.tag}>")
        elif extra:
            out.append(f"<{el.tag}> has attributes {sorted(extra)}")
        for child in el:
            if child.tag not in CHILDREN.get(el.tag, set()):
                out.append(f"<{child.tag}> inside <{el.tag}>")
    for case in root.iter("testcase"):
        kinds = [c.tag for c in case if c.tag in ("failure", "error", "skipped")]
        if len(kinds) > 1:
            out.append(f"{case.get('name')}: several outcomes {kinds}")
        float(case.get("time", "x"))
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for suite in root.iter("testsuite"):
        cases = suite.findall("testcase")
        counted = {"tests": len(cases),
                   "failures": sum(c.find("failure") is not None for c in cases),
                   "errors": sum(c.find("error") is not None for c in cases),
                   "skipped": sum(c.find("skipped") is not None for c in cases)}
        for key, n in counted.items():
            if suite.get(key) != str(n):
                out.append(f"suite {suite.get('name')}: {key}={suite.get(key)}, counted {n}")
            totals[key] += n
        time = sum(float(c.get("time", "0")) for c in cases)
        if abs(float(suite.get("time", "-1")) - time) > 0.0015:
            out.append(f"suite {suite.get('name')}: time {suite.get('time')} is not {time}")
    for key, n in totals.items():
        if root.get(key) != str(n):
            out.append(f"testsuites: {key}={root.get(key)}, counted {n}")
    return out


def test_golden_document(gate_run: Any, kit: Any) -> None:
    text = kit.normalise(junit_xml(gate_run.verdicts, gate_run.files,
                                   root=gate_run.root).decode("utf-8"), gate_run.root)
    path = GOLDEN / "gate.junit.xml"
    if os.environ.get("DMABUF_UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


def test_shape_and_counts(gate_run: Any) -> None:
    root = ET.fromstring(junit_xml(gate_run.verdicts, gate_run.files, root=gate_run.root))
    assert shape_problems(root) == []
    assert [s.get("name") for s in root.iter("testsuite")] == [
        "double_unmap", "access_after_move", "heap"]
    assert (root.get("tests"), root.get("failures"), root.get("errors"),
            root.get("skipped")) == ("10", "5", "2", "0")


def test_the_shape_check_catches_mistakes(gate_run: Any) -> None:
    root = ET.fromstring(junit_xml(gate_run.verdicts, gate_run.files, root=gate_run.root))
    suite = root.find("testsuite")
    assert suite is not None
    suite.set("failures", "0")
    case = suite.find("testcase")
    assert case is not None
    ET.SubElement(case, "skipped")
    ET.SubElement(case, "bogus")
    problems = shape_problems(root)
    assert any("failures=0" in p for p in problems)
    assert any("several outcomes" in p for p in problems)
    assert any("<bogus>" in p for p in problems)


def _cases(gate_run: Any) -> dict[tuple[str, str], ET.Element]:
    root = ET.fromstring(junit_xml(gate_run.verdicts, gate_run.files, root=gate_run.root))
    return {(c.get("classname", ""), c.get("name", "")): c for c in root.iter("testcase")}


def test_outcomes_follow_the_mapping_table(gate_run: Any) -> None:
    cases = _cases(gate_run)
    kinds = {key: [(x.tag, x.get("type")) for x in c if x.tag in ("failure", "error")]
             for key, c in cases.items()}
    assert kinds == {
        ("double_unmap", "rules[hypothesis]"): [("failure", "RuleViolation")],
        ("double_unmap", "rules[bmc]"): [("failure", "RuleViolation")],
        ("access_after_move", "rules[hypothesis]"): [("failure", "RuleViolation")],
        ("access_after_move", "remap_after_move[hypothesis]"):
            [("failure", "ResponseViolation")],
        ("access_after_move", "can_vmap[hypothesis]"): [("failure", "Unwitnessed")],
        ("access_after_move", "rules[k-induction]"): [("error", "Inconclusive")],
        ("heap", "rules[k-induction]"): [],
        ("heap", "released_exactly_at_zero[bmc]"): [],
        ("heap", "can_release[hypothesis]"): [],
        ("heap", "can_share[hypothesis]"): [("error", "Inconclusive")],
    }


def test_failure_text_is_the_trace(gate_run: Any) -> None:
    cases = _cases(gate_run)
    for v in gate_run.verdicts:
        if v.status is not Status.VIOLATED:
            continue
        case = cases[(v.problem.check, f"{v.prop}[{v.engine}]")]
        failure = case.find("failure")
        assert failure is not None and failure.text == render(v.counterexample)
        assert str(v.counterexample.finding) in failure.get("message", "")
        out = case.find("system-out")
        assert out is not None and out.text is not None
        assert f"[[ATTACHMENT|counterexamples/{v.counterexample.name}.dmabuf]]" in out.text


def test_cases_point_at_the_dsl(gate_run: Any) -> None:
    for (check, name), case in _cases(gate_run).items():
        line = (gate_run.root / case.get("file", "")).read_text(
            encoding="utf-8").splitlines()[int(case.get("line", "0")) - 1]
        prop = name.split("[")[0]
        assert line.startswith(f"check {check} " if prop == RULES else f"property {prop} ")


def test_suite_properties_and_optional_attributes(gate_run: Any) -> None:
    root = ET.fromstring(junit_xml(gate_run.verdicts, gate_run.files, root=gate_run.root))
    suite = root.find("testsuite")
    assert suite is not None
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props == {"exporter": "model.mutants:MUTANTS.double_unmap.exporter",
                     "importers": "model.mutants:MUTANTS.double_unmap.importers",
                     "profile": "v6.16+", "scope": "1x1", "mode": "contract", "depth": "6",
                     "where": "tests/checker/report/specs/gate.dmabuf:5"}
    assert "timestamp" not in suite.attrib and "hostname" not in suite.attrib
    stamped = ET.fromstring(junit_xml(gate_run.verdicts, root=gate_run.root,
                                      timestamp="2026-09-10T12:00:00", hostname="ci"))
    for s in stamped.iter("testsuite"):
        assert (s.get("timestamp"), s.get("hostname")) == ("2026-09-10T12:00:00", "ci")


def test_text_xml_cannot_carry_is_replaced(gate_run: Any) -> None:
    v = next(v for v in gate_run.verdicts if v.status is Status.UNKNOWN)
    odd = dataclasses.replace(v, reason="solver said \x07unknown\x00")
    root = ET.fromstring(junit_xml([odd], root=gate_run.root))
    error = root.find("testsuite/testcase/error")
    assert error is not None and "\N{REPLACEMENT CHARACTER}unknown" in error.get("message", "")


def test_written_atomically(gate_run: Any, tmp_path: Path) -> None:
    path = tmp_path / "reports" / "dmabuf.xml"
    write_junit(path, gate_run.verdicts, gate_run.files, root=gate_run.root)
    assert shape_problems(ET.parse(path).getroot()) == []
    assert [p.name for p in path.parent.iterdir()] == ["dmabuf.xml"]
