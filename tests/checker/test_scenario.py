"""The scenario runner judges each step against its expectations and stops at the first
mismatch with the state diff; its command exits 0, 1 or 2."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from checker.dsl.resolve import load_text
from checker.scenario import ScenarioResult, main, run_scenario

HEAD = "scenario s {\n  profile v6.16+\n  exporter system_heap\n  importers static\n"


def run(body: str, mode: str = "") -> ScenarioResult:
    text = HEAD + (f"  mode {mode}\n" if mode else "") + body + "}\n"
    lib = load_text(text, "s.dmabuf")
    return run_scenario(lib.scenarios["s"])


def test_a_matching_scenario_passes() -> None:
    r = run("""  export(b0) -> ok, clean
  attach(b0.a0, importer=static)
  map(b0.a0, dir=TO_DEVICE) -> ok, violates R12 map-without-resv
  expect maps(b0.a0) == 1 and b0.a0.x.mapped
""")
    assert r.passed, r.render()
    assert [s.text for s in r.steps][-1] == "expect maps(b0.a0) == 1 and b0.a0.x.mapped"


def test_wrong_errno() -> None:
    r = run("  export(b0)\n  close(b0) -> ok, violates R5\n")
    assert not r.passed
    assert r.failure is not None and r.failure.problems == ["expected ok, got -EBADF"]


VALUES = """  export(b0)
  fd(b0)
  llseek(b0, whence=SEEK_END, offset=0)   -> returns 8192
  llseek(b0, whence=SEEK_SET, offset=0)   -> returns 0
  llseek(b0, whence=SEEK_CUR, offset=0)   -> -EINVAL, violates R27 llseek-whence
  poll(b0, events=EPOLLIN)                -> returns POLLIN
  import_sync_file(b0, flags=2)           -> ok
  poll(b0, events=EPOLLOUT)               -> returns 0
  signal(b0, usage=WRITE)
  poll(b0, events=EPOLLOUT)               -> returns 4
  close(b0)                               -> ok
  poll(b0, events=EPOLLIN)                -> returns POLLNVAL, violates R5 bad-fd
