"""The step function and enabledness (model/machine.py): determinism, purity, bounds, and
the property that makes contract mode meaningful."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model import EXPORTERS, PROFILES, Action, ModelError, Party, Severity, State
from model.machine import Model

if TYPE_CHECKING:
    from conftest import ModelFn, RunFn

CHOICES = st.lists(st.integers(min_value=0, max_value=2**16), max_size=30)
SETTINGS = settings(max_examples=20, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])
CONTRACT_PROFILES = (*PROFILES, "v6.16+,move_notify=y")



def _pick(m: Model, s: State, mode: str, choice: int) -> Action | None:
    enabled = m.enabled(s, mode)
    return enabled[choice % len(enabled)] if enabled else None


# ------------------------------------------------------------------ determinism and purity


@pytest.mark.parametrize("scope", ["1x2", "2x2"])
@pytest.mark.no_cover  # runs the model at length: untraced (see tests/conftest.py)
@pytest.mark.parametrize("exporter", list(EXPORTERS))
@SETTINGS
@given(profile=st.sampled_from(list(PROFILES)), choices=CHOICES)
def test_step_and_enabled_are_deterministic_and_pure(
        models: ModelFn, exporter: str, scope: str, profile: str, choices: list[int]) -> None:
    m = models(exporter, profile, scope=scope)
    bounds = [(v.lo, v.hi) for v in m.layout.vars]
    position = {a: k for k, a in enumerate(m.actions)}
    s = m.initial()
    for k, choice in enumerate(choices):
        enabled = m.enabled(s, "misuse")
        assert m.enabled(s, "misuse") == enabled
        assert isinstance(enabled, tuple) and enabled
        order = [position[a] for a in enabled]
        assert order == sorted(order)  # the fixed order of m.actions
        a = enabled[choice % len(enabled)]
        assert m.is_enabled(s, a, "misuse")
        before = s.values
        first = m.step(s, a, index=k)
        second = m.step(s, a, index=k)
        assert first == second
        assert s.values == before and s.values is before
        assert len(first.state.values) == m.layout.size
        assert all(lo <= x <= hi for x, (lo, hi) in zip(first.state.values, bounds, strict=True))
        assert first.errno <= 0
        assert all(v.step == k for v in first.violations)
        # the core's own invariants hold whatever importers do (reference exporters)
        assert [str(v) for v in first.violations if v.party is Party.CORE] == []
        s = first.state


@pytest.mark.parametrize("exporter", list(EXPORTERS))
@SETTINGS
@given(profile=st.sampled_from(list(PROFILES)), choices=CHOICES)
def test_run_replays_step_by_step(
        models: ModelFn, exporter: str, profile: str, choices: list[int]) -> None:
    m = models(exporter, profile, scope="1x2")
    s = m.initial()
    actions: list[Action] = []
    outcomes = []
    for k, choice in enumerate(choices):
        a = _pick(m, s, "misuse", choice)
        assert a is not None
        o = m.step(s, a, index=k)
        actions.append(a)
        outcomes.append(o)
        s = o.state
    assert m.run(actions) == outcomes
    assert m.run([str(a) for a in actions]) == outcomes


def test_fresh_models_agree(models: ModelFn) -> None:
    # two independently built models compute the same outcomes
    a = Model(EXPORTERS["ttm"], profile="v6.2-6.15", scope="1x2")
    b = models("ttm", "v6.2-6.15")
    seq = ["export(b0)", "get_dma_buf(b0)", "attach(b0.a0, importer=static)",
           "dynamic_attach(b0.a1, importer=dynamic)", "map_unlocked(b0.a1, dir=TO_DEVICE)",
           "move(b0)", "detach(b0.a0)", "put(b0)"]
    assert a.run(seq) == b.run(seq)
    assert a.actions == b.actions


# ------------------------------------------------------------------ contract mode


# every reference exporter under every profile in the small scope; two buffers for the two
# exporters with the most interplay (building contract guards is the expensive part)
CONTRACT_CASES = [
    *((x, "1x2", CONTRACT_PROFILES) for x in EXPORTERS),
    ("ttm", "2x2", ("v7.x",)),
    ("udmabuf", "2x2", ("v6.2-6.15",)),
]


@pytest.mark.parametrize(("exporter", "scope", "profiles"), CONTRACT_CASES,
                         ids=[f"{x}-{s}" for x, s, _ in CONTRACT_CASES])
@SETTINGS
@given(data=st.data(), choices=CHOICES)
def test_contract_mode_never_breaks_an_importer_obligation(
        models: ModelFn, exporter: str, scope: str, profiles: tuple[str, ...],
        data: st.DataObject, choices: list[int]) -> None:
    profile = data.draw(st.sampled_from(profiles), label="profile")
    m = models(exporter, profile, scope=scope)
    ignored = frozenset().union(*(i.ignores for i in m.importers))
    s = m.initial()
    for k, choice in enumerate(choices):
        a = _pick(m, s, "contract", choice)
        if a is None:
            break
        assert m.is_enabled(s, a, "contract")
        assert m.is_enabled(s, a, "misuse")
        o = m.step(s, a, index=k)
        found = [v for v in o.violations
                 if v.party is Party.IMPORTER and v.tag not in ignored]
        assert found == [], f"{a}: {[str(v) for v in found]}"
        # the reference exporters are correct too
        exporter_side = [v for v in o.violations if v.party is Party.EXPORTER]
        assert exporter_side == [], f"{a}: {exporter_side}"
        assert not [v for v in o.violations if v.party is Party.CORE]
        assert not [v for v in o.violations if v.tag == "counter-underflow"]
        s = o.state


@pytest.mark.parametrize("exporter", list(EXPORTERS))
@SETTINGS
@given(profile=st.sampled_from(list(PROFILES)), choices=CHOICES)
def test_contract_enabledness_is_a_restriction_of_misuse(
        models: ModelFn, exporter: str, profile: str, choices: list[int]) -> None:
    m = models(exporter, profile, scope="1x2")
    s = m.initial()
    for choice in choices:
        contract = m.enabled(s, "contract")
        misuse = set(m.enabled(s, "misuse"))
        assert set(contract) <= misuse
        assert contract == m.enabled(s, "contract")
        a = _pick(m, s, "misuse", choice)
        assert a is not None
        assert m.is_enabled(s, a, "contract") == (a in contract)
        s = m.step(s, a).state


@pytest.mark.parametrize("exporter", list(EXPORTERS))
def test_contract_guards_match_is_enabled_everywhere_on_a_walk(
        models: ModelFn, exporter: str) -> None:
    m = models(exporter, "v6.16+")
    s = m.initial()
    seq = ["export(b0)", "fd(b0)", "get(b0)", "attach(b0.a0, importer=static)",
           "map_unlocked(b0.a0, dir=TO_DEVICE)", "lock(b0)", "vmap(b0)"]
    for text in seq:
        contract = set(m.enabled(s, "contract"))
        for a in m.actions:
            assert m.is_enabled(s, a, "contract") == (a in contract), str(a)
        s = m.step(s, Action.parse(text)).state


def test_importer_calls_are_restricted_in_contract_mode(run: RunFn) -> None:
    r = run("system_heap", "v6.16+", ["export(b0)", "fd(b0)"])
    contract = {str(a) for a in r.model.enabled(r.state, "contract")}
    misuse = {str(a) for a in r.model.enabled(r.state, "misuse")}
    # the caller's reference went to the fd table: it may not put, get_dma_buf or fd again
    assert {"put(b0)", "get_dma_buf(b0)", "fd(b0)"} <= misuse - contract
    assert {"get(b0)", "close(b0)", "sync(b0, flags=1)"} <= contract
    assert "sync(b0, flags=0)" not in contract  # -EINVAL is the caller's error too


def test_a_fence_signal_never_releases_a_buffer_in_use_in_contract_mode(run: RunFn) -> None:
    """Kernel callers must hold a reference of their own (R5): once dma_buf_fd gave it away,
    locking or vmapping the buffer is not a legal call, so a poll callback holding the last
    reference cannot release a buffer still in use."""
    seq = ["export(b0)", "fd(b0)", "import_sync_file(b0, flags=2)", "poll(b0, events=EPOLLIN)",
           "close(b0)"]
    r = run("system_heap", "v6.16+", seq, mode="contract")
    legal = {str(a) for a in r.model.enabled(r.state, "contract")}
    assert "lock(b0)" not in legal and "vmap(b0)" not in legal
    assert "signal(b0, usage=WRITE)" in legal
    misuse = run("system_heap", "v6.16+", [*seq, "lock(b0)"])
    assert misuse.tags(-1) == {"use-without-reference"}


# ------------------------------------------------------------------ the interface


def test_step_refuses_an_action_that_cannot_happen(models: ModelFn) -> None:
    m = models("system_heap", "v6.16+")
    with pytest.raises(ModelError, match="cannot happen"):
        m.step(m.initial(), Action.parse("put(b0)"))


def test_unknown_actions_suggest_close_ones(models: ModelFn) -> None:
    m = models("system_heap", "v6.16+")
    with pytest.raises(ModelError, match="did you mean"):
        m.index(Action.parse("map_unlocked(b0.a0, dir=TO_DEVICES)"))
    with pytest.raises(ModelError, match="not an action"):
        m.step(m.initial(), Action.parse("move(b0)"))  # system_heap never moves


def test_unknown_modes_are_refused(models: ModelFn) -> None:
    m = models("system_heap", "v6.16+")
    with pytest.raises(ModelError, match="unknown mode"):
        m.enabled(m.initial(), "lenient")
    with pytest.raises(ModelError, match="unknown mode"):
        m.is_enabled(m.initial(), Action.parse("export(b0)"), "lenient")


def test_contract_run_refuses_an_illegal_call(models: ModelFn) -> None:
    m = models("system_heap", "v6.16+")
    with pytest.raises(ModelError, match="step 2: put\\(b0\\) is not a legal call"):
        m.run(["export(b0)", "fd(b0)", "put(b0)"], mode="contract")


def test_unknown_state_variables_suggest_close_ones(models: ModelFn) -> None:
    m = models("system_heap", "v6.16+")
    assert m.value(m.initial(), "b0.kref") == 0
    with pytest.raises(ModelError, match=r"b0\.kref"):
        m.value(m.initial(), "b0.krefs")


def test_describe_and_diff(models: ModelFn) -> None:
    m = models("system_heap", "v6.16+")
    s0 = m.initial()
    s1 = m.step(s0, Action.parse("export(b0)")).state
    s2 = m.step(s1, Action.parse("fd(b0)")).state
    assert m.describe(s0) == {}
    assert m.describe(s2) == {"b0.life": 1, "b0.fds": 1}
    assert sorted(m.diff(s1, s2)) == [("b0.fds", 0, 1), ("b0.kref", 1, 0)]


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("exporter", list(EXPORTERS))
def test_every_ground_action_reads_back(models: ModelFn, exporter: str, profile: str) -> None:
    m = models(exporter, profile)
    texts = [str(a) for a in m.actions]
    assert len(set(texts)) == len(texts)
    assert all(Action.parse(t) == a for t, a in zip(texts, m.actions, strict=True))
    assert m.initial().values == tuple(m.initial().values)


def test_initial_state_enables_only_exports(models: ModelFn) -> None:
    m = models("ttm", "v7.x", scope="2x1")
    for mode in ("misuse", "contract"):
        assert {str(a) for a in m.enabled(m.initial(), mode)} == {
            f"export(b{b}{f})" for b in (0, 1) for f in ("", ", fault=module", ", fault=nomem")}


def test_scope_bound_is_a_model_finding(run: RunFn) -> None:
    r = run("system_heap", "v6.16+", ["export(b0)", *["get_dma_buf(b0)"] * 3])
    v = r.only(-1)
    assert (v.rule, v.severity, v.party, v.tag) == (
        "SCOPE", Severity.SCOPE, Party.MODEL, "scope-bound")
    assert r.value("b0.kref") == 3  # held at the bound


def test_a_result_is_one_integer_and_errno_is_its_error_part() -> None:
    """A call returns a negative errno, 0, or a value (llseek's offset, poll's revents);
    ``errno`` is 0 for any success, so no value is ever taken for an error."""
    from model.exporters import SYSTEM_HEAP
    from model.kernel import POLLIN, POLLNVAL

    m = Model(SYSTEM_HEAP, profile="v6.16+", scope="1x1")
    outs = m.run(["export(b0)", "llseek(b0, offset=0, whence=SEEK_END)",
                  "poll(b0, events=EPOLLIN)", "fd(b0)", "poll(b0, events=EPOLLIN)",
                  "llseek(b0, offset=0, whence=SEEK_END)"])
    assert [(o.ret, o.errno) for o in outs] == [
        (0, 0), (-9, -9), (POLLNVAL, 0), (0, 0), (POLLIN, 0), (8192, 0)]


def test_result_text_and_what_operations_return() -> None:
    from model.ops.registry import (
        DESCRIPTOR,
        STATUS,
        VALUE,
        result_names,
        result_text,
        returns_of,
    )

    assert [returns_of(o) for o in ("poll", "llseek", "fd", "close", "no_such_routine")] == [
        VALUE, VALUE, DESCRIPTOR, STATUS, STATUS]
    assert result_names("poll")["POLLNVAL"] == 0x20 and result_names("llseek") == {}
    assert [result_text("poll", r) for r in (1, 4, 0x20, 0, 5, -9)] == [
        "returns POLLIN", "returns POLLOUT", "returns POLLNVAL", "returns 0", "returns 5",
        "-EBADF"]
    assert [result_text("llseek", r) for r in (8192, 0, -22)] == [
        "returns 8192", "returns 0", "-EINVAL"]
    assert [result_text("close", r) for r in (0, -9)] == ["ok", "-EBADF"]
    assert result_text("fd", 0) == "ok"  # the model's descriptor
