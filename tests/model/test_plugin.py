"""Python-class behaviours run in the concrete step, refuse symbolic use, and support
contract mode by running the step."""

from __future__ import annotations

import re

import pytest

from model import Model
from model.importers import STATIC
from model.kernel import EFAULT, VM_FAULT_SIGBUS, VM_FAULT_SIGSEGV
from model.plugin import (
    CallView,
    PluginError,
    PythonExporter,
    PythonImporter,
    Severity,
    as_exporter,
    as_importer,
    counter,
    flag,
)
from model.program import NotEncodable
from model.rules import RULES
from model.violation import Party


class Mover(PythonExporter):
    name = "mover"
    ops = frozenset({"map_dma_buf", "unmap_dma_buf", "release", "pin", "unpin", "attach"})
    buffer_fields = (counter("pins", 4), counter("moves", 3))
    attachment_fields = (flag("seen"),)

    def __init__(self, notify: bool) -> None:
        self.notify = notify

    def attach(self, call: CallView) -> int:
        assert call.att is not None
        call.att.x["seen"] = 1
        call.att.p2p = False
        return 0

    def pin(self, call: CallView) -> int:
        call.buf.x["pins"] += 1
        return 0

    def unpin(self, call: CallView) -> int:
        call.buf.x["pins"] -= 1
        return 0

    def move(self, call: CallView) -> int:
        if call.buf.x["pins"]:
            return -16
        call.buf.set_resv(True)
        if self.notify:
            call.buf.move_notify()
        call.buf.moved()
        call.buf.set_resv(False)
        call.buf.x["moves"] += 1
        return 0


SEQ = ["export(b0)", "dynamic_attach(b0.a0, importer=dynamic)",
       "map_unlocked(b0.a0, dir=TO_DEVICE)", "move(b0)"]


def test_a_correct_python_exporter_passes() -> None:
    m = Model(as_exporter(Mover(notify=True)), profile="v7.x")
    outs = m.run(SEQ)
    assert [v for o in outs for v in o.violations] == []
    s = outs[-1].state
    assert m.value(s, "b0.x.moves") == 1 and m.value(s, "b0.a0.x.seen") == 1
    assert m.value(s, "b0.a0.p2p") == 0


def test_a_broken_python_exporter_is_caught() -> None:
    m = Model(as_exporter(Mover(notify=False)), profile="v7.x")
    outs = m.run(SEQ)
    assert [(v.rule, v.tag) for v in outs[-1].violations] == [("R18", "move-without-notify")]


def test_errno_from_python_move() -> None:
    m = Model(as_exporter(Mover(notify=True)), profile="v7.x")
    outs = m.run(["export(b0)", "dynamic_attach(b0.a0, importer=pinned)", "lock(b0)",
                  "pin(b0.a0)", "unlock(b0)", "move(b0)"])
    assert outs[-1].errno == -16


def test_contract_mode_runs_the_step_and_symbolic_use_is_refused() -> None:
    m = Model(as_exporter(Mover(notify=True)), profile="v7.x")
    assert not m.encodable
    s = m.run(SEQ[:2])[-1].state
    legal = {str(a) for a in m.enabled(s, "contract")}
    assert "map_unlocked(b0.a0, dir=TO_DEVICE)" in legal
    assert "map(b0.a0, dir=TO_DEVICE)" not in legal  # the locked form needs resv
    assert "put(b0)" not in legal  # the importer's last reference while attached
    with pytest.raises(NotEncodable, match="is a Python class"):
        m.guards("contract")


def test_enabledness_of_a_visited_state_is_remembered_and_unchanged() -> None:
    m = Model(as_exporter(Mover(notify=True)), profile="v7.x")
    states = [o.state for o in m.run(SEQ)]
    for mode in ("contract", "misuse"):
        first = [m.enabled_indices(s, mode) for s in states]
        first[0].clear()  # a caller's copy: what the model keeps is untouched
        again = [m.enabled_indices(s, mode) for s in states]
        by_step = [[k for k, a in enumerate(m.actions) if m.is_enabled(s, a, mode)]
                   for s in states]
        assert again == by_step and first[1:] == by_step[1:]


