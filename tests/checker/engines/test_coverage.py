"""Coverage of an exploration: counts per operation and property, warnings for what was
never exercised, and the text and JSON forms."""

from __future__ import annotations

import json

import pytest

from checker.engines.explore import ExploreSettings, explore
from checker.problem import Problem, Property
from model import EXPORTERS, Model

# the engines' tests run the model millions of steps; line coverage of model/ comes from
# its own tests, and tracing here would only slow the suite
pytestmark = pytest.mark.no_cover


def test_counts_and_warnings() -> None:
    model = Model(EXPORTERS["system_heap"], profile="v6.16+", scope="1x1")
    b0 = model.layout.buffers[0]
    live = Property("refs_when_live", "always", predicate=~b0.live | (b0.refcount > 0),
                    antecedent=b0.live)
    unreachable = Property("never_moved_heap", "sometimes", predicate=b0.resv.eq(7))
    problem = Problem("heap", model, "contract", 15, (live, unreachable))
    run = explore(problem, ExploreSettings(seed=0, max_examples=100))
    cov = run.coverage
    fired = cov.op_fired()
    assert fired["export"] > 0 and sum(fired.values()) == run.steps
    # every visited state, the initial state of each trace too (a run whose buffers are
    # all released starts a new trace)
    assert cov.states == run.steps + run.traces and run.traces >= run.examples
    # an operation is enabled or blocked in every visited state
    for op in cov.ops:
        assert cov.enabled[op] + cov.blocked(op) == cov.states
    assert cov.exercised["refs_when_live"] > 0
    warnings = cov.warnings()
    assert "property never_moved_heap was never exercised (it never held)" in warnings
    assert not any("refs_when_live" in w for w in warnings)
    # the heap has no move: its guard blocks it in every state
    assert any(w.startswith("operation move never fired") for w in warnings) or \
        "move" not in cov.ops
    data = json.loads(cov.dumps())
    assert data["operations"]["export"]["fired"] == fired["export"]
    assert data["properties"]["never_moved_heap"] == {"kind": "sometimes", "exercised": 0}
    assert data["warnings"] == warnings
    text = cov.render()
    assert text.startswith(f"coverage of heap: {cov.states} states visited")
    assert "warning: property never_moved_heap was never exercised" in text
