"""The model: ground actions over a scope, the pure step function, and enabledness.

``Model(exporter, importers, profile, scope)`` instantiates every operation of
``model.ops`` for every object in the scope. ``step(state, action)`` is pure and
deterministic. ``enabled(state, mode)`` lists the actions that may happen next, in a fixed
order:

* ``misuse``: any call the API lets an importer or a process make, legal or not;
* ``contract``: importers and processes call the API legally. A call is legal when it
  breaks no obligation of the importer (no violation whose party is the importer fires),
  so contract mode is derived from the rules, not written separately. The same test
  applies to exporter and device events: one that would expose a broken importer
  obligation (a fence signal dropping the last reference while CPU access is still open)
  can only follow illegal importer behaviour, so it is not explored. In contract mode every
  violation is therefore the exporter's (or an importer's that ``ignores`` the obligation).

In both modes a transition that would push a counter past its declared bound is not
enabled: it leaves the bounded model (``step`` still reports it as ``scope-bound`` when a
scenario asks for it).

>>> from model.exporters import SYSTEM_HEAP
>>> m = Model(SYSTEM_HEAP, profile="v6.16+")
>>> s = m.initial()
>>> s = m.step(s, Action.parse("export(b0)")).state
>>> legal = [str(a) for a in m.enabled(s, "contract")]
>>> "fd(b0)" in legal, "put(b0)" in legal, "close(b0)" in legal  # no fd is open yet
(True, True, False)
>>> out = m.step(s, Action.parse("close(b0)"))
>>> out.errno, [v.tag for v in out.violations]
(-9, ['bad-fd'])
"""

from __future__ import annotations

import difflib
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from model.action import Action
from model.behaviour import Exporter, Importer
from model.compile import (
    StepFn,
    compile_checks,
    compile_predicates,
    compile_programs,
    compile_selector,
)
from model.context import Ctx
from model.expr import Const, Expr, and_, not_, or_
from model.invariants import core_invariants
from model.layout import NO_OBJECT, AttRef, BufRef, Field, Layout
from model.ops import REGISTRY, OpSpec
from model.ops.registry import DRIVER, Env, routine_specs
from model.profiles import Profile
from model.profiles import profile as lookup_profile
from model.program import Effect, Program, symbolic
from model.routine import Routine
from model.scope import Scope
from model.violation import Party, Severity, Violation

MODES = ("contract", "misuse")
ENABLED_MEMO = 1 << 14  # states whose enabled actions a model with Python behaviours keeps


COMPILE_BATCH = 64  # step functions compiled at once when a deadline is to be kept


class DeadlinePassed(Exception):
    """A ``deadline`` (a ``time.monotonic()`` value) passed while the model was deriving or
    compiling its actions: ``done`` of ``total`` actions were ready."""

    def __init__(self, what: str, done: int, total: int) -> None:
        super().__init__(f"the deadline passed after {what} {done} of {total} actions")
        self.what, self.done, self.total = what, done, total


class ModelError(ValueError):
    """A request the model cannot serve (an unknown action, a disabled one, a bad mode)."""


@dataclass(frozen=True, slots=True)
class State:
    """An immutable state: the values of the layout's variables, in order."""

    values: tuple[int, ...]


class Outcome(NamedTuple):
    """What one step did: the next state, the violations, and the call's result ``ret``:
    a negative errno, 0, or a value (llseek's offset, poll's revents; ``OpSpec.returns``
    says which operations return one)."""

    state: State
    violations: tuple[Violation, ...]
    ret: int

    @property
    def errno(self) -> int:
        """The call's error: the negative errno it returned, 0 when it succeeded (whatever
        value it returned)."""
        return min(self.ret, 0)


@dataclass(frozen=True)
class GroundAction:
    action: Action
    spec: OpSpec
    program: Program
    nlocals: int
    ret: int  # index of the local that holds the return value
    pre: Expr


