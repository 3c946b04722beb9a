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


HEAD = "exporter e { ops map_dma_buf, unmap_dma_buf, release, mmap, vmap, vunmap, page_fault\n"


def test_the_fault_names_are_known_in_on_page_fault_only() -> None:
    lib = load_text(HEAD + "  on page_fault { if pgoff >= pagecount { return SIGBUS } } }\n",
                    "e.dmabuf")
    assert lib.exporters["e"].has("page_fault")
    for name in ("pgoff", "pagecount", "SIGBUS"):
        with pytest.raises(SpecError) as e:
            load_text(HEAD + f"  on mmap {{ return {name} }} }}\n", "e.dmabuf")
        d = e.value.diagnostics[0]
        assert d.code == "E108" and f"'{name}' is not defined in on mmap" in d.message


def test_dontexpand_is_a_call_of_on_mmap_only() -> None:
    lib = load_text(HEAD + "  on mmap { dontexpand() } }\n", "e.dmabuf")
    assert "e" in lib.exporters
    with pytest.raises(SpecError) as e:
        load_text(HEAD + "  on vmap { dontexpand() } }\n", "e.dmabuf")
    d = e.value.diagnostics[0]
    assert d.code == "E109" and "'dontexpand()' is a call of on mmap only" in d.message


def test_an_importer_has_no_dontexpand() -> None:
    with pytest.raises(SpecError) as e:
        load_text("importer i { dynamic\n  on move_notify { dontexpand() } }\n", "i.dmabuf")
    assert e.value.diagnostics[0].code == "E109"
