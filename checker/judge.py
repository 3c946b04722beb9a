"""What a step shows, by a problem's definition: the concrete side every engine agrees with.

``Judge(problem).step(position, k)`` applies ground action ``k`` and returns the findings
the step shows: each violation the model reports (a ``RULES`` finding per rule and tag),
each ``always`` property false in the new state, each response property whose monitor
reports the step. ``trace`` runs a whole action sequence (checking that every action is
enabled in the problem's mode), which is how traces from any engine are confirmed, and
``minimize`` shortens a trace while it still shows the same finding.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from checker.problem import RULES, Finding, Problem
from model.action import Action
from model.compile import compile_predicates
from model.machine import Outcome, State


@dataclass(frozen=True)
class Position:
    """A state of the model and the pending flags of the problem's response monitors."""

    state: State
    pending: tuple[tuple[int, ...], ...]


class NotEnabled(Exception):
    """An action of a trace is not enabled where it is taken."""

    def __init__(self, index: int, action: Action, mode: str) -> None:
        super().__init__(f"step {index}: {action} is not enabled here ({mode} mode)")
        self.index, self.action = index, action


class Judge:
    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.model = problem.model
        props = problem.properties
        self.always = [p for p in props if p.kind == "always" and p.predicate is not None]
        self.responses = [p for p in props if p.kind == "response" and p.monitor is not None]
        self._always_fns = compile_predicates([p.predicate for p in self.always
                                               if p.predicate is not None])

    def initial(self) -> Position:
        return Position(self.model.initial(),
                        tuple(p.monitor.initial() for p in self.responses if p.monitor))

    def step(self, pos: Position, k: int, index: int = 0
             ) -> tuple[Position, Outcome, list[Finding]]:
        """Apply ground action ``k`` (numbering its violations ``index``)."""
        out = self.model.step(pos.state, self.model.actions[k], index)
        found = [Finding(RULES, v.rule, v.tag) for v in out.violations]
        pending = []
        for prop, flags in zip(self.responses, pos.pending, strict=True):
            assert prop.monitor is not None
            new, bad = prop.monitor.step(k, pos.state.values, flags, out.errno)
            pending.append(new)
            if bad:
                found.append(Finding(prop.name))
        values = out.state.values
        for prop, fn in zip(self.always, self._always_fns, strict=True):
            if not fn(values):
                found.append(Finding(prop.name))
        return Position(out.state, tuple(pending)), out, found

    def violated_initially(self) -> list[Finding]:
        values = self.model.initial().values
        return [Finding(p.name) for p, fn in zip(self.always, self._always_fns, strict=True)
                if not fn(values)]

    def trace(self, actions: Sequence[Action]) -> list[tuple[Outcome, list[Finding]]]:
        """Run ``actions`` from the initial state; raises ``NotEnabled`` at the first
        action that is not enabled in the problem's mode."""
        pos = self.initial()
        out = []
        mode = self.problem.mode
        for i, a in enumerate(actions):
            k = self.model.index(a)
            if not self.model.is_enabled(pos.state, a, mode):
                raise NotEnabled(i, a, mode)
            pos, outcome, found = self.step(pos, k, i)
            out.append((outcome, found))
        return out

    def first(self, actions: Sequence[Action], finding: Finding) -> int | None:
        """The index of the first step that shows ``finding``, or None (also when the
        trace is not legal in the problem's mode)."""
        try:
            steps = self.trace(actions)
        except NotEnabled:
            return None
        for i, (_, found) in enumerate(steps):
            if finding in found:
                return i
        return None

    def minimize(self, actions: Sequence[Action], finding: Finding) -> tuple[Action, ...]:
        """A trace no longer than ``actions`` that still shows ``finding`` on its last step
        and on no earlier one: steps are deleted one at a time, then two at a time, while
        the rest stays legal, to a fixpoint (deterministic)."""
        first = self.first(actions, finding)
        if first is None:
            raise ValueError(f"the trace does not show {finding}")
        trace = tuple(actions[:first + 1])
        while True:
            shorter = self._delete_one(trace, finding) or self._delete_two(trace, finding)
            if shorter is None:
                return trace
            trace = shorter

    def _delete_one(self, trace: tuple[Action, ...], finding: Finding
                    ) -> tuple[Action, ...] | None:
        for i in range(len(trace)):
            cand = trace[:i] + trace[i + 1:]
            n = self.first(cand, finding)
            if n is not None:
                return cand[:n + 1]
        return None

    def _delete_two(self, trace: tuple[Action, ...], finding: Finding
                    ) -> tuple[Action, ...] | None:
        for i in range(len(trace)):
            for j in range(i + 1, len(trace)):
                cand = trace[:i] + trace[i + 1:j] + trace[j + 1:]
                n = self.first(cand, finding)
                if n is not None:
                    return cand[:n + 1]
        return None


__all__ = ["Judge", "NotEnabled", "Position"]
