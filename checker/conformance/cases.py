"""Conformance cases: DSL scenarios that run both on the model and, from userspace, on a
real kernel; their answers compared step by step.

A case is a scenario whose steps are userspace-visible operations (``USERSPACE_OPS``). The
model's prediction for a step is its result (one integer: a negative errno, 0, or a value:
llseek's offset, poll's revents) and, after the step, the buffer's file refcount
(``refcount(bN)``: fds, vmas, armed poll callbacks and the references the process holds);
the kernel's answer is the call's result and the file count debugfs ``bufinfo`` shows.
Results are compared exactly, but for a descriptor (``fd``): the model does not number
descriptors (its result is 0, standing for one), so any descriptor the kernel returns
(>= 0) agrees with it. A case agrees when every step agrees. A comment line
``# not modelled: REASON`` right above a scenario says the model does not express what the
case shows; such a case runs and is shown, but counts neither way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

from checker.conformance.guest import CaseAnswer, StepAnswer
from checker.dsl.ast import Span
from checker.dsl.diagnostics import Diagnostic, SpecError
from checker.dsl.resolve import ResolvedScenario, ResolvedStep, load
from checker.scenario import run_scenario
from model.expr import evaluate
from model.machine import Model
from model.ops.registry import DESCRIPTOR, result_text, returns_of
from model.profiles import profile as lookup_profile

USERSPACE_OPS = frozenset({
    "export", "fd", "get", "put", "close", "mmap", "munmap", "sync", "set_name", "llseek",
    "export_sync_file", "import_sync_file", "poll", "signal", "mremap", "page_fault"})
NOT_MODELLED = re.compile(r"#\s*not modelled:\s*(.+?)\s*$")

AGREE, DISAGREE, NOT_MODELLED_VERDICT, NOT_RUN = "agree", "disagree", "not modelled", "not run"
GUEST_BUFFERS = 4  # MAXB in guest.c
# the model exporter -> how the guest exports such a buffer (guest.c, export)
EXPORT_VIA = {"gem_prime": "vgem", "udmabuf": "udmabuf"}


@dataclass(frozen=True)
class Case:
    scenario: ResolvedScenario
    not_modelled: str = ""  # the reason, when the model does not express the case

    @property
    def name(self) -> str:
        return self.scenario.name

    @property
    def exporter(self) -> str:
        return self.scenario.model.exporter.name

    @property
    def steps(self) -> tuple[ResolvedStep, ...]:
        return tuple(s for s in self.scenario.body if isinstance(s, ResolvedStep))


@dataclass(frozen=True)
class Predicted:
    text: str  # the step as written
    op: str  # its operation
    ret: int  # its result: a negative errno, 0, or a value
    count: int  # refcount of the step's buffer after it


@dataclass(frozen=True)
class Verdict:
    case: str
    kernel: str
    model: str
    real: str
    verdict: str
    detail: str = ""


def _error(code: str, span: Span, message: str, hint: str) -> SpecError:
    path = Path(span.path)
    source = path.read_text(encoding="utf-8") if path.exists() else ""
    return SpecError([Diagnostic(code, span, message, hint)], {span.path: source})


def load_cases(paths: list[str]) -> list[Case]:
    """The cases of spec files, in file order; a step the guest cannot perform is a spec
    error."""
    lib = load(paths)
    lines = {str(Path(p).resolve()): Path(p).read_text(encoding="utf-8").splitlines()
             for p in paths}
    cases = []
    for sc in lib.scenarios.values():
        span = sc.decl.span
        source = lines.get(str(Path(span.path).resolve()))
        if source is None:  # a scenario of an imported file
            continue
        for item in sc.body:
            if not isinstance(item, ResolvedStep):
                continue
            a = item.action
            if a.name not in USERSPACE_OPS:
                raise _error("E150", item.span,
                             f"{a.name} is not a userspace call: a conformance case can only "
                             "use " + ", ".join(sorted(USERSPACE_OPS)),
                             "move the step into a scenario under specs/scenarios/")
            if a.buffer >= GUEST_BUFFERS:
                raise _error("E150", item.span,
                             f"{a}: the guest keeps at most {GUEST_BUFFERS} buffers a case",
                             f"use buffers b0..b{GUEST_BUFFERS - 1}")
            if a.param("fault") != "none" or a.attachment is not None:
                raise _error("E150", item.span,
                             f"{a}: a conformance case cannot inject faults or name "
                             "attachments", "drop the fault= parameter")
        if sc.model.exporter.name not in EXPORT_VIA:
            raise _error("E150", span,
                         f"scenario {sc.name}: no kernel driver exports like "
                         f"{sc.model.exporter.name}; a conformance case uses one of "
                         + ", ".join(EXPORT_VIA), "use exporter gem_prime (vgem)")
        above = source[span.line - 2] if span.line >= 2 else ""
        m = NOT_MODELLED.search(above)
        cases.append(Case(sc, m.group(1) if m else ""))
    return cases


def script(cases: list[Case]) -> str:
    """The guest's input: one ``C``/``S``/``E`` block per case (see guest.c)."""
    out = []
    for case in cases:
        out.append(f"C {case.name}")
        for i, step in enumerate(case.steps):
            a = step.action
            args = "".join(f" {k}={v}" for k, v in a.params)
            if a.name == "export":
                args += f" via={EXPORT_VIA[case.exporter]}"
            out.append(f"S {i} {a.name} {a.buffer}{args}")
        out.append("E")
    return "\n".join(out) + "\n"


