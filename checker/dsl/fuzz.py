"""Fuzzing the specification language's front end: ``python3 -m checker.dsl.fuzz``.

Every input is a mutation of a real spec (a shipped one, whole or a window of its lines):
spans deleted, duplicated or swapped, tokens of the language inserted or put in place of a
word, bytes that are not text, deep nesting and long flat chains, truncation. Each input is
parsed and, when it parses, resolved against the model (imports included). The front end
must answer every input with a syntax tree or library, or with ``SpecError`` diagnostics
that are well formed (a code ``E###``, a position, a message, a rendering): any other
exception is a crash, and an input that takes longer than ``--hang-seconds`` is a hang.
The run is deterministic for a seed; it prints the counts and the first failures, and
exits 1 when there is any. CI runs it with ``--seed 0 --count 10000``.
"""

from __future__ import annotations

import argparse
import random
import re
import signal
import sys
import time
import traceback
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from types import FrameType

from checker.dsl.diagnostics import SpecError
from checker.dsl.generate import PROFILES, keywords
from checker.dsl.parser import parse
from checker.dsl.resolve import load_text
from checker.dsl.sources import shipped_root

PUNCTUATION = ("{", "}", "(", ")", "->", '"', ",", ":", ".", "..", "=", "+=", "-=", "==",
               "<=", "!=", "<", "+", "-", "#", "\n", " ", "\\", "\t")
LITERALS = (*PROFILES, "2x3", "1000x1000", "30s", "0s", "-EBUSY", "EINVAL", "map-dma-none",
            "b0.a0", "b99", "0", "8", "-1", "0..8", '"text"', "R13", "R99", "buf.pin_count",
            '"os:system"', '"/proc/self/environ"', '"../../../etc/passwd"', '"core"')
_WORD = re.compile(r"(\s+)")
_NAME = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*|[0-9]+|b[0-9]+\.a[0-9]+)\b")
# what a word may become while the text still parses: names, objects, numbers, rules that
# the resolver must check against the model
NAMES = ("b0", "b9", "b0.a0", "b1.a7", "b100000", "buf", "att", "a", "x", "dir", "EINVAL",
         "NONE", "RELEASED", "kref", "pins", "maps", "refcount", "0", "1", "7", "99", "R5",
         "R77", "ttm", "static", "dynamic", "map", "move", "true", "pin_count",
         "x.pin_count", "s0", "dyn", "attachments", "buffers", "rules", "all", "mmap")


class Hang(Exception):
    """An input took longer than the per-input limit."""


@dataclass
class Report:
    inputs: int = 0
    parsed: int = 0
    resolved: int = 0
    codes: Counter[str] = field(default_factory=Counter)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (why, input)
    seconds: float = 0.0

    def render(self, shown: int = 3) -> str:
        lines = [f"{self.inputs} mutated inputs in {self.seconds:.1f}s: {self.parsed} parsed, "
                 f"{self.resolved} resolved, {sum(self.codes.values())} diagnostics "
                 f"({len(self.codes)} codes); {len(self.failures)} failures"]
        for why, text in self.failures[:shown]:
            lines += ["", why, f"input: {text[:2000]!r}"]
        return "\n".join(lines)


def corpus() -> tuple[str, ...]:
    return tuple(p.read_text(encoding="utf-8")
                 for p in sorted(shipped_root().rglob("*.dmabuf")))


def tokens() -> tuple[str, ...]:
    return (*PUNCTUATION, *LITERALS, *sorted(keywords()))


def excerpt(rng: random.Random, texts: Sequence[str]) -> str:
    text = rng.choice(texts)
    lines = text.splitlines(keepends=True)
    if rng.random() < 0.03 or not lines:
        return text
    start = rng.randrange(len(lines))
    return "".join(lines[start:start + rng.randrange(1, 16)])