def test_out_of_bounds_writes_are_reported_as_for_programs() -> None:
    m = Model(as_exporter(Mover(notify=True)), profile="v7.x")
    outs = m.run(["export(b0)", "dynamic_attach(b0.a0, importer=dynamic)", "lock(b0)",
                  "unpin(b0.a0)"])
    tags = [v.tag for v in outs[-1].violations]
    assert tags == ["unpin-without-pin", "counter-underflow"]


class Forgetful(PythonImporter):
    name = "forgetful"

    def move_notify(self, call: CallView) -> None:
        return None


def test_python_importer_move_notify_is_called() -> None:
    m = Model(as_exporter(Mover(notify=True)), (STATIC, as_importer(Forgetful())),
              profile="v7.x")
    outs = m.run(["export(b0)", "dynamic_attach(b0.a0, importer=forgetful)",
                  "map_unlocked(b0.a0, dir=TO_DEVICE)", "move(b0)", "access(b0.a0, slot=0)"])
    assert [v.tag for v in outs[-1].violations] == ["access-after-move"]


def test_unknown_private_field() -> None:
    class Bad(PythonExporter):
        name = "bad"

        def map_dma_buf(self, call: CallView) -> int:
            return call.buf.x["nope"]

    m = Model(as_exporter(Bad()), profile="v6.16+")
    with pytest.raises(PluginError, match=r"Bad.map_dma_buf\(\): buffer b0 has no field 'nope'"):
        m.run(["export(b0)", "attach(b0.a0, importer=static)",
               "map_unlocked(b0.a0, dir=TO_DEVICE)"])


# ---------------------------------------------------------------- declarations


class Failing(PythonExporter):
    """vmap with a failure path of its own; counts what it saw of the call."""

    name = "failing"
    fallible = frozenset({"vmap"})
    profiles = ("v7.x", "v6.16+")
    modelled_on = "a test driver"
    buffer_fields = (counter("vmaps", 2), counter("seen", 3), flag("failed"))

    def vmap(self, call: CallView) -> int:
        if call.failing:
            call.buf.x["failed"] = True
            return -12
        call.buf.x["vmaps"] += 1
        call.buf.x["seen"] = len(call.buf.attachments)
        return 0

    def vunmap(self, call: CallView) -> None:
        call.buf.x["vmaps"] -= 1


def test_declarations_pass_through() -> None:
    x = as_exporter(Failing())
    assert x.fallible == frozenset({"vmap"})
    assert x.profiles == ("v6.16+", "v7.x")  # in the kernel's order
    assert x.modelled_on == "a test driver (Python class Failing)"
    assert x.ops == frozenset({"map_dma_buf", "unmap_dma_buf", "release", "vmap", "vunmap"})
    defaults = as_exporter(Mover(notify=True))
    assert defaults.fallible == frozenset() and defaults.priv is True
    assert defaults.profiles == ("v6.1", "v6.2-6.15", "v6.16+", "v7.x")
    assert defaults.modelled_on == "Python class Mover"


def test_failing_is_true_only_where_the_action_injects_the_exporters_failure() -> None:
    m = Model(as_exporter(Failing()), profile="v7.x", scope="1x2")
    assert {str(a) for a in m.actions if a.name == "vmap_unlocked"} == {
        "vmap_unlocked(b0)", "vmap_unlocked(b0, fault=exporter)"}
    out = m.run(["export(b0)", "vmap_unlocked(b0, fault=exporter)"])
    assert out[-1].errno == -12
    assert [(v.rule, v.tag) for v in out[-1].violations] == [("R25", "vmap-failed")]
    assert m.value(out[-1].state, "b0.x.failed") == 1
    assert m.value(out[-1].state, "b0.x.vmaps") == 0
    out = m.run(["export(b0)", "vmap_unlocked(b0)"])
    assert out[-1].errno == 0 and m.value(out[-1].state, "b0.x.failed") == 0


def test_priv_false_breaks_r1_at_export() -> None:
    class NoPriv(Failing):
        priv = False

    x = as_exporter(NoPriv())
    assert x.priv is False
    out = Model(x, profile="v7.x", scope="1x1").run(["export(b0)"])
    assert "R1" in [v.rule for v in out[-1].violations]


def test_attachments_lists_the_attached_ones() -> None:
    m = Model(as_exporter(Failing()), profile="v7.x", scope="1x3")
    out = m.run(["export(b0)", "attach(b0.a0, importer=static)",
                 "attach(b0.a2, importer=static)", "vmap_unlocked(b0)"])
    assert m.value(out[-1].state, "b0.x.seen") == 2


