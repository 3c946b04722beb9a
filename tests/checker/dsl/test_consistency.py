"""What the language accepts it can do, and its hints lead somewhere: ``properties rules``
is the rules row every table shows; ``fallible`` names only callbacks whose failure a call
can inject; ``on NAME`` for a name that is no dma_buf_ops member does not say "add it to
ops"."""

from __future__ import annotations

import pytest

from checker.dsl.diagnostics import SpecError
from checker.dsl.resolve import load_text
from model.behaviour import OPS
from model.machine import Model
from model.ops.registry import FALLIBLE

EXPORTER = '''exporter mine "x" {{
  ops {ops}
  fallible {fallible}
}}
'''


def diagnostics(text: str) -> list[tuple[str, str, str]]:
    with pytest.raises(SpecError) as info:
        load_text(text, "c.dmabuf")
    return [(d.code, d.message, d.hint) for d in info.value.diagnostics]


def test_properties_rules_is_the_rules_alone() -> None:
    lib = load_text('import "core"\ncheck c { exporter ttm scope 1x1 properties rules }\n',
                    "c.dmabuf")
    assert lib.checks["c"].properties == ()
    lib = load_text('import "core"\ncheck c { exporter ttm scope 1x1 '
                    "properties rules, can_map }\n", "c.dmabuf")
    assert [p.name for p in lib.checks["c"].properties] == ["can_map"]


@pytest.mark.parametrize("op", sorted(set(OPS) - set(FALLIBLE)))
def test_a_fallible_callback_nothing_can_inject_is_refused(op: str) -> None:
    ops = ", ".join(dict.fromkeys(["map_dma_buf", "unmap_dma_buf", "release", op]))
    (found,) = diagnostics(EXPORTER.format(ops=ops, fallible=op))
    assert found[0] == "E122" and f"fallible '{op}'" in found[1]
    assert "the fallible callbacks are attach, begin_cpu_access" in found[2]


@pytest.mark.parametrize("op", FALLIBLE)
def test_every_fallible_callback_is_injected_by_some_call(op: str) -> None:
    ops = ", ".join(dict.fromkeys(["map_dma_buf", "unmap_dma_buf", "release", "pin", "unpin",
                                   op]))
    lib = load_text(EXPORTER.format(ops=ops, fallible=op), "c.dmabuf")
    model = Model(lib.exporters["mine"], None, "v6.16+", "1x1")
    injected = [a for a in model.actions if dict(a.params).get("fault") == "exporter"]
    assert injected, f"no call injects {op}'s failure"
    plain = load_text(EXPORTER.format(ops=ops, fallible="map_dma_buf" if op != "map_dma_buf"
                                      else "pin"), "d.dmabuf")
    other = Model(plain.exporters["mine"], None, "v6.16+", "1x1")
    assert {a.name for a in injected} != {a.name for a in other.actions
                                         if dict(a.params).get("fault") == "exporter"}


def test_on_hints_lead_to_a_spec_that_loads() -> None:
    (unknown,) = diagnostics('exporter e "x" {\n  ops map_dma_buf, unmap_dma_buf, release\n'
                             "  on fault { return -EINVAL }\n}\n")
    assert unknown[0] == "E112" and "names no dma_buf_ops member" in unknown[1]
    assert "add" not in unknown[2] and "vmap" in unknown[2]
    (missing,) = diagnostics('exporter e "x" {\n  ops map_dma_buf, unmap_dma_buf, release\n'
                             "  on mmap { return -EINVAL }\n}\n")
    assert missing[0] == "E112" and missing[2] == "add mmap to ops"
    # and following that hint gives a spec that loads
    load_text('exporter e "x" {\n  ops map_dma_buf, unmap_dma_buf, release, mmap\n'
              "  on mmap { return -EINVAL }\n}\n", "e.dmabuf")