class Model:
    """The reference model for one exporter, a set of importer styles, a kernel profile
    and a scope."""

    def __init__(
        self,
        exporter: Exporter,
        importers: Sequence[Importer] | None = None,
        profile: Profile | str = "v6.16+",
        scope: Scope | str = "2x3",
    ) -> None:
        from model.importers import REFERENCE_IMPORTERS

        self.exporter = exporter
        self.importers: tuple[Importer, ...] = tuple(
            REFERENCE_IMPORTERS if importers is None else importers)
        if not self.importers:
            raise ModelError("a model needs at least one importer style")
        names = [i.name for i in self.importers]
        if len(set(names)) != len(names):
            raise ModelError(f"importer names must be distinct, got {names}")
        self.profile = lookup_profile(profile) if isinstance(profile, str) else profile
        self.scope = Scope.parse(scope) if isinstance(scope, str) else scope
        self.routines = _routines(exporter, self.importers)
        frames: dict[str, list[Field]] = {"buffer": [], "attachment": []}
        sc = self.scope
        for _, _, r in self.routines:
            frames[r.target].extend(r.frame_fields(sc.refs, sc.vmaps, sc.cpu))
        self.layout = Layout(
            self.scope, len(self.importers), exporter.buffer_fields,
            exporter.attachment_fields, _merge_fields(self.importers),
            objects=any(i.driven for i in self.importers),
            buffer_frames=tuple(frames["buffer"]), attachment_frames=tuple(frames["attachment"]))
        env = Env(self.profile, self.scope, exporter, self.importers)
        self.ground: tuple[GroundAction, ...] = tuple(self._instantiate(env))
        self.actions: tuple[Action, ...] = tuple(g.action for g in self.ground)
        self._index = {a: k for k, a in enumerate(self.actions)}
        self._steps: list[StepFn | None] = [None] * len(self.ground)  # compiled on first use
        self._pre_fns = compile_predicates([g.pre for g in self.ground])
        self._guards: dict[str, list[Expr]] = {}  # derived on first use, per mode
        self._effects: dict[int, Effect] = {}
        self._select: dict[str, Callable[[Sequence[int]], list[int]]] = {}
        # a Python behaviour's enabledness is found by running every action's step; the
        # result for recently visited states is kept (a behaviour is a function of the state)
        self._enabled_memo: dict[str, dict[tuple[int, ...], list[int]]] = {}
        self._guard_fns: dict[str, list[Callable[[Sequence[int]], bool]]] = {}
        ctx = Ctx(self.layout, self.profile, exporter, self.importers)
        # the invariants checked after every step: (site, predicate, message values); a
        # site fires on the step where its predicate goes from true to false
        self.checks = tuple(core_invariants(ctx))
        self._check = compile_checks(list(self.checks))
        self._initial = State(self.layout.initial())
        self.encodable = exporter.encodable and all(i.encodable for i in self.importers)
        self._ignored = frozenset().union(*(i.ignores for i in self.importers))

    # ------------------------------------------------------------ building
    def _instantiate(self, env: Env) -> Iterable[GroundAction]:
        # when every importer is driver code, the kernel's importer-side calls are its
        # routines: no other kernel code calls the API on the buffers (the exporter's fd
        # install stays: that is how userspace gets the fd an import starts from)
        only_drivers = all(i.driven for i in self.importers)
        for spec in (*REGISTRY, *routine_specs(env, self.routines)):
            if not spec.available(env):
                continue
            if only_drivers and spec.actor == "importer" and spec.name != "fd":
                continue
            objects: Sequence[BufRef | AttRef] = (
                self.layout.buffers if spec.target == "buffer"
                else [a for b in self.layout.buffers for a in b.atts])
            for obj in objects:
                for params in spec.params(env):
                    c = Ctx(self.layout, self.profile, self.exporter, self.importers,
                            fault=str(params.get("fault", "none")))
                    with c.function(spec.name) as ret:
                        spec.body(c, obj, **params)
                    pre = spec.enabled(c, obj, **params)
                    if isinstance(obj, AttRef) and obj.o is not None and spec.actor != DRIVER:
                        pre = and_(pre, obj.o.life.eq(NO_OBJECT))  # driver code's own slot
                    yield GroundAction(
                        Action.make(spec.name, obj.name, **params), spec,
                        c.builder.program(), len(c.builder.locals), ret.index, pre)

    def _compile(self, k: int) -> StepFn:
        g = self.ground[k]
        fn = self._steps[k] = compile_programs([(g.program, g.nlocals)])[0]
        return fn

    def compile_all(self, deadline: float | None = None) -> None:
        """Compile every step function now (engines that will use them all call this).
        With a ``deadline``, they are compiled in batches and ``DeadlinePassed`` is raised
        when it passes between two batches."""
        todo = [k for k, f in enumerate(self._steps) if f is None]
        batch = len(todo) if deadline is None else COMPILE_BATCH
        for first in range(0, len(todo), max(1, batch)):
            if deadline is not None and time.monotonic() > deadline:
                raise DeadlinePassed("compiling", len(self.ground) - len(todo) + first,
                                     len(self.ground))
            part = todo[first:first + batch]
            for k, fn in zip(part, compile_programs(
                    [(self.ground[k].program, self.ground[k].nlocals) for k in part]),
                    strict=True):
                self._steps[k] = fn

    def derive_effects(self, deadline: float | None = None) -> None:
        """Execute every ground action's program symbolically now (``effect``), which the
        guards and the solvers' encoding are made of; ``DeadlinePassed`` when ``deadline``
        passes first. Raises ``NotEncodable`` for a Python behaviour."""
        for k in range(len(self.ground)):
            if deadline is not None and k % 16 == 0 and time.monotonic() > deadline:
                raise DeadlinePassed("encoding", k, len(self.ground))
            self.effect(k)

    def effect(self, k: int) -> Effect:
        """Ground action ``k``'s program executed on expressions over the state (each
        state variable's and local's next value, the violation sites that fire); computed
        once. Raises ``NotEncodable`` for a Python behaviour."""
        effect = self._effects.get(k)
        if effect is None:
            g = self.ground[k]
            env: list[Expr] = [*self.layout.vars, *([Const(0)] * g.nlocals)]
            effect = self._effects[k] = symbolic(g.program, env)
        return effect

    def guards(self, mode: str) -> list[Expr]:
        """Each ground action's enabledness in ``mode`` as an expression over the state
        (indexed like ``ground``), derived symbolically from its program: the operation is
        possible at all, it keeps every counter within its declared bound (a transition out
        of the scope is not part of the bounded model), and in ``contract`` mode no importer
        obligation breaks. Raises ``NotEncodable`` for a model with a Python behaviour
        (its enabledness is computed by running the step)."""
        if mode not in MODES:
            raise ModelError(f"unknown mode {mode!r}: use one of {', '.join(MODES)}")
        if mode not in self._guards:
            ignored = self._ignored
            out = []
            for k, g in enumerate(self.ground):
                effect = self.effect(k)
                bad = [f.cond for f in effect.fired if f.site.severity is Severity.SCOPE]
                if mode == "contract" and g.spec.actor != DRIVER:
                    bad += [f.cond for f in effect.fired
                            if f.site.party is Party.IMPORTER and f.site.tag not in ignored]
                out.append(and_(g.pre, not_(or_(*bad))))
            self._guards[mode] = out
        return self._guards[mode]

    # ------------------------------------------------------------ the interface
    def initial(self) -> State:
        """Nothing exported, nothing attached, no lock held."""
        return self._initial

    def enabled(self, state: State, mode: str = "contract") -> tuple[Action, ...]:
        """The actions that may happen in ``state``, in a fixed order."""
        return tuple(self.actions[k] for k in self.enabled_indices(state, mode))

    def enabled_indices(self, state: State, mode: str = "contract") -> list[int]:
        """``enabled`` as indices into ``actions`` (and ``ground``)."""
        if mode not in MODES:
            raise ModelError(f"unknown mode {mode!r}: use one of {', '.join(MODES)}")
        if not self.encodable:
            memo = self._enabled_memo.setdefault(mode, {})
            enabled = memo.get(state.values)
            if enabled is None:
                if len(memo) >= ENABLED_MEMO:
                    memo.clear()
                enabled = memo[state.values] = [
                    k for k in range(len(self.actions))
                    if self._enabled_concretely(state, k, mode)]
            return list(enabled)
        select = self._select.get(mode)
        if select is None:
            select = self._select[mode] = compile_selector(self.guards(mode))
        return select(state.values)

    def _enabled_concretely(self, state: State, k: int, mode: str) -> bool:
        """Enabledness by running the step, for models with Python-class behaviours: the
        same definition as the derived guards."""
        if not self._pre_fns[k](state.values):
            return False
        out = self.step(state, self.actions[k])
        if any(v.severity is Severity.SCOPE for v in out.violations):
            return False
        if mode == "misuse" or self.ground[k].spec.actor == DRIVER:
            return True
        return not any(v.party is Party.IMPORTER and v.tag not in self._ignored
                       for v in out.violations)

    def is_enabled(self, state: State, action: Action, mode: str = "contract") -> bool:
        k = self.index(action)
        if mode not in MODES:
            raise ModelError(f"unknown mode {mode!r}: use one of {', '.join(MODES)}")
        if not self.encodable:
            return self._enabled_concretely(state, k, mode)
        fns = self._guard_fns.get(mode)
        if fns is None:
            fns = self._guard_fns[mode] = list(compile_predicates(self.guards(mode)))
        return bool(fns[k](state.values))

    def index(self, action: Action) -> int:
        try:
            return self._index[action]
        except KeyError:
            close = difflib.get_close_matches(str(action), [str(a) for a in self.actions], 3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise ModelError(
                f"{action} is not an action of this model ({self.exporter.name}, "
                f"{self.profile}, scope {self.scope}){hint}") from None

    def step(self, state: State, action: Action, index: int = 0) -> Outcome:
        """Apply ``action``: the next state, the violations (numbered ``index``) and the
        call's result. The action must be possible at all (enabled in misuse mode)."""
        k = self.index(action)
        s = state.values
        if not self._pre_fns[k](s):
            raise ModelError(f"{action} cannot happen in this state (its object does not "
                             "exist yet, or the operation is not possible now)")
        fn = self._steps[k] or self._compile(k)
        values, fired = fn(s)
        n = self.layout.size
        nxt = tuple(values[:n])
        fired += self._check(s, nxt)
        violations = tuple(
            Violation(site.rule, site.severity, site.party, index, site.objects,
                      site.message(args), site.tag, site.where)
            for site, args in fired)
        return Outcome(State(nxt), violations, values[self.ground[k].ret])

    def run(self, actions: Iterable[Action | str], state: State | None = None,
            mode: str = "misuse") -> list[Outcome]:
        """Apply a sequence of actions (``Action`` or text); stops at nothing: every
        outcome is returned. Raises ``ModelError`` for an action not enabled in ``mode``."""
        s = self.initial() if state is None else state
        out = []
        for i, a in enumerate(actions):
            act = Action.parse(a) if isinstance(a, str) else a
            if mode == "contract" and not self.is_enabled(s, act, "contract"):
                raise ModelError(f"step {i}: {act} is not a legal call here (contract mode)")
            o = self.step(s, act, i)
            out.append(o)
            s = o.state
        return out

    # ------------------------------------------------------------ reading states
    def value(self, state: State, name: str) -> int:
        try:
            return state.values[self.layout.by_name[name].index]
        except KeyError:
            close = difflib.get_close_matches(name, list(self.layout.by_name), 3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise ModelError(f"no state variable {name!r}{hint}") from None

    def describe(self, state: State) -> dict[str, int]:
        """The variables that differ from the initial state."""
        init = self._initial.values
        return {v.name: state.values[v.index] for v in self.layout.vars
                if state.values[v.index] != init[v.index]}

    def diff(self, before: State, after: State) -> list[tuple[str, int, int]]:
        return [(v.name, before.values[v.index], after.values[v.index])
                for v in self.layout.vars
                if before.values[v.index] != after.values[v.index]]

    def __repr__(self) -> str:
        importers = ", ".join(i.name for i in self.importers)
        return (f"Model({self.exporter.name}, importers=[{importers}], "
                f"profile={self.profile}, scope={self.scope}, {len(self.actions)} actions)")


def _routines(exporter: Exporter, importers: Sequence[Importer]
              ) -> tuple[tuple[Exporter | Importer, Party, Routine], ...]:
    out: list[tuple[Exporter | Importer, Party, Routine]] = [
        (exporter, Party.EXPORTER, r) for r in exporter.routines]
    out += [(i, Party.IMPORTER, r) for i in importers for r in i.routines]
    names = [r.name for _, _, r in out]
    taken = {spec.name for spec in REGISTRY}
    for n in names:
        if names.count(n) > 1:
            raise ModelError(f"two routines are named {n!r}: routine names must be distinct "
                             "across a model's exporter and importers")
        if n in taken:
            raise ModelError(f"routine {n!r} has the name of a core operation: rename it")
    return tuple(out)


def _merge_fields(importers: Sequence[Importer]) -> tuple[Field, ...]:
    fields: dict[str, Field] = {}
    for imp in importers:
        for f in imp.fields:
            if f.name in fields and fields[f.name] != f:
                raise ModelError(f"importers declare field {f.name!r} differently")
            fields[f.name] = f
    return tuple(fields.values())


__all__ = ["MODES", "DeadlinePassed", "Model", "ModelError", "Outcome", "State"]
