"""``validate-importer``: an importer's routines against every reference exporter. How an
IMPORTER argument is read, the checks it becomes, a broken driver's certificate, the
shipped certificates, and the command line's errors."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from checker.certificate import Standing, certificate_json, certificate_markdown, obligations
from checker.cli import main
from checker.validate import (
    IMPORTER_SETTINGS,
    Settings,
    TargetError,
    check_names,
    parse_target,
    shipped_importers,
    spec_text,
    validate,
)
from model.exporters import EXPORTERS
from model.rules import PROFILE_NAMES
from model.violation import Party

pytestmark = pytest.mark.no_cover

ROOT = Path(__file__).resolve().parents[2]
CERTIFICATES = ROOT / "docs" / "certificates"
MUTANTS = ROOT / "specs" / "mutants" / "drivers.dmabuf"
BMC = Settings(scope="1x1", depth=3, engines=("bmc",))


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_an_importer_is_named_like_an_exporter() -> None:
    t = parse_target("amdgpu_import", "importer")
    assert (t.kind, t.clause, t.spec_file) == ("importer", "importers amdgpu_import", "")
    t = parse_target(f"{MUTANTS}:unwind_skips_put", "importer")
    assert t.clause == "importers unwind_skips_put" and t.spec_file == str(MUTANTS)
    with pytest.raises(TargetError, match="declares 15 importers"):
        parse_target(str(MUTANTS), "importer")
    with pytest.raises(TargetError, match="names no importer: give a shipped importer"):
        parse_target("nope", "importer")


def test_it_runs_with_every_reference_exporter() -> None:
    t = parse_target("gem_prime_import", "importer")
    text = spec_text(t, ("v6.16+",), IMPORTER_SETTINGS)
    for x in EXPORTERS:
        assert f"  exporter {x}\n  importers gem_prime_import\n" in text
    assert len(check_names(t)) == len(EXPORTERS)
    assert "engines bmc, prove" in text and "engines hypothesis" in text


def test_a_driver_bug_gets_its_violated_row_with_the_shortest_trace() -> None:
    cert, _ = validate(parse_target(f"{MUTANTS}:unwind_skips_put", "importer"), BMC,
                       only=("v6.16+",))
    assert cert.exit_code == 1 and cert.subject == "importer"
    sections = [p for p in cert.profiles if p.supported]
    assert [p.exporter for p in sections] == list(EXPORTERS)
    for p in sections:
        violated = [r for r in p.rules if r.standing is Standing.VIOLATED]
        assert [r.item for r in violated] == ["R32"], p.exporter
        cex = violated[0].counterexample
        assert cex is not None and str(cex.finding) == "R32 leaks-reference"
        # the attach fails: for want of memory, or in the exporter's ops->attach
        assert [str(a) for a in cex.actions][:2] == ["export(b0)", "fd(b0)"]
        assert len(cex.actions) == 3
        assert str(cex.actions[2]).startswith("import(b0.a0, fault=attach__")
    md = certificate_markdown(cert)
    assert md.startswith("# Importer certificate: ") and "## v6.16+ with ttm" in md
    assert "so a violation below is the importer's" in md


def test_the_reference_importers_hold_against_every_exporter() -> None:
    cert, _ = validate(parse_target("rdma_umem", "importer"), BMC, only=("v6.16+",))
    assert cert.exit_code == 0, certificate_json(cert)
    ids = [r.id for r in obligations(Party.IMPORTER)]
    for p in cert.profiles:
        if p.supported:
            assert [r.item for r in p.rules] == ids


def test_every_shipped_importer_has_a_shipped_certificate_without_violations() -> None:
    for name in shipped_importers():
        doc = json.loads((CERTIFICATES / f"{name}.json").read_text(encoding="utf-8"))
        assert doc["importer"] == name and doc["exporters"] == list(EXPORTERS)
        assert doc["violated"] == 0 and doc["exit_code"] == 0, name
        assert {p["profile"] for p in doc["profiles"]} == set(PROFILE_NAMES)
        for p in doc["profiles"]:
            if not p["certified"]:
                assert p["why"], (name, p["profile"])
                continue
            assert p["exporter"] in EXPORTERS
            for row in p["obligations"] + p["properties"]:
                assert row["verdict"] in ("proved", "holds", "not applicable", "witnessed")


def test_the_shipped_importer_certificate_is_what_the_tool_produces() -> None:
    """Golden: one profile of one importer's certificate, regenerated with the shipped
    settings, is the file's."""
    cert, _ = validate(parse_target("vb2_dma_contig", "importer"), IMPORTER_SETTINGS,
                       only=("v7.x",))
    fresh = json.loads(certificate_json(cert))
    shipped = json.loads((CERTIFICATES / "vb2_dma_contig.json").read_text(encoding="utf-8"))
    assert fresh["engines"] == shipped["engines"]
    mine = [p for p in fresh["profiles"] if p["profile"] == "v7.x"]
    theirs = [p for p in shipped["profiles"] if p["profile"] == "v7.x"]
    assert mine == theirs


def test_command_line_errors_exit_2_with_a_message() -> None:
    code, _, err = run("validate-importer")
    assert code == 2 and "name one IMPORTER, or give --reference" in err
    code, _, err = run("validate-importer", "nope")
    assert code == 2 and "IMPORTER 'nope' names no importer" in err
    assert "Traceback" not in err
    code, _, err = run("validate-importer", "gem_prime_import", "--profile", "v6.1")
    assert code == 2 and "declares the profiles v6.2-6.15, v6.16+, v7.x" in err
