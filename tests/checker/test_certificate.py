"""Exporter certificates: the shipped ones are what the tool produces (golden), a broken
exporter gets exactly the right violated row, a profile or rule that does not apply says
why, and a behaviour the solvers cannot run is unknown, never a pass."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from checker.certificate import (
    Standing,
    certificate_json,
    certificate_markdown,
    certificate_text,
    exporter_obligations,
)
from checker.validate import Settings, parse_target, validate
from model.exporters import EXPORTERS
from model.rules import PROFILE_NAMES

pytestmark = pytest.mark.no_cover

ROOT = Path(__file__).resolve().parents[2]
CERTIFICATES = ROOT / "docs" / "certificates"
SMALL = Settings(scope="1x1", depth=4, explore_scope="1x1", explore_depth=6, examples=30)


def test_every_reference_exporter_has_a_shipped_certificate_without_violations() -> None:
    for name in EXPORTERS:
        doc = json.loads((CERTIFICATES / f"{name}.json").read_text(encoding="utf-8"))
        assert doc["exporter"] == name
        assert doc["violated"] == 0 and doc["exit_code"] == 0, name
        assert [p["profile"] for p in doc["profiles"]] == list(PROFILE_NAMES)
        assert (CERTIFICATES / f"{name}.md").read_text(encoding="utf-8").startswith(
            f"# Exporter certificate: {name}\n")
        for p in doc["profiles"]:
            if not p["certified"]:
                assert p["why"], (name, p["profile"])
                continue
            ids = [r["id"] for r in p["obligations"]]
            assert ids == [r.id for r in exporter_obligations()], (name, p["profile"])
            for row in p["obligations"] + p["properties"]:
                assert row["verdict"] in ("proved", "holds", "not applicable", "witnessed")
                assert row["why"], (name, p["profile"], row["id"])


def test_the_shipped_certificate_is_what_the_tool_produces() -> None:
    """Golden: regenerate one profile of the system heap's certificate with the shipped
    settings (those of ``validate-exporter --reference``) and compare it with the file."""
    cert, _ = validate(parse_target("system_heap"), Settings(), only=("v7.x",))
    fresh = json.loads(certificate_json(cert))
    shipped = json.loads((CERTIFICATES / "system_heap.json").read_text(encoding="utf-8"))
    assert fresh["engines"] == shipped["engines"]
    (mine,) = [p for p in fresh["profiles"] if p["profile"] == "v7.x"]
    (theirs,) = [p for p in shipped["profiles"] if p["profile"] == "v7.x"]
    assert mine == theirs


def test_a_broken_exporter_gets_the_violated_row_and_nothing_else() -> None:
    target = parse_target("model.mutants:MUTANTS.heap_vunmap_keeps_mapping.exporter")
    cert, _ = validate(target, SMALL, only=("v6.16+",))
    assert cert.exit_code == 1
    (profile,) = [p for p in cert.profiles if p.supported]
    violated = [r for r in profile.rules if r.standing is Standing.VIOLATED]
    assert [r.item for r in violated] == ["R25"]
    (row,) = violated
    assert row.counterexample is not None
    assert str(row.counterexample.finding) == "R25 vmap-leak"
    assert [str(a) for a in row.counterexample.actions] == [
        "export(b0)", "vmap_unlocked(b0)", "vunmap_unlocked(b0)"]
    assert "R25 vmap-leak in 3 steps" in row.why
    # the other obligations are still decided: proved or not applicable, none unknown
    others = {r.standing for r in profile.rules if r is not row}
    assert others <= {Standing.PROVED, Standing.NOT_APPLICABLE, Standing.HOLDS}
    text = certificate_text(cert)
    assert "violated" in text and "export(b0); vmap_unlocked(b0); vunmap_unlocked(b0)" in text
    md = certificate_markdown(cert)
    assert "| R25: dma_buf_vmap / dma_buf_vunmap | **violated** |" in md
    assert "**VIOLATED**" in md


def test_rows_that_do_not_apply_say_why() -> None:
    cert, _ = validate(parse_target("system_heap"), SMALL, only=("v6.16+",))
    rows = {r.item: r for p in cert.profiles if p.supported for r in p.rules}
    assert rows["R3"].standing is Standing.NOT_APPLICABLE
    assert "exists only in v6.1, v6.2-6.15" in rows["R3"].why
    assert rows["R31"].standing is Standing.NOT_APPLICABLE
    # a rule no step can report is proved without a search, and says so
    assert rows["R1"].standing is Standing.PROVED
    assert "no step of the model can report a violation of R1" in rows["R1"].why
    skipped = [p for p in cert.profiles if not p.supported]
    assert {p.profile for p in skipped} == set(PROFILE_NAMES) - {"v6.16+"}
    assert all("not checked in this run" in p.why for p in skipped)


def test_a_python_behaviour_is_unknown_never_a_pass(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "cert_plugin.py").write_text(
        "from model.plugin import PythonExporter\n"
        "class Plain(PythonExporter):\n"
        "    name = 'plain'\n"
        "    def map_dma_buf(self, call):\n"
        "        return 0\n"
        "    def unmap_dma_buf(self, call):\n"
        "        return 0\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    cert, _ = validate(parse_target("cert_plugin:Plain"), SMALL, only=("v6.16+",),
                       allow_python=True)
    assert cert.exit_code == 3
    (profile,) = [p for p in cert.profiles if p.supported]
    unknown = [r for r in profile.rules if r.standing is Standing.UNKNOWN]
    assert unknown, "a Python behaviour cannot be proved"
    for r in unknown:
        assert "only random exploration ran" in r.why
        assert any(e.startswith("hypothesis: no random run") for e in r.evidence)
    assert not [r for r in profile.rules if r.standing is Standing.PROVED
                and r.why.startswith("no step of the model")], \
        "a Python behaviour's report sites are not visible: no trivial proof"
