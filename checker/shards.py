"""Sharded runs: split a command's work items into N shards, write each shard's results,
and merge the shards back into the results of one unsharded run.

Any command whose work is a list of picklable items run by one function (``check``,
``validate-exporter`` and ``selftest`` run ``Unit`` values or mutant cells) shards the same
way:

* ``assign`` gives each item a shard: the items are dealt longest first (by a cost
  estimate, ties by position) to the shard with the least estimated work so far, so the
  shards of a CI matrix end at about the same time. It depends only on the items' costs,
  so every job of the matrix computes the same split, and the N shards cover every item
  exactly once;
* a shard run writes a ``ShardResult``: the results of its items, by position in the whole
  list, with two fingerprints. ``code`` covers dmabuf-check's own sources (the model, the
  engines, the shipped specs); ``work`` covers the command line, the items and the text of
  every spec file they load. A shard made by another version or from other specs or options
  is refused;
* ``merge`` checks that the shards agree and that together they cover the whole list once,
  and gives the results in the items' order: what one unsharded run would have computed.
  The command then reports them exactly as it reports its own run.

Results travel as JSON through an explicit codec (``encode``, ``decode``): dataclasses and
enums of a fixed list of types, tuples kept apart from lists. Decoding never imports or
constructs anything else, so a shard file from a CI artifact cannot run code.

>>> assign([5.0, 1.0, 4.0, 2.0, 3.0], 2)
(0, 0, 1, 0, 1)
>>> parse_shard("2/3")
Shard(index=2, count=3)
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import importlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

FORMAT = "dmabuf-check shard result"
VERSION = 1
_SHARD = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")


class ShardError(ValueError):
    """A shard specification or shard result that cannot be used (exit 2); the message
    says what is wrong and how to fix it."""


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` (1-based) of ``count``."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str) -> Shard:
    """Read ``K/N`` (1 <= K <= N); ``ShardError`` says what is wrong.

    >>> parse_shard("0/4")
    Traceback (most recent call last):
      ...
    checker.shards.ShardError: --shard 0/4: shards are numbered from 1 to 4
    """
    m = _SHARD.fullmatch(text)
    if not m:
        raise ShardError(f"--shard {text}: write the shard as K/N (shard K of N, counted "
                         "from 1), e.g. --shard 2/4")
    k, n = int(m.group(1)), int(m.group(2))
    if n < 1:
        raise ShardError(f"--shard {text}: the number of shards is at least 1")
    if not 1 <= k <= n:
        raise ShardError(f"--shard {text}: shards are numbered from 1 to {n}")
    return Shard(k, n)


def assign(costs: Sequence[float], count: int) -> tuple[int, ...]:
    """The shard (0-based) of each item: longest first to the least-loaded shard (ties:
    the earlier item, the lower shard), so the loads differ by at most one item's cost."""
    loads = [0.0] * count
    out = [0] * len(costs)
    for i in sorted(range(len(costs)), key=lambda i: (-costs[i], i)):
        s = min(range(count), key=lambda s: (loads[s], s))
        out[i] = s
        loads[s] += costs[i]
    return tuple(out)


def select(costs: Sequence[float], shard: Shard) -> list[int]:
    """The positions of the items of ``shard``, in order."""
    return [i for i, s in enumerate(assign(costs, shard.count)) if s == shard.index - 1]


# ---------------------------------------------------------------- fingerprints


def _digest(parts: Iterable[str]) -> str:
    h = hashlib.sha256()
    for p in parts:
        data = p.encode("utf-8")
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()


@cache
def code_fingerprint() -> str:
    """A digest of dmabuf-check's own sources: every ``.py``, ``.lark`` and ``.dmabuf``
    file of the ``model``, ``checker`` and ``specs`` packages."""
    parts: list[str] = []
    for package in ("model", "checker", "specs"):
        mod = importlib.import_module(package)
        root = Path(next(iter(mod.__path__)))
        for f in sorted(root.rglob("*")):
            if f.suffix in (".py", ".lark", ".dmabuf") and "__pycache__" not in f.parts:
                parts += [f"{package}/{f.relative_to(root).as_posix()}",
                          f.read_text(encoding="utf-8")]
    return _digest(parts)


def work_fingerprint(command: str, argv: Sequence[str], items: Sequence[object],
                     sources: Mapping[str, str]) -> str:
    """A digest of what a command runs: its command line (without the options that only
    say where and how it runs), its items and the spec texts they load."""
    return _digest([command, *argv, "", *(repr(i) for i in items), "",
                    *(x for k in sorted(sources) for x in (k, sources[k]))])


