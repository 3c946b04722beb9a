"""Unbounded proofs by k-induction, strengthened with invariants the model itself proves.

``prove(problem)`` answers the ``rules`` target ("no rule violation fires on any step") and
every ``always`` property, for every depth:

* **base case**: bounded model checking from the initial state to ``k`` steps (``bmc``'s
  unrolling: a counterexample found here is a real, replayed one);
* **step case**: from an *arbitrary* state within the declared bounds, ``k`` steps on which
  every target holds, through pairwise distinct states (a simple path), cannot be followed
  by a step that breaks a target. The state that step reaches may repeat an earlier one
  (a violation can leave the state as it was). Contract-mode guards are part of the
  transition relation.

An arbitrary state is usually not reachable, so the step case is strengthened with
**auxiliary invariants** found by Houdini's algorithm. Candidates come from the model: its
own state invariants (``Model.checks``) and the problem's ``always`` predicates; the slack
of each inequality between counters in those invariants held in one variable of the same
buffer (``_slack_candidates``); and facts read off states met on random walks of the model
(each variable's observed values, and for two variables of one object, or of a buffer and
one of its attachments, which values of one occur with a value of the other). Candidates
false on a sampled state are discarded; those that are not inductive are dropped until the
rest are, which makes their conjunction an invariant of every reachable state (it holds
initially and is preserved by every step). They are assumed in every frame of the step
case. Nothing here knows a rule: candidates are the model's own expressions, the state
layout and observed values.

Targets are proved jointly: when the step case fails for some of them at the largest
``k``, they are reported as holding to the base-case depth with the counterexample to
induction (the arbitrary state the step case started from), and the others are proved
again without assuming them.
"""

from __future__ import annotations

import random
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np
import z3

from checker.engines.symbolic.bmc import Target, Unrolling, check, targets, witness
from checker.engines.symbolic.encode import (
    Encoding,
    Frame,
    Substitution,
    arithmetic,
    check_assuming,
    encode,
    fired_sites,
    model_terms,
    new_solver,
    not_encodable_reason,
    num,
    reads_of,
    value_of,
)
from checker.problem import RULES, Counterexample, Finding, Problem, Status, Verdict
from model import expr as mx
from model.compile import compile_predicates
from model.machine import Model, State
from model.program import NotEncodable

ENGINE = "k-induction"


# ---------------------------------------------------------------- auxiliary invariants


def sample_states(model: Model, mode: str, steps: int = 3000, seed: int = 0) -> list[State]:
    """States met on random walks from the initial state (restarting now and then)."""
    rng = random.Random(seed)
    s = model.initial()
    out = [s]
    for _ in range(steps):
        enabled = model.enabled_indices(s, mode)
        if not enabled or rng.random() < 0.03:
            s = model.initial()
            continue
        s = model.step(s, model.actions[rng.choice(enabled)]).state
        out.append(s)
    return out


def _group(name: str) -> str:
    return name.split(".", 1)[0]


@dataclass(frozen=True)
class Candidate:
    """A candidate invariant: its text, the model expression it is, and the layout
    indices of the variables it reads."""

    text: str
    expr: mx.Expr
    reads: frozenset[int]


