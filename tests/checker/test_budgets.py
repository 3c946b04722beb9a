"""A run's time budget covers the whole engine run: resolving the specs and building the
model come out of it, and a budget spent before the engine starts answers unknown (never a
pass), with the time it took."""

from __future__ import annotations

import re
import time

from checker.problem import Status
from checker.runs import Unit, run_unit

SPEC = '''import "core"
check c { exporter ttm scope 2x3 depth 4 engines bmc, prove budget 1s }
'''


def test_model_building_counts_against_the_budget() -> None:
    for engine in ("bmc", "prove"):
        unit = Unit((), "c", 0, engine, None, None, 0.001, 1, SPEC, f"budget-{engine}.dmabuf")
        start = time.monotonic()
        result = run_unit(unit)
        assert result.answers and all(a.status is Status.UNKNOWN for a in result.answers)
        assert all("time budget" in a.reason for a in result.answers), result.answers[0].reason
        assert all(a.seconds > 0 for a in result.answers)
        assert time.monotonic() - start < 120


def test_encoding_stops_at_the_deadline() -> None:
    from checker.dsl.resolve import load_text
    from checker.engines.symbolic.bmc import bmc
    from checker.engines.symbolic.encode import fresh_context
    from checker.problem import problems

    (problem,) = problems(load_text(SPEC, "enc.dmabuf").checks["c"])
    fresh_context()
    start = time.monotonic()
    verdicts = bmc(problem, timeout_s=0.05)
    assert all(v.status is Status.UNKNOWN for v in verdicts)
    m = re.search(r"spent encoding the model: the deadline passed after encoding (\d+) of "
                  r"(\d+) actions", verdicts[0].reason)
    assert m and int(m.group(1)) < int(m.group(2)), verdicts[0].reason
    assert time.monotonic() - start < 60


def test_the_explorer_keeps_the_budget_while_preparing_the_model() -> None:
    """A budget too small for the explorer to compile its model answers unknown (the
    ``sometimes`` targets unwitnessed), not holds."""
    spec = SPEC.replace("engines bmc, prove", "engines hypothesis")
    unit = Unit((), "c", 0, "hypothesis", 0, None, 0.001, 10, spec, "budget-hyp.dmabuf")
    result = run_unit(unit)
    statuses = {a.status for a in result.answers}
    assert Status.UNKNOWN in statuses and statuses <= {Status.UNKNOWN, Status.UNWITNESSED}
    unknown = [a for a in result.answers if a.status is Status.UNKNOWN]
    assert all("time budget" in a.reason or "time budget" in str(a.details)
               for a in unknown), unknown[0]


def _sleep(seconds: float) -> str:
    time.sleep(seconds)
    return f"slept {seconds}"


def test_a_run_past_its_budget_is_killed_and_answers_unknown() -> None:
    """The process of a run that outlives its limit is killed; what stands for its result
    is the limit's (for engine runs: unknown, "time budget exhausted"); the others finish."""
    from checker.runs import Limit, forked

    limit: Limit[float, str] = Limit(lambda s: 0.5, lambda s, took: f"killed after {took:.1f}")
    out = forked(_sleep, [60.0, 0.0], [0, 1], 2, lambda n, i, r: None, limit)
    assert out[0].startswith("killed after ") and out[1] == "slept 0.0"


def test_an_overdue_unit_is_unknown_for_every_target() -> None:
    from checker.runs import GRACE_S, GRACE_SHARE, unit_limit, unit_overdue

    for engine, engine_name in (("bmc", "bmc"), ("prove", "k-induction"),
                                ("hypothesis", "hypothesis")):
        unit = Unit((), "c", 0, engine, 0, None, 2.0, 10, SPEC, f"overdue-{engine}.dmabuf")
        assert unit_limit(unit) == 2.0 + GRACE_S + GRACE_SHARE * 2.0
        result = unit_overdue(unit, 3.2)
        names = [a.prop for a in result.answers]
        assert names[0] == "rules" and len(names) == len(set(names)) > 1
        for a in result.answers:
            assert a.status is Status.UNKNOWN and a.engine == engine_name
            assert "time budget exhausted" in a.reason and "3.2s" in a.reason