# ---------------------------------------------------------------- the codec

# the only types a shard file can hold (besides JSON's own): name -> module
_TYPES = {
    "UnitResult": "checker.runs", "Answer": "checker.runs", "Found": "checker.runs",
    "Finding": "checker.problem", "Status": "checker.problem", "Action": "model.action",
    "Kill": "checker.selftest", "Settings": "checker.selftest",
}


def _type(name: str) -> type[Any]:
    if name not in _TYPES:
        raise ShardError(f"a shard result holds a value of type {name!r}, which no command "
                         "writes")
    cls = getattr(importlib.import_module(_TYPES[name]), name)
    assert isinstance(cls, type)
    return cls


def encode(value: object) -> object:
    """``value`` as JSON data (see the module docstring for what it may hold)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, tuple):
        return {"#tup": [encode(v) for v in value]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {"#map": [[encode(k), encode(v)] for k, v in value.items()]}
    name = type(value).__name__
    if _TYPES.get(name) != type(value).__module__:
        raise TypeError(f"cannot write a {type(value).__qualname__} into a shard result")
    if isinstance(value, enum.Enum):
        return {"#enum": name, "value": value.value}
    if dataclasses.is_dataclass(value):
        return {"#type": name, "fields": {f.name: encode(getattr(value, f.name))
                                          for f in dataclasses.fields(value) if f.init}}
    raise TypeError(f"cannot write a {name} into a shard result")


def decode(data: object) -> object:
    """The value ``encode`` wrote (``ShardError`` for anything else)."""
    if data is None or isinstance(data, bool | int | float | str):
        return data
    if isinstance(data, list):
        return [decode(v) for v in data]
    if isinstance(data, dict):
        if set(data) == {"#tup"} and isinstance(data["#tup"], list):
            return tuple(decode(v) for v in data["#tup"])
        if set(data) == {"#map"} and isinstance(data["#map"], list):
            out = {}
            for pair in data["#map"]:
                if not (isinstance(pair, list) and len(pair) == 2):
                    break
                out[decode(pair[0])] = decode(pair[1])
            else:
                return out
        elif set(data) == {"#enum", "value"} and isinstance(data["#enum"], str):
            cls = _type(data["#enum"])
            try:
                return cls(data["value"])
            except ValueError:
                raise ShardError(f"{data['value']!r} is not a {data['#enum']}") from None
        elif set(data) == {"#type", "fields"} and isinstance(data["#type"], str) \
                and isinstance(data["fields"], dict):
            cls = _type(data["#type"])
            try:
                return cls(**{str(k): decode(v) for k, v in data["fields"].items()})
            except TypeError as e:
                raise ShardError(f"a {data['#type']} value that does not fit: {e}") from None
    raise ShardError(f"a value no shard result holds: {json.dumps(data)[:80]}")


# ---------------------------------------------------------------- shard results


@dataclass(frozen=True)
class ShardResult:
    """One shard's results: ``results[j]`` belongs to item ``positions[j]`` of ``total``."""

    command: str
    argv: tuple[str, ...]
    shard: Shard
    total: int
    positions: tuple[int, ...]
    results: tuple[object, ...]
    code: str
    work: str
    estimate_s: float = 0.0

    def to_json(self) -> str:
        from checker.report.outcome import tool_version

        doc = {"format": FORMAT, "version": VERSION, "tool": tool_version(),
               "code": self.code, "work": self.work, "command": self.command,
               "argv": list(self.argv), "shard": [self.shard.index, self.shard.count],
               "total": self.total, "estimate_s": round(self.estimate_s, 1),
               "results": [[p, encode(r)] for p, r in
                           zip(self.positions, self.results, strict=True)]}
        return json.dumps(doc, indent=1, sort_keys=False) + "\n"


