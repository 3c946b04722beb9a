"""A trace's slices replayed on the model, step by step, with the scenario runner.

Each slice becomes a misuse-mode scenario on a model of one buffer (as many attachment
slots as the trace gives it) and runs through ``checker.scenario.run_scenario``: the
model's rules judge every step. A kernel result becomes the step's expected outcome, and a
failed call is replayed as the model's fault of that errno (``FAULTS``), so a failed map is
never replayed as a success.

References the probes cannot see (an inlined ``get_dma_buf``, a ``dup``, ``close(2)`` or
``munmap(2)``, the fd that ``fd_install`` gives out) are taken from the file's reference
count that each kprobe records: before a call, the model's refcount of the buffer is
brought to the kernel's count with ``get_dma_buf`` when the kernel holds more, and with
``close``, ``munmap`` then ``put`` when it holds fewer. At ``dma_buf_file_release`` the
kernel's count is 0. The locked variants (``dma_buf_map_attachment``, ``dma_buf_pin``
...) are replayed with the buffer's resv held (``UNDER_RESV``): the lock is not traced.
These steps are marked as inferred in the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from checker.dsl import ast
from checker.dsl.resolve import ResolvedScenario, ResolvedStep
from checker.scenario import run_scenario
from checker.trace.mapping import PAGE, Mapped, Slice, Step
from checker.trace.parse import Event
from model import EXPORTERS
from model.action import Action
from model.expr import evaluate
from model.kernel import EINTR, ENOENT, ENOMEM, ERESTARTSYS, ERRNO_NAMES, errno_name
from model.machine import Model, ModelError, State
from model.ops.registry import VALUE, returns_of
from model.profiles import profile as lookup_profile
from model.scope import MAX_ATTACHMENTS, MAX_COUNTER, Scope
from model.violation import Severity

# an errno a kernel call returned -> the model's fault that makes the call fail so
FAULTS: dict[str, dict[int, str]] = {
    "export": {-ENOMEM: "nomem", -ENOENT: "module"},
    "fd": {-24: "emfile"},
    "attach": {-ENOMEM: "nomem"},
    "dynamic_attach": {-ENOMEM: "nomem"},
    "map": {-ENOMEM: "nomem", -EINTR: "intr", -ERESTARTSYS: "intr"},
    "map_unlocked": {-ENOMEM: "nomem", -EINTR: "intr", -ERESTARTSYS: "intr"},
    "begin_cpu_access": {-EINTR: "intr", -ERESTARTSYS: "intr"},
}
# the fault of an error FAULTS does not name, where the model has one (the exporter's op)
OTHER_FAULT = {"attach": "exporter", "dynamic_attach": "exporter",
               "begin_cpu_access": "exporter"}
# the model's references of a buffer, in the order inferred drops take them
DROPS = (("fds", "close"), ("vmas", "munmap"), ("kref", "put"))
# the exporter of a buffer, by the kernel function that exported it (the caller a
# dma_buf_export kretprobe shows); others replay with the --exporter given
EXPORT_SITES = {"drm_gem_dmabuf_export": "gem_prime", "drm_gem_prime_export": "gem_prime",
                "udmabuf_create": "udmabuf", "system_heap_allocate": "system_heap",
                "ttm_prime_handle_to_fd": "ttm"}
# calls a process makes through an fd of the buffer: one is open
THROUGH_FD = frozenset({"get", "sync", "export_sync_file", "mmap"})
# the locked variants: called with the buffer's dma_resv held, which kprobes cannot see
# (dma_resv_lock is an inline ww_mutex call); the replay holds it around them
UNDER_RESV = frozenset({"map", "unmap", "pin", "unpin", "vmap", "vunmap", "move"})
# counters that a long trace may take far: the bounds of a replay's scope
SCOPE = {"refs": 32, "fds": 32, "vmas": 16, "pins": 8, "vmaps": 8, "cpu": 8}


@dataclass
class Finding:
    kind: str  # violation | refused | divergence | impossible
    line: int
    timestamp: str
    buffer: str
    step: str
    message: str
    rule: str = ""
    tag: str = ""
    severity: str = ""
    party: str = ""

    def render(self, path: str) -> str:
        head = f"{path}:{self.line}: t={self.timestamp}: "
        if self.kind == "violation":
            head += f"{self.rule} {self.tag} [{self.severity}, {self.party}]: {self.message}"
        else:
            head += f"{self.kind}: {self.message}"
        return f"{head}\n    {self.step} on {self.buffer}"


@dataclass
class Report:
    path: str
    profile: str
    exporter: str
    lines: int = 0
    events: int = 0
    consumed: int = 0
    nested: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    buffers: int = 0
    steps: int = 0
    inferred: int = 0
    lost: int = 0
    exporters: dict[str, int] = field(default_factory=dict)  # buffers replayed per exporter
    findings: list[Finding] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """No finding but calls the kernel refused as the model predicts."""
        return all(f.kind == "refused" for f in self.findings)


_MODELS: dict[tuple[str, str, int, int], Model] = {}


def model_for(exporter: str, profile: str, attachments: int, pages: int) -> Model:
    key = (exporter, profile, attachments, pages)
    if key not in _MODELS:
        scope = Scope(buffers=1, attachments=max(1, attachments), size_pages=pages, **SCOPE)
        _MODELS[key] = Model(EXPORTERS[exporter], profile=lookup_profile(profile),
                             scope=scope)
    return _MODELS[key]


@dataclass
class Planned:
    action: Action
    event: Event
    errno: int | None
    inferred: bool = False


def _action(m: Model, st: Step) -> Action:
    obj = "b0" if st.att is None else f"b0.a{st.att}"
    params = dict(st.params)
    if st.errno:
        fault = FAULTS.get(st.op, {}).get(st.errno) or OTHER_FAULT.get(st.op)
        if fault:
            with_fault = Action.make(st.op, obj, **params, fault=fault)
            if _known(m, with_fault):
                return with_fault
    return Action.make(st.op, obj, **params)


def _known(m: Model, act: Action) -> bool:
    try:
        m.index(act)
    except ModelError:
        return False
    return True


def _refs(m: Model, state: State) -> int:
    return int(evaluate(m.layout.buffers[0].refcount, state.values))


def plan_slice(m: Model, sl: Slice) -> tuple[list[Planned], list[Finding]]:
    """The slice's steps as model actions, with the reference steps the recorded counts
    imply, found by running the model (the scenario runner then judges them)."""
    state = m.initial()
    plan: list[Planned] = []
    notes: list[Finding] = []

    def apply(p: Planned) -> None:
        nonlocal state
        plan.append(p)
        if m.is_enabled(state, p.action, "misuse"):
            state = m.step(state, p.action).state

    for st in sl.steps:
        if st.count is not None:
            want, have = st.count, _refs(m, state)
            while have < want:
                # a new fd of an open one (dup) when the model holds fds only: a
                # reference taken through the fd, installed as an fd; otherwise one a
                # holder duplicated (an inlined get_dma_buf)
                fd_only = m.value(state, "b0.kref") == 0 and m.value(state, "b0.fds") > 0
                for op in ("get", "fd") if fd_only else ("get_dma_buf",):
                    apply(Planned(Action.make(op, "b0"), st.event, None, True))
                have, last = _refs(m, state), have
                if have == last:
                    break
            for var, op in DROPS:
                while have > want and m.value(state, f"b0.{var}") > 0:
                    apply(Planned(Action.make(op, "b0"), st.event, None, True))
                    have, last = _refs(m, state), have
                    if have == last:
                        break
        if st.release:
            continue
        if (st.op in THROUGH_FD and m.value(state, "b0.fds") == 0
                and m.value(state, "b0.kref") > 0):
            # the process calls through an fd the trace did not see installed (an
            # fd_install outside dma_buf_fd): the reference it holds is that fd
            apply(Planned(Action.make("fd", "b0"), st.event, None, True))
        act = _action(m, st)
        if not _known(m, act):
            notes.append(Finding("impossible", st.event.line, st.event.timestamp, sl.name,
                                 str(act), f"{act} is not an operation of the model under "
                                 f"{m.profile} (a value outside its parameter domain, or "
                                 "a function this kernel profile does not have)"))
            continue
        if act.name in UNDER_RESV:
            # the caller holds the buffer's resv (lockdep checks it; a trace cannot show it)
            apply(Planned(Action.make("lock", "b0"), st.event, None, True))
            apply(Planned(act, st.event, st.errno))
            apply(Planned(Action.make("unlock", "b0"), st.event, None, True))
        else:
            apply(Planned(act, st.event, st.errno, st.inferred))
    return plan, notes


def _outcomes(errno: int | None, op: str) -> tuple[ast.Outcome, ...]:
    """The result a trace records for a call of ``op``: its errno, or 0 for a success
    (which fixes nothing for an operation that returns a value: the trace has no value)."""
    if errno is None:
        return ()
    if errno == 0:
        return () if returns_of(op) == VALUE else (ast.Outcome("ok"),)
    if -errno in ERRNO_NAMES:
        return (ast.Outcome("errno", errno=ERRNO_NAMES[-errno]),)
    return ()


def replay(mapped: Mapped, path: str, profile: str, exporter: str, report: Report) -> None:
    for sl in mapped.slices:
        if sl.attachments > MAX_ATTACHMENTS:
            report.findings.append(Finding(
                "impossible", sl.steps[0].event.line, sl.steps[0].event.timestamp, sl.name,
                "attach", f"{sl.attachments} attachments: the model holds at most "
                f"{MAX_ATTACHMENTS} per buffer; this buffer was not replayed"))
            continue
        size = next((st.size for st in sl.steps if st.size), 0)
        pages = min(MAX_COUNTER, max(1, -(-size // PAGE))) if size else 2
        name = EXPORT_SITES.get(sl.site, exporter)
        report.exporters[name] = report.exporters.get(name, 0) + 1
        m = model_for(name, profile, sl.attachments, pages)
        plan, notes = plan_slice(m, sl)
        report.findings += notes
        report.buffers += 1
        report.steps += len(plan)
        report.inferred += sum(p.inferred for p in plan)
        body = tuple(ResolvedStep(p.action, _outcomes(p.errno, p.action.name),
                                  ast.Span(path, p.event.line, 1, p.event.line, 2))
                     for p in plan)
        decl = ast.ScenarioDecl(name=sl.name, span=ast.Span(path, 1, 1, 1, 1))
        result = run_scenario(ResolvedScenario(decl, m, "misuse", body), keep_going=True)
        for p, r in zip(plan, result.steps, strict=True):
            what = f"{r.text}{' (inferred)' if p.inferred else ''}"
            ts = p.event.timestamp
            for v in r.violations:
                # a misuse the kernel caught: the call failed with the errno the model
                # gives for it (the API working as documented, nothing corrupted)
                refused = (v.severity is Severity.ERRNO and p.errno is not None
                           and p.errno != 0 and p.errno == r.errno)
                report.findings.append(Finding(
                    "refused" if refused else "violation", p.event.line, ts, sl.name, what,
                    v.message, v.rule, v.tag, v.severity.value, v.party.value))
            for problem in r.problems:
                if problem.startswith("unexpected violation"):
                    continue  # reported above, with its rule
                kind = "impossible" if r.refused else "divergence"
                if problem.startswith("expected ") and r.errno is not None:
                    problem = (f"the kernel returned {errno_name(p.errno or 0)}, the model "
                               f"{errno_name(r.errno)}")
                report.findings.append(Finding(kind, p.event.line, ts, sl.name, what,
                                               problem))
    report.findings.sort(key=lambda f: f.line)