def candidates(problem: Problem, samples: Sequence[State]) -> list[Candidate]:
    """Candidate invariants, true in every sample: the model's state invariants
    (``Model.checks``) and the problem's ``always`` predicates, where the samples satisfy
    them; linear slack facts (``_slack_candidates``); a variable takes only the values
    observed; for two variables of the same attachment, or of a buffer and one of its
    attachments, when one has value ``a`` the other takes only the values observed with
    ``a``."""
    model = problem.model
    layout = model.layout
    xs = layout.vars
    rows = np.array(sorted({s.values for s in samples}), dtype=np.int64)
    seen = [set(np.unique(rows[:, i]).tolist()) for i in range(layout.size)]

    def among(i: int, values: set[int]) -> mx.Expr:
        return mx.or_(*[xs[i].eq(a) for a in sorted(values)])

    out: list[Candidate] = []
    preds = [(f"{site.rule} {site.tag} ({', '.join(site.objects)})", pred)
             for site, pred, _ in model.checks]
    preds += [(p.name, p.predicate) for p in problem.properties
              if p.kind == "always" and p.predicate is not None]
    preds += _slack_candidates(model)
    states = [tuple(r) for r in rows.tolist()]
    for (text, pred), fn in zip(preds, compile_predicates([p for _, p in preds]), strict=True):
        if all(fn(v) for v in states):
            out.append(Candidate(text, pred, _reads(pred)))
    for i, var in enumerate(xs):
        if len(seen[i]) < var.hi - var.lo + 1:
            out.append(Candidate(f"{var.name} in {sorted(seen[i])}", among(i, seen[i]),
                                 frozenset({i})))
    groups: dict[str, list[int]] = {}
    for i, var in enumerate(xs):
        if len(seen[i]) > 1:
            groups.setdefault(_group(var.name), []).append(i)
    for members in groups.values():
        for i in members:
            for j in members:
                if i == j or not _related(xs[i].name, xs[j].name):
                    continue
                base = int(xs[j].hi - xs[j].lo + 1)
                span = int(xs[i].hi - xs[i].lo + 1) * base
                counts = np.bincount((rows[:, i] - xs[i].lo) * base + (rows[:, j] - xs[j].lo),
                                     minlength=span)
                with_: dict[int, set[int]] = {}
                for code in np.flatnonzero(counts).tolist():
                    a, b = divmod(int(code), base)
                    with_.setdefault(a + xs[i].lo, set()).add(b + xs[j].lo)
                for a, values in sorted(with_.items()):
                    if values != seen[j]:
                        out.append(Candidate(
                            f"{xs[i].name}={a} -> {xs[j].name} in {sorted(values)}",
                            mx.or_(mx.not_(xs[i].eq(a)), among(j, values)),
                            frozenset({i, j})))
    return out


def _object(name: str) -> str:
    """The object a variable belongs to: ``b0`` or ``b0.a1``."""
    parts = name.split(".")
    return ".".join(parts[:2]) if len(parts) > 2 and parts[1].startswith("a") else parts[0]


def _related(a: str, b: str) -> bool:
    """Two variables of one buffer worth relating: of the same object, or one of them the
    buffer's own (attachments of one buffer are related through it)."""
    oa, ob = _object(a), _object(b)
    return oa == ob or "." not in oa or "." not in ob


def _slack_candidates(model: Model) -> list[tuple[str, mx.Expr]]:
    """Linear facts suggested by the model's own state invariants: for each comparison
    ``a <= b`` (``<``, ``==``) between integer terms in ``Model.checks``, ``b - a`` equals
    ``v`` for an integer variable ``v`` of the same buffer (the slack the inequality
    leaves is held in that variable), or equals 0."""
    out: list[tuple[str, mx.Expr]] = []
    layout = model.layout
    seen: set[int] = set()
    for _, pred, _ in model.checks:
        stack = [pred]
        while stack:
            x = stack.pop()
            if id(x) in seen or not isinstance(x, mx.Op):
                continue
            seen.add(id(x))
            stack.extend(x.args)
            if x.op not in ("le", "lt", "eq") or any(a.type != mx.INT for a in x.args):
                continue
            lo, hi = x.args
            reads = _reads(x)
            if len(reads) < 2:
                continue
            groups = {_group(layout.vars[i].name) for i in reads}
            slack = mx.sub(hi, lo)
            out.append((f"{hi} == {lo}", slack.eq(0)))
            for v in layout.vars:
                if v.type == mx.INT and _group(v.name) in groups and v.index not in reads:
                    out.append((f"{hi} - {lo} == {v.name}", slack.eq(v)))
    return out


def _reads(e: mx.Expr) -> frozenset[int]:
    return reads_of([e])


