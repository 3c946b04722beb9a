"""Driver routines in the model: ownership, leak checks, objects and yields (that their
programs mean the same concretely and symbolically is in test_program.py)."""

from __future__ import annotations

from functools import cache

import pytest

from checker.dsl.library import shipped_exporters, shipped_importers
from model import EXPORTERS, Action, Model
from model.importers import STATIC
from model.routine import RoutineError
from model.violation import Party

DRIVERS = {i.name: i for i in shipped_importers("drivers")}
HEAP = next(e for e in shipped_exporters("drivers") if e.name == "dma_heap")


@cache
def model(importer: str, exporter: str = "system_heap", scope: str = "1x2",
          profile: str = "v6.16+") -> Model:
    return Model(EXPORTERS[exporter], (DRIVERS[importer],), profile, scope)


def run(m: Model, *steps: str, mode: str = "contract") -> list[tuple[int, list[str]]]:
    return [(o.errno, [v.tag for v in o.violations]) for o in m.run(steps, mode=mode)]


def test_the_reference_import_and_destroy_leave_nothing_behind() -> None:
    m = model("gem_prime_import")
    out = m.run(["export(b0)", "fd(b0)", "import(b0.a0)", "destroy(b0.a0)", "close(b0)"],
                mode="contract")
    assert all(not o.violations for o in out)
    last = out[-1].state
    assert m.value(last, "b0.life") == 2 and m.value(last, "b0.a0.obj.life") == 2
    assert m.value(out[2].state, "b0.a0.obj.refs") == 1  # the GEM object's own reference


def test_every_failure_of_the_reference_import_unwinds_completely() -> None:
    m = model("gem_prime_import")
    faults = [a for a in m.actions if a.name == "import" and a.obj == "b0.a0"]
    assert {str(a.param("fault")) for a in faults} >= {
        "none", "attach__nomem", "map_unlocked__nomem", "import_sg_table"}
    base = m.run(["export(b0)", "fd(b0)"])[-1].state
    for a in faults:
        if a.param("fault") == "none":
            continue
        out = m.step(base, a)
        assert not out.violations, str(a)
        if out.errno < 0:  # (an interrupted wait needs a fence to wait for: none here)
            assert m.value(out.state, "b0.kref") == 0 and m.value(out.state, "b0.a0.st") != 1


def test_driver_actions_are_never_restricted_in_contract_mode() -> None:
    """The driver's code is what is checked: a routine that breaks a rule is still explored
    (a free API call breaking an importer obligation is not)."""
    from model.mutants import MUTANTS

    mutant = MUTANTS["unwind_double_put"]
    m = mutant.model("1x1")
    s = m.run(list(mutant.witness[:-1]), mode="contract")[-1].state
    assert m.is_enabled(s, Action.parse(mutant.witness[-1]), "contract")


def test_the_free_api_calls_never_touch_a_driver_s_attachment() -> None:
    m = Model(EXPORTERS["system_heap"], (STATIC, DRIVERS["gem_prime_import"]), "v6.16+",
              "1x2")
    s = m.run(["export(b0)", "fd(b0)", "import(b0.a0)"], mode="contract")[-1].state
    on_a0 = {a.name for a in m.enabled(s, "misuse") if a.obj == "b0.a0"}
    assert on_a0 == {"destroy"}
    assert "attach" not in {a.name for a in m.enabled(s, "misuse") if a.obj == "b0.a1"} or \
        m.is_enabled(s, Action.parse("attach(b0.a1, importer=static)"), "misuse")


def test_another_caller_cannot_put_a_reference_the_driver_s_object_holds() -> None:
    m = Model(EXPORTERS["system_heap"], (STATIC, DRIVERS["gem_prime_import"]), "v6.16+",
              "1x2")
    s = m.run(["export(b0)", "fd(b0)", "import(b0.a0)"], mode="contract")[-1].state
    assert m.value(s, "b0.kref") == 1  # the GEM object's
    assert not m.is_enabled(s, Action.parse("put(b0)"), "contract")
    out = m.step(s, Action.parse("put(b0)"))
    assert next((v.tag, v.party) for v in out.violations) == (
        "put-without-reference", Party.IMPORTER)


def test_a_routine_on_a_buffer_whose_lock_another_context_holds_waits() -> None:
    m = Model(EXPORTERS["system_heap"], (STATIC, DRIVERS["gem_prime_import"]), "v6.16+",
              "1x2")
    s = m.run(["export(b0)", "get_dma_buf(b0)", "lock(b0)", "fd(b0)"], mode="contract")[-1].state
    assert not m.is_enabled(s, Action.parse("import(b0.a0)"), "misuse")


def test_freeing_a_dynamic_importer_s_object_before_detach_is_reported_at_the_free() -> None:
    from model.mutants import MUTANTS

    m = MUTANTS["bo_freed_before_detach"].model("1x1")
    out = m.run(["export(b0)", "fd(b0)", "import(b0.a0)", "release(b0.a0)"])
    assert ("R18", "freed-before-detach") in {(v.rule, v.tag) for v in out[-1].violations}


def test_a_call_the_profile_lacks_is_refused_with_the_routine_named() -> None:
    with pytest.raises(RoutineError, match=r"routine import .* calls map_unlocked\(\), which "
                       r"kernel profile v6.1 does not have"):
        Model(EXPORTERS["system_heap"], (DRIVERS["gem_prime_import"],), "v6.1", "1x1")


def test_the_allocation_ioctl_exports_and_installs_the_fd_in_one_step() -> None:
    m = Model(HEAP, (DRIVERS["gem_prime_import"],), "v6.16+", "1x1")
    assert run(m, "alloc(b0)") == [(0, [])]
    out = m.run(["alloc(b0, fault=fd__emfile)"])
    assert out[0].errno == -24 and not out[0].violations
    assert m.value(out[0].state, "b0.life") == 2  # the put released it; release freed the pages
    assert m.value(out[0].state, "b0.x.pages") == 0
    out = m.run(["alloc(b0, fault=export__nomem)"])
    assert m.value(out[0].state, "b0.life") == 0 and m.value(out[0].state, "b0.x.pages") == 0
