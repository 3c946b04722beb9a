"""The reference exporters, modelled on real drivers: system heap, udmabuf, GEM/drm_prime
and a TTM-style movable dynamic exporter.

They are defined once, in the specification language, under ``specs/exporters/`` (one file
each: read them as the definition); this module lowers them into ``Exporter`` values. Each is
correct: in contract mode it breaks no rule.
"""

from __future__ import annotations

from types import MappingProxyType

from checker.dsl.library import shipped_exporters
from model.behaviour import Exporter

_ORDER = ("system_heap", "udmabuf", "gem_prime", "ttm")  # simplest first
REFERENCE_EXPORTERS: tuple[Exporter, ...] = tuple(
    sorted(shipped_exporters(), key=lambda x: (*_ORDER, x.name).index(x.name)))
EXPORTERS = MappingProxyType({x.name: x for x in REFERENCE_EXPORTERS})

SYSTEM_HEAP = EXPORTERS["system_heap"]
UDMABUF = EXPORTERS["udmabuf"]
GEM_PRIME = EXPORTERS["gem_prime"]
TTM = EXPORTERS["ttm"]

VRAM, GTT = 0, 1  # TTM placements (specs/exporters/ttm.dmabuf)
SG_NONE, SG_MAPPED, SG_ERR = 0, 1, 2  # udmabuf's CPU mapping (specs/exporters/udmabuf.dmabuf)