def houdini(model: Model, mode: str, cands: list[Candidate], deadline: float,
            arith: str = "int") -> tuple[list[Candidate], bool]:
    """The largest subset of ``cands`` that is inductive (each step from a state
    satisfying all of them reaches one that does), and whether the search finished (when
    it did not, the empty set is returned: nothing unproved is ever assumed).

    Each ground action is asked in turn, about the candidates that read a variable it
    writes (the others cannot change): a state within bounds satisfying every remaining
    candidate, where the action is enabled, and whose successor (the action's effect
    substituted into the candidate) breaks one. Rounds repeat until one drops nothing.
    These one-step questions are arithmetic-heavy (sums of counters), so they are asked
    over the integer encoding in Z3's SMT core, where they are much cheaper than
    bit-blasted."""
    with arithmetic(arith):
        terms = model_terms(model, mode)
        conv = terms.conv
        now = [conv.boolean(c.expr) for c in cands]
        bounds = [z3.And(x >= num(v.lo), x <= num(v.hi)) for v, x in
                  zip(model.layout.vars, terms.state, strict=True) if v.type != mx.BOOL]
    t = terms.state
    solver = z3.Solver() if arith == "int" else new_solver()
    solver.add(*bounds)
    lits = [z3.Bool(f"cand!{n}") for n in range(len(cands))]
    for lit, c in zip(lits, now, strict=True):
        solver.add(z3.Implies(lit, c))
    readers: dict[int, list[int]] = {}
    for n, c in enumerate(cands):
        for i in c.reads:
            readers.setdefault(i, []).append(n)
    after: dict[tuple[int, int], z3.BoolRef] = {}
    active = set(range(len(cands)))
    changed = True
    while changed:
        changed = False
        for k, act in enumerate(terms.actions):
            post = Substitution([(t[i], e) for i, e in act.changes.items()])
            while True:
                rel = sorted({n for i in act.changes for n in readers.get(i, ())} & active)
                if not rel:
                    break
                for n in rel:
                    if (k, n) not in after:
                        after[k, n] = post(now[n])
                left = deadline - time.monotonic()
                if left <= 0:
                    return [], False
                solver.set("timeout", max(1, int(left * 1000)))
                solver.push()
                solver.add(act.guard, z3.Or(*[z3.Not(after[k, n]) for n in rel]))
                r = check_assuming(solver, [lits[n] for n in sorted(active)])
                m = solver.model() if r == z3.sat else None
                solver.pop()
                if r == z3.unsat:
                    break
                if m is None:
                    return [], False
                dropped = {n for n in rel
                           if not z3.is_true(m.eval(after[k, n], model_completion=True))}
                assert dropped, "a model of the goal falsifies some candidate"
                active -= dropped
                changed = True
    return [cands[n] for n in sorted(active)], True


# ---------------------------------------------------------------- k-induction


@dataclass
class Goal:
    """A target being proved; ``pairs`` are the rule violations still claimed never to
    fire (the ``rules`` target loses those the base case finds)."""

    target: Target
    pairs: set[tuple[str, str]]
    lit: z3.BoolRef

    def bad(self, enc: Encoding) -> z3.BoolRef:
        if self.target.kind == "rules":
            return enc.violation(sorted(self.pairs))
        return self.target.bad


def itf_state(model: Model, values: Sequence[int]) -> dict[str, object]:
    """A state as an ITF state object (fields sorted by name; integers as ``#bigint``)."""
    out: dict[str, object] = {}
    for v in sorted(model.layout.vars, key=lambda v: v.name):
        x = values[v.index]
        out[v.name] = bool(x) if v.type == mx.BOOL else {"#bigint": str(x)}
    return out


