"""Exporter handlers: the names a callback is given (checker/dsl/lower.py)."""

from __future__ import annotations

import pytest

from checker.dsl.diagnostics import SpecError
from checker.dsl.resolve import load_text


def test_shared_is_known_in_on_mmap_only() -> None:
    head = 'exporter e { ops map_dma_buf, unmap_dma_buf, release, mmap, vmap, vunmap\n'
    lib = load_text(head + "  on mmap { if not shared { return -EINVAL } } }\n", "e.dmabuf")
    assert "e" in lib.exporters
    with pytest.raises(SpecError) as e:
        load_text(head + "  on vmap { if shared { return -EINVAL } } }\n", "e.dmabuf")
    d = e.value.diagnostics[0]
    assert d.code == "E108" and "'shared' is not defined in on vmap" in d.message
