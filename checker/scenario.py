"""The scenario runner: a scenario's steps on the model, judged against its expectations.

A step's expectations are its outcomes: ``ok`` (exactly 0), an errno or ``returns VALUE``
fix the call's result (one integer: a negative errno, 0, or a value such as llseek's offset
or poll's revents); each ``violates RULE [tag]`` must occur; ``clean`` says there is none.
Any violation a step produces that its outcomes do not name is a mismatch, so a setup step
that breaks a rule unexpectedly fails the scenario. ``violates PROPERTY`` says the step
breaks that property: every property a scenario names is evaluated at every step (an
``always`` property fails on a step when its predicate is false in the state after it; a
response property when its monitor reports the step), and it must fail exactly on the steps
that name it. ``expect EXPR`` checks the state at that point. In contract mode every step
must also be a legal call. The run stops at the first mismatch and shows what the step did
to the state.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import TextIO

from checker.dsl import ast
from checker.dsl.resolve import (
    RESULT_KINDS,
    RULE_ID,
    ResolvedExpect,
    ResolvedProperty,
    ResolvedScenario,
    ResolvedStep,
    expected_result,
    result_outcome_text,
)
from checker.problem import Property, engine_property
from model.expr import evaluate, variables
from model.machine import Outcome, State
from model.ops.registry import result_text
from model.scope import BOUNDS
from model.violation import Severity, Violation


@dataclass
class StepResult:
    index: int
    text: str
    span: ast.Span
    ret: int | None = None  # the call's result (None: the step did not run)
    op: str = ""  # the step's operation ("" for an expect)
    violations: tuple[Violation, ...] = ()
    problems: list[str] = field(default_factory=list)
    diff: list[tuple[str, int, int]] = field(default_factory=list)
    failing: tuple[str, ...] = ()  # the named properties this step breaks
    refused: str = ""  # "contract" (not a legal call) or "impossible" (cannot happen here)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def errno(self) -> int | None:
        """The call's error: its negative errno, 0 when it succeeded (whatever value it
        returned), None when it did not run."""
        return None if self.ret is None else min(self.ret, 0)

    @property
    def executed(self) -> bool:
        """Whether the step ran on the model (an ``expect`` or a refused call did not)."""
        return self.ret is not None


@dataclass
class ScenarioResult:
    scenario: ResolvedScenario
    steps: list[StepResult]

    @property
    def passed(self) -> bool:
        return all(s.ok for s in self.steps)

    @property
    def failure(self) -> StepResult | None:
        return next((s for s in self.steps if not s.ok), None)

    def render(self) -> str:
        """Every step with its outcome; the first mismatch with the state diff."""
        sc = self.scenario
        head = (f"scenario {sc.name} ({sc.model.exporter.name}, {sc.model.profile}, "
                f"scope {sc.model.scope}, {sc.mode} mode): "
                + ("passed" if self.passed else "FAILED"))
        lines = [head]
        for s in self.steps:
            mark = "ok  " if s.ok else "FAIL"
            got = "" if s.ret is None else result_text(s.op, s.ret)
            lines.append(f"  {mark} {s.index:>3} {s.text:50s} {got}")
            for v in s.violations:
                lines.append(f"             {v.rule} [{v.severity}, {v.party}] {v.tag}: "
                             f"{v.message}")
                if v.where:
                    lines.append(f"               at {v.where}")
            lines.extend(f"             property {p} fails" for p in s.failing)
            for p in s.problems:
                lines.append(f"         {s.span}: {p}")
            if not s.ok and s.diff:
                lines.append("         state change:")
                lines.extend(f"           {n}: {a} -> {b}" for n, a, b in s.diff)
        return "\n".join(lines)


def _judge(step: ResolvedStep, out: Outcome, failing: tuple[str, ...] = (),
           watched: tuple[str, ...] = ()) -> list[str]:
    """What differs between a step's outcomes and what it did. ``watched`` are the
    properties the scenario names; ``failing`` those of them the step breaks."""
    problems = []
    want = expected_result(step.outcomes, step.action.name)
    if want is not None and out.ret != want:
        written = next(o for o in step.outcomes if o.kind in RESULT_KINDS)
        problems.append(f"expected {result_outcome_text(written)}, got "
                        f"{result_text(step.action.name, out.ret)}")
    wanted = [o for o in step.outcomes if o.kind == "violates" and RULE_ID.fullmatch(o.rule)]
    remaining = list(out.violations)
    for o in wanted:
        match = next((v for v in remaining if v.rule == o.rule and o.tag in ("", v.tag)), None)
        if match is None:
            what = f"{o.rule} {o.tag}".strip()
            problems.append(f"expected a violation of {what}, none occurred")
        else:
            remaining.remove(match)
    for v in remaining:
        problems.append(f"unexpected violation {v.rule} {v.tag}: {v.message}")
    named = {o.rule for o in step.outcomes if o.kind == "violates"
             and not RULE_ID.fullmatch(o.rule)}
    for name in watched:
        if name in named and name not in failing:
            problems.append(f"expected property {name} to fail here, it holds")
        elif name in failing and name not in named:
            problems.append(f"property {name} fails here; the step does not name it "
                            f"(add: violates {name})")
    return problems


class PropertyWatch:
    """The properties a scenario names, evaluated step by step: ``always`` predicates on
    the state after each step, response monitors with their pending flags."""

    def __init__(self, props: tuple[Property, ...]) -> None:
        self.props = props
        self.pending = {p.name: p.monitor.initial() for p in props if p.monitor is not None}

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.props)

    def step(self, k: int, before: State, out: Outcome) -> tuple[str, ...]:
        """The properties that step ``k`` (the model's action index) breaks."""
        failing = []
        for p in self.props:
            if p.monitor is not None:
                flags, bad = p.monitor.step(k, before.values, self.pending[p.name], out.errno)
                self.pending[p.name] = flags
            else:
                assert p.predicate is not None
                bad = not evaluate(p.predicate, out.state.values)
            if bad:
                failing.append(p.name)
        return tuple(failing)


# a counter variable's last name part -> the scope bound that limits it
_BOUND_OF = {"kref": "refs", "refs": "refs", "fds": "fds", "vmas": "vmas", "pins": "pins",
             "vmap_cnt": "vmaps", "vmaps": "vmaps", "cpu": "cpu", "reserved": "fence_slots",
             "maps": "maps"}


def _why_impossible(sc: ResolvedScenario, state: State, item: ResolvedStep) -> str:
    """Why a step cannot be made: a counter at the scope's bound (which the scenario can
    raise), or the model has no such transition here."""
    m = sc.model
    if bool(evaluate(m.ground[m.index(item.action)].pre, state.values)):
        for v in m.step(state, item.action).violations:
            if v.severity is Severity.SCOPE:
                var = v.message.split(" ", 1)[0]
                bound = _BOUND_OF.get(var.rsplit(".", 1)[-1], "")
                now = getattr(m.scope, BOUNDS.get(bound, ""), 0)
                how = (f"raise it in the scenario: scope {m.scope.buffers}x"
                       f"{m.scope.attachments} with {bound}={now + 1}" if bound else
                       "raise the scope")
                return (f"this call leaves the scenario's scope ({m.scope}): {var} is at "
                        f"its bound; {how}")
    return ("this call is not possible here (its object does not exist yet, or the "
            "operation cannot happen now)")


def run_scenario(sc: ResolvedScenario, keep_going: bool = False,
                 also: tuple[ResolvedProperty, ...] = ()) -> ScenarioResult:
    """Run a scenario's steps and expectations, stopping at the first that fails, or with
    ``keep_going`` running every one (a refused call is skipped, the state left as it was)
    so that every finding is shown. ``also`` are properties checked on every step as if
    the scenario watched them (a step that breaks one fails unless it names it)."""
    m = sc.model
    state: State = m.initial()
    results: list[StepResult] = []
    index = 0
    names = {p.name for p in sc.properties}
    watched = (*sc.properties, *(p for p in also if p.name not in names
                                 and p.kind != "sometimes"))
    watch = PropertyWatch(tuple(engine_property(p, m) for p in watched))
    for item in sc.body:
        if isinstance(item, ResolvedExpect):
            ok = bool(evaluate(item.predicate, state.values))
            r = StepResult(index, item.text, item.span)
            if not ok:
                values = ", ".join(f"{v.name} = {state.values[v.index]}"
                                   for v in sorted(variables(item.predicate),
                                                   key=lambda v: v.index))
                r.problems.append(f"expectation does not hold ({values or 'constant'})")
            results.append(r)
            if not ok and not keep_going:
                break
            continue
        r = StepResult(index, str(item.action), item.span, op=item.action.name)
        possible = m.is_enabled(state, item.action, "misuse")
        if sc.mode == "contract" and not m.is_enabled(state, item.action, "contract"):
            r.problems.append("not a legal call here (contract mode): it would break an "
                              "importer obligation")
            r.refused = "contract" if possible else "impossible"
            results.append(r)
            if not keep_going:
                break
            index += 1
            continue
        if not possible:
            r.problems.append(_why_impossible(sc, state, item))
            r.refused = "impossible"
            results.append(r)
            if not keep_going:
                break
            index += 1
            continue
        out = m.step(state, item.action, index)
        r.ret, r.violations = out.ret, out.violations
        r.failing = watch.step(m.index(item.action), state, out)
        r.problems = _judge(item, out, r.failing, watch.names)
        r.diff = m.diff(state, out.state)
        results.append(r)
        state = out.state
        index += 1
        if r.problems and not keep_going:
            break
    return ScenarioResult(sc, results)


def shipped_spec_files() -> list[str]:
    """Every .dmabuf file shipped under specs/, in a fixed order."""
    from importlib import resources
    from pathlib import Path

    root = Path(str(resources.files("specs")))
    return [str(p) for p in sorted(root.rglob("*.dmabuf"))]


def main(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    """``python -m checker.scenario [--quiet] [FILE ...]``: run the scenarios of FILEs (by
    default every shipped spec). Exit 0 when all pass, 1 when one fails, 2 on a spec
    error."""
    import argparse

    from checker.dsl.diagnostics import SpecError
    from checker.dsl.resolve import load

    stream = out if out is not None else sys.stdout
    p = argparse.ArgumentParser(prog="python -m checker.scenario",
                                description="Run DSL scenarios on the reference model.")
    p.add_argument("files", nargs="*", metavar="FILE")
    p.add_argument("--quiet", "-q", action="store_true", help="print failures only")
    args = p.parse_args(argv)
    files = args.files or shipped_spec_files()
    try:
        lib = load(files)
    except SpecError as e:
        stream.write(e.render() + "\n")
        stream.write(f"{len(e.diagnostics)} error(s) in the spec; nothing was run\n")
        return 2
    passed = failed = 0
    for sc in lib.scenarios.values():
        result = run_scenario(sc)
        if result.passed:
            passed += 1
            if not args.quiet:
                stream.write(result.render().splitlines()[0] + "\n")
        else:
            failed += 1
            stream.write(result.render() + "\n")
    stream.write(f"scenarios: {passed} passed, {failed} failed\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
