"""The reference importer styles: static, dynamic (unmaps in move_notify), pinned (RDMA).

Defined in the specification language in ``specs/importers/reference.dmabuf``; this module
lowers them into ``Importer`` values.
"""

from __future__ import annotations

from types import MappingProxyType

from checker.dsl.library import shipped_importers
from model.behaviour import Importer

REFERENCE_IMPORTERS: tuple[Importer, ...] = shipped_importers()
IMPORTERS = MappingProxyType({i.name: i for i in REFERENCE_IMPORTERS})

STATIC = IMPORTERS["static"]
DYNAMIC = IMPORTERS["dynamic"]
PINNED = IMPORTERS["pinned"]
