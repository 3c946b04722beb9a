"""BMC's counterexamples depend on the problem alone: run after other engine runs in the same
process (as a ``--jobs`` worker does), it writes the same traces for the same bugs."""

from __future__ import annotations

from checker.dsl.resolve import load_text
from checker.runs import Unit, run_unit

SPEC = '''import "core"
check {name} {{ exporter {exporter} mode misuse scope 1x1 depth 2 engines bmc properties rules }}
'''


def traces(tmp_spec: str, check: str) -> dict[str, tuple[str, ...]]:
    unit = Unit((), check, 0, "bmc", None, None, 120.0, 1, tmp_spec, "det.dmabuf")
    (answer,) = run_unit(unit).answers
    found = dict(answer.findings)
    assert len(found) > 10
    return {k: tuple(str(a) for a in f.actions) for k, f in found.items()}


def test_the_same_traces_whatever_ran_before() -> None:
    source = "".join(SPEC.format(name=n, exporter=e) for n, e in
                     (("heap", "system_heap"), ("ttm_m", "ttm")))
    source = source.replace('import "core"\n', "", 1)
    load_text(source, "det.dmabuf")  # it resolves
    first = traces(source, "heap")
    traces(source, "ttm_m")  # another run in this process first, as in a worker
    assert traces(source, "heap") == first
