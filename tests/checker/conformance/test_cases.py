"""Conformance cases (checker/conformance/cases.py): loading, the guest script, the model's
prediction and the comparison with a kernel's answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from checker.conformance import cases
from checker.conformance.guest import CaseAnswer, HarnessError, StepAnswer, parse_console
from checker.dsl.diagnostics import SpecError

CASE = """scenario c_poll "a pending fence, poll, signal" {
  exporter gem_prime
  importers static
  export(b0)                        -> ok
  fd(b0)                            -> ok
  import_sync_file(b0, flags=2)     -> ok
  poll(b0, events=EPOLLIN)          -> returns 0
  signal(b0, usage=WRITE)           -> ok
  close(b0)                         -> ok
}

# not modelled: the reason
scenario c_signalled "a signalled fence arms nothing" {
  exporter gem_prime
  importers static
  export(b0)                                       -> ok
  fd(b0)                                           -> ok
  import_sync_file(b0, flags=2, fence=signalled)   -> ok
  poll(b0, events=EPOLLIN)                         -> returns POLLIN
  close(b0)                                        -> ok
}

scenario c_values "llseek's size and poll's revents, also without an fd" {
  exporter gem_prime
  importers static
  export(b0)                              -> ok
  fd(b0)                                  -> ok
  llseek(b0, whence=SEEK_END, offset=0)   -> returns 8192
  llseek(b0, whence=SEEK_SET, offset=0)   -> returns 0
  get(b0)                                 -> ok
  close(b0)                               -> ok
  poll(b0, events=EPOLLOUT)               -> returns POLLNVAL, violates R5 bad-fd
  put(b0)                                 -> ok
}
"""


@pytest.fixture
def loaded(tmp_path: Path) -> list[cases.Case]:
    f = tmp_path / "c.dmabuf"
    f.write_text(CASE, encoding="utf-8")
    return cases.load_cases([str(f)])


def test_load_reads_the_not_modelled_mark(loaded: list[cases.Case]) -> None:
    assert [(c.name, c.not_modelled) for c in loaded] == [
        ("c_poll", ""), ("c_signalled", "the reason"), ("c_values", "")]


def test_script_lists_every_step_with_its_parameters(loaded: list[cases.Case]) -> None:
    text = cases.script(loaded[:1])
    assert text.splitlines() == [
        "C c_poll", "S 0 export 0 via=vgem", "S 1 fd 0", "S 2 import_sync_file 0 flags=2",
        "S 3 poll 0 events=EPOLLIN", "S 4 signal 0 usage=WRITE", "S 5 close 0", "E"]
    assert "fence=signalled" in cases.script(loaded[1:])


def test_predict_gives_result_and_refcount_per_step(loaded: list[cases.Case]) -> None:
    got = [(p.ret, p.count) for p in cases.predict(loaded[0], "v6.1")]
    assert got == [(0, 1), (0, 1), (0, 1), (0, 2), (0, 1), (0, 0)]
    signalled = [(p.ret, p.count) for p in cases.predict(loaded[1], "v6.2-6.15")]
    # poll arms nothing on a signalled fence, and the buffer is ready
    assert signalled == [(0, 1), (0, 1), (0, 1), (0x1, 1), (0, 0)]
    values = [(p.op, p.ret) for p in cases.predict(loaded[2], "v6.1")]
    assert values == [("export", 0), ("fd", 0), ("llseek", 8192), ("llseek", 0), ("get", 0),
                      ("close", 0), ("poll", 0x20), ("put", 0)]


def answer(name: str, steps: list[tuple[int, int, int]], left: int = 0) -> CaseAnswer:
    return CaseAnswer(name, [StepAnswer(i, r, e, c) for i, (r, e, c) in enumerate(steps)],
                      left, True)


def test_compare_agrees_when_every_step_agrees(loaded: list[cases.Case]) -> None:
    p = cases.predict(loaded[0], "v6.1")
    # the guest reports fd's descriptor (5): any descriptor agrees with the model's 0
    real = answer("c_poll", [(0, 0, 1), (5, 0, 1), (0, 0, 1), (0, 0, 2), (0, 0, 1), (0, 0, 0)])
    v = cases.compare(loaded[0], "6.1", p, real)
    assert v.verdict == cases.AGREE
    assert v.model == v.real == "6 steps, returns 0 at 3, counts 1 1 1 2 1 0"


VALUES_OK = [(0, 0, 1), (4, 0, 1), (8192, 0, 1), (0, 0, 1), (0, 0, 2), (0, 0, 1), (32, 0, 1),
             (0, 0, 0)]


def test_compare_values_exactly(loaded: list[cases.Case]) -> None:
    p = cases.predict(loaded[2], "v6.1")
    v = cases.compare(loaded[2], "6.1", p, answer("c_values", VALUES_OK))
    assert v.verdict == cases.AGREE
    assert v.model == v.real == ("8 steps, returns 8192 at 2, returns 0 at 3, returns "
                                 "POLLNVAL at 6, counts 1 1 1 1 2 1 1 0")
    wrong_size = [*VALUES_OK]
    wrong_size[2] = (4096, 0, 1)
    v = cases.compare(loaded[2], "6.1", p, answer("c_values", wrong_size))
    assert (v.verdict, v.model, v.real) == (
        cases.DISAGREE, "step 2 llseek(b0, offset=0, whence=SEEK_END): returns 8192, count 1",
        "returns 4096, count 1")
    # an errno where the kernel answers POLLNVAL (what the model used to predict)
    as_errno = [*VALUES_OK]
    as_errno[6] = (-1, 9, 1)
    v = cases.compare(loaded[2], "6.1", p, answer("c_values", as_errno))
    assert (v.verdict, v.real) == (cases.DISAGREE, "-EBADF, count 1")


def test_a_descriptor_agrees_only_when_it_is_one(loaded: list[cases.Case]) -> None:
    p = cases.predict(loaded[2], "v6.1")
    failed = [*VALUES_OK]
    failed[1] = (-1, 24, 1)  # fd's dma_buf_fd failed with EMFILE
    v = cases.compare(loaded[2], "6.1", p, answer("c_values", failed))
    assert (v.verdict, v.model, v.real) == (cases.DISAGREE, "step 1 fd(b0): ok, count 1",
                                            "-EMFILE, count 1")
    assert cases.agrees(p[1], 0) and cases.agrees(p[1], 7) and not cases.agrees(p[1], -24)
    assert not cases.agrees(p[2], 0)  # a value is compared exactly
    assert cases.kernel_result(StepAnswer(0, -1, 22, 1)) == -22
    assert cases.kernel_result(StepAnswer(0, 32, 0, 1)) == 32


def test_compare_names_the_first_step_that_differs(loaded: list[cases.Case]) -> None:
    p = cases.predict(loaded[0], "v6.1")
    real = answer("c_poll", [(0, 0, 1), (3, 0, 1), (0, 0, 1), (1, 0, 1), (0, 0, 1), (0, 0, 0)])
    v = cases.compare(loaded[0], "6.1", p, real)
    assert v.verdict == cases.DISAGREE
    assert v.model == "step 3 poll(b0, events=EPOLLIN): returns 0, count 2"
    assert v.real == "returns POLLIN, count 1"


def test_compare_errno_and_not_modelled(loaded: list[cases.Case]) -> None:
    p = cases.predict(loaded[1], "v6.1")
    real = answer("c_signalled", [(0, 0, 1), (3, 0, 1), (-1, 22, 1), (1, 0, 1), (0, 0, 0)])
    v = cases.compare(loaded[1], "6.1", p, real)
    assert (v.verdict, v.real, v.detail) == (cases.NOT_MODELLED_VERDICT, "-EINVAL, count 1",
                                             "the reason")


def test_compare_missing_answer_and_leftovers(loaded: list[cases.Case]) -> None:
    p = cases.predict(loaded[0], "v6.1")
    assert cases.compare(loaded[0], "6.1", p, None).verdict == cases.DISAGREE
    ok = [(0, 0, 1), (0, 0, 1), (0, 0, 1), (0, 0, 2), (0, 0, 1), (0, 0, 0)]
    v = cases.compare(loaded[0], "6.1", p, answer("c_poll", ok, left=1))
    assert (v.verdict, v.detail) == (cases.DISAGREE, "buffers outlived the case")


def test_a_kernel_internal_call_is_a_spec_error(tmp_path: Path) -> None:
    f = tmp_path / "bad.dmabuf"
    f.write_text('scenario bad "x" {\n  exporter gem_prime\n  importers static\n'
                 "  export(b0) -> ok\n  lock(b0) -> ok\n}\n", encoding="utf-8")
    with pytest.raises(SpecError) as e:
        cases.load_cases([str(f)])
    text = e.value.render()
    assert f"{f}:5:3: error[E150]: lock is not a userspace call" in text


def test_a_case_that_fails_on_the_model_is_a_spec_error(tmp_path: Path) -> None:
    f = tmp_path / "wrong.dmabuf"
    f.write_text('scenario wrong "x" {\n  exporter gem_prime\n  importers static\n'
                 "  export(b0) -> ok\n  fd(b0) -> ok\n  close(b0) -> -EBADF\n}\n",
                 encoding="utf-8")
    (case,) = cases.load_cases([str(f)])
    with pytest.raises(SpecError, match=r"E151.*does not pass on the model under v6.1"):
        cases.predict(case, "v6.1")


def test_parse_console_skips_kernel_noise() -> None:
    text = ("[    1.0] random kernel line\n@@ case a\n@@ step 0 0 0 1\n"
            "[    1.1] noise\n@@ step 1 -1 9 -1\n@@ end a 0\n@@ done 1\n")
    got = parse_console(text)["a"]
    assert got.finished and got.left == 0
    assert [(s.ret, s.errno, s.count) for s in got.steps] == [(0, 0, 1), (-1, 9, -1)]


def test_parse_console_reads_values() -> None:
    """The guest prints what a call returned: fd's descriptor, llseek's offset, revents."""
    text = "@@ case v\n@@ step 0 4 0 1\n@@ step 1 8192 0 1\n@@ step 2 32 0 1\n@@ end v 0\n"
    got = parse_console(text)["v"]
    assert [cases.kernel_result(s) for s in got.steps] == [4, 8192, 32]


def test_parse_console_raises_the_guests_error() -> None:
    with pytest.raises(HarnessError, match="cannot open /dev/dri/card0"):
        parse_console("@@ error cannot open /dev/dri/card0: No such file\n")


def test_the_shipped_cases_load_and_are_enough() -> None:
    shipped = cases.load_cases(cases.default_cases())
    vgem = [c for c in shipped if c.exporter == "gem_prime"]
    assert len(vgem) >= 60  # the cases Linux 6.1 runs
    assert {c.exporter for c in shipped} == {"gem_prime", "udmabuf"}
    for c in shipped:
        for profile in ("v6.1", "v6.2-6.15"):
            assert len(cases.predict(c, profile)) == len(c.steps)


def test_a_udmabuf_case_exports_through_udmabuf(tmp_path: Path) -> None:
    f = tmp_path / "u.dmabuf"
    f.write_text('scenario u "x" {\n  exporter udmabuf\n  importers static\n'
                 "  export(b0) -> ok\n  fd(b0) -> ok\n  sync(b0, flags=5) -> -EINVAL, "
                 "violates R20 end-without-begin\n  close(b0) -> ok\n}\n", encoding="utf-8")
    (case,) = cases.load_cases([str(f)])
    assert cases.script([case]).splitlines()[1] == "S 0 export 0 via=udmabuf"
    assert [p.ret for p in cases.predict(case, "v6.2-6.15")] == [0, 0, -22, 0]


def test_an_exporter_no_kernel_driver_provides_is_a_spec_error(tmp_path: Path) -> None:
    f = tmp_path / "t.dmabuf"
    f.write_text('scenario t "x" {\n  exporter ttm\n  importers static\n'
                 "  export(b0) -> ok\n}\n", encoding="utf-8")
    with pytest.raises(SpecError, match="no kernel driver exports like ttm"):
        cases.load_cases([str(f)])


def test_a_buffer_the_guest_cannot_keep_is_a_spec_error(tmp_path: Path) -> None:
    f = tmp_path / "b.dmabuf"
    f.write_text('scenario b "x" {\n  scope 5x1\n  exporter gem_prime\n  importers static\n'
                 "  export(b4) -> ok\n}\n", encoding="utf-8")
    with pytest.raises(SpecError, match="the guest keeps at most 4 buffers"):
        cases.load_cases([str(f)])
