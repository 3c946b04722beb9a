"""Parser fuzzing: whatever the text, ``parse`` returns a tree or raises ``SpecError`` with
well-formed diagnostics; never another exception.

Inputs (deterministic, one ``random.Random`` per seed): random characters and bytes, soups of
the language's tokens, and mutations (deletions, duplications, swaps, insertions and
replacements of tokens, truncations) of the shipped specs, of the formatter's sample and of
formatted random trees. An input that parses must also survive the formatter:
``parse(format_spec(t)) == t``.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Callable
from functools import cache
from pathlib import Path

import pytest

from checker.dsl.diagnostics import SpecError
from checker.dsl.format import format_spec
from checker.dsl.generate import PROFILES, TreeGen, keywords
from checker.dsl.parser import parse

HERE = Path(__file__).parent
PATH = "fuzz.dmabuf"
SEEDS = (1, 2, 3, 4)
PER_SEED = 2500  # 10,000 inputs in all
CODE = re.compile(r"E\d{3}")
PUNCTUATION = ("{", "}", "(", ")", "->", '"', ",", ":", ".", "..", "=", "+=", "-=", "==", "<=",
               "!=", "<", "+", "-", "#", "\n", " ", "\\", "\t")
LITERALS = (*PROFILES, "2x3", "30s", "5ms", "-EBUSY", "EINVAL", "map-dma-none", "a-b", "x",
            "b0.a0", "0", "8", "-1", "0..8", '"text"', '"', "R13", "buf.pin_count", "f()")
ALPHABET = "".join(PUNCTUATION) + "abexyzvER019_ \n\n\t\r\x00\x0c\u2028é→\U0001f600'`;@$%^&*[]|?/~"


@cache
def tokens() -> tuple[str, ...]:
    return (*PUNCTUATION, *LITERALS, *sorted(keywords()))


@cache
def corpus() -> tuple[str, ...]:
    files = sorted((HERE.parents[2] / "specs").rglob("*.dmabuf"))
    files += sorted((HERE / "format").glob("*.dmabuf"))
    return tuple(p.read_text(encoding="utf-8") for p in files)


# ---------------------------------------------------------------- inputs


def random_chars(rng: random.Random) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randrange(0, 80)))


def random_bytes(rng: random.Random) -> str:
    data = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 80)))
    return data.decode(rng.choice(("utf-8", "latin-1")), errors="replace")


def token_soup(rng: random.Random) -> str:
    return " ".join(rng.choice(tokens()) for _ in range(rng.randrange(1, 30)))


def excerpt(rng: random.Random) -> str:
    """A shipped spec or the sample, whole or a window of its lines."""
    text = rng.choice(corpus())
    lines = text.splitlines(keepends=True)
    if rng.random() < 0.15 or not lines:
        return text
    start = rng.randrange(len(lines))
    return "".join(lines[start:start + rng.randrange(1, 25)])


def formatted_tree(rng: random.Random) -> str:
    return format_spec(TreeGen(rng.randint, depth=2).spec(items=2))


def mutate(rng: random.Random, text: str) -> str:
    for _ in range(rng.randrange(1, 4)):
        n = len(text)
        i, j = sorted((rng.randrange(n + 1), rng.randrange(n + 1)))
        j = min(j, i + 40)
        match rng.randrange(6):
            case 0:  # delete a span
                text = text[:i] + text[j:]
            case 1:  # duplicate a span
                text = text[:j] + text[i:j] + text[j:]
            case 2:  # swap two spans
                k = min(n, j + rng.randrange(1, 20))
                text = text[:i] + text[j:k] + text[i:j] + text[k:]
            case 3:  # insert a token
                sep = rng.choice(("", " "))
                text = text[:i] + sep + rng.choice(tokens()) + sep + text[i:]
            case 4:  # replace a token
                words = re.split(r"(\s+)", text)
                words[rng.randrange(len(words))] = rng.choice(tokens())
                text = "".join(words)
            case _:  # truncate
                text = text[:i]
    return text


SOURCES: tuple[tuple[float, Callable[[random.Random], str]], ...] = (
    (0.20, random_chars),
    (0.08, random_bytes),
    (0.17, token_soup),
    (0.35, lambda rng: mutate(rng, excerpt(rng))),
    (0.20, lambda rng: mutate(rng, formatted_tree(rng))),
)


def inputs(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    weights = [w for w, _ in SOURCES]
    return [rng.choices(SOURCES, weights)[0][1](rng) for _ in range(count)]


# ---------------------------------------------------------------- the check


def problem(text: str, seen: Counter[str]) -> str | None:
    """What is wrong with the parser's answer to ``text``, or None. Counts the answers in
    ``seen``: "parsed", or each diagnostic's code."""
    try:
        tree = parse(text, PATH)
    except SpecError as e:
        if not e.diagnostics:
            return "SpecError without diagnostics"
        for d in e.diagnostics:
            seen[d.code] += 1
            if not CODE.fullmatch(d.code):
                return f"bad code {d.code!r}"
            if not (d.span.line >= 1 or (d.span.line, d.span.col) == (0, 0)):
                return f"bad span {d.span!r}"
            if d.span.path != PATH:
                return f"diagnostic for another file: {d.span!r}"
            if not d.message:
                return "empty message"
            try:
                d.render(text)
            except Exception as r:
                return f"render raised {type(r).__name__}: {r}"
        return None
    except Exception as e:
        return f"{type(e).__name__}: {e}"
    seen["parsed"] += 1
    try:
        again = parse(format_spec(tree), PATH)
    except SpecError as e:
        return f"the formatted text does not parse: {e}"
    return None if again == tree else "formatting changed the tree"


@pytest.mark.parametrize("seed", SEEDS)
def test_parser_never_crashes(seed: int) -> None:
    texts = inputs(seed, PER_SEED)
    seen: Counter[str] = Counter()
    failures = [(text, why) for text in texts if (why := problem(text, seen))]
    assert not failures, "\n\n".join(f"{why}\ninput: {text!r}" for text, why in failures[:5])
    # not all noise: some inputs parse, and errors come from all over the grammar
    assert seen["parsed"] >= PER_SEED // 50, seen
    assert {"E001", "E002", "E003"} <= set(seen) and len(seen) >= 6, seen


# ---------------------------------------------------------------- limits of the reader


def test_huge_number() -> None:
    with pytest.raises(SpecError) as info:
        parse("check c { depth " + "9" * 5000 + " }", PATH)
    assert info.value.diagnostics[0].code == "E005"


@pytest.mark.parametrize("text", [
    "exporter e { on h { " + "if x { " * 300 + "}" * 300 + " } }",
    "property p { always " + "not " * 3000 + "true }",
])
def test_deep_nesting(text: str) -> None:
    with pytest.raises(SpecError) as info:
        parse(text, PATH)
    assert info.value.diagnostics[0].code == "E004"
