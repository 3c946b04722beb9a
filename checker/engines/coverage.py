"""What an exploration exercised: actions, guards and properties.

Per operation: how many steps fired it, in how many visited states its guard let at least
one of its ground actions through, and in how many it blocked every one. Per property: in
how many states it was exercised: an ``always`` property whose quantifier domain was not
empty, a response whose trigger had armed it, a ``sometimes`` property that held. A
property never exercised passed vacuously, which is a warning: the exploration (or the
model) never reached the states it talks about.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from checker.problem import Problem


@dataclass
class Coverage:
    problem: Problem
    ops: list[str]
    fired: Counter[int] = field(default_factory=Counter)  # ground action index -> steps
    enabled: Counter[str] = field(default_factory=Counter)  # op -> states with it enabled
    exercised: Counter[str] = field(default_factory=Counter)  # property -> states
    states: int = 0
    # operations no trace within the depth can fire (the search for starts visited every
    # state to the depth and never saw them enabled)
    unreachable: tuple[str, ...] = ()

    @classmethod
    def empty(cls, problem: Problem, ops: list[str]) -> Coverage:
        return cls(problem, ops)

    def op_fired(self) -> Counter[str]:
        out: Counter[str] = Counter()
        for k, n in self.fired.items():
            out[self.problem.model.ground[k].spec.name] += n
        return out

    def blocked(self, op: str) -> int:
        return self.states - self.enabled[op]

    def warnings(self) -> list[str]:
        out = []
        fired = self.op_fired()
        for p in self.problem.properties:
            if not self.exercised[p.name]:
                what = {"always": "no object was ever in its domain",
                        "response": "its trigger never armed it",
                        "sometimes": "it never held"}.get(p.kind, "never exercised")
                out.append(f"property {p.name} was never exercised ({what})")
        for op in self.ops:
            if op in self.unreachable:
                out.append(f"operation {op} cannot fire within depth {self.problem.depth} "
                           "(no state that many steps from the initial one enables it)")
            elif not fired[op]:
                out.append(f"operation {op} never fired (its guard blocked it in all "
                           f"{self.states} states)")
        return out

    def to_json(self) -> dict[str, object]:
        fired = self.op_fired()
        actions = self.problem.model.actions
        return {
            "check": self.problem.check,
            "states": self.states,
            "operations": {op: {"fired": fired[op], "enabled": self.enabled[op],
                                "blocked": self.blocked(op)} for op in self.ops},
            "actions": {str(actions[k]): n for k, n in sorted(self.fired.items())},
            "properties": {p.name: {"kind": p.kind, "exercised": self.exercised[p.name]}
                           for p in self.problem.properties},
            "unreachable": list(self.unreachable),
            "warnings": self.warnings(),
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n"

    def render(self) -> str:
        fired = self.op_fired()
        width = max([len(op) for op in self.ops] + [9])
        lines = [f"coverage of {self.problem.check}: {self.states} states visited",
                 f"  {'operation':<{width}}  {'fired':>8}  {'enabled':>8}  {'blocked':>8}"]
        for op in self.ops:
            lines.append(f"  {op:<{width}}  {fired[op]:>8}  {self.enabled[op]:>8}  "
                         f"{self.blocked(op):>8}")
        if self.problem.properties:
            pw = max(len(p.name) for p in self.problem.properties)
            lines.append(f"  {'property':<{pw}}  {'kind':<9}  exercised")
            for p in self.problem.properties:
                lines.append(f"  {p.name:<{pw}}  {p.kind:<9}  {self.exercised[p.name]}")
        lines.extend(f"warning: {w}" for w in self.warnings())
        return "\n".join(lines) + "\n"


__all__ = ["Coverage"]
