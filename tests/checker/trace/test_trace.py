"""Kernel traces: the ftrace parser, the mapping of kernel objects to model objects, the
replay on the model, the probe definitions and the ``trace`` command line."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from checker.cli import main
from checker.conformance.initramfs import init_script
from checker.trace import probes
from checker.trace.mapping import slice_trace
from checker.trace.parse import TraceError, parse
from checker.trace.replay import Report, model_for, plan_slice, replay

DATA = Path(__file__).parent / "data"
HEAD = "     importer-7      [000] .....    1.{:06d}: "
B1, B2 = "0xffff888000010000", "0xffff888000020000"


def lines(*events: str) -> str:
    return "".join(HEAD.format(i) + e + "\n" for i, e in enumerate(events))


def export(buf: str, file: str = "0xffff888000f00000") -> tuple[str, str]:
    return ("dmabuf_export: (dma_buf_export+0x0/0x2e0)",
            f"dmabuf_export_ret: (drm_gem_dmabuf_export+0x18/0x90 [drm] <- dma_buf_export) "
            f"ret={buf} file={file}")


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def check(text: str, profile: str = "v6.1", tmp: Path | None = None) -> Report:
    trace = parse(text, "t.txt")
    report = Report("t.txt", profile, "gem_prime")
    replay(slice_trace(trace), "t.txt", profile, "gem_prime", report)
    return report


# ---------------------------------------------------------------- parser
def test_parser_reads_kprobe_and_tracepoint_lines() -> None:
    t = parse(lines(
        "dmabuf_put: (dma_buf_put+0x0/0x20) buf=0xffff888000010000 file=0x1 count=2 size=8192",
        "dma_buf_detach: exp_name=vgem size=8192 ino=41 attachment:0xffff88807 "
        "is_dynamic=0 dev_name=x") + "# a comment\n\n", "t.txt")
    put, detach = t.events
    assert (put.name, put.pid, put.task, put.timestamp) == ("dmabuf_put", 7, "importer",
                                                            "1.000000")
    assert put.fields["count"] == "2" and put.site == "dma_buf_put+0x0/0x20"
    assert detach.fields["attachment"] == "0xffff88807" and detach.fields["ino"] == "41"
    assert put.line == 1 and detach.line == 2


def test_parser_counts_unknown_events_and_reads_tgid_column() -> None:
    t = parse("  kworker/0:1-12   (  12) [001] d..1.  5.5: sched_switch: prev_comm=a\n"
              "  kworker/0:1-12   (  12) [001] d..1.  5.6: sched_switch: prev_comm=b\n")
    assert t.skipped == {"sched_switch": 2} and not t.events


def test_malformed_line_is_an_error_with_its_position() -> None:
    with pytest.raises(TraceError) as e:
        parse(lines("dmabuf_put: (dma_buf_put+0x0/0x20) buf=0x1") + "garbage here\n", "t.txt")
    assert str(e.value).startswith("t.txt:2:1: not an ftrace event line")


def test_unreadable_field_points_at_its_column() -> None:
    text = lines(*export(B1), "dmabuf_put: (dma_buf_put+0x0/0x20) buf=(fault) count=1")
    with pytest.raises(TraceError) as e:
        slice_trace(parse(text, "t.txt"))
    col = text.splitlines()[2].index("(fault)") + 1
    assert str(e.value).startswith(f"t.txt:3:{col}: field buf of dmabuf_put is a fault")


def test_missing_field_names_the_fields_there_are() -> None:
    with pytest.raises(TraceError, match=r"t.txt:1:1: event dmabuf_put has no field 'buf'"):
        slice_trace(parse(lines("dmabuf_put: (dma_buf_put+0x0/0x20) count=1"), "t.txt"))


# ---------------------------------------------------------------- mapping
def test_buffers_are_sliced_and_pointers_reused_after_release() -> None:
    text = lines(*export(B1, "0xf1"), *export(B2, "0xf2"),
                 f"dmabuf_put: (dma_buf_put+0x0/0x20) buf={B2} file=0xf2 count=1",
                 "dmabuf_put_ret: (x+0x1/0x2 <- dma_buf_put)",
                 "dmabuf_file_release: (dma_buf_file_release+0x0/0x90) file=0xf2",
                 "dmabuf_file_release_ret: (__fput+0x93/0x250 <- dma_buf_file_release)",
                 *export(B2, "0xf3"))
    m = slice_trace(parse(text))
    assert [s.name for s in m.slices] == [f"dma_buf {B1}", f"dma_buf {B2}", f"dma_buf {B2}"]
    assert [st.op for st in m.slices[1].steps] == ["export", "put", "release"]
    assert m.consumed == 10


def test_calls_inside_calls_are_part_of_the_outer_operation() -> None:
    m = slice_trace(parse((DATA / "missing-detach.txt").read_text()))
    (s,) = m.slices
    assert [st.op for st in s.steps] == ["export", "fd", "get", "attach", "map", "unmap",
                                         "put", "release"]
    assert m.nested == 2
    unmap = s.steps[5]
    assert unmap.params == {"dir": "BIDIRECTIONAL", "slot": 0} and unmap.att == 0


def test_a_failed_map_is_replayed_as_the_models_fault() -> None:
    att = "0xffff888000030000"
    text = lines(*export(B1),
                 "dmabuf_get: (dma_buf_get+0x0/0x60) fd=5",
                 f"dmabuf_get_ret: (imp+0x1/0x2 <- dma_buf_get) ret={B1}",
                 f"dmabuf_attach: (dma_buf_attach+0x0/0x20) buf={B1} file=0x1 count=2",
                 f"dmabuf_attach_ret: (imp+0x1/0x2 <- dma_buf_attach) ret={att}",
                 f"dmabuf_map_attachment: (dma_buf_map_attachment+0x0/0x9) att={att} dir=1",
                 "dmabuf_map_attachment_ret: (imp+0x1/0x2 <- dma_buf_map_attachment) "
                 "ret=0xfffffffffffffff4")
    m = slice_trace(parse(text))
    assert m.slices[0].steps[-1].errno == -12
    r = check(text)
    assert r.clean, [f.render("t") for f in r.findings]
    planned = [str(p.action) for p in plan_slice(model_for("gem_prime", "v6.1", 1, 2),
                                                 m.slices[0])[0]]
    assert planned[-3:] == ["lock(b0)", "map(b0.a0, dir=TO_DEVICE, fault=nomem)",
                            "unlock(b0)"]
    # the same call returning a table is replayed as a success
    ok = slice_trace(parse(text.replace("0xfffffffffffffff4", "0xffff888000040000")))
    planned = [str(p.action) for p in plan_slice(model_for("gem_prime", "v6.1", 1, 2),
                                                 ok.slices[0])[0]]
    assert planned[-2] == "map(b0.a0, dir=TO_DEVICE)"


def test_an_attachment_made_before_the_trace_is_skipped() -> None:
    text = lines(*export(B1),
                 "dmabuf_unpin: (dma_buf_unpin+0x0/0x9) att=0xffff888000030000",
                 "dmabuf_unpin_ret: (imp+0x1/0x2 <- dma_buf_unpin)")
    m = slice_trace(parse(text))
    assert m.consumed == 2 and m.unmapped == {"an attachment made before the trace began": 1}


def test_a_buffer_seen_only_after_its_export_starts_with_one() -> None:
    text = lines(f"dmabuf_put: (dma_buf_put+0x0/0x20) buf={B1} file=0x1 count=1",
                 "dmabuf_put_ret: (x+0x1/0x2 <- dma_buf_put)")
    (s,) = slice_trace(parse(text)).slices
    assert not s.exported and [st.op for st in s.steps] == ["export", "put"]
    assert check(text).clean


def test_a_private_mapping_replays_as_sharing_private() -> None:
    # vm_flags without VM_MAYSHARE (0x100073: a MAP_PRIVATE, PROT_WRITE mapping) is the
    # model's sharing=private, which gem_prime refuses (drm_gem_shmem_mmap: is_cow_mapping)
    file = "0xffff888000f00000"
    head = (*export(B1, file), f"dmabuf_fd: (dma_buf_fd+0x0/0x9) buf={B1} file={file} count=1",
            "dmabuf_fd_ret: (x+0x1/0x2 <- dma_buf_fd) ret=5")

    def mmap(vmflags: str, ret: str) -> tuple[str, str]:
        return (f"dmabuf_mmap_internal: (dma_buf_mmap_internal+0x4/0x50) file={file} "
                f"count=2 start=0x7f0000000000 end=0x7f0000001000 pgoff=0 vmflags={vmflags}",
                f"dmabuf_mmap_internal_ret: (x+0x1/0x2 <- dma_buf_mmap_internal) ret={ret}")

    refused = lines(*head, *mmap("0x100073", "-22"))
    (s,) = slice_trace(parse(refused)).slices
    assert s.steps[-1].params == {"pgoff": 0, "pages": 1, "sharing": "private"}
    assert check(refused).clean
    # the same refusal of a shared mapping is a result the model answers differently
    r = check(lines(*head, *mmap("0xfb", "-22")))
    assert not r.clean and "the kernel returned -EINVAL, the model ok" in r.findings[0].render("t")


# ---------------------------------------------------------------- replay
def test_recorded_guest_traces_are_clean() -> None:
    for name, profile in (("guest-6.1.txt", "v6.1"), ("guest-6.12.txt", "v6.2-6.15")):
        r = check((DATA / name).read_text(), profile)
        assert r.clean, [f.render(name) for f in r.findings if f.kind != "refused"][:5]
        assert r.buffers > 50 and r.steps > 400


def test_a_real_kernel_importer_trace_is_clean() -> None:
    # vgem importing udmabufs on 6.12: attach, map_attachment_unlocked (with the locked
    # map inside it), unmap, detach and the puts of drm_prime
    r = check((DATA / "import-6.12.txt").read_text(), "v6.2-6.15")
    assert r.clean and r.buffers == 3 and r.exporters == {"udmabuf": 3}
    m = slice_trace(parse((DATA / "import-6.12.txt").read_text()))
    assert m.nested == 18 and [st.op for st in m.slices[0].steps][:6] == [
        "export", "fd", "get", "attach", "map_unlocked", "put"]


def seeded(edit: str) -> str:
    """The real importer trace with one misuse seeded into its first buffer."""
    lines = (DATA / "import-6.12.txt").read_text().splitlines(keepends=True)
    if edit == "no-detach":
        return "".join(x for i, x in enumerate(lines)
                       if i not in [k for k, y in enumerate(lines) if "dmabuf_detach" in y][:2])
    k = next(i for i, x in enumerate(lines) if "drm_gem_shmem_free" in x)  # the last put
    again = [lines[k - 1].replace("count=2", "count=1"), lines[k]]
    return "".join(lines[:k + 1] + again + lines[k + 1:])


def test_seeded_misuse_in_a_real_trace_is_flagged() -> None:
    r = check(seeded("no-detach"), "v6.2-6.15")
    assert ("R6", "release-with-attachment") in {(f.rule, f.tag) for f in r.findings}
    r = check(seeded("double-put"), "v6.2-6.15")
    assert [(f.rule, f.tag, f.line) for f in r.findings if f.kind == "violation"] == [
        ("R5", "put-without-reference", 44)]


def test_double_put_is_flagged_with_r5() -> None:
    r = check((DATA / "double-put.txt").read_text())
    (f,) = [f for f in r.findings if f.kind == "violation"]
    assert (f.rule, f.tag, f.line, f.timestamp) == ("R5", "put-without-reference", 13,
                                                    "10.000400")


def test_missing_detach_is_flagged_with_r6() -> None:
    r = check((DATA / "missing-detach.txt").read_text())
    rules = {(f.rule, f.tag, f.line) for f in r.findings if f.kind == "violation"}
    assert ("R6", "release-with-attachment", 21) in rules


def test_inferred_references_follow_the_recorded_count() -> None:
    # drm_prime's handle cache holds two references taken by inlined get_dma_buf
    text = lines(*export(B1),
                 f"dmabuf_put: (dma_buf_put+0x0/0x20) buf={B1} file=0xf count=3",
                 "dmabuf_put_ret: (x+0x1/0x2 <- dma_buf_put)",
                 f"dmabuf_put: (dma_buf_put+0x0/0x20) buf={B1} file=0xf count=2",
                 "dmabuf_put_ret: (x+0x1/0x2 <- dma_buf_put)")
    r = check(text)
    assert r.clean and r.inferred == 2
    # the same puts with no count: the second put has no reference in the model
    r = check(text.replace(" count=3", "").replace(" count=2", ""))
    assert [(f.rule, f.tag) for f in r.findings] == [("R5", "use-after-free")]


def test_tracepoints_of_7x_replay() -> None:
    r = check((DATA / "tracepoints-7x.txt").read_text(), "v7.x")
    assert r.clean and r.steps == 6


# ---------------------------------------------------------------- probes
def test_every_probe_event_is_one_the_parser_reads() -> None:
    defs = probes.definitions(probes.LAYOUTS["6.1"])
    names = {d.split()[0].split("/")[1] for d in defs}
    assert names == set(probes.BY_EVENT)
    assert all(d.split()[1] in {p.function for p in probes.PROBES} for d in defs)
    assert "count=+56(+8($arg1)):s64" in defs[2]


def test_guest_records_with_the_same_probes() -> None:
    script = probes.shell(probes.LAYOUTS["6.12"])
    for d in probes.definitions(probes.LAYOUTS["6.12"]):
        assert f"echo '{d}' >> $T/kprobe_events" in script
    init = init_script(True)
    assert "/trace-probes.sh" in init and "@@ trace begin" in init
    assert init.index("/trace-probes.sh") < init.index("/conformance") < init.index(
        "@@ trace begin")
    assert "trace" not in init_script(False)


def test_layout_parse() -> None:
    assert probes.parse_layout("count=8,pgoff=16") == probes.Layout("count=8,pgoff=16", 8, 16)
    with pytest.raises(ValueError, match="count=N,pgoff=M"):
        probes.parse_layout("6.99")


# ---------------------------------------------------------------- command line
def test_cli_exit_codes(tmp_path: Path) -> None:
    code, out, _ = cli("trace", "check", str(DATA / "guest-6.1.txt"), "--profile", "v6.1")
    assert code == 0 and "clean" in out and "726 consumed" in out and "(63 gem_prime)" in out
    code, out, _ = cli("trace", "check", str(DATA / "double-put.txt"), "--profile", "v6.1")
    assert code == 1 and "double-put.txt:13: t=10.000400: R5 put-without-reference" in out
    bad = tmp_path / "bad.txt"
    bad.write_text("not a trace\n")
    code, _, err = cli("trace", "check", str(bad), "--profile", "v6.1")
    assert code == 2 and f"{bad}:1:1: not an ftrace event line" in err
    lost = tmp_path / "lost.txt"
    lost.write_text("CPU:0 [LOST 3 EVENTS]\n")
    code, _, err = cli("trace", "check", str(lost), "--profile", "v6.1")
    assert code == 2 and "lost 3 event(s)" in err
    code, _, err = cli("trace", "check", str(tmp_path / "none.txt"), "--profile", "v6.1")
    assert code == 2 and "cannot read the trace" in err


def test_cli_json() -> None:
    code, out, _ = cli("trace", "check", str(DATA / "missing-detach.txt"), "--profile",
                       "v6.1", "--format", "json")
    doc = json.loads(out)
    assert code == 1 and doc["consumed"] == 16 and doc["buffers"] == 1
    assert {"R6", "R8"} <= {f["rule"] for f in doc["findings"]}


def test_cli_probes() -> None:
    code, out, _ = cli("trace", "probes", "--layout", "6.1")
    assert code == 0 and out.startswith("#!/bin/sh")
    assert "p:dmabuf/dmabuf_put dma_buf_put buf=$arg1:x64" in out
    code, out, _ = cli("trace", "probes", "--bpftrace")
    assert code == 0 and "kretprobe:dma_buf_map_attachment" in out
    code, out, _ = cli("trace", "probes", "--remove")
    assert code == 0 and "echo '-:dmabuf/dmabuf_put_ret' >> $T/kprobe_events" in out
    assert out.count("-:dmabuf/") == len(probes.BY_EVENT)
    code, _, err = cli("trace", "probes", "--layout", "nope")
    assert code == 2 and "--layout" in err


def test_a_traced_success_fixes_no_value() -> None:
    """A trace records a call's errno, not the value it returned: a success of an operation
    that returns a value (poll, llseek) expects nothing of it, any other one is ok."""
    from checker.dsl import ast
    from checker.trace.replay import _outcomes

    assert _outcomes(0, "poll") == () and _outcomes(0, "llseek") == ()
    assert _outcomes(0, "fd") == (ast.Outcome("ok"),)
    assert _outcomes(-22, "llseek") == (ast.Outcome("errno", errno="EINVAL"),)
    assert _outcomes(None, "map") == ()