class Reader(PythonExporter):
    """Reads core fields and reports what it saw."""

    name = "reader"
    ops = frozenset({"map_dma_buf", "unmap_dma_buf", "release", "begin_cpu_access"})
    cpu_coherent = True  # what it reads is the point, not the cache maintenance (R21)

    def begin_cpu_access(self, call: CallView) -> int:
        buf = call.buf
        (att,) = buf.attachments
        call.report("R21", "saw-state",
                    f"{call.dir} kref={buf.kref} refcount={buf.refcount} live={buf.live} "
                    f"{att.name} maps={att.maps} dyn={att.dynamic} {{braces}}",
                    Severity.SILENT)
        return 0


def test_views_read_core_fields_and_report() -> None:
    m = Model(as_exporter(Reader()), profile="v6.16+", scope="1x1")
    out = m.run(["export(b0)", "get_dma_buf(b0)", "attach(b0.a0, importer=static)",
                 "map_unlocked(b0.a0, dir=TO_DEVICE)", "begin_cpu_access(b0, dir=FROM_DEVICE)"],
                mode="contract")
    (v,) = out[-1].violations
    assert (v.rule, v.tag, v.severity, v.party, v.objects) == (
        "R21", "saw-state", Severity.SILENT, Party.EXPORTER, ("b0",))
    assert v.message == ("FROM_DEVICE kref=2 refcount=2 live=1 b0.a0 maps=1 dyn=False "
                         "{braces}")


class Syncer(PythonExporter):
    """begin/end_cpu_access sync the mapped attachments (``own``: the exporter's own
    mapping of all the pages instead), the way ``wrong`` says."""

    name = "syncer"
    ops = frozenset({"map_dma_buf", "unmap_dma_buf", "release", "begin_cpu_access",
                     "end_cpu_access", "vmap"})

    def __init__(self, own: bool = False, wrong: str = "") -> None:
        self.own, self.wrong = own, wrong

    def _sync(self, call: CallView, for_cpu: bool) -> None:
        assert call.dir is not None
        d = "TO_DEVICE" if self.wrong == "direction" else call.dir
        if self.wrong == "name":
            d = "SIDEWAYS"
        if self.wrong == "way":
            for_cpu = not for_cpu
        if self.own:
            (call.buf.sync_for_cpu if for_cpu else call.buf.sync_for_device)(d)
            return
        for a in call.buf.attachments:
            if a.maps > 0 or self.wrong == "unmapped":
                (a.sync_for_cpu if for_cpu else a.sync_for_device)(d)

    def begin_cpu_access(self, call: CallView) -> int:
        if self.wrong != "skip":
            self._sync(call, True)
        return 0

    def end_cpu_access(self, call: CallView) -> int:
        self._sync(call, False)
        return 0

    def vmap(self, call: CallView) -> int:
        call.buf.sync_for_cpu("TO_DEVICE")
        return 0


CPU_SEQ = ["export(b0)", "get_dma_buf(b0)", "attach(b0.a0, importer=static)",
           "attach(b0.a1, importer=static)", "map_unlocked(b0.a0, dir=FROM_DEVICE)",
           "begin_cpu_access(b0, dir=FROM_DEVICE)", "end_cpu_access(b0, dir=FROM_DEVICE)"]


@pytest.mark.parametrize(("own", "wrong", "tags"), [
    (False, "", []), (True, "", []),
    (False, "skip", [(5, "begin-cpu-not-synced")]),
    (False, "way", [(5, "cpu-sync-wrong-way"), (5, "begin-cpu-not-synced"),
                    (6, "cpu-sync-wrong-way"), (6, "end-cpu-not-synced")]),
    (True, "direction", [(5, "cpu-sync-direction"), (6, "cpu-sync-direction")]),
    (False, "unmapped", [(5, "cpu-sync-unmapped"), (6, "cpu-sync-unmapped")]),
])
def test_a_plugin_syncs_through_the_core(own: bool, wrong: str,
                                         tags: list[tuple[int, str]]) -> None:
    m = Model(as_exporter(Syncer(own, wrong)), profile="v6.16+", scope="1x2")
    out = m.run(CPU_SEQ, mode="contract")
    found = [(i, v.tag) for i, o in enumerate(out) for v in o.violations]
    assert found == tags
    assert all(v.rule == "R21" and v.party is Party.EXPORTER for o in out for v in o.violations)


