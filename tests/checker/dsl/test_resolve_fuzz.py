"""Resolution never crashes: shipped specs with names, numbers and objects replaced at random
(still parseable, mostly wrong) either resolve or raise SpecError with located diagnostics."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from checker.dsl.diagnostics import SpecError
from checker.dsl.resolve import load_text

SPECS = sorted((Path(__file__).resolve().parents[3] / "specs").rglob("*.dmabuf"))
WORD = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*|[0-9]+|b[0-9]+\.a[0-9]+)\b")
REPLACEMENTS = ["b0", "b9", "b0.a0", "b1.a7", "buf", "att", "a", "b", "x", "dir", "EINVAL",
                "NONE", "RELEASED", "kref", "pins", "maps", "refcount", "0", "1", "7", "99",
                "R5", "R77", "ttm", "static", "dynamic", "map", "move", "true", "forall",
                "pin_count", "x.pin_count", "s0", "dyn", "attachments", "buffers"]


def mutate(text: str, rng: random.Random) -> str:
    words = list(WORD.finditer(text))
    out, last = [], 0
    for m in rng.sample(words, k=min(len(words), rng.randint(1, 4))):
        out.append((m.start(), m.end(), rng.choice(REPLACEMENTS)))
    pieces = []
    for start, end, new in sorted(out):
        if start < last:
            continue
        pieces.append(text[last:start] + new)
        last = end
    pieces.append(text[last:])
    return "".join(pieces)


@pytest.mark.parametrize("seed", range(2))
def test_resolution_never_crashes(seed: int) -> None:
    rng = random.Random(seed)
    tried = 0
    for path in SPECS:
        text = path.read_text(encoding="utf-8")
        for _ in range(6):
            mutated = mutate(text, rng)
            try:
                load_text(mutated, f"mutant-{path.name}")
            except SpecError as e:
                for d in e.diagnostics:
                    assert re.fullmatch(r"E\d{3}", d.code), d
                    assert d.message
                    d.render(mutated)
            except Exception as e:  # pragma: no cover - this is the failure being looked for
                pytest.fail(f"{type(e).__name__}: {e}\n--- input ---\n{mutated}")
            tried += 1
    assert tried >= 6 * len(SPECS)