def prove(problem: Problem, max_k: int = 4, timeout_s: float = 120.0,
          strengthen: bool = True, samples: int = 20000,
          stop_after: Collection[tuple[str, str]] = ()) -> list[Verdict]:
    """A verdict for ``rules`` and each ``always`` property of ``problem``: proved for
    every depth; violated with a replayed counterexample (for ``rules``, the other
    violations may still be proved never to fire: ``details["rest_proved"]``); holds to
    depth ``max_k`` with the counterexample to induction in ``details`` (``cti``:
    ``name=value`` for the variables that differ from the initial state, ``cti_itf``: the
    whole state as ITF); or unknown (timeout, solver unknown), never reported as
    holding. With ``stop_after`` (rule, tag) pairs, the proof stops as soon as the base
    case has found them all (a mutation self-test looks for one bug): the ``rules`` verdict
    is violated and whatever else was not decided yet is unknown."""
    start = time.monotonic()
    deadline = start + timeout_s
    names = [RULES, *(p.name for p in problem.properties if p.kind == "always")]
    reason = not_encodable_reason(problem.model)
    if reason is not None:
        return [Verdict(problem, n, Status.UNKNOWN, ENGINE, reason=reason) for n in names]
    try:
        enc = encode(problem)
    except NotEncodable as e:
        return [Verdict(problem, n, Status.UNKNOWN, ENGINE, reason=str(e)) for n in names]
    model = enc.model
    goals = [Goal(t, set(enc.pairs) if t.kind == "rules" else set(), z3.Bool(f"assume!{t.name}"))
             for t in targets(enc) if t.kind in ("rules", "always")]
    verdicts: dict[str, Verdict] = {}
    findings: dict[tuple[str, str], Counterexample] = {}
    details: dict[str, dict[str, object]] = {g.target.name: {} for g in goals}

    def finish(g: Goal, status: Status, **kw: object) -> None:
        d = {**details[g.target.name], **kw.pop("details", {})}  # type: ignore[dict-item]
        verdicts[g.target.name] = Verdict(problem, g.target.name, status, ENGINE,
                                          seconds=time.monotonic() - start, details=d,
                                          **kw)  # type: ignore[arg-type]

    timing: dict[str, float] = {"encode": time.monotonic() - start}
    if time.monotonic() >= deadline:
        return _unknown(problem, names, "timeout (while encoding)", start, {}, {})
    aux: list[Candidate] = []
    if strengthen:
        t0 = time.monotonic()
        cands = candidates(problem, sample_states(model, problem.mode, samples))
        t1 = time.monotonic()
        aux, complete = houdini(model, problem.mode, cands, deadline)
        timing |= {"candidates": t1 - t0, "houdini": time.monotonic() - t1}
        for g in goals:
            details[g.target.name]["auxiliary_invariants"] = len(aux)
            if not complete:
                details[g.target.name]["strengthening"] = "not finished within the budget"

    # the base case: one unrolling from the initial state
    base = Unrolling(enc, new_solver())
    # the step case: one unrolling from an arbitrary state within bounds and invariants
    step_solver = new_solver()
    ind = Unrolling(enc, step_solver, initial=False)
    aux_t = z3.And(*[enc.state_converter.boolean(c.expr) for c in aux])
    step_solver.add(enc.bool_at(aux_t, ind.frames[0]))

    def assume(g: Goal, j: int) -> None:
        """Goal ``g`` (while its literal is assumed) holds in frame ``j`` of the step case
        (a step goal: on the step into frame ``j``)."""
        if g.target.on_step and j == 0:
            return
        held = z3.Not(ind.bad(Target(g.target.name, g.target.kind, g.bad(enc)), at=j))
        step_solver.add(z3.Implies(g.lit, held))

    def base_bound(k: int) -> str | None:
        """Check every goal at bound ``k`` of the base case; None, or why it is unknown."""
        if k > 0:
            base.extend()
        for g in list(live):
            if g.target.on_step and k == 0:
                continue
            changed = False
            while True:
                bad = base.bad(Target(g.target.name, g.target.kind, g.bad(enc)))
                r, why, m = check(base.solver, bad, deadline)
                if r == z3.unsat:
                    base.solver.add(z3.Not(bad))
                    break
                if m is None:
                    return why or "solver unknown"
                cex, fired = witness(enc, base, m, g.target, set(g.pairs))
                if g.target.kind != "rules":
                    finish(g, Status.VIOLATED, depth=k, counterexample=cex)
                    live.remove(g)
                    break
                for pair in fired:
                    if pair in g.pairs:
                        g.pairs.discard(pair)
                        changed = True
                        findings[pair] = Counterexample(problem, Finding(RULES, *pair),
                                                        cex.actions, ENGINE)
            if changed:  # what the step case assumed of it no longer holds: assume anew
                g.lit = z3.FreshBool("assume")
                for j in range(len(ind.frames) - 1):
                    assume(g, j)
        return None

    live = list(goals)
    wanted = set(stop_after)
    if (why := base_bound(0)) is not None:
        return _unknown(problem, names, why, start, verdicts, findings)
    proved_at: int | None = None
    cti: dict[str, dict[str, object]] = {}
    for k in range(1, max_k + 1):
        if (why := base_bound(k)) is not None:
            return _unknown(problem, names, why, start, verdicts, findings, depth=k - 1)
        if wanted and wanted <= set(findings):
            return _unknown(problem, names, "stopped: the violations asked for were found",
                            start, verdicts, findings, depth=k)
        # extend the step case to k transitions: every goal holding before the last step,
        # frames 0..k-1 on a simple path. Frame k may repeat an earlier one: a rule
        # violation fires on a step, and the shortest trace to it can end in a state it
        # already visited (a call the model refuses without a change, a self-loop), so
        # only the states before the bad step are pairwise distinct on it
        ind.extend()
        step_solver.add(enc.bool_at(aux_t, ind.frames[-1]))
        last = ind.frames[-2]
        for old in ind.frames[:-2]:
            step_solver.add(_distinct(old, last))
        for g in goals:
            assume(g, k - 1)
        while live:
            failing: list[Goal] = []
            for g in live:
                bad = ind.bad(Target(g.target.name, g.target.kind, g.bad(enc)))
                r, why, m = check(step_solver, bad, deadline, [h.lit for h in live])
                if r == z3.unknown:
                    return _unknown(problem, names, why, start, verdicts, findings, depth=k)
                if m is not None:
                    failing.append(g)
                    cti[g.target.name] = _cti(enc, m, ind, g)
            if not failing:
                proved_at = k
                break
            if k < max_k:
                break  # try a longer induction for everyone
            live = [g for g in live if g not in failing]  # drop them and prove the rest
        if proved_at is not None:
            break
    timing["induction"] = time.monotonic() - start - sum(timing.values())
    for g in goals:
        details[g.target.name]["timing"] = {k: round(v, 2) for k, v in timing.items()}
    for g in goals:
        if g.target.name in verdicts:
            continue
        if g.target.kind == "rules" and findings:
            first = min(findings.values(), key=lambda c: len(c.actions))
            finish(g, Status.VIOLATED, depth=len(first.actions), counterexample=first,
                   details={"findings": {f"{r} {t}": c for (r, t), c in findings.items()},
                            "rest_proved": g in live and proved_at is not None,
                            **({"induction_depth": proved_at} if g in live else {}),
                            **(cti.get(g.target.name, {}) if g not in live else {})})
        elif g in live and proved_at is not None:
            finish(g, Status.PROVED, depth=proved_at,
                   reason=f"{proved_at}-inductive" + (f" with {len(aux)} auxiliary "
                                                      "invariants" if aux else ""),
                   details={"induction_depth": proved_at})
        else:
            finish(g, Status.HOLDS, depth=max_k,
                   reason=f"to depth {max_k}; not {max_k}-inductive (counterexample to "
                          "induction in details)", details=cti.get(g.target.name, {}))
    return [verdicts[n] for n in names]