def test_a_plugin_syncs_only_in_cpu_access_and_with_a_direction_name() -> None:
    m = Model(as_exporter(Syncer()), profile="v6.16+", scope="1x1")
    with pytest.raises(PluginError, match=r"Syncer.vmap\(\): sync_for_cpu\(\) is cache "
                                          "maintenance for CPU access"):
        m.run(["export(b0)", "vmap_unlocked(b0)"])
    m = Model(as_exporter(Syncer(wrong="name")), profile="v6.16+", scope="1x1")
    with pytest.raises(PluginError, match="give a direction name"):
        m.run(["export(b0)", "attach(b0.a0, importer=static)",
               "map_unlocked(b0.a0, dir=FROM_DEVICE)", "begin_cpu_access(b0, dir=FROM_DEVICE)"])


def test_cpu_coherent_is_a_bool() -> None:
    class Coherent(PythonExporter):
        name = "coherent"
        cpu_coherent = "yes"  # type: ignore[assignment]

    with pytest.raises(PluginError, match=r"Coherent.cpu_coherent = 'yes': give True or False"):
        as_exporter(Coherent())
    assert as_exporter(Reader()).cpu_coherent


# ---------------------------------------------------------------- services


class Locker(PythonExporter):
    name = "locker"
    buffer_fields = (counter("n", 1),)

    def __init__(self, twice: bool) -> None:
        self.twice = twice

    def move(self, call: CallView) -> int:
        call.buf.set_resv(True)
        if self.twice:
            call.buf.set_resv(True)
        call.buf.set_resv(False)
        if self.twice:
            call.buf.set_resv(False)
        return 0


def test_set_resv_checks_like_lock_and_unlock() -> None:
    ok = Model(as_exporter(Locker(twice=False)), profile="v7.x", scope="1x1")
    assert ok.run(["export(b0)", "move(b0)"])[-1].violations == ()
    bad = Model(as_exporter(Locker(twice=True)), profile="v7.x", scope="1x1")
    out = bad.run(["export(b0)", "move(b0)"])
    assert [(v.rule, v.tag) for v in out[-1].violations] == [
        ("R24", "exporter-recursive-resv"), ("R24", "exporter-unlock-unheld")]


class Tearing(PythonImporter):
    name = "tearing"

    def move_notify(self, call: CallView) -> None:
        assert call.att is not None
        call.att.unmap_all()


def test_python_importer_unmaps_all_in_move_notify() -> None:
    m = Model(as_exporter(Mover(notify=True)), (STATIC, as_importer(Tearing())),
              profile="v7.x")
    outs = m.run(["export(b0)", "dynamic_attach(b0.a0, importer=tearing)",
                  "map_unlocked(b0.a0, dir=TO_DEVICE)", "move(b0)"])
    assert [v for o in outs for v in o.violations] == []
    assert m.value(outs[-1].state, "b0.a0.s0.dir") == 0  # unmapped before the move


def test_services_follow_the_model_they_run_in() -> None:
    """One adapted exporter in two models: each model's move_notify is its own (its
    profile names the callback)."""
    from model.profiles import profile

    x = as_exporter(Mover(notify=False))
    v7 = Model(x, profile="v7.x", scope="1x1")
    Model(x, profile=profile("v6.16+").configured(move_notify=True), scope="1x2")
    (v,) = v7.run(SEQ)[-1].violations
    assert "dma_buf_invalidate_mappings" in v.message


# ---------------------------------------------------------------- mistakes


def adapt_error(cls: type[PythonExporter]) -> str:
    with pytest.raises(PluginError) as info:
        as_exporter(cls())
    return str(info.value)


def test_unknown_op_names_the_class_and_the_fix() -> None:
    class Typo(PythonExporter):
        ops = frozenset({"map_dma_buf", "unmap_dma_buf", "release", "begin_cpu_acces"})

    assert adapt_error(Typo).startswith(
        "Typo.ops: unknown dma_buf_ops member 'begin_cpu_acces' (did you mean "
        "'begin_cpu_access'?); members: attach, detach")

    class Text(PythonExporter):
        ops = "map_dma_buf"  # type: ignore[assignment]

    assert "Text.ops = 'map_dma_buf': give a set or tuple of names" in adapt_error(Text)


