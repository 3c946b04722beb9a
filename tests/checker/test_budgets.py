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
