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
CPU_HEAD = ("exporter e { ops attach, map_dma_buf, unmap_dma_buf, release, begin_cpu_access, "
            "end_cpu_access\n  attachment mapped: 0..2\n"
            "  on map_dma_buf { att.mapped += 1 }\n  on unmap_dma_buf { att.mapped -= 1 }\n")


def _syncs(begin: str, end: str = "") -> str:
    return (CPU_HEAD + f"  on begin_cpu_access {{ {begin} }}\n"
            + (f"  on end_cpu_access {{ {end} }}\n" if end else "") + "}\n")


def test_a_loop_over_the_attachments_syncs_each_mapped_one() -> None:
    from model.machine import Model

    lib = load_text(_syncs("for a in buf.attachments { if a.mapped > 0 { sync_for_cpu(a, dir) } }",
                           "for a in buf.attachments { if a.mapped > 0 "
                           "{ sync_for_device(a, dir) } }"), "e.dmabuf")
    m = Model(lib.exporters["e"], None, "v6.16+", "1x2")
    seq = ["export(b0)", "attach(b0.a0, importer=static)", "attach(b0.a1, importer=static)",
           "map_unlocked(b0.a1, dir=TO_DEVICE)", "begin_cpu_access(b0, dir=TO_DEVICE)",
           "end_cpu_access(b0, dir=TO_DEVICE)"]
    assert [v for o in m.run(seq) for v in o.violations] == []
    # the same loop without the test of a->mapped syncs b0.a0, which holds no mapping
    lib = load_text(_syncs("for a in buf.attachments { sync_for_cpu(a, dir) }"), "e.dmabuf")
    out = Model(lib.exporters["e"], None, "v6.16+", "1x2").run(seq)
    assert [(v.tag, v.objects) for v in out[4].violations] == [
        ("cpu-sync-unmapped", ("b0", "b0.a0"))]


def test_the_own_mapping_form_and_cpu_coherent() -> None:
    from model.machine import Model

    seq = ["export(b0)", "attach(b0.a0, importer=static)", "map_unlocked(b0.a0, dir=TO_DEVICE)",
           "begin_cpu_access(b0, dir=TO_DEVICE)"]
    lib = load_text(_syncs("sync_for_cpu(BIDIRECTIONAL)"), "e.dmabuf")
    assert not lib.exporters["e"].cpu_coherent
    assert [v for o in Model(lib.exporters["e"], None, "v6.16+", "1x1").run(seq)
            for v in o.violations] == []
    text = _syncs("return 0").replace("attachment mapped", "cpu_coherent true\n  attachment mapped")
    lib = load_text(text, "e.dmabuf")
    assert lib.exporters["e"].cpu_coherent
    assert [v for o in Model(lib.exporters["e"], None, "v6.16+", "1x1").run(seq)
            for v in o.violations] == []
    lib = load_text(_syncs("return 0"), "e.dmabuf")
    out = Model(lib.exporters["e"], None, "v6.16+", "1x1").run(seq)
    assert [v.tag for v in out[3].violations] == ["begin-cpu-not-synced"]


@pytest.mark.parametrize(("body", "code", "text"), [
    ("sync_for_cpu()", "E138", "takes a direction"),
    ("sync_for_cpu(a)", "E138", "needs the direction"),
    ("sync_for_cpu(a, dir, dir)", "E138", "takes a direction"),
    ("sync_for_cpu(dir=dir)", "E138", "takes a direction"),
    ("sync_for_cpu(buf, dir)", "E138", "first argument is the attachment"),
    ("sync_for_cpu(true)", "E110", "expected a int"),
    ("sync_for_gpu(dir)", "E109", "unknown call 'sync_for_gpu()'"),
])
def test_sync_calls_are_checked(body: str, code: str, text: str) -> None:
    with pytest.raises(SpecError) as e:
        load_text(_syncs(f"for a in buf.attachments {{ {body} }}"), "e.dmabuf")
    d = e.value.diagnostics[0]
    assert d.code == code and text in d.message, d


@pytest.mark.parametrize("handler", ["map_dma_buf", "attach", "release"])
def test_syncs_belong_in_the_cpu_access_callbacks(handler: str) -> None:
    text = CPU_HEAD.replace(f"  on {handler} {{ att.mapped += 1 }}\n", "") + (
        f"  on {handler} {{ sync_for_device(TO_DEVICE) }}\n}}\n")
    with pytest.raises(SpecError) as e:
        load_text(text, "e.dmabuf")
    (d,) = e.value.diagnostics
    assert d.code == "E137" and f"in on {handler}" in d.message


def test_a_handler_loops_over_attachments_only() -> None:
    with pytest.raises(SpecError) as e:
        load_text(_syncs("for a in buf.fences { sync_for_cpu(a, dir) }"), "e.dmabuf")
    assert e.value.diagnostics[0].code == "E134"