_MODELS: dict[tuple[int, tuple[int, ...], str, object], Model] = {}


def _model(sc: ResolvedScenario, profile: str) -> Model:
    """The scenario's model under ``profile`` (made once per behaviours, profile, scope)."""
    m = sc.model
    key = (id(m.exporter), tuple(id(i) for i in m.importers), profile, m.scope)
    if key not in _MODELS:
        _MODELS[key] = Model(m.exporter, m.importers, lookup_profile(profile), m.scope)
    return _MODELS[key]


def predict(case: Case, profile: str) -> list[Predicted]:
    """The model's answer for every step under ``profile``. The scenario must pass on that
    profile (its written outcomes are then the model's prediction)."""
    sc = case.scenario
    m = _model(sc, profile)
    sc = replace(sc, model=m)
    result = run_scenario(sc)
    if not result.passed:
        bad = result.failure
        assert bad is not None
        raise _error("E151", bad.span,
                     f"case {case.name} does not pass on the model under {profile}: "
                     + "; ".join(bad.problems),
                     "fix the step's written outcome (it is the model's prediction)")
    state = m.initial()
    out = []
    for i, step in enumerate(case.steps):
        o = m.step(state, step.action, i)
        buf = m.layout.buffers[step.action.buffer]
        out.append(Predicted(str(step.action), step.action.name, o.ret,
                             evaluate(buf.refcount, o.state.values)))
        state = o.state
    return out


def kernel_result(answer: StepAnswer) -> int:
    """The kernel's result for a step as one integer, as the model gives it: the negative
    errno of a failed call, else what the call returned."""
    return -answer.errno if answer.errno else answer.ret


def agrees(p: Predicted, real: int) -> bool:
    """Whether the kernel's result ``real`` is the model's: the same integer, or for a
    descriptor (the model's 0) any descriptor, >= 0."""
    if returns_of(p.op) == DESCRIPTOR and p.ret == 0:
        return real >= 0
    return real == p.ret


def _shown(op: str, ret: int, real: bool = False) -> str:
    """A result as the table shows it; a descriptor the kernel returned is ``fd N``."""
    if real and ret > 0 and returns_of(op) == DESCRIPTOR:
        return f"fd {ret}"
    return result_text(op, ret)


def _show(op: str, ret: int, count: int, real: bool = False) -> str:
    what = _shown(op, ret, real)
    return what if count < 0 else f"{what}, count {count}"


def compare(case: Case, kernel: str, predicted: list[Predicted],
            answer: CaseAnswer | None) -> Verdict:
    """One row of the table."""
    if answer is None or not answer.finished or len(answer.steps) != len(predicted):
        got = "no answer" if answer is None else f"{len(answer.steps)} step(s) answered"
        return Verdict(case.name, kernel, f"{len(predicted)} steps", got, DISAGREE,
                       "the guest did not run the whole case")
    for p, a in zip(predicted, answer.steps, strict=True):
        real = kernel_result(a)
        count_differs = a.count >= 0 and a.count != p.count
        if not agrees(p, real) or count_differs:
            verdict = NOT_MODELLED_VERDICT if case.not_modelled else DISAGREE
            return Verdict(case.name, kernel, f"step {a.index} {p.text}: "
                           + _show(p.op, p.ret, p.count),
                           _show(p.op, real, a.count, real=True), verdict, case.not_modelled)
    if answer.left != 0:
        return Verdict(case.name, kernel, "no buffer left", f"{answer.left} left after "
                       "cleanup", DISAGREE, "buffers outlived the case")
    verdict = NOT_MODELLED_VERDICT if case.not_modelled else AGREE
    return Verdict(case.name, kernel, _summary([(p.op, p.ret, p.count) for p in predicted]),
                   _summary([(p.op, p.ret if agrees(p, kernel_result(a)) else
                              kernel_result(a), a.count)
                             for p, a in zip(predicted, answer.steps, strict=True)]),
                   verdict, case.not_modelled)


def _summary(steps: list[tuple[str, int, int]]) -> str:
    """``N steps, -EINVAL at 2, returns 8192 at 3, counts 1 1 0``: every result but ``ok``
    (errnos and values, each with its step) and the count after each step. (A descriptor the
    kernel returned shows as the model's ``ok``: it agreed.)"""
    results = [f"{result_text(op, r)} at {i}" for i, (op, r, _) in enumerate(steps)
               if result_text(op, r) != "ok"]
    counts = " ".join(str(c) if c >= 0 else "-" for _, _, c in steps)
    return ", ".join([f"{len(steps)} steps", *results, f"counts {counts}"])


def default_cases() -> list[str]:
    """The shipped case files: every ``.dmabuf`` file under ``specs/conformance/``."""
    from importlib import resources

    root = Path(str(resources.files("specs") / "conformance"))
    return [str(p) for p in sorted(root.glob("*.dmabuf"))]
