"""The shipped behaviours: reference exporters and importer styles, defined in the DSL under
``specs/exporters/`` and ``specs/importers/`` and lowered here for the model."""

from __future__ import annotations

from functools import cache
from importlib import resources

from checker.dsl import ast
from checker.dsl.lower import lower_exporter, lower_importer
from checker.dsl.parser import parse
from model.behaviour import Exporter, Importer


def _files(folder: str) -> list[tuple[str, str]]:
    root = resources.files("specs").joinpath(folder)
    out = []
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".dmabuf"):
            out.append((f"specs/{folder}/{entry.name}", entry.read_text(encoding="utf-8")))
    return out


@cache
def shipped_exporters(folder: str = "exporters") -> tuple[Exporter, ...]:
    """The reference exporters (``exporters``), the exporters written with their driver's
    code (``drivers``), or the seeded driver-code bugs (``mutants``)."""
    out = []
    for path, text in _files(folder):
        for item in parse(text, path).items:
            if isinstance(item, ast.ExporterDecl):
                out.append(lower_exporter(item, {path: text}))
    return tuple(out)


@cache
def shipped_importers(folder: str = "importers") -> tuple[Importer, ...]:
    """The importer styles (``importers``), or the importers written as drivers' code
    (``drivers``: routines with their error paths, ``validate-importer``'s references)."""
    out = []
    for path, text in _files(folder):
        for item in parse(text, path).items:
            if isinstance(item, ast.ImporterDecl):
                out.append(lower_importer(item, {path: text}))
    return tuple(out)
