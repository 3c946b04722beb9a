"""The judge: findings per step, legality of traces, and minimisation."""

from __future__ import annotations

import pytest

from checker.judge import Judge, NotEnabled
from checker.problem import RULES, Finding, Problem
from model.action import Action
from model.mutants import MUTANTS


def acts(*texts: str) -> tuple[Action, ...]:
    return tuple(Action.parse(t) for t in texts)


def test_a_trace_shows_its_finding_and_illegal_steps_are_refused() -> None:
    m = MUTANTS["double_put"]
    judge = Judge(Problem(m.name, m.model("1x1"), "contract"))
    target = Finding(RULES, m.rule, m.tag)
    assert judge.first(acts(*m.witness), target) == len(m.witness) - 1
    assert judge.first(acts("export(b0)", "fd(b0)"), target) is None
    with pytest.raises(NotEnabled, match=r"step 1: close\(b0\) is not enabled"):
        judge.trace(acts("export(b0)", "close(b0)"))


def test_minimize_deletes_steps_that_do_not_matter() -> None:
    m = MUTANTS["double_put"]
    judge = Judge(Problem(m.name, m.model("1x1"), "contract"))
    target = Finding(RULES, m.rule, m.tag)
    long = acts("export(b0)", "fd(b0)", "set_name(b0, length=1)",
                "llseek(b0, offset=0, whence=SEEK_SET)", "get(b0)", "put(b0)", "put(b0)")
    assert judge.first(long, target) is not None
    short = judge.minimize(long, target)
    assert [str(a) for a in short] == ["export(b0)", "fd(b0)", "put(b0)"]
    with pytest.raises(ValueError, match="does not show"):
        judge.minimize(acts("export(b0)"), target)
