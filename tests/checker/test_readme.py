"""The README's worked example runs and fails exactly as the README shows."""

from __future__ import annotations

import io
import re
from pathlib import Path

from checker.scenario import main

README = Path(__file__).resolve().parents[2] / "README.md"


def test_worked_example(tmp_path: Path) -> None:
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"```\n(exporter my_vram.*?)```", text, re.S)
    assert len(blocks) == 1
    spec = tmp_path / "my_exporter.dmabuf"
    spec.write_text(blocks[0], encoding="utf-8")
    out = io.StringIO()
    assert main([str(spec)], out) == 1
    printed = out.getvalue().replace(str(tmp_path) + "/", "")
    shown = re.search(r"\$ python3 -m checker.scenario my_exporter.dmabuf\n(.*?)```", text, re.S)
    assert shown is not None
    for line in shown.group(1).splitlines():
        line = line.rstrip().removesuffix("...").rstrip()
        assert line.strip() in printed, line
