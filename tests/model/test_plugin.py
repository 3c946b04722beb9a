"""Python-class behaviours run in the concrete step, refuse symbolic use, and support
contract mode by running the step."""

from __future__ import annotations

import pytest

from model import Model
from model.importers import STATIC
from model.plugin import (
    CallView,
    PluginError,
    PythonExporter,
    PythonImporter,
    as_exporter,
    as_importer,
    counter,
    flag,
)
from model.program import NotEncodable


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
