"""The random explorer: Hypothesis stateful testing over the model.

One ``RuleBasedStateMachine`` is generated per problem from the model's action table. Its
``call`` rule draws one enabled operation (``map``, ``move``, ``put``...), then one of that
operation's enabled ground actions (enabledness is the model's guards in the problem's
mode), and applies the model's step. After every step the explorer checks the rules (any
violation the model reports), the ``always`` properties (Hypothesis invariants), and the
response properties (their monitors); it records where each ``sometimes`` property is first
witnessed.

**How runs differ.** Each run begins by drawing a seed of its own, and from it:
* the operations it leaves out (swarm testing, with a rate of 0, 1/4 or 1/2 per run);
* the order in which it lists the operations it keeps;
* a rotation of each operation's ground actions.
Hypothesis draws its choices with a lean towards the first entry of a list; with the
order shuffled per run, each run favours different operations, instead of every run
favouring the first-declared ones (``export``, ``fd``, ``get``). Bugs that need a few
rarely enabled operations in a row (``pin`` under ``lock``, then ``unlock``, ``detach``)
are found within a few thousand runs by every seed.

**Where traces start.** Before the first run, a breadth-first search over the model's
states (its guards in the problem's mode, no property) finds, for every operation, a
shortest trace that ends by firing it: its *start*. Each start is first run once on its
own, checked like any trace, so every operation reachable within the depth fires whatever
the seed; then, in the random runs, a trace begins at the initial state or, as often,
replays one of those starts (drawn by the run's seed) and goes on at random from there.
Random steps alone rarely line up the three or four calls that enable an operation
such as ``unpin`` or ``signal`` among a few hundred actions; with the starts every
operation reachable within the depth fires, and runs explore what follows it. A start is
an ordinary prefix of the trace: its steps are checked like any other, and a trace is never
longer than the depth. The search is bounded (``START_STATES`` states, a quarter of the
budget); when it visits every state to the depth, an operation it never saw enabled cannot
fire within the depth at all, and the coverage says so.

**When a trace ends.** A trace that reaches the depth, or a state with nothing enabled
(every buffer released), is followed by a new trace, and the run goes on with it.

**Findings.** A failing trace (from its trace's start) is shortened on the model by the
judge and becomes a ``Counterexample``; Hypothesis' own shrinking is off unless asked for.
The explorer then goes on, with the findings it already has set aside: each rule tag and
each property is reported once, so one exploration reports every distinct failure it can
reach.

**Determinism.** With a seed, the exploration is a function of (problem, seed, settings).
The example database is used only for unseeded runs; under CI, runs are seeded with 0 and
the database is off.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, TypeVar

import hypothesis
from hypothesis import HealthCheck, Phase, Verbosity
from hypothesis import strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase
from hypothesis.stateful import (
    RuleBasedStateMachine,
    get_state_machine_test,
    initialize,
    invariant,
    precondition,
    rule,
)

from checker.engines.coverage import Coverage
from checker.judge import Judge
from checker.problem import RULES, Counterexample, Finding, Problem, Status, Verdict
from model.action import Action
from model.compile import compile_predicates
from model.machine import DeadlinePassed

T = TypeVar("T")


@contextlib.contextmanager
def _no_source_constants() -> Iterator[None]:
    """Hypothesis draws, now and then, a constant found in the source of the modules
    imported so far (since 6.131); which modules those are depends on what else ran in the
    process, so a seeded run would not be a function of its seed. While exploring, that pool
    is empty (Hypothesis' own fixed constants stay)."""
    try:
        from hypothesis.internal.conjecture import providers
    except ImportError:  # pragma: no cover - a Hypothesis without the module
        yield
        return
    get = getattr(providers, "_get_local_constants", None)
    make = getattr(providers, "Constants", None)
    if get is None or make is None:  # pragma: no cover - a Hypothesis before the pool
        yield
        return
    empty = make()
    providers._get_local_constants = lambda: empty
    cache = getattr(providers, "CONSTANTS_CACHE", None)
    if cache is not None:
        cache.cache.clear()  # permitted constants computed from the pool so far
    try:
        yield
    finally:
        providers._get_local_constants = get
        if cache is not None:
            cache.cache.clear()

# the test function Hypothesis builds for a state machine; its attributes (the seed, the
# database key) are Hypothesis internals, untyped in some versions and typed in others
_machine_test: Any = get_state_machine_test
ENGINE = "hypothesis"
CHUNK = 200  # runs per Hypothesis call; the time budget is checked between calls
START_STATES = 60_000  # states the search for each operation's start may visit
START_STALL = 20_000  # and how many it visits past the last operation it first saw
START_SHARE = 0.25  # and the share of the time budget it may take
FIRST_CHUNK = 25  # the first calls of a round are shorter (25, 50, 100, then CHUNK)
DEFAULT_DATABASE = ".hypothesis/examples"


@dataclass(frozen=True)
class Starts:
    """What the search for starts found: per operation, a shortest trace (ground action
    indices) from the initial state whose last step fires it; and the operations that
    cannot fire within the depth (empty unless the search visited every state to it)."""

    traces: dict[str, tuple[int, ...]]
    unreachable: tuple[str, ...]
    states: int
    complete: bool  # every state within the depth was visited


def find_starts(problem: Problem, op_of: Sequence[str], deadline: float,
                max_states: int | None = None) -> Starts:
    """Breadth-first over the model's states, to ``problem.depth`` steps, until every
    operation in ``op_of`` has been seen enabled, ``max_states`` states were visited (by
    default ``START_STATES``), ``START_STALL`` states passed without an operation seen for
    the first time, or the deadline passed.

    Buffers are interchangeable, so a start on the first buffer stands for one on any: with
    several buffers the search takes only the first buffer's actions (and then never claims
    an operation unreachable, which would be a claim about every interleaving)."""
    max_states = START_STATES if max_states is None else max_states
    model, mode, depth = problem.model, problem.mode, max(1, problem.depth)
    ops = set(op_of)
    first_buffer = {k for k, a in enumerate(model.actions)
                    if a.obj == "b0" or a.obj.startswith("b0.")}
    restricted = len(first_buffer) < len(model.actions)
    last_new = 0
    first: dict[str, tuple[int, ...]] = {}
    parent: dict[tuple[int, ...], tuple[tuple[int, ...], int] | None] = {}
    root = model.initial()
    parent[root.values] = None
    level = [root]
    complete = True

    def path(values: tuple[int, ...]) -> tuple[int, ...]:
        out: list[int] = []
        link = parent[values]
        while link is not None:
            values, k = link
            out.append(k)
            link = parent[values]
        return tuple(reversed(out))

    for d in range(depth):
        nxt = []
        for state in level:
            if (time.monotonic() > deadline or len(parent) >= max_states
                    or len(parent) - last_new >= START_STALL):
                complete = False
                break
            enabled = model.enabled_indices(state, mode)
            if restricted:
                enabled = [k for k in enabled if k in first_buffer]
            for k in enabled:
                if op_of[k] not in first:
                    first[op_of[k]] = (*path(state.values), k)
                    last_new = len(parent)
            if len(first) == len(ops):
                break
            if d + 1 == depth:
                continue  # a state at the last level fires, nothing follows it
            for k in enabled:
                succ = model.step(state, model.actions[k], 0).state
                if succ.values not in parent:
                    parent[succ.values] = (state.values, k)
                    nxt.append(succ)
        else:
            level = nxt
            if level:
                continue
        break
    unreachable = tuple(op for op in dict.fromkeys(op_of)
                        if op not in first) if complete and not restricted else ()
    return Starts(first, unreachable, len(parent), complete)


def under_ci() -> bool:
    """Whether this runs under a CI system (the ``CI`` variable most of them set)."""
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


@dataclass(frozen=True)
class ExploreSettings:
    """How much to explore. ``seed=None`` draws a random seed and uses the example
    database at ``database`` (replaying earlier failures first); a seeded run never reads
    or writes the database."""

    seed: int | None = 0
    max_examples: int = 2000  # runs of the state machine per round
    time_budget_s: float = 60.0
    database: str | None = DEFAULT_DATABASE
    max_findings: int = 32  # distinct findings before the explorer stops looking
    # Hypothesis' own shrinking (slow on long stateful runs; always on when the database is
    # used, which keeps shrunk failures); the trace is shortened on the model in any case
    hypothesis_shrink: bool = False
    # stop as soon as all of these are found (a mutation self-test looks for one bug)
    stop_after: frozenset[Finding] = frozenset()

    @classmethod
    def default(cls, seed: int | None = None, **changes: Any) -> ExploreSettings:
        """Settings for this environment: under CI a derandomised run (seed 0, no
        database); elsewhere the given seed, or a random run with the database."""
        if seed is None and under_ci():
            return cls(seed=0, database=None, **changes)
        return cls(seed=seed, **changes)


@dataclass
class Exploration:
    """What a run found: a verdict per target, the coverage, and the effort."""

    verdicts: list[Verdict]
    coverage: Coverage
    examples: int = 0
    steps: int = 0
    seconds: float = 0.0
    traces: int = 0  # traces begun: one per run, and one each time a run starts over
    stopped: str = ""  # why exploration stopped early ("time budget", ...), or ""
    first_seen: dict[Finding, tuple[int, float]] = field(default_factory=dict)

    @property
    def counterexamples(self) -> list[Counterexample]:
        return [v.counterexample for v in self.verdicts
                if v.status is Status.VIOLATED and v.counterexample is not None]


class _Found(Exception):
    """Raised inside the state machine when a step shows a finding."""


class _OutOfTime(Exception):
    """Raised inside the state machine when the time budget is spent: a chunk of runs
    stops at the step where its deadline passed, not at its end."""


@dataclass
class _Recorder:
    """Shared by every machine instance of one exploration round."""

    ignored: set[Finding] = field(default_factory=set)
    failing: tuple[tuple[int, ...], tuple[Finding, ...]] | None = None
    examples: int = 0
    steps: int = 0
    traces: int = 0
    deadline: float = float("inf")
    witnesses: dict[str, tuple[int, ...]] = field(default_factory=dict)
    started: float = 0.0
    # when each finding first showed: (runs started so far, seconds since the start)
    first_seen: dict[Finding, tuple[int, float]] = field(default_factory=dict)


class Explorer:
    """The tables one problem's state machine reads: ground actions grouped by operation,
    compiled property predicates, monitors. Build once, run many times."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        model = self.model = problem.model
        self.actions: tuple[Action, ...] = model.actions
        self.ops: list[str] = []
        self.op_of: list[str] = []
        for g in model.ground:
            if g.spec.name not in self.ops:
                self.ops.append(g.spec.name)
            self.op_of.append(g.spec.name)
        self.judge = Judge(problem)
        props = problem.properties
        self.always = [p for p in props if p.kind == "always"]
        self.sometimes = [p for p in props if p.kind == "sometimes"]
        self.responses = [p for p in props if p.kind == "response"]
        self._always_names = {p.name for p in self.always}
        self._sometimes_names = {p.name for p in self.sometimes}
        self._sometimes_fns = compile_predicates([p.predicate for p in self.sometimes
                                                  if p.predicate is not None])
        self._antecedent_fns = compile_predicates([p.antecedent for p in self.always])
        self.coverage = Coverage.empty(problem, self.ops)
        self._choices: dict[tuple[Any, ...], st.SearchStrategy[Any]] = {}
        self._run_seed = st.integers(0, 2**64 - 1)
        self._rank = {op: r for r, op in enumerate(self.ops)}
        self.starts = Starts({}, (), 0, False)
        self._start_traces: list[tuple[int, ...]] = []
        self.recorder = _Recorder()
        self.machine_class = self._machine_class()

    # ------------------------------------------------------------ the state machine
    def _machine_class(self) -> type[RuleBasedStateMachine]:
        ex = self
        ns: dict[str, Any] = {}

        def __init__(self: Any) -> None:
            RuleBasedStateMachine.__init__(self)
            rec = ex.recorder
            rec.examples += 1
            self.by_op = {}
            self.ops = []
            self.left_out = frozenset()
            self.rank = ex._rank
            self.shift = 0
            self.rng = None
            ex._start(self)

        ns["__init__"] = __init__
        ns["__repr__"] = lambda self: f"{ex.problem.check}({len(self.trace)} steps)"

        def swarm(self: Any, data: st.DataObject) -> None:
            """The run's own seed: the operations it leaves out (swarm testing, while
            something else is enabled), the order it lists the others in and the rotation
            of their actions, so runs go deep in different directions."""
            rng = random.Random(data.draw(ex._run_seed))
            out = rng.choice((0.0, 0.25, 0.5))
            self.left_out = frozenset(op for op in ex.ops if rng.random() < out)
            self.rank = {op: r for r, op in enumerate(rng.sample(ex.ops, len(ex.ops)))}
            self.shift = rng.randrange(len(ex.actions))
            self.rng = rng
            ex._keep(self)
            ex._begin(self)

        ns["swarm"] = initialize(data=st.data())(swarm)

        def call(self: Any, data: st.DataObject) -> None:
            """One enabled operation, then one of its enabled ground actions."""
            ex._on_time()
            ops: list[str] = self.ops
            op = ops[0] if len(ops) == 1 else data.draw(ex._choice(ops))
            choices: list[int] = self.by_op[op]
            k = choices[0] if len(choices) == 1 else choices[
                (data.draw(ex._choice(range(len(choices)))) + self.shift) % len(choices)]
            ex._apply(self, k)

        depth = max(1, self.problem.depth)
        ns["call"] = precondition(lambda self: bool(self.by_op) and len(self.trace) < depth)(
            rule(data=st.data())(call))

        def start_over(self: Any) -> None:
            """The trace is at the depth, or no call is possible (every buffer released):
            the run goes on with a new trace."""
            ex._on_time()
            ex._start(self)
            ex._begin(self)

        ns["start_over"] = precondition(
            lambda self: not self.by_op or len(self.trace) >= depth)(rule()(start_over))

        def check_always(self: Any) -> None:
            ex._check_always(self)

        ns["check_always"] = invariant()(check_always)
        name = "".join(c if c.isalnum() else "_" for c in self.problem.check)
        return type(f"Explore_{name}", (RuleBasedStateMachine,), ns)

    def _on_time(self) -> None:
        if time.monotonic() > self.recorder.deadline:
            raise _OutOfTime

    def _start(self, m: Any) -> None:
        """Begin a new trace at the initial state."""
        self.recorder.traces += 1
        m.pos = self.judge.initial()
        m.found = self.judge.violated_initially()
        m.trace = []
        self._observe(m)

    def _begin(self, m: Any) -> None:
        """Half of the traces replay a start (one drawn by the run's seed), the others
        go on from the initial state."""
        starts = self._start_traces
        if starts and m.rng is not None and m.rng.random() < 0.5:
            for k in starts[m.rng.randrange(len(starts))]:
                self._apply(m, k)

    def _choice(self, choices: Sequence[T]) -> st.SearchStrategy[T]:
        key = tuple(choices)
        strat = self._choices.get(key)
        if strat is None:
            strat = self._choices[key] = st.sampled_from(key)
        return strat

    def _apply(self, m: Any, k: int) -> None:
        m.pos, _, m.found = self.judge.step(m.pos, k, len(m.trace))
        m.trace.append(k)
        self.recorder.steps += 1
        self.coverage.fired[k] += 1
        self._fail(m, [f for f in m.found if f.prop not in self._always_names])
        for prop, flags in zip(self.judge.responses, m.pos.pending, strict=True):
            if any(flags):
                self.coverage.exercised[prop.name] += 1
        self._observe(m)

    @staticmethod
    def _keep(m: Any) -> None:
        """The operations this run may call now: the enabled ones its swarm keeps (all
        enabled ones when the swarm leaves none)."""
        kept = [op for op in m.by_op if op not in m.left_out] or list(m.by_op)
        m.ops = sorted(kept, key=m.rank.__getitem__)

    def _observe(self, m: Any) -> None:
        """Compute what is enabled in the new state and record coverage."""
        cov = self.coverage
        by_op: dict[str, list[int]] = {}
        for k in self.model.enabled_indices(m.pos.state, self.problem.mode):
            by_op.setdefault(self.op_of[k], []).append(k)
        m.by_op = by_op
        self._keep(m)
        cov.states += 1
        for op in by_op:
            cov.enabled[op] += 1
        values = m.pos.state.values
        for prop, fn in zip(self.sometimes, self._sometimes_fns, strict=True):
            if fn(values):
                cov.exercised[prop.name] += 1
                known = self.recorder.witnesses.get(prop.name)
                if known is None or len(known) > len(m.trace):
                    self.recorder.witnesses[prop.name] = tuple(m.trace)
        for prop, fn in zip(self.always, self._antecedent_fns, strict=True):
            if fn(values):
                cov.exercised[prop.name] += 1

    def _check_always(self, m: Any) -> None:
        self._fail(m, [f for f in m.found if f.prop in self._always_names])

    def _fail(self, m: Any, findings: list[Finding]) -> None:
        """Stop the run if the step shows findings not reported yet (all of them are
        kept: one step can break a rule and a property at once)."""
        rec = self.recorder
        new = [f for f in dict.fromkeys(findings) if f not in rec.ignored]
        if not new:
            return
        rec.failing = (tuple(m.trace), tuple(new))
        for f in new:
            rec.first_seen.setdefault(f, (rec.examples, time.monotonic() - rec.started))
        raise _Found(", ".join(map(str, new)))

    # ------------------------------------------------------------ running
    def _settings(self, settings: ExploreSettings) -> hypothesis.settings:
        database = None
        if settings.seed is None and settings.database:
            database = DirectoryBasedExampleDatabase(settings.database)
        return hypothesis.settings(
            max_examples=settings.max_examples,
            # the run's first step is its swarm (an initialize rule), then the calls
            stateful_step_count=max(1, self.problem.depth) + 1,
            database=database,
            deadline=None,
            derandomize=False,
            suppress_health_check=list(HealthCheck),
            verbosity=Verbosity.quiet,
            report_multiple_bugs=False,
            # Hypothesis keeps failing examples in its database when it shrinks them
            phases=(Phase.explicit, Phase.reuse, Phase.generate,
                    *((Phase.shrink,) if settings.hypothesis_shrink or database else ())),
            print_blob=False,
        )

    def _digest(self) -> bytes:
        """Identifies the problem in the example database."""
        p = self.problem
        text = "\n".join([p.check, p.exporter_ref, *p.importer_refs, str(p.model.profile),
                          str(p.model.scope), p.mode, str(p.depth)])
        return hashlib.sha256(text.encode()).digest()

    def _prepare(self, deadline: float) -> None:
        """Derive the guards and compile the steps before the first run, within the
        deadline (``DeadlinePassed`` when it passes first)."""
        model = self.model
        if model.encodable:
            model.derive_effects(deadline)
        model.compile_all(deadline)
        model.enabled_indices(model.initial(), self.problem.mode)  # compiles the selector
        if time.monotonic() > deadline:
            raise DeadlinePassed("preparing", len(model.ground), len(model.ground))

    def _find_starts(self, started: float, settings: ExploreSettings) -> None:
        """Each operation's start, within ``START_SHARE`` of the budget."""
        share = started + START_SHARE * settings.time_budget_s
        self.starts = find_starts(self.problem, self.op_of, min(share, self.recorder.deadline))
        self._start_traces = [self.starts.traces[op] for op in self.ops
                              if op in self.starts.traces]
        self.coverage.unreachable = self.starts.unreachable

    def run(self, settings: ExploreSettings | None = None,
            started: float | None = None) -> Exploration:
        """Explore within ``settings.time_budget_s`` from ``started`` (a
        ``time.monotonic()`` value; by default now): preparing the model counts."""
        settings = settings or ExploreSettings.default()
        rec = self.recorder = _Recorder()
        start = rec.started = time.monotonic() if started is None else started
        rec.deadline = start + settings.time_budget_s
        found: list[Counterexample] = []
        stopped = ""
        try:
            self._prepare(rec.deadline)
        except DeadlinePassed as e:
            seconds = time.monotonic() - start
            why = f"the {settings.time_budget_s:.3g}s were spent preparing the model: {e}"
            return Exploration(self._verdicts([], seconds, settings, "time budget", why),
                               self.coverage, 0, 0, seconds, 0, "time budget")
        self._find_starts(start, settings)
        stopped = self._run_starts(found, settings)
        for round_no in range(settings.max_findings + 1):
            if stopped:
                break
            if len(found) >= settings.max_findings:
                stopped = f"{settings.max_findings} findings (--max-findings)"
                break
            rec.failing = None
            left = settings.max_examples
            chunk = 0
            while left > 0 and rec.failing is None:
                if time.monotonic() > rec.deadline:
                    stopped = "time budget"
                    break
                n = min(CHUNK, left, FIRST_CHUNK << chunk)  # short first: budgets bite
                self._run_chunk(settings, n, (round_no, chunk))
                left -= n
                chunk += 1
            if rec.failing is None:
                break
            trace, findings = rec.failing
            for finding in findings:
                rec.ignored.add(finding)
                found.append(self._counterexample(trace, finding, settings.seed))
            if stopped:
                break
            if settings.stop_after and settings.stop_after <= rec.ignored:
                stopped = "found what was asked for"
                break
        seconds = time.monotonic() - start
        return Exploration(self._verdicts(found, seconds, settings, stopped), self.coverage,
                           rec.examples, rec.steps, seconds, rec.traces, stopped,
                           dict(rec.first_seen))

    def _run_starts(self, found: list[Counterexample], settings: ExploreSettings) -> str:
        """Run each operation's start once, outside Hypothesis, with every check a run
        makes; what they find is kept as the rounds keep it. Returns why exploration must
        stop ("" to go on)."""
        rec = self.recorder
        for trace in self._start_traces:
            if len(found) >= settings.max_findings:
                return f"{settings.max_findings} findings (--max-findings)"
            if time.monotonic() > rec.deadline:
                return "time budget"
            m = SimpleNamespace(left_out=frozenset(), rank=self._rank, rng=None)
            rec.failing = None
            try:
                self._start(m)
                self._check_always(m)
                for k in trace:
                    self._apply(m, k)
                    self._check_always(m)
            except _Found:
                assert rec.failing is not None
                failing, findings = rec.failing
                for finding in findings:
                    rec.ignored.add(finding)
                    found.append(self._counterexample(failing, finding, settings.seed))
                rec.failing = None
            if settings.stop_after and settings.stop_after <= rec.ignored:
                return "found what was asked for"
        return ""

    def _run_chunk(self, settings: ExploreSettings, examples: int,
                   where: tuple[int, int]) -> None:
        """Up to ``examples`` runs of the state machine. Exploration goes in chunks so
        that a time budget is checked between them (Hypothesis cannot be stopped from
        inside a run); a seeded chunk's seed is derived from the seed and its position."""
        hyp_settings = hypothesis.settings(self._settings(settings), max_examples=examples)
        test = _machine_test(self.machine_class, settings=hyp_settings)
        inner = test.hypothesis.inner_test
        inner._hypothesis_internal_add_digest = self._digest()
        if settings.seed is not None:
            round_no, chunk = where
            test._hypothesis_internal_use_seed = int.from_bytes(hashlib.sha256(
                f"{settings.seed}/{round_no}/{chunk}".encode()).digest()[:8], "big")
        try:
            with _no_source_constants():
                test()
        except (_Found, _OutOfTime):
            pass
        except hypothesis.errors.Flaky:
            # Hypothesis replays a failing run to report it; one cut short by the deadline
            # may not fail the same way again, which it reports as flaky
            if time.monotonic() <= self.recorder.deadline:
                raise

    def _counterexample(self, trace: tuple[int, ...], finding: Finding,
                        seed: int | None) -> Counterexample:
        """The shrunk trace, shortened further on the model (steps Hypothesis could not
        delete because a later step's choice depended on them)."""
        actions = tuple(self.actions[k] for k in trace)
        if finding.prop in self._sometimes_names:
            return Counterexample(self.problem, finding, actions, ENGINE, seed)
        return Counterexample(self.problem, finding, self.judge.minimize(actions, finding),
                              ENGINE, seed)

    def _verdicts(self, found: list[Counterexample], seconds: float,
                  settings: ExploreSettings, stopped: str, why: str = "") -> list[Verdict]:
        p, rec = self.problem, self.recorder
        effort = (f"{rec.examples} runs, {rec.steps} steps, seed "
                  f"{'random' if settings.seed is None else settings.seed}")
        if stopped:
            effort += f"; stopped: {stopped}" + (f" ({why})" if why else "")
        # of the operations some trace within the depth can fire, how many fired
        cov = self.coverage
        fired = cov.op_fired()
        can = [op for op in cov.ops if op not in cov.unreachable]
        never = [op for op in can if not fired[op]]
        reach: dict[str, object] = {"operations_fired": [len(can) - len(never), len(can)],
                                    "never_fired": never}
        if cov.unreachable:
            reach["unreachable"] = list(cov.unreachable)
        by_prop: dict[str, list[Counterexample]] = {}
        for cex in found:
            by_prop.setdefault(cex.finding.prop, []).append(cex)
        out: list[Verdict] = []
        for name in [RULES, *(q.name for q in (*self.always, *self.responses))]:
            cexs = by_prop.get(name, [])
            for cex in cexs:  # each finding's time: when the run first showed it
                seen = rec.first_seen.get(cex.finding)
                out.append(Verdict(p, name, Status.VIOLATED, ENGINE, len(cex.actions), cex,
                                   effort, seconds if seen is None else seen[1]))
            if not cexs:
                # random exploration cannot prove absence: a clean run is "holds" only to
                # the depth explored, and "unknown" when the budget cut it short
                status = Status.UNKNOWN if stopped == "time budget" else Status.HOLDS
                out.append(Verdict(p, name, status, ENGINE, p.depth, None, effort, seconds,
                                   dict(reach)))
        for q in self.sometimes:
            trace = rec.witnesses.get(q.name)
            if trace is None:
                out.append(Verdict(p, q.name, Status.UNWITNESSED, ENGINE, p.depth, None,
                                   effort, seconds))
            else:
                out.append(Verdict(p, q.name, Status.WITNESSED, ENGINE, len(trace),
                                   self._counterexample(trace, Finding(q.name),
                                                        settings.seed),
                                   effort, seconds))
        return out


def explore(problem: Problem, settings: ExploreSettings | None = None) -> Exploration:
    """Explore ``problem`` with Hypothesis: one verdict per target (the rules, each
    property), the counterexamples shrunk, and the coverage. The time budget covers
    building the explorer and preparing the model too."""
    start = time.monotonic()
    return Explorer(problem).run(settings, started=start)


__all__ = ["ENGINE", "Exploration", "ExploreSettings", "Explorer", "explore", "under_ci"]