def mutate(rng: random.Random, text: str, words: Sequence[str]) -> str:
    """One to three mutations of ``text``."""
    for _ in range(rng.randrange(1, 4)):
        n = len(text)
        i, j = sorted((rng.randrange(n + 1), rng.randrange(n + 1)))
        j = min(j, i + 60)
        match rng.randrange(9):
            case 0:
                text = text[:i] + text[j:]
            case 1:
                text = text[:j] + text[i:j] + text[j:]
            case 2:
                k = min(n, j + rng.randrange(1, 20))
                text = text[:i] + text[j:k] + text[i:j] + text[k:]
            case 3:
                sep = rng.choice(("", " "))
                text = text[:i] + sep + rng.choice(words) + sep + text[i:]
            case 4:
                parts = _WORD.split(text)
                parts[rng.randrange(len(parts))] = rng.choice(words)
                text = "".join(parts)
            case 5:
                noise = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 8)))
                text = text[:i] + noise.decode("latin-1") + text[i:]
            case 6:
                op = rng.choice((" and ", " or ", " + "))
                chain = op.join(["b0.kref >= 0" if op != " + " else "b0.kref"]
                                * rng.choice((2, 50, 300)))
                text = text[:i] + chain + text[i:]
            case 7:
                depth = rng.choice((10, 200))
                text = text[:i] + "(" * depth + "true" + ")" * depth + text[i:]
            case _:
                text = text[:i]
    return text


def rename(rng: random.Random, text: str) -> str:
    """One to four words replaced by names the resolver must judge (the text mostly still
    parses)."""
    found = list(_NAME.finditer(text))
    if not found:
        return text
    out, last = [], 0
    for m in sorted(rng.sample(found, k=min(len(found), rng.randint(1, 4))),
                    key=lambda m: m.start()):
        out.append(text[last:m.start()] + rng.choice(NAMES))
        last = m.end()
    return "".join(out) + text[last:]


def inputs(seed: int, count: int) -> Iterator[str]:
    rng = random.Random(seed)
    texts, words = corpus(), tokens()
    for _ in range(count):
        if rng.random() < 0.08:
            yield rename(rng, rng.choice(texts))
        else:
            yield mutate(rng, excerpt(rng, texts), words)


def _well_formed(e: SpecError, text: str, report: Report) -> str | None:
    if not e.diagnostics:
        return "SpecError without diagnostics"
    for d in e.diagnostics:
        report.codes[d.code] += 1
        if not re.fullmatch(r"E\d{3}", d.code) or not d.message:
            return f"malformed diagnostic {d!r}"
        d.render(e.sources.get(d.span.path, text))
    return None


def _on_alarm(signum: int, frame: FrameType | None) -> None:
    raise Hang()


def check_one(text: str, report: Report, hang_s: float) -> str | None:
    """What is wrong with the front end's answer to ``text``, or None."""
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, hang_s)
    stage = "parse"
    try:
        try:
            parse(text, "fuzz.dmabuf")
            report.parsed += 1
            stage = "resolve"
            load_text(text, "fuzz.dmabuf")
            report.resolved += 1
        except SpecError as e:
            return _well_formed(e, text, report)
    except Hang:
        return f"hang: {stage} took longer than {hang_s:g}s"
    except Exception as e:
        tb = traceback.format_exc(limit=-3)
        return f"crash in {stage}: {type(e).__name__}: {e}\n{tb}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    return None


def fuzz(seed: int, count: int, hang_s: float = 10.0) -> Report:
    report = Report()
    start = time.monotonic()
    for text in inputs(seed, count):
        report.inputs += 1
        why = check_one(text, report, hang_s)
        if why is not None:
            report.failures.append((why, text))
    report.seconds = time.monotonic() - start
    return report


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python3 -m checker.dsl.fuzz", allow_abbrev=False,
                                description="Fuzz the spec language's parser and resolver "
                                "with mutated specs; exit 1 on any crash or hang.")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--count", type=int, default=10_000, help="mutated inputs (default 10000)")
    p.add_argument("--hang-seconds", type=float, default=10.0,
                   help="an input taking longer is a hang (default 10)")
    args = p.parse_args(argv)
    report = fuzz(args.seed, args.count, args.hang_seconds)
    print(report.render())
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
