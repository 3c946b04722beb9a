"""Golden diagnostics: one spec per error code, rendered as the user sees it.

Each case is ``golden/<code>-<name>.dmabuf``; its rendering lives beside it in ``.out``.
Regenerate after a deliberate change with ``DMABUF_UPDATE_GOLDEN=1 pytest tests/checker``
and read the diff. The conformance codes (``E150``, ``E151``) are rendered by loading the
file as conformance cases (``checker/conformance/cases.py``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from checker.dsl.diagnostics import SYNTAX, SpecError
from checker.dsl.resolve import load

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(GOLDEN.glob("*.dmabuf"))
CODES = {p.name.split("-", 1)[0] for p in CASES}


CONFORMANCE_CODES = ("E150", "E151")  # raised when a file is loaded as conformance cases


def render(path: Path) -> str:
    try:  # the Python-reference cases import Python; E140 is refusing to without the flag
        if path.name.startswith(CONFORMANCE_CODES):
            from checker.conformance.cases import load_cases, predict

            for case in load_cases([str(path)]):
                predict(case, "v6.1")
        else:
            load([str(path)], allow_python=not path.name.startswith("E140"))
    except SpecError as e:
        text = e.render()
        return text.replace(str(GOLDEN) + "/", "") + "\n"
    return "no diagnostic\n"


@pytest.mark.parametrize("case", CASES, ids=[p.stem for p in CASES])
def test_golden(case: Path) -> None:
    got = render(case)
    expected_file = case.with_suffix(".out")
    if os.environ.get("DMABUF_UPDATE_GOLDEN"):
        expected_file.write_text(got, encoding="utf-8")
    assert got == expected_file.read_text(encoding="utf-8")
    code = case.name.split("-", 1)[0]
    assert f"error[{code}]" in got.splitlines()[0], "the first diagnostic has the case's code"


def test_every_code_has_a_golden_case() -> None:
    used: set[str] = set()
    for source in Path("checker").rglob("*.py"):
        used |= set(re.findall(r'"(E\d{3})"', source.read_text(encoding="utf-8")))
    assert used <= CODES, f"codes without a golden case: {sorted(used - CODES)}"


@pytest.mark.parametrize("code, label, hint, examples", SYNTAX, ids=[c for c, *_ in SYNTAX])
def test_syntax_catalogue(tmp_path: Path, code: str, label: str, hint: str,
                          examples: list[str]) -> None:
    """Every catalogued mistake, in every example form, gets its label (and no raw
    terminal names)."""
    for i, text in enumerate(examples):
        f = tmp_path / f"case{i}.dmabuf"
        f.write_text(text + "\n", encoding="utf-8")
        with pytest.raises(SpecError) as info:
            load([str(f)])
        d = info.value.diagnostics[0]
        assert (d.code, d.message) == (code, label), text
        assert not re.search(r"__ANON|[LR](BRACE|PAR|SQB)|SIGNED_INT|\$END|COMPARE|ADDOP",
                             d.render(text)), d.render(text)
