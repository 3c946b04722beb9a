"""Bounded model checking with Z3: shortest counterexamples, replayed on the model.

``bmc(problem)`` unrolls the transition system of ``encode.encode`` one step at a time in
one incremental solver. At bound ``k`` it asks, for every target still open, whether some
trace of exactly ``k`` steps from the initial state ends badly:

* ``rules``: a rule violation fires on step ``k`` (the model's own report, or a state
  invariant of ``Model.checks`` that the step breaks);
* an ``always`` property is false in state ``k``;
* a response property's deadline happens on step ``k`` with its binding armed;
* a ``sometimes`` property is true in state ``k`` (a witness).

Bounds are tried in increasing order, so the first trace found is a shortest one. Once a
bound is refuted for a target its negation is kept as a lemma (it holds on every trace).

Every trace is decoded into the model's actions and replayed on the reference model from
``Model.initial()``: each step must be enabled in the problem's mode, reach the state the
solver chose, and the last step must show the finding. A disagreement raises
``WitnessError`` naming the step. A solver answer of unknown, or the time budget running
out, is reported as ``Status.UNKNOWN``, never as holding.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import z3

from checker.engines.symbolic.encode import (
    EncodeTimeout,
    Encoding,
    Frame,
    Step,
    chosen,
    encode,
    fired_sites,
    new_solver,
    not_encodable_reason,
)
from checker.problem import RULES, Counterexample, Finding, Problem, Property, Status, Verdict
from model import expr as mx
from model.action import Action
from model.program import NotEncodable
from model.violation import Severity

ENGINE = "bmc"


class WitnessError(AssertionError):
    """A solver trace that the reference model does not reproduce (an encoding defect)."""


@dataclass
class Target:
    """One question BMC answers: ``bad`` is a template over the step (``step`` targets:
    rules, responses) or over the state (``state`` targets: always, sometimes)."""

    name: str
    kind: str  # rules | always | response | sometimes
    bad: z3.BoolRef
    prop: Property | None = None

    @property
    def on_step(self) -> bool:
        return self.kind in ("rules", "response")


def targets(enc: Encoding) -> list[Target]:
    out = [Target(RULES, "rules", enc.violation_t)]
    for p in enc.problem.properties:
        if p.kind == "response":
            out.append(Target(p.name, "response", enc.response_bad_t(p.name), p))
        elif p.predicate is not None:
            pred = enc.predicate_t(p.predicate)
            out.append(Target(p.name, p.kind, pred if p.kind == "sometimes" else z3.Not(pred),
                              p))
    return out


def target_names(problem: Problem) -> list[str]:
    return [RULES, *(p.name for p in problem.properties)]


def unknown_all(problem: Problem, reason: str, engine: str,
                seconds: float = 0.0) -> list[Verdict]:
    return [Verdict(problem, name, Status.UNKNOWN, engine, reason=reason, seconds=seconds)
            for name in target_names(problem)]


class Unrolling:
    """Frames ``0..k`` from the initial state and the steps between them, in one solver."""

    def __init__(self, enc: Encoding, solver: z3.Solver, initial: bool = True) -> None:
        self.enc = enc
        self.solver = solver
        self.frames: list[Frame] = [enc.frame("0")]
        self.steps: list[Step] = []
        if initial:
            solver.add(enc.initial(self.frames[0]))
        else:
            solver.add(enc.bool_at(enc.bounds_t, self.frames[0]))

    @property
    def k(self) -> int:
        return len(self.steps)

    def extend(self) -> None:
        i = self.k
        f2 = self.enc.frame(str(i + 1))
        s = self.enc.step(str(i))
        self.solver.add(self.enc.bool_at(self.enc.trans_t, self.frames[i], s, f2))
        self.frames.append(f2)
        self.steps.append(s)

    def bad(self, t: Target, at: int | None = None) -> z3.BoolRef:
        """Target ``t`` is bad at the last frame (or at frame ``at``)."""
        j = self.k if at is None else at
        if t.on_step:
            return self.enc.bool_at(t.bad, self.frames[j - 1], self.steps[j - 1],
                                    self.frames[j])
        return self.enc.bool_at(t.bad, self.frames[j])

    def actions(self, m: z3.ModelRef) -> list[Action]:
        acts = self.enc.model.actions
        return [acts[chosen(m, s)] for s in self.steps]


def check(solver: z3.Solver, goal: z3.BoolRef, deadline: float,
          assumptions: Sequence[z3.BoolRef] = ()
          ) -> tuple[z3.CheckSatResult, str, z3.ModelRef | None]:
    """Whether ``goal`` is satisfiable with the solver's assertions (and ``assumptions``),
    within the deadline: the answer, why it is unknown, and a model when it is sat. The goal
    is asked through a fresh assumption literal, so the solver keeps what it learnt."""
    left = deadline - time.monotonic()
    if left <= 0:
        return z3.unknown, "timeout", None
    solver.set("timeout", max(1, int(left * 1000)))
    lit = z3.FreshBool("goal")
    solver.add(z3.Implies(lit, goal))
    r = solver.check(lit, *assumptions)
    why = solver.reason_unknown() if r == z3.unknown else ""
    m = solver.model() if r == z3.sat else None
    if r == z3.unknown and time.monotonic() >= deadline:
        why = "timeout"
    solver.add(z3.Not(lit))  # retire the literal
    return r, why, m


def bmc(problem: Problem, depth: int | None = None, timeout_s: float = 60.0,
        max_findings: int = 64, rules: Collection[tuple[str, str]] | None = None
        ) -> list[Verdict]:
    """One verdict per target (``rules``, then each property in problem order): a
    shortest counterexample or witness, holds / unwitnessed to ``depth`` transitions
    (default ``problem.depth``), or unknown with the reason.

    The ``rules`` verdict's counterexample is a shortest trace to any violation; its
    ``details["findings"]`` maps each distinct ``"RULE tag"`` found (up to
    ``max_findings``) to a shortest trace that fires it, and ``details["open"]`` lists
    those that no trace within the bound fires. ``rules`` restricts the ``rules`` target to
    those (rule, tag) pairs (a mutant's obligation, a check's expected violations)."""
    start = time.monotonic()
    deadline = start + timeout_s
    depth = problem.depth if depth is None else depth
    reason = not_encodable_reason(problem.model)
    if reason is not None:
        return unknown_all(problem, reason, ENGINE)
    try:
        enc = encode(problem, deadline)
    except NotEncodable as e:
        return unknown_all(problem, str(e), ENGINE)
    except EncodeTimeout as e:
        return unknown_all(problem, f"time budget ({timeout_s:.3g}s) spent encoding the "
                           f"model: {e}", ENGINE, time.monotonic() - start)
    solver = new_solver()
    run = Unrolling(enc, solver)
    search = Search(enc, run, deadline, max_findings,
                    set(enc.pairs) if rules is None else set(rules) & set(enc.pairs))
    search.start = start
    open_: list[Target] = targets(enc)
    done: dict[str, Verdict] = {}

    def verdict(t: Target, status: Status, **kw: object) -> None:
        done[t.name] = Verdict(problem, t.name, status, ENGINE,
                               seconds=time.monotonic() - start, **kw)  # type: ignore[arg-type]

    for k in range(depth + 1):
        if k > 0:
            run.extend()
        for t in list(open_):
            if t.on_step and k == 0:
                continue
            r, why = search.bound(t)
            if r == z3.unknown:
                reached = f"; no answer beyond {k - 1} steps" if k else ""
                reason = f"solver {why or 'unknown'} at bound {k}{reached}"
                first = search.first.get(t.name)
                details = search.details(t, k - 1)
                if first is not None:  # rules: what was found stands; the rest is open
                    verdict(t, Status.VIOLATED, depth=len(first.actions), counterexample=first,
                            reason=f"other violations: {reason}", details=details)
                else:
                    verdict(t, Status.UNKNOWN, depth=k - 1 if k else None, reason=reason,
                            details=details)
                open_.remove(t)
            elif r == z3.sat:  # a property target's counterexample or witness
                status = Status.WITNESSED if t.kind == "sometimes" else Status.VIOLATED
                verdict(t, status, depth=k, counterexample=search.first[t.name])
                open_.remove(t)
        if not open_:
            break
    for t in open_:
        if t.kind == "rules" and t.name in search.first:
            verdict(t, Status.VIOLATED, depth=len(search.first[t.name].actions),
                    counterexample=search.first[t.name], details=search.details(t, depth))
            continue
        status = Status.UNWITNESSED if t.kind == "sometimes" else Status.HOLDS
        verdict(t, status, depth=depth, reason=f"to depth {depth}",
                details=search.details(t, depth))
    return [done[name] for name in target_names(problem)]


class Search:
    """The checks at one bound, with what was found so far. The ``rules`` target is
    searched per (rule, tag): once a pair is found it is taken out of the target and the
    bound is asked again, so every pair gets a shortest trace of its own."""

    def __init__(self, enc: Encoding, run: Unrolling, deadline: float,
                 max_findings: int, pairs: set[tuple[str, str]]) -> None:
        self.enc, self.run, self.deadline = enc, run, deadline
        self.max_findings = max_findings
        self.open_pairs = pairs
        self.findings: dict[tuple[str, str], Counterexample] = {}
        self.found_at: dict[tuple[str, str], float] = {}  # seconds into the run
        self.first: dict[str, Counterexample] = {}
        self.start = time.monotonic()

    def details(self, t: Target, bounded_to: int) -> dict[str, object]:
        """For ``rules``: the pairs found (each with its trace), those still open, and
        ``bounded_to``: no trace of at most that many steps fires an open pair."""
        if t.kind != "rules":
            return {}
        return {"findings": {f"{r} {g}": c for (r, g), c in self.findings.items()},
                "found_at": {f"{r} {g}": round(s, 3) for (r, g), s in self.found_at.items()},
                "capped": len(self.findings) >= self.max_findings,
                "open": sorted(f"{r} {g}" for r, g in self.open_pairs),
                "bounded_to": bounded_to}

    def bound(self, t: Target) -> tuple[z3.CheckSatResult, str]:
        """Ask target ``t`` at the current bound: sat (a property's trace was found and
        replayed), unsat (refuted here; for ``rules`` also after recording every pair
        found here) or unknown."""
        run, solver = self.run, self.run.solver
        while True:
            if t.kind == "rules":
                if not self.open_pairs or len(self.findings) >= self.max_findings:
                    return z3.unsat, ""
                bad = run.enc.bool_at(self.enc.violation(sorted(self.open_pairs)),
                                      run.frames[run.k - 1], run.steps[run.k - 1],
                                      run.frames[run.k])
            else:
                bad = run.bad(t)
            r, why, m = check(solver, bad, self.deadline)
            if r == z3.unsat:
                solver.add(z3.Not(bad))  # holds on every trace: a lemma for deeper bounds
                return r, why
            if m is None:
                return r, why
            if t.kind != "rules":
                self.first[t.name] = witness(self.enc, run, m, t, set())[0]
                return r, why
            cex, fired = witness(self.enc, run, m, t, set(self.open_pairs))
            self.first.setdefault(t.name, cex)
            for pair in fired:
                # one trace may fire several pairs: the cap holds within it too
                if pair in self.open_pairs and len(self.findings) < self.max_findings:
                    self.open_pairs.discard(pair)
                    self.found_at[pair] = time.monotonic() - self.start
                    self.findings[pair] = Counterexample(
                        cex.problem, Finding(RULES, *pair), cex.actions, ENGINE)


def witness(enc: Encoding, run: Unrolling, m: z3.ModelRef, t: Target,
            searched: set[tuple[str, str]]) -> tuple[Counterexample, list[tuple[str, str]]]:
    """Decode the trace of a Z3 model and replay it on the reference model: the
    counterexample, and the (rule, tag) of the violations its last step fires."""
    actions = run.actions(m)
    k = len(actions)
    expected_rules: list[tuple[str, str]] = []
    if t.kind == "rules":
        expected_rules = fired_sites(enc, m, run.frames[k - 1], run.steps[k - 1],
                                     run.frames[k])
    finding = replay(enc, t, actions, [enc.state_of(m, f).values for f in run.frames],
                     expected_rules, searched)
    return Counterexample(enc.problem, finding, tuple(actions), ENGINE), expected_rules


def replay(enc: Encoding, t: Target, actions: list[Action],
           states: list[tuple[int, ...]], expected_rules: list[tuple[str, str]],
           searched: set[tuple[str, str]]) -> Finding:
    """Run ``actions`` on the model; each step must be enabled in the problem's mode and
    reach ``states[i + 1]``; the last must show target ``t``'s finding (for ``rules``:
    fire exactly ``expected_rules``, one of them ``searched``; earlier steps fire none of
    the ``searched`` pairs, which shorter bounds refuted). Returns the finding."""
    problem, model = enc.problem, enc.model
    mode = problem.mode
    s = model.initial()
    if s.values != states[0]:
        raise WitnessError("the solver's initial state is not the model's")
    mon = t.prop.monitor if t.prop is not None else None
    pending = mon.initial() if mon is not None else ()
    last = len(actions) - 1
    for i, a in enumerate(actions):
        if not model.is_enabled(s, a, mode):
            raise WitnessError(f"step {i}: {a} is not enabled in {mode} mode on the model, "
                               "but the solver took it")
        out = model.step(s, a, i)
        if out.state.values != states[i + 1]:
            diff = [f"{v.name}: model {out.state.values[v.index]}, solver "
                    f"{states[i + 1][v.index]}" for v in model.layout.vars
                    if out.state.values[v.index] != states[i + 1][v.index]]
            raise WitnessError(f"step {i}: {a} reaches a different state: {'; '.join(diff)}")
        if mon is not None:
            pending, broke = mon.step(model.index(a), s.values, pending, out.errno)
            if broke != (i == last):
                raise WitnessError(f"step {i}: {a}: the model's monitor says the response "
                                   f"is {'broken' if broke else 'kept'}, the solver differs")
        fired = [(v.rule, v.tag) for v in out.violations]
        if any(v.severity is Severity.SCOPE for v in out.violations):
            raise WitnessError(f"step {i}: {a} passes a declared bound on the model, but the "
                               "solver's traces stay within scope")
        if t.kind == "rules":
            if i < last and set(fired) & searched:
                raise WitnessError(f"step {i}: {a} fires {fired} on the model before the "
                                   "last step")
            if i == last and fired != expected_rules:
                raise WitnessError(f"step {i}: {a} fires {fired} on the model, the solver "
                                   f"says {expected_rules}")
        s = out.state
    if t.kind == "rules":
        new = [p for p in expected_rules if p in searched]
        if not new:
            raise WitnessError("the trace ends without a new violation")
        return Finding(RULES, *new[0])
    if t.kind in ("always", "sometimes"):
        assert t.prop is not None and t.prop.predicate is not None
        holds = bool(mx.evaluate(t.prop.predicate, s.values))
        if holds != (t.kind == "sometimes"):
            raise WitnessError(f"step {last}: {t.prop.name} is "
                               f"{'true' if holds else 'false'} in the model's final state")
    return Finding(t.name)


__all__ = ["ENGINE", "Target", "Unrolling", "WitnessError", "bmc", "replay", "targets",
           "witness"]