def test_unknown_profile() -> None:
    class Old(PythonExporter):
        profiles = ("v6.16", "v7.x")

    assert adapt_error(Old) == ("Old.profiles: unknown kernel profile 'v6.16' (did you mean "
                                "'v6.16+'?); profiles: v6.1, v6.2-6.15, v6.16+, v7.x")

    class Empty(PythonExporter):
        profiles = ()

    assert "Empty.profiles is empty" in adapt_error(Empty)


def test_fallible_needs_an_op_and_a_method() -> None:
    class NotInOps(PythonExporter):
        fallible = frozenset({"vmap"})

    assert "NotInOps.fallible names 'vmap', which is not in its ops" in adapt_error(NotInOps)

    class NoMethod(PythonExporter):
        ops = frozenset({"map_dma_buf", "unmap_dma_buf", "release", "vmap"})
        fallible = frozenset({"vmap"})

    assert "NoMethod defines no vmap() method" in adapt_error(NoMethod)


def test_misspelt_callback_and_bad_signature() -> None:
    class Misspelt(PythonExporter):
        def begin_cpu_acess(self, call: CallView) -> int:
            return 0

    assert adapt_error(Misspelt) == (
        "Misspelt defines begin_cpu_acess(), which no callback is named: did you mean "
        "begin_cpu_access()? (prefix a helper's name with '_')")

    class NoCall(PythonExporter):
        def vmap(self) -> int:
            return 0

    assert adapt_error(NoCall) == ("NoCall.vmap must take one argument, the call: "
                                   "def vmap(self, call)")


def test_bad_declarations() -> None:
    class Fields(PythonExporter):
        buffer_fields = (counter("n", 2), counter("n", 3))

    assert "Fields.buffer_fields: field 'n' is declared twice" in adapt_error(Fields)

    class NotAField(PythonExporter):
        attachment_fields = ("mapped",)  # type: ignore[assignment]

    assert "'mapped' is not a field" in adapt_error(NotAField)

    class Priv(PythonExporter):
        priv = "yes"  # type: ignore[assignment]

    assert "Priv.priv = 'yes': give True or False" in adapt_error(Priv)

    class BadName(PythonExporter):
        name = "my heap"

    assert "BadName.name = 'my heap'" in adapt_error(BadName)
    with pytest.raises(PluginError, match=r"as_exporter\(Mover\(\)\)"):
        as_exporter(Mover)  # type: ignore[arg-type]

    class StaticNotified(PythonImporter):
        dynamic = False

        def move_notify(self, call: CallView) -> None:
            return None

    with pytest.raises(PluginError, match="StaticNotified defines move_notify"):
        as_importer(StaticNotified())


class Returns(PythonExporter):
    name = "returns"
    buffer_fields = (counter("count", 2),)

    def __init__(self, ret: object = 0, write: object = 1, name: str = "count") -> None:
        self.ret, self.write, self.field = ret, write, name

    def map_dma_buf(self, call: CallView) -> object:
        call.buf.x[self.field] = self.write  # type: ignore[assignment]
        return self.ret


MAP = ["export(b0)", "attach(b0.a0, importer=static)", "map_unlocked(b0.a0, dir=TO_DEVICE)"]


@pytest.mark.parametrize(("ret", "shown"), [(True, "True"), (12, "12"), ("ok", "'ok'"),
                                             (None, None)])
def test_return_values_must_be_zero_or_a_negative_errno(ret: object, shown: str | None
                                                        ) -> None:
    m = Model(as_exporter(Returns(ret=ret)), profile="v6.16+", scope="1x1")
    if shown is None:
        assert m.run(MAP)[-1].errno == 0
        return
    with pytest.raises(PluginError, match=rf"Returns.map_dma_buf\(\) returned {shown}: "
                       r"return 0 \(or None\) for success or a negative errno"):
        m.run(MAP)


def test_field_writes() -> None:
    m = Model(as_exporter(Returns(write="1")), profile="v6.16+", scope="1x1")
    with pytest.raises(PluginError, match="fields hold integers"):
        m.run(MAP)
    m = Model(as_exporter(Returns(name="cuont")), profile="v6.16+", scope="1x1")
    with pytest.raises(PluginError, match=r"has no field 'cuont' \(did you mean 'count'\?\); "
                       r"declared buffer_fields: count. Declare it in buffer_fields"):
        m.run(MAP)
    m = Model(as_exporter(Returns(write=5)), profile="v6.16+", scope="1x1")
    (v,) = m.run(MAP)[-1].violations
    assert v.tag == "scope-bound"


