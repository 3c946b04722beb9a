"""The shipped rulebook: ``docs/rules.md`` is what ``model/rules.py`` generates (one anchor
per rule), and ``explain``, the text report and SARIF point at its sections."""

from __future__ import annotations

import io
import re
from pathlib import Path

from checker.cli import main
from checker.report.sarif import rule_descriptor
from checker.rulebook import COMMAND, DOC, help_uri, markdown, reference
from model.rules import RULES

ROOT = Path(__file__).resolve().parents[2]


def test_docs_rules_md_is_current() -> None:
    shipped = (ROOT / DOC).read_text(encoding="utf-8")
    assert shipped == markdown(), f"docs/rules.md is stale: run {COMMAND}"


def test_one_anchor_and_section_per_rule() -> None:
    text = markdown()
    anchors = re.findall(r'<a id="(r\d+)"></a>', text)
    assert anchors == [r.lower() for r in RULES]
    for r in RULES.values():
        assert f"## {r.id} {r.title}" in text and r.summary in text


def test_the_command_regenerates_it(tmp_path: Path) -> None:
    out = tmp_path / "rules.md"
    assert main(["rules", "--markdown", str(out)], stdout=io.StringIO()) == 0
    assert out.read_text(encoding="utf-8") == markdown()


def test_explain_and_reports_point_at_the_section() -> None:
    out = io.StringIO()
    assert main(["explain", "R5"], stdout=out) == 0
    assert out.getvalue().rstrip().endswith(f"reference: {DOC}#r5")
    assert reference("R18") == "docs/rules.md#r18"
    d = rule_descriptor(RULES["R18"])
    assert d["helpUri"] == help_uri("R18")
    assert str(d["helpUri"]).endswith("docs/rules.md#r18")
    assert re.match(r"(https|file)://", str(d["helpUri"]))
