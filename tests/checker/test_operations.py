"""The operations reference (checker/operations.py) and docs/operations.md."""

from __future__ import annotations

import io
from pathlib import Path

from checker.cli import main
from checker.operations import reference, render_markdown, render_text
from model.ops.registry import REGISTRY

DOC = Path(__file__).resolve().parents[2] / "docs" / "operations.md"


def test_docs_operations_md_is_current() -> None:
    assert DOC.read_text(encoding="utf-8") == render_markdown(reference()), (
        "docs/operations.md is stale: run dmabuf-check ops --format markdown "
        "--output docs/operations.md")


def test_every_registered_operation_is_listed_in_order() -> None:
    assert [op.name for op in reference()] == [s.name for s in REGISTRY]


def test_values_profiles_and_defaults() -> None:
    ops = {op.name: op for op in reference()}
    imp = ops["import_sync_file"]
    assert [v.value for v in imp.params["fence"]] == ["pending", "signalled"]
    assert [v.value for v in imp.params["flags"]] == ["0", "1", "2", "3", "4", "5", "2147483649"]
    assert imp.usage() == "import_sync_file(bN, flags=...)"
    assert ops["map_unlocked"].profiles == ["v6.2-6.15", "v6.16+", "v7.x"]
    assert ops["map"].usage() == "map(bN.aM, dir=...)"
    lengths = [v.value for v in ops["set_name"].params["length"]]
    assert lengths == ["0", "1", "31", "32", "33", "4096"]


def test_a_value_only_some_exporters_offer_says_which() -> None:
    text = render_text(reference())
    assert "fault = none (default) | intr | exporter (with udmabuf)" in text


def test_the_command_prints_and_writes(tmp_path: Path) -> None:
    out = io.StringIO()
    assert main(["ops"], stdout=out) == 0
    assert out.getvalue() == render_text(reference())
    target = tmp_path / "ops.md"
    out = io.StringIO()
    assert main(["ops", "--format", "markdown", "--output", str(target)], stdout=out) == 0
    assert target.read_text(encoding="utf-8") == render_markdown(reference())
    assert out.getvalue() == f"wrote {target} ({len(REGISTRY)} operations)\n"


def test_what_an_operation_returns_is_listed() -> None:
    text = render_markdown(reference())
    poll = text.split("## `poll(")[1].split("\n## ")[0]
    assert "* returns: a value, written `returns N` or by name: POLLIN (0x1)" in poll
    assert "POLLNVAL (0x20)" in poll
    fd = text.split("## `fd(")[1].split("\n## ")[0]
    assert "* returns: a descriptor, which the model does not number" in fd
    close = text.split("## `close(")[1].split("\n## ")[0]
    assert "returns:" not in close