class Scribbler(PythonExporter):
    name = "scribbler"

    def __init__(self, what: str) -> None:
        self.what = what

    def map_dma_buf(self, call: CallView) -> int:
        if self.what == "core":
            call.buf.kref = 3
        elif self.what == "read":
            return call.buf.krf
        elif self.what == "rule":
            call.report("R99", "made-up", "text")
        elif self.what == "tag":
            call.report("R12", Severity.WARN, "text")  # type: ignore[arg-type]
        elif self.what == "severity":
            call.report("R12", "bad-severity", "text", "warn")  # type: ignore[arg-type]
        else:
            call.report("R12", "default-severity", "text")
        return 0


@pytest.mark.parametrize(("what", "error", "message"), [
    ("core", PluginError, "Scribbler.map_dma_buf(): cannot set buffer attribute 'kref'"),
    ("read", AttributeError, "buffer b0 has no core field 'krf' (did you mean 'kref'?)"),
    ("rule", PluginError, "report of unknown rule 'R99'"),
    ("tag", PluginError, "is not an obligation tag"),
    ("severity", PluginError, "report severity 'warn': give a Severity"),
])
def test_view_mistakes(what: str, error: type[Exception], message: str) -> None:
    m = Model(as_exporter(Scribbler(what)), profile="v6.16+", scope="1x1")
    with pytest.raises(error, match=re.escape(message)):
        m.run(MAP)


def test_report_defaults_to_the_rules_typical_consequence() -> None:
    m = Model(as_exporter(Scribbler("default")), profile="v6.16+", scope="1x1")
    (v,) = m.run(MAP)[-1].violations
    assert (v.rule, v.tag, v.objects) == ("R12", "default-severity", ("b0", "b0.a0"))
    assert v.severity is RULES["R12"].consequences[0]


class Faulting(PythonExporter):
    """An mmap that may mark the vma VM_DONTEXPAND, and a fault handler whose bound check
    may be off by one (as cma_heap_vm_fault's was)."""

    name = "faulting"
    ops = frozenset({"map_dma_buf", "unmap_dma_buf", "release", "mmap", "page_fault"})

    def __init__(self, dontexpand: bool, off_by_one: bool) -> None:
        self.dontexpand, self.off_by_one = dontexpand, off_by_one

    def mmap(self, call: CallView) -> None:
        if self.dontexpand:
            call.dontexpand()

    def page_fault(self, call: CallView) -> int:
        assert call.pgoff is not None and call.pagecount is not None
        past = call.pgoff > call.pagecount if self.off_by_one else call.pgoff >= call.pagecount
        return VM_FAULT_SIGBUS if past else 0


FAULT = ["export(b0)", "fd(b0)", "get(b0)", "mmap(b0, pages=2, pgoff=0)", "mremap(b0, pages=3)",
         "page_fault(b0, page=1)", "page_fault(b0, page=2)"]


@pytest.mark.parametrize(("dontexpand", "off_by_one", "tags", "results"), [
    (True, False, ["mremap-dontexpand"], [-EFAULT, 0, VM_FAULT_SIGSEGV]),
    (False, False, ["mmap-expandable"], [0, 0, VM_FAULT_SIGBUS]),
    (False, True, ["mmap-expandable", "fault-past-end"], [0, 0, 0]),
])
def test_a_python_fault_handler_and_dontexpand(dontexpand: bool, off_by_one: bool,
                                               tags: list[str], results: list[int]) -> None:
    m = Model(as_exporter(Faulting(dontexpand, off_by_one)), profile="v6.16+", scope="1x1")
    out = m.run(FAULT)
    assert [v.tag for o in out for v in o.violations] == tags
    assert [o.ret for o in out[-3:]] == results


def test_dontexpand_outside_mmap_is_a_mistake() -> None:
    class Misplaced(Faulting):
        def page_fault(self, call: CallView) -> int:
            call.dontexpand()
            return 0

    m = Model(as_exporter(Misplaced(False, False)), profile="v6.16+", scope="1x1")
    with pytest.raises(PluginError, match=re.escape("dontexpand() is for mmap()")):
        m.run([*FAULT[:4], "page_fault(b0, page=0)"])