"""


def test_steps_that_return_values() -> None:
    r = run(VALUES)
    assert r.passed, r.render()
    assert [s.ret for s in r.steps] == [0, 0, 8192, 0, -22, 1, 0, 0, 0, 4, 0, 0x20]
    assert [s.errno for s in r.steps][2:6] == [0, 0, -22, 0]  # a value is no error
    shown = [line.split()[-2:] for line in r.render().splitlines() if line.startswith("  ok")]
    assert shown[2] == ["returns", "8192"] and shown[3] == ["returns", "0"]
    assert shown[5] == ["returns", "POLLIN"] and shown[11] == ["returns", "POLLNVAL"]
    assert shown[9] == ["returns", "POLLOUT"]  # written as 4, shown by name


@pytest.mark.parametrize(("step", "problem"), [
    ("llseek(b0, whence=SEEK_END, offset=0) -> ok", "expected ok, got returns 8192"),
    ("llseek(b0, whence=SEEK_END, offset=0) -> returns 4096",
     "expected returns 4096, got returns 8192"),
    ("llseek(b0, whence=SEEK_SET, offset=0) -> returns 8192",
     "expected returns 8192, got returns 0"),
    ("poll(b0, events=EPOLLIN) -> ok", "expected ok, got returns POLLIN"),
    ("poll(b0, events=EPOLLIN) -> returns POLLOUT", "expected returns POLLOUT, got returns POLLIN"),
    ("poll(b0, events=EPOLLIN) -> -EBADF", "expected -EBADF, got returns POLLIN"),
    ("llseek(b0, whence=SEEK_CUR, offset=0) -> returns 0, violates R27",
     "expected returns 0, got -EINVAL"),
])
def test_a_wrong_value_is_a_mismatch(step: str, problem: str) -> None:
    r = run(f"  export(b0)\n  fd(b0)\n  {step}\n")
    assert r.failure is not None and r.failure.problems == [problem]


def test_unexpected_violation_shows_the_state_change() -> None:
    r = run("  export(b0)\n  attach(b0.a0, importer=static)\n  map(b0.a0, dir=TO_DEVICE)\n"
            "  unlock(b0)\n")
    f = r.failure
    assert f is not None and f.index == 2
    assert f.problems[0].startswith("unexpected violation R12 map-without-resv")
    text = r.render()
    assert "state change:" in text and "b0.a0.s0.dir: 0 -> 2" in text
    assert "unlock" not in text  # the run stops at the first mismatch


def test_missing_expected_violation() -> None:
    r = run("  export(b0) -> violates R1\n")
    assert r.failure is not None
    assert r.failure.problems == ["expected a violation of R1, none occurred"]


def test_expectation_shows_the_values() -> None:
    r = run("  export(b0)\n  expect b0.kref == 2\n")
    assert r.failure is not None
    assert r.failure.problems == ["expectation does not hold (b0.kref = 1)"]


def test_contract_mode_refuses_illegal_calls() -> None:
    r = run("  export(b0)\n  attach(b0.a0, importer=static)\n  map(b0.a0, dir=TO_DEVICE)\n",
            mode="contract")
    assert r.failure is not None and "not a legal call" in r.failure.problems[0]


def test_impossible_calls_are_mismatches() -> None:
    r = run("  export(b0)\n  detach(b0.a0)\n")
    assert r.failure is not None and "not possible here" in r.failure.problems[0]


def test_a_counter_at_its_scope_bound_says_which_bound_to_raise() -> None:
    starts = "  export(b0)\n  fd(b0)\n" + "  sync(b0, flags=1) -> ok\n" * 3
    r = run(starts)
    assert r.failure is not None and r.failure.index == 4
    assert r.failure.problems == [
        "this call leaves the scenario's scope (1x1): b0.cpu is at its bound; raise it in "
        "the scenario: scope 1x1 with cpu=3"]
    raised = run("  scope 1x1 with cpu=3\n" + starts + "  expect b0.cpu == 3\n")
    assert raised.passed, raised.render()


def test_command_exit_codes(tmp_path: Path) -> None:
    good = tmp_path / "good.dmabuf"
    good.write_text(HEAD + "  export(b0) -> ok\n}\n")
    bad = tmp_path / "bad.dmabuf"
    bad.write_text(HEAD + "  export(b0) -> -EINVAL\n}\n")
    broken = tmp_path / "broken.dmabuf"
    broken.write_text(HEAD + "  exprot(b0)\n}\n")
    out = io.StringIO()
    assert main([str(good)], out) == 0
    assert out.getvalue().endswith("scenarios: 1 passed, 0 failed\n")
    out = io.StringIO()
    assert main([str(bad)], out) == 1 and "FAILED" in out.getvalue()
    out = io.StringIO()
    assert main([str(broken)], out) == 2
    assert "error[E101]: unknown operation 'exprot' (did you mean 'export'?)" in out.getvalue()
    assert "Traceback" not in out.getvalue()


def test_shipped_specs_by_default() -> None:
    out = io.StringIO()
    assert main(["-q"], out) == 0
    last = out.getvalue().splitlines()[-1]
    assert last.startswith("scenarios: ") and last.endswith(" passed, 0 failed")


@pytest.mark.parametrize("text", ["expect true\n"])
def test_a_scenario_of_expectations_only(text: str) -> None:
    assert run("  " + text).passed


TWO_BUGS = """scenario two_bugs {
  exporter system_heap
  importers static
  export(b0)
  attach(b0.a0, importer=static)
  put(b0) -> ok
  map(b0.a0, dir=TO_DEVICE) -> -EINVAL
  put(b0) -> ok
}
"""


def test_keep_going_runs_every_step_and_shows_every_finding() -> None:
    from checker.dsl.resolve import load_text
    from checker.scenario import run_scenario

    (sc,) = load_text(TWO_BUGS, "two.dmabuf").scenarios.values()
    stopped = run_scenario(sc)
    assert len(stopped.steps) == 3 and not stopped.passed
    every = run_scenario(sc, keep_going=True)
    assert len(every.steps) == 5
    assert [s.index for s in every.steps if not s.ok] == [2, 3, 4]
    assert "expected -EINVAL, got -EFAULT" in every.render()


def test_core_properties_on_every_step() -> None:
    from checker.dsl.resolve import load_text
    from checker.dsl.sources import shipped_names
    from checker.runs import library
    from checker.scenario import run_scenario

    (sc,) = load_text(TWO_BUGS, "two.dmabuf").scenarios.values()
    core = tuple(library((str(shipped_names()["core"]),)).properties.values())
    result = run_scenario(sc, keep_going=True, also=core)
    assert "property clean_at_release fails here; the step does not name it" in result.render()
    assert "clean_at_release" in result.steps[2].failing