def _unknown(problem: Problem, names: list[str], why: str, start: float,
             decided: dict[str, Verdict], findings: dict[tuple[str, str], Counterexample],
             depth: int | None = None) -> list[Verdict]:
    """The verdicts when the solver gives up: what was already decided stands (and rule
    violations found stand as violated); everything else is unknown."""
    reason = why if why.startswith("timeout") else f"solver {why}"
    out = []
    for n in names:
        if n in decided:
            out.append(decided[n])
        elif n == RULES and findings:
            first = min(findings.values(), key=lambda c: len(c.actions))
            out.append(Verdict(problem, n, Status.VIOLATED, ENGINE, depth=len(first.actions),
                               counterexample=first, reason=f"other violations: {reason}",
                               seconds=time.monotonic() - start,
                               details={"findings": {f"{r} {t}": c for (r, t), c
                                                     in findings.items()}}))
        else:
            out.append(Verdict(problem, n, Status.UNKNOWN, ENGINE, depth=depth, reason=reason,
                               seconds=time.monotonic() - start))
    return out


def _distinct(a: Frame, b: Frame) -> z3.BoolRef:
    return z3.Or(*[x != y for x, y in zip(a.state, b.state, strict=True)])


def _cti(enc: Encoding, m: z3.ModelRef, run: Unrolling, g: Goal) -> dict[str, object]:
    """A counterexample to induction: the state the step case starts from, the steps it
    takes, and (for ``rules``) what the last one fires."""
    f = run.frames[0]
    values = tuple(value_of(m.eval(x, model_completion=True)) for x in f.state)
    changed = enc.model.describe(State(values))
    out: dict[str, object] = {
        "cti": ", ".join(f"{k}={v}" for k, v in changed.items()) or "(the initial state)",
        "cti_itf": itf_state(enc.model, values),
        "cti_steps": [str(a) for a in run.actions(m)],
    }
    if g.target.kind == "rules":
        out["cti_fires"] = [f"{r} {t}" for r, t in fired_sites(
            enc, m, run.frames[-2], run.steps[-1], run.frames[-1]) if (r, t) in g.pairs]
    return out


__all__ = ["ENGINE", "Candidate", "candidates", "houdini", "itf_state", "prove", "sample_states"]
