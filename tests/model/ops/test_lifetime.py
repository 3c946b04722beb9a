"""Export, fds, references and release (model/ops/lifetime.py): R1-R6 and R32."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from model import EXPORTERS, PROFILES, Exporter, ModelError, Party, Severity
from model.behaviour import Call
from model.context import Ctx
from model.kernel import EBADF, EFAULT, EINVAL, EMFILE, ENOENT, ENOMEM
from model.layout import LIVE, RELEASED, UNEXPORTED

if TYPE_CHECKING:
    from conftest import CanonicalFn, RunFn

ALL_PROFILES = (*PROFILES, "v6.16+,move_notify=y", "v6.2-6.15,move_notify=y")
CONTRACT_PROFILES = (*PROFILES, "v6.16+,move_notify=y")  # contract guards cost ~0.2 s each
SH = EXPORTERS["system_heap"]
TTM = EXPORTERS["ttm"]


# ------------------------------------------------------------------ R32: the good sequence


@pytest.mark.parametrize("profile", ALL_PROFILES)
@pytest.mark.parametrize("exporter", list(EXPORTERS))
def test_canonical_sequence_is_silent_and_releases(
        run: RunFn, canonical: CanonicalFn, exporter: str, profile: str) -> None:
    r = run(exporter, profile, canonical(profile))
    assert r.violations == [], r.explain()
    assert r.errnos == [0] * len(r.actions)
    assert r.value("b0.life") == RELEASED
    assert r.refcount() == 0
    assert r.value("b0.a0.st") == 2  # detached
    assert r.value("b0.vmap_cnt") == 0


@pytest.mark.parametrize("profile", CONTRACT_PROFILES)
@pytest.mark.parametrize("exporter", list(EXPORTERS))
def test_canonical_sequence_is_legal_in_contract_mode(
        run: RunFn, canonical: CanonicalFn, exporter: str, profile: str) -> None:
    r = run(exporter, profile, canonical(profile), mode="contract")
    assert r.violations == []
    assert r.value("b0.life") == RELEASED


@pytest.mark.parametrize("profile", PROFILES)
def test_canonical_sequence_references_step_by_step(
        run: RunFn, canonical: CanonicalFn, profile: str) -> None:
    r = run("system_heap", profile, canonical(profile))
    # export 1 | fd hands it to the fd table | get +1 | attach takes none | get_dma_buf +1
    assert [r.refcount(step=k) for k in range(len(r.actions))] == [
        1, 1, 2, 2, 3, 3, 3, 3, 3, 2, 1, 0]
    assert [r.value("b0.kref", k) for k in range(5)] == [1, 0, 1, 1, 2]
    assert r.value("b0.fds", 1) == 1


# ------------------------------------------------------------------ R1-R3: export checks


def _without(op: str) -> Exporter:
    return SH.derive(f"heap_without_{op}", f"no {op}", ops=SH.ops - {op})


BROKEN_EXPORTS = {
    "no_map": (_without("map_dma_buf"), "R1", "export-ops", "map_dma_buf"),
    "no_unmap": (_without("unmap_dma_buf"), "R1", "export-ops", "unmap_dma_buf"),
    "no_release": (_without("release"), "R1", "export-ops", "release"),
    "no_priv": (SH.derive("heap_no_priv", "NULL priv", priv=False), "R1", "export-ops", "priv"),
    "pin_only": (SH.derive("heap_pin_only", "pin, no unpin", ops=SH.ops | {"pin"}),
                 "R2", "export-pin-pair", "only one of pin/unpin"),
    "unpin_only": (SH.derive("heap_unpin_only", "unpin, no pin", ops=SH.ops | {"unpin"}),
                   "R2", "export-pin-pair", "only one of pin/unpin"),
    "ttm_no_unpin": (TTM.derive("ttm_no_unpin", "no unpin", ops=TTM.ops - {"unpin"}),
                     "R2", "export-pin-pair", "only one of pin/unpin"),
}


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("case", list(BROKEN_EXPORTS))
def test_export_rejects_broken_ops(run: RunFn, case: str, profile: str) -> None:
    exporter, rule, tag, words = BROKEN_EXPORTS[case]
    r = run(exporter, profile, ["export(b0)"], scope="1x1")
    v = r.only(0)
    assert (v.rule, v.tag, v.severity, v.party) == (
        rule, tag, Severity.WARN_ERRNO, Party.EXPORTER)
    assert words in v.message
    assert r.errno(0) == -EINVAL
    assert r.value("b0.life") == UNEXPORTED
    assert r.refcount() == 0


CACHE_AND_PIN = SH.derive("heap_cache_and_pin", "cache_sgt_mapping with pin/unpin",
                          cache_sgt_mapping=True, ops=SH.ops | {"pin", "unpin"})


@pytest.mark.parametrize("profile", ["v6.1", "v6.2-6.15"])
def test_cache_sgt_mapping_with_pin_is_rejected_up_to_6_15(run: RunFn, profile: str) -> None:
    r = run(CACHE_AND_PIN, profile, ["export(b0)"], scope="1x1")
    v = r.only(0)
    assert (v.rule, v.tag, v.severity, v.party) == (
        "R3", "export-cache-pin", Severity.WARN_ERRNO, Party.EXPORTER)
    assert r.errno(0) == -EINVAL
    assert r.value("b0.life") == UNEXPORTED


@pytest.mark.parametrize("profile", ["v6.16+", "v7.x"])
def test_cache_sgt_mapping_check_is_gone_from_6_16(run: RunFn, profile: str) -> None:
    # R3/R29: the field no longer exists, so nothing rejects the combination
    r = run(CACHE_AND_PIN, profile, ["export(b0)"], scope="1x1")
    assert r.violations == []
    assert r.errno(0) == 0
    assert r.value("b0.life") == LIVE


# ------------------------------------------------------------------ R4: export failures


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize(("fault", "errno"), [("module", ENOENT), ("nomem", ENOMEM)])
def test_export_failure_returns_errno_and_leaves_nothing(
        run: RunFn, profile: str, fault: str, errno: int) -> None:
    r = run("udmabuf", profile, [f"export(b0, fault={fault})", "export(b0)"])
    assert r.at(0) == ()
    assert r.errno(0) == -errno
    assert r.value("b0.life", 0) == UNEXPORTED
    assert r.refcount(step=0) == 0
    # nothing was created, so the buffer can be exported again
    assert r.errno(1) == 0
    assert r.value("b0.life", 1) == LIVE


def test_export_success_state(run: RunFn) -> None:
    r = run("system_heap", "v6.16+", ["export(b0)"])
    assert r.model.describe(r.state) == {"b0.life": LIVE, "b0.kref": 1}


def test_a_failed_export_enables_no_buffer_call(run: RunFn) -> None:
    r = run("system_heap", "v6.16+", ["export(b0, fault=nomem)"])
    enabled = {a.name for a in r.model.enabled(r.state, "misuse")}
    assert enabled == {"export"}
    with pytest.raises(ModelError):
        r.model.run(["export(b0, fault=nomem)", "put(b0)"])


# ------------------------------------------------------------------ R5: references


def test_fd_hands_the_callers_reference_to_the_fd_table(run: RunFn) -> None:
    r = run("system_heap", "v6.16+", ["export(b0)", "fd(b0)"])
    assert r.violations == []
    assert (r.value("b0.kref"), r.value("b0.fds"), r.refcount()) == (0, 1, 1)


def test_fd_failure_keeps_the_callers_reference(run: RunFn) -> None:
    r = run("system_heap", "v6.16+", ["export(b0)", "fd(b0, fault=emfile)", "put(b0)"])
    assert r.errno(1) == -EMFILE
    assert r.at(1) == ()
    assert (r.value("b0.kref", 1), r.value("b0.fds", 1)) == (1, 0)
    assert r.at(2) == ()
    assert r.value("b0.life") == RELEASED


def test_get_and_get_dma_buf_add_a_reference(run: RunFn) -> None:
    r = run("system_heap", "v6.16+", ["export(b0)", "fd(b0)", "get(b0)", "get_dma_buf(b0)"])
    assert r.violations == []
    assert [r.refcount(step=k) for k in range(4)] == [1, 1, 2, 3]


@pytest.mark.parametrize("opened", [True, False])
def test_dma_buf_get_of_a_file_that_is_not_a_dma_buf(run: RunFn, opened: bool) -> None:
    seq = ["export(b0)", "fd(b0)"] if opened else ["export(b0)"]
    r = run("system_heap", "v6.16+", [*seq, "get(b0, file=other)"])
    v = r.only(-1)
    assert (v.rule, v.tag, v.severity, v.party) == (
        "R5", "not-a-dma-buf", Severity.ERRNO, Party.IMPORTER)
    assert r.errno() == -EINVAL  # is_dma_buf_file, whatever fds of b0 are open
    assert r.state == r.outcomes[-2].state


REFERENCE_MISUSE = [
    # name: sequence, tag, refcount after
    ("put_without_reference", ["export(b0)", "fd(b0)", "put(b0)"], "put-without-reference"),
    ("fd_without_reference", ["export(b0)", "fd(b0)", "fd(b0)"], "fd-without-reference"),
    ("get_dma_buf_without_reference", ["export(b0)", "fd(b0)", "get_dma_buf(b0)"],
     "get-without-reference"),
]


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize(("seq", "tag"), [c[1:] for c in REFERENCE_MISUSE],
                         ids=[c[0] for c in REFERENCE_MISUSE])
def test_reference_misuse_is_an_importer_error(
        run: RunFn, profile: str, seq: list[str], tag: str) -> None:
    r = run("system_heap", profile, seq)
    assert r.at(0) == () and r.at(1) == ()
    v = r.only(-1)
    assert (v.rule, v.tag, v.severity, v.party) == ("R5", tag, Severity.SILENT, Party.IMPORTER)
    assert v.objects == ("b0",)
    assert v.step == len(seq) - 1
    assert r.errno() == 0
    assert r.value("b0.life") == LIVE


def test_put_without_reference_does_not_release(run: RunFn) -> None:
    r = run("system_heap", "v6.16+", ["export(b0)", "fd(b0)", "put(b0)", "close(b0)"])
    assert r.value("b0.life", 2) == LIVE
    assert "refcount 1, fds 1" in r.find("put-without-reference").message
    assert r.at(3) == ()
    assert r.value("b0.life") == RELEASED


USE_AFTER_FREE = [
    "put(b0)", "fd(b0)", "get_dma_buf(b0)", "lock(b0)", "unlock(b0)",
    "attach(b0.a0, importer=static)", "dynamic_attach(b0.a0, importer=dynamic)",
    "begin_cpu_access(b0, dir=TO_DEVICE)", "end_cpu_access(b0, dir=TO_DEVICE)",
    "vmap(b0)", "vunmap(b0)", "vmap_access(b0)", "reserve_fences(b0)",
    "add_fence(b0, usage=WRITE)", "dma_buf_mmap(b0, pages=1, pgoff=0)",
]


@pytest.mark.parametrize("action", USE_AFTER_FREE)
def test_calls_on_a_released_buffer_are_use_after_free(run: RunFn, action: str) -> None:
    r = run("system_heap", "v6.16+", ["export(b0)", "put(b0)", action])
    assert r.value("b0.life", 1) == RELEASED
    v = r.only(2)
    assert (v.rule, v.tag, v.severity, v.party) == (
        "R5", "use-after-free", Severity.SILENT, Party.IMPORTER)
    assert r.errno() == -EFAULT
    assert r.state == r.outcomes[1].state  # the model stops the call


@pytest.mark.parametrize("action", ["get(b0)", "close(b0)"])
def test_fd_calls_without_an_fd_fail_with_ebadf(run: RunFn, action: str) -> None:
    r = run("system_heap", "v6.16+", ["export(b0)", action])
    v = r.only(1)
    assert (v.rule, v.tag, v.severity, v.party) == ("R5", "bad-fd", Severity.ERRNO,
                                                      Party.IMPORTER)
    assert r.errno() == -EBADF
    assert (r.value("b0.kref"), r.value("b0.fds")) == (1, 0)


def test_close_after_release_is_ebadf(run: RunFn) -> None:
    r = run("system_heap", "v6.16+", ["export(b0)", "fd(b0)", "close(b0)", "close(b0)"])
    assert r.value("b0.life", 2) == RELEASED
    assert r.only(3).tag == "bad-fd"
    assert r.errno() == -EBADF


# ------------------------------------------------------------------ R6: release


def test_release_happens_once_on_the_last_reference(run: RunFn) -> None:
    r = run("system_heap", "v6.16+",
            ["export(b0)", "get_dma_buf(b0)", "fd(b0)", "put(b0)", "close(b0)"])
    assert [r.value("b0.life", k) for k in range(5)] == [LIVE, LIVE, LIVE, LIVE, RELEASED]
    assert r.violations == []


@pytest.mark.parametrize("profile", PROFILES)
def test_release_with_an_attachment_warns(run: RunFn, profile: str) -> None:
    r = run("system_heap", profile, ["export(b0)", "attach(b0.a0, importer=static)", "put(b0)"])
    assert r.rules(2) == {"R6", "R8"}
    v = r.find("release-with-attachment")
    assert (v.rule, v.severity, v.party, v.objects) == (
        "R6", Severity.WARN, Party.IMPORTER, ("b0", "b0.a0"))
    assert r.find("attached-without-reference").rule == "R8"
    assert r.value("b0.life") == RELEASED


@pytest.mark.parametrize("profile", ["v6.2-6.15", "v6.16+", "v7.x"])
def test_release_with_a_vmap_is_a_bug(run: RunFn, profile: str) -> None:
    r = run("system_heap", profile, ["export(b0)", "vmap_unlocked(b0)", "put(b0)"])
    v = r.only(2)  # the importer's BUG only: the exporter is not blamed as well
    assert (v.rule, v.tag, v.severity, v.party) == (
        "R6", "release-with-vmap", Severity.BUG, Party.IMPORTER)
    assert "vmapping_counter was 1" in v.message


def test_release_with_a_vmap_on_v6_1(run: RunFn) -> None:
    r = run("gem_prime", "v6.1", ["export(b0)", "vmap(b0)", "vmap(b0)", "put(b0)"])
    v = r.only(3)
    assert (v.rule, v.tag, v.severity) == ("R6", "release-with-vmap", Severity.BUG)
    assert "vmapping_counter was 2" in v.message


def test_release_with_resv_held_and_open_cpu_bracket(run: RunFn) -> None:
    r = run("system_heap", "v6.16+",
            ["export(b0)", "begin_cpu_access(b0, dir=FROM_DEVICE)", "lock(b0)", "put(b0)"])
    assert {(v.rule, v.tag, v.severity) for v in r.at(3)} == {
        ("R6", "release-with-resv", Severity.LOCKDEP),
        ("R21", "cpu-access-unbalanced", Severity.SILENT),
    }
    assert r.value("b0.resv") == 0
    assert r.value("b0.cpu") == 0


# ------------------------------------------------------------------ core invariants (R6, R25)


def _drop_kref_in_vmap(c: Ctx, call: Call) -> None:
    c.inc(call.buf.x["vmaps"])
    c.dec(call.buf.kref)  # an exporter that drops a reference without releasing


def _resurrect_in_release(c: Ctx, call: Call) -> None:
    c.set(call.buf.kref, 1)


def _keep_counter_in_vunmap(c: Ctx, call: Call) -> None:
    c.set(call.buf.vmap_cnt, 1)


CORRUPTING = {
    "live_with_refcount_0": (
        SH.derive("heap_vmap_drops_ref", "x", callbacks={"vmap": _drop_kref_in_vmap}),
        ["export(b0)", "lock(b0)", "vmap(b0)"], "R6", "release-once", Severity.SILENT,
        "live with a refcount of 0"),
    "released_with_references": (
        SH.derive("heap_release_resurrects", "x", callbacks={"release": _resurrect_in_release}),
        ["export(b0)", "put(b0)"], "R6", "release-once", Severity.SILENT,
        "was released but still has 1 reference(s)"),
    "vmap_counter_without_cache": (
        SH.derive("heap_vunmap_keeps_counter", "x", callbacks={"vunmap": _keep_counter_in_vunmap}),
        ["export(b0)", "lock(b0)", "vmap(b0)", "vunmap(b0)"], "R25", "vmap-cache", Severity.BUG,
        "vmapping_counter 1 and the cached vmap disagree"),
}


@pytest.mark.parametrize("case", list(CORRUPTING))
def test_core_invariants_catch_corrupted_core_state(run: RunFn, case: str) -> None:
    exporter, seq, rule, tag, severity, words = CORRUPTING[case]
    r = run(exporter, "v6.16+", seq)
    fired = [v for v in r.at(-1) if v.party is Party.CORE]
    assert len(fired) == 1, r.explain()
    v = fired[0]
    assert (v.rule, v.tag, v.severity) == (rule, tag, severity)
    assert words in v.message
    assert all(v.party is not Party.CORE for o in r.outcomes[:-1] for v in o.violations)


def test_core_invariant_reports_once(run: RunFn) -> None:
    # an invariant fires on the step that breaks it, not on every later step
    exporter = CORRUPTING["live_with_refcount_0"][0]
    r = run(exporter, "v6.16+", ["export(b0)", "lock(b0)", "vmap(b0)", "unlock(b0)", "lock(b0)"])
    assert [v.tag for v in r.violations if v.party is Party.CORE] == ["release-once"]