def _field(doc: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in doc or not isinstance(doc[key], kind) or isinstance(doc[key], bool):
        raise ShardError(f"{where}: not a complete shard result (its '{key}' is missing or "
                         "malformed); write it again with --shard")
    return doc[key]


def read(path: Path) -> ShardResult:
    """A shard result file; ``ShardError`` when it is not one, or was written by a version
    of dmabuf-check other than this one."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ShardError(f"{path}: cannot read it: {e.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        where = f":{e.lineno}:{e.colno}" if isinstance(e, json.JSONDecodeError) else ""
        raise ShardError(f"{path}{where}: not a shard result (not JSON: {e}); give the files "
                         "that --shard-output wrote") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ShardError(f"{path}: not a shard result (no \"format\": \"{FORMAT}\"); give "
                         "the files that --shard-output wrote")
    where = str(path)
    version = _field(doc, "version", int, where)
    if version != VERSION:
        raise ShardError(f"{path}: a shard result of format {version}, written by "
                         f"dmabuf-check {doc.get('tool', '?')}; this one reads format "
                         f"{VERSION}: run the shards and the merge with the same version")
    code = _field(doc, "code", str, where)
    if code != code_fingerprint():
        raise ShardError(f"{path}: written by another version of dmabuf-check "
                         f"({doc.get('tool', '?')}, sources {code[:12]}; these are "
                         f"{code_fingerprint()[:12]}): run the shards and the merge from "
                         "the same checkout")
    shard = _field(doc, "shard", list, where)
    if len(shard) != 2 or not all(isinstance(x, int) for x in shard) or \
            not 1 <= shard[0] <= shard[1]:
        raise ShardError(f"{where}: not a complete shard result (its 'shard' is malformed)")
    total = _field(doc, "total", int, where)
    argv = _field(doc, "argv", list, where)
    pairs = _field(doc, "results", list, where)
    positions: list[int] = []
    results: list[object] = []
    for pair in pairs:
        if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], int)
                and 0 <= pair[0] < total):
            raise ShardError(f"{where}: not a complete shard result (a malformed result)")
        positions.append(pair[0])
        try:
            results.append(decode(pair[1]))
        except ShardError as e:
            raise ShardError(f"{where}: {e}") from None
    return ShardResult(_field(doc, "command", str, where),
                       tuple(str(a) for a in argv), Shard(shard[0], shard[1]), total,
                       tuple(positions), tuple(results), code, _field(doc, "work", str, where),
                       float(doc.get("estimate_s", 0.0)))


@dataclass(frozen=True)
class Merged:
    """Every item's result, from shards that agree with each other."""

    command: str
    argv: tuple[str, ...]
    work: str
    results: tuple[object, ...]
    shards: int


def merge(paths: Sequence[Path]) -> Merged:
    """Read and check every shard; ``ShardError`` when one cannot be used, when they come
    from different runs, or when a shard is missing or given twice."""
    if not paths:
        raise ShardError("no shard results given")
    shards = [(p, read(p)) for p in paths]
    p0, first = shards[0]
    for p, s in shards[1:]:
        for what, mine, theirs in (("command", s.command, first.command),
                                   ("command line", s.argv, first.argv),
                                   ("number of shards", s.shard.count, first.shard.count)):
            if mine != theirs:
                raise ShardError(f"{p} and {p0} come from different runs (another {what}: "
                                 f"{_show(mine)} and {_show(theirs)}); merge the shards of "
                                 "one run")
        if s.work != first.work or s.total != first.total:
            raise ShardError(f"{p} and {p0} come from different runs (other specs or "
                             "options); merge the shards of one run")
    seen: dict[int, Path] = {}
    for p, s in shards:
        if s.shard.index in seen:
            raise ShardError(f"shard {s.shard} is given twice ({seen[s.shard.index]} and {p})")
        seen[s.shard.index] = p
    missing = [str(k) for k in range(1, first.shard.count + 1) if k not in seen]
    if missing:
        raise ShardError(f"shard{'s' if len(missing) > 1 else ''} {', '.join(missing)} of "
                         f"{first.shard.count} missing: give every shard's result")
    results: dict[int, object] = {}
    for p, s in shards:
        for pos, r in zip(s.positions, s.results, strict=True):
            if pos in results:
                raise ShardError(f"{p}: run {pos} is in two shards; write the shards again")
            results[pos] = r
    if len(results) != first.total:
        raise ShardError(f"the shards hold {len(results)} of {first.total} runs; write the "
                         "shards again")
    return Merged(first.command, first.argv, first.work,
                  tuple(results[i] for i in range(first.total)), first.shard.count)


def _show(value: object) -> str:
    return " ".join(value) if isinstance(value, tuple) else str(value)


def shard_files(paths: Sequence[str]) -> list[Path]:
    """The files named by ``paths``: files as given, every ``*.json`` of a directory."""
    out: list[Path] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            found = sorted(path.rglob("*.json"))
            if not found:
                raise ShardError(f"{p}: no .json files in this directory")
            out.extend(found)
        elif path.exists():
            out.append(path)
        else:
            raise ShardError(f"{p}: no such file")
    return list(dict.fromkeys(out))


__all__ = [
    "Merged",
    "Shard",
    "ShardError",
    "ShardResult",
    "assign",
    "code_fingerprint",
    "decode",
    "encode",
    "merge",
    "parse_shard",
    "read",
    "select",
    "shard_files",
    "work_fingerprint",
]
