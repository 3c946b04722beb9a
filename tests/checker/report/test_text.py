"""The summary table and the JSON report: golden files, colours only when asked, a JSON
document with a fixed key order and no clock in it."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from checker.problem import Status
from checker.report.text import json_report, json_text, summary_text

GOLDEN = Path(__file__).parent / "golden"
ANSI = re.compile(r"\033\[[0-9;]*m")


def golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("DMABUF_UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


def test_golden_summary(gate_run: Any) -> None:
    golden("gate.summary.txt", summary_text(gate_run.verdicts, gate_run.files,
                                            root=gate_run.root))


def test_golden_json(gate_run: Any, kit: Any) -> None:
    golden("gate.json", kit.normalise(json_text(gate_run.verdicts, gate_run.files,
                                                root=gate_run.root)))


def test_colours_only_when_asked(gate_run: Any) -> None:
    plain = summary_text(gate_run.verdicts, gate_run.files, root=gate_run.root)
    coloured = summary_text(gate_run.verdicts, gate_run.files, root=gate_run.root,
                            colour=True)
    assert "\033[" not in plain
    assert "\033[31;1mviolated" in coloured and "\033[33;1munknown" in coloured
    assert ANSI.sub("", coloured) == plain


def test_rows_and_totals(gate_run: Any) -> None:
    lines = summary_text(gate_run.verdicts, gate_run.files, root=gate_run.root).splitlines()
    assert lines[0].split() == ["check", "property", "engine", "status", "depth", "time",
                                "detail"]
    assert len(lines) == 1 + len(gate_run.verdicts) + 2
    assert lines[-1] == ("10 verdicts: 4 violated, 1 holds, 1 proved, 1 witnessed, "
                         "1 unwitnessed, 2 unknown; gate FAIL (exit 1)")
    row = next(x for x in lines if x.startswith("access_after_move  remap_after_move"))
    assert row.split()[3:6] == ["violated", "5", "2.00s"]
    assert row.endswith("counterexamples/remap_after_move-b016ddd3.dmabuf")


def test_several_counterexamples_of_one_target_have_a_row_each(gate_run: Any) -> None:
    """Two rule findings of one engine: a row each, with its own depth and time."""
    v1 = gate_run.verdicts[0]
    v2 = next(v for v in gate_run.verdicts if v.problem.check == "access_after_move"
              and v.status is Status.VIOLATED and v.prop == "rules")
    import dataclasses
    v2 = dataclasses.replace(v2, problem=v1.problem)
    lines = summary_text([v1, v2], gate_run.files, root=gate_run.root).splitlines()
    assert lines[1].startswith("double_unmap") and "R15 unmap-unmapped" in lines[1]
    assert lines[2].startswith("double_unmap") and lines[2].split()[1:5] == [
        "rules", "hypothesis", "violated", str(len(v2.counterexample.actions))]
    assert "R18 access-after-move in 5 steps" in lines[2]
    assert lines[-1].startswith("2 verdicts: 2 violated")


def test_a_passing_run(gate_run: Any) -> None:
    passing = [v for v in gate_run.verdicts if not v.status.failing]
    text = summary_text(passing, root=gate_run.root)
    assert text.splitlines()[-1] == ("3 verdicts: 1 holds, 1 proved, 1 witnessed; "
                                     "gate PASS (exit 0)")
    assert json_report(passing)["exit_code"] == 0


def test_json_keys_in_a_fixed_order_without_a_clock(gate_run: Any) -> None:
    report = json_report(gate_run.verdicts, gate_run.files, root=gate_run.root)
    assert list(report) == ["tool", "exit_code", "summary", "verdicts"]
    assert report["exit_code"] == 1
    assert report["summary"] == {"total": 10, "violated": 4, "holds": 1, "proved": 1,
                                 "witnessed": 1, "unwitnessed": 1, "unknown": 2}
    first = report["verdicts"][0]
    assert list(first) == ["check", "property", "engine", "status", "status_text",
                           "operations_fired", "depth", "seconds",
                           "reason", "exporter", "importers", "profile", "scope", "mode",
                           "where", "counterexample"]
    assert first["counterexample"]["scenario"] == (
        "counterexamples/R15-unmap-unmapped-a581e019.dmabuf")
    stamped = json_report(gate_run.verdicts, timestamp="2026-11-22T07:00:00Z")
    assert list(stamped)[:2] == ["tool", "timestamp"]
    text = json_text(gate_run.verdicts, gate_run.files, root=gate_run.root)
    assert json.loads(text) == json.loads(json.dumps(report))
    assert str(gate_run.root) not in text


def test_every_bmc_finding_has_a_line_and_a_capped_run_says_so(tmp_path: Path) -> None:
    import io

    from checker.cli import main

    spec = tmp_path / "many.dmabuf"
    spec.write_text('import "core"\ncheck m { exporter system_heap mode misuse scope 1x1 '
                    "depth 2 engines bmc properties rules }\n", encoding="utf-8")
    out = io.StringIO()
    code = main(["check", "--no-write", "--jobs", "1", "--max-findings", "4", str(spec)],
                stdout=out, stderr=io.StringIO())
    text = out.getvalue()
    assert code == 1
    table = text[text.index("check  property"):]
    assert table.count(" in 2 steps (not written)") == 4, table
    # one row per finding: its own depth and time (when the solver found it)
    found = [line.split() for line in table.splitlines() if line.startswith("m ")]
    assert len(found) == 4 and all(r[:5] == ["m", "rules", "bmc", "violated", "2"]
                                   for r in found), table
    times = [float(r[5].removesuffix("s")) for r in found]
    assert times == sorted(times)
    assert "stopped after 4 findings (--max-findings): more may exist" in table
    assert "4 verdicts: 4 violated" in table


def test_every_finding_is_an_entry_in_json_junit_and_sarif(tmp_path: Path) -> None:
    import io
    import json
    import xml.etree.ElementTree as ET

    from checker.cli import main

    spec = tmp_path / "many.dmabuf"
    spec.write_text('import "core"\ncheck m { exporter system_heap mode misuse scope 1x1 '
                    "depth 2 engines bmc properties rules }\n", encoding="utf-8")
    out = io.StringIO()
    junit, sarif = tmp_path / "j.xml", tmp_path / "s.sarif"
    code = main(["check", "--counterexamples", str(tmp_path / "cex"), "--jobs", "1",
                 "--max-findings", "5", "--format", "json", "--junit", str(junit),
                 "--sarif", str(sarif), str(spec)], stdout=out, stderr=io.StringIO())
    assert code == 1
    report = json.loads(out.getvalue())
    entries = report["verdicts"]
    assert len(entries) == 5 and report["summary"]["violated"] == 5
    findings = [e["counterexample"]["finding"] for e in entries]
    assert len(set(findings)) == 5
    assert all(e["counterexample"]["scenario"] for e in entries)
    cases = ET.parse(junit).getroot().findall(".//testcase")
    assert sorted(c.get("name") for c in cases) == sorted(f"rules[bmc] {f}" for f in findings)
    assert all(c.find("failure") is not None for c in cases)
    results = json.loads(sarif.read_text())["runs"][0]["results"]
    assert len(results) == 5
