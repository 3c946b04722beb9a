"""Unbounded proofs by k-induction, strengthened with invariants the model itself proves.

``prove(problem)`` answers the ``rules`` target ("no rule violation fires on any step") and
every ``always`` property, for every depth:

* **base case**: bounded model checking from the initial state to ``k`` steps (``bmc``'s
  unrolling: a counterexample found here is a real, replayed one);
* **step case**: from an *arbitrary* state within the declared bounds, ``k`` steps on which
  every target holds, through pairwise distinct states (a simple path), cannot be followed
  by a step that breaks a target. The state that step reaches may repeat an earlier one
  (a violation can leave the state as it was). Contract-mode guards are part of the
  transition relation.

An arbitrary state is usually not reachable, so the step case is strengthened with
**auxiliary invariants** found by Houdini's algorithm. Candidates come from the model: its
own state invariants (``Model.checks``) and the problem's ``always`` predicates; the slack
of each inequality between counters in those invariants held in one variable of the same
buffer (``_slack_candidates``); and facts read off states met on random walks of the model
(each variable's observed values, and for two variables of one object, or of a buffer and
one of its attachments, which values of one occur with a value of the other). Candidates
false on a sampled state are discarded; those that are not inductive are dropped until the
rest are, which makes their conjunction an invariant of every reachable state (it holds
initially and is preserved by every step). They are assumed in every frame of the step
case. Nothing here knows a rule: candidates are the model's own expressions (split into
conjuncts), the state layout and observed values.

**Symmetry.** The buffers of a scope are interchangeable, and so are the attachment slots
of a buffer, when the model treats them alike: ``symmetries`` finds the swaps of two
buffers or two slots that map every ground action onto another one with the same guard
and effect on the swapped variables (checked on the model's terms, not assumed). The
candidates are closed under them, and Houdini asks one action per orbit and drops a
candidate with its whole orbit: the set it keeps is closed, so an action's image
preserves it whenever the action does.

Targets are proved jointly: when the step case fails for some of them at the largest
``k``, they are reported as holding to the base-case depth with the counterexample to
induction (the arbitrary state the step case started from), and the others are proved
again without assuming them.
"""

from __future__ import annotations

import gc
import random
import re
import time
import weakref
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import z3
from z3 import z3core as Z
from z3.z3 import _to_expr_ref

from checker.engines.symbolic.bmc import Target, Unrolling, check, targets, witness
from checker.engines.symbolic.encode import (
    _ON_FRESH,
    EncodeTimeout,
    Encoding,
    Frame,
    Substitution,
    action_terms,
    arithmetic,
    check_assuming,
    encode,
    fired_sites,
    model_template,
    model_terms,
    new_solver,
    not_,
    not_encodable_reason,
    num,
    or_,
    reads_of,
    value_of,
)
from checker.problem import RULES, Counterexample, Finding, Problem, Status, Verdict
from model import expr as mx
from model.action import Action
from model.compile import compile_predicates
from model.machine import Model, ModelError, State
from model.program import NotEncodable

ENGINE = "k-induction"


# ---------------------------------------------------------------- auxiliary invariants


def sample_states(model: Model, mode: str, steps: int = 3000, seed: int = 0) -> list[State]:
    """States met on random walks from the initial state (restarting now and then). Each
    step takes an enabled action uniformly at random: actions drawn uniformly until one is
    enabled (a few guards evaluated instead of every one), all of them tested after 64
    misses."""
    rng = random.Random(seed)
    actions = model.actions
    init = model.initial()
    s = init
    out = [s]
    few: dict[State, list[Action]] = {}  # the enabled actions of states where few are
    for _ in range(steps):
        if rng.random() < 0.03:
            s = init
            continue
        for _ in range(64):
            a = actions[rng.randrange(len(actions))]
            if model.is_enabled(s, a, mode):
                break
        else:
            enabled = few.get(s)
            if enabled is None:
                enabled = few[s] = [a for a in actions if model.is_enabled(s, a, mode)]
            if not enabled:
                s = init
                continue
            a = rng.choice(enabled)
        s = model.step(s, a).state
        out.append(s)
    return out


def _group(name: str) -> str:
    return name.split(".", 1)[0]


def _object(name: str) -> str:
    """The object a variable belongs to: ``b0`` or ``b0.a1``."""
    parts = name.split(".")
    return ".".join(parts[:2]) if len(parts) > 2 and parts[1].startswith("a") else parts[0]


def _related(a: str, b: str) -> bool:
    """Two variables of one buffer worth relating: of the same object, or one of them the
    buffer's own (attachments of one buffer are related through it)."""
    oa, ob = _object(a), _object(b)
    return oa == ob or "." not in oa or "." not in ob


# ---------------------------------------------------------------- symmetry


@dataclass(frozen=True)
class Symmetry:
    """A swap of two objects of the scope (two buffers, with their attachment slots, or two
    attachment slots of one buffer) that maps the transition system onto itself:
    variable ``i`` becomes variable ``vars[i]`` and ground action ``k`` becomes ground
    action ``actions[k]``. Made only by ``symmetries``, which checks that it is one."""

    name: str
    objects: tuple[tuple[str, str], ...]  # the object renaming
    vars: tuple[int, ...]
    actions: tuple[int, ...]


def _swaps(model: Model) -> list[dict[str, str]]:
    """Object renamings that may be symmetries: adjacent buffers swapped (each attachment
    slot going with its buffer) and adjacent attachment slots of the first buffer swapped.
    Together they generate every permutation of the buffers and of each buffer's slots."""
    scope = model.layout.scope
    out: list[dict[str, str]] = []
    for b in range(scope.buffers - 1):
        out.append({f"b{b}": f"b{b + 1}", f"b{b + 1}": f"b{b}"})
    for a in range(scope.attachments - 1):
        out.append({f"b0.a{a}": f"b0.a{a + 1}", f"b0.a{a + 1}": f"b0.a{a}"})
    return out


def _renamed(obj: str, objects: dict[str, str]) -> str:
    """``obj`` (``b0`` or ``b0.a1``) under an object renaming."""
    if obj in objects:
        return objects[obj]
    buf, dot, rest = obj.partition(".")
    return objects.get(buf, buf) + dot + rest


_SYMMETRIES: weakref.WeakKeyDictionary[Model, dict[str, list[Symmetry]]] = (
    weakref.WeakKeyDictionary())
_ON_FRESH.append(_SYMMETRIES.clear)


def symmetries(model: Model, mode: str, deadline: float | None = None,
               arith: str = "bv") -> list[Symmetry]:
    """The swaps of ``_swaps`` that are symmetries of ``model`` in ``mode``, checked on the
    model's own terms (``model_terms`` in arithmetic ``arith``; by default the bit-vector
    terms the encoding has built already, which mean what the integer terms do: every
    value of the model fits in ``encode.WIDTH`` bits): every variable becomes one
    of the same type, bounds and initial value; every ground action becomes the same
    operation with the same parameters on the renamed object, which writes exactly the
    renamed variables; and, with every variable ``x`` replaced by its image, the action's
    guard and each of its updates are the renamed action's (``g(swap(s)) = g'(s)`` and
    ``swap(step(swap(s))) = step'(s)`` for every state ``s``). Terms that are not
    identical are compared by the solver in one question: no state within bounds tells
    any of them apart. A swap failing any of this is left out."""
    cache = _SYMMETRIES.setdefault(model, {})
    key = f"{mode}/{arith}"
    if key in cache:
        return cache[key]
    layout = model.layout
    xs = layout.vars
    init = model.initial().values
    with arithmetic(arith):
        terms = model_terms(model, mode)
        bounds = [z3.And(x >= num(v.lo), x <= num(v.hi))
                  for v, x in zip(xs, terms.state, strict=True) if v.type != mx.BOOL]
    t = terms.state
    out: list[Symmetry] = []
    complete = True
    for objects in _swaps(model):
        perm: list[int] = []
        for v in xs:
            obj = _object(v.name)
            w = layout.by_name.get(_renamed(obj, objects) + v.name[len(obj):])
            if w is None or (w.type, w.lo, w.hi) != (v.type, v.lo, v.hi) \
                    or init[w.index] != init[v.index]:
                break
            perm.append(w.index)
        if len(perm) != len(xs) or len(set(perm)) != len(perm):
            continue
        acts: list[int] = []
        for a in model.actions:
            try:
                acts.append(model.index(Action(a.name, _renamed(a.obj, objects), a.params)))
            except ModelError:
                break
        if len(acts) != len(model.actions) or len(set(acts)) != len(acts):
            continue
        swap = Substitution([(t[i], t[perm[i]]) for i in range(len(t))])
        differ: list[z3.BoolRef] = []
        same = True
        for k, act in enumerate(terms.actions):
            image = terms.actions[acts[k]]
            if {perm[i] for i in act.changes} != set(image.changes):
                same = False
                break
            g = swap(act.guard)
            if not g.eq(image.guard):
                differ.append(g != image.guard)
            for i, e in act.changes.items():
                e2 = swap(e)
                if not e2.eq(image.changes[perm[i]]):
                    differ.append(e2 != image.changes[perm[i]])
        if not same:
            continue
        if differ:
            solver = z3.Solver() if arith == "int" else new_solver()
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    complete = False
                    break
                solver.set("timeout", max(1, int(left * 1000)))
            solver.add(*bounds)
            r = solver.check(z3.Or(*differ))
            if r == z3.unknown:
                complete = False
            if r != z3.unsat:
                continue
        first = min(objects)
        out.append(Symmetry(f"{first}<->{objects[first]}", tuple(sorted(objects.items())),
                            tuple(perm), tuple(acts)))
    if complete:
        cache[key] = out
    return out


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, x: int) -> int:
        p = self.parent
        while p[x] != x:
            p[x] = p[p[x]]
            x = p[x]
        return x

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:  # the smaller index stays the root
            self.parent[max(ra, rb)] = min(ra, rb)


def _rename(e: mx.Expr, to: Sequence[mx.Var]) -> mx.Expr:
    """``e`` with every variable ``x`` replaced by ``to[x.index]`` (a DAG walk, each node
    once)."""
    memo: dict[int, mx.Expr] = {}
    stack: list[tuple[mx.Expr, bool]] = [(e, False)]
    while stack:
        x, ready = stack.pop()
        if id(x) in memo:
            continue
        if isinstance(x, mx.Var):
            memo[id(x)] = to[x.index]
        elif isinstance(x, mx.Op):
            if not ready:
                stack.append((x, True))
                stack.extend((a, False) for a in x.args if id(a) not in memo)
                continue
            args = tuple(memo[id(a)] for a in x.args)
            same = all(n is o for n, o in zip(args, x.args, strict=True))
            memo[id(x)] = x if same else mx.rebuild(x.op, args)
        else:
            memo[id(x)] = x
    return memo[id(e)]


_OBJECT = re.compile(r"\bb\d+(?:\.a\d+)?\b")


def _rename_text(text: str, sym: Symmetry) -> str:
    objects = dict(sym.objects)
    return _OBJECT.sub(lambda m: _renamed(m.group(0), objects), text)


class _Keys:
    """Candidate predicates as Z3 terms with a canonical key: the term with the operands
    of every conjunction, disjunction and sum flattened and sorted, and the two sides of
    every equation sorted (by the Z3 id of their own canonical term). Terms with one key
    are equal up to the order of those operands, so they are equivalent; the images of
    a predicate under a renaming of objects usually differ from another predicate only
    in that order (a disjunction over attachment slots, a sum of their counts)."""

    def __init__(self, model: Model, mode: str, arith: str) -> None:
        self.arith = arith
        with arithmetic(arith):
            self.terms = model_template(model, mode)
        # Z3 id -> its canonical term; the terms walked and made are kept alive, so that no
        # id is reused
        self._canon: dict[int, z3.Ast] = {}
        self._kept: list[z3.ExprRef] = []
        self._swaps: dict[str, Substitution] = {}

    def term(self, e: mx.Expr) -> z3.BoolRef:
        with arithmetic(self.arith):
            return self.terms.conv.boolean(e)

    def key(self, t: z3.ExprRef) -> int:
        return int(self.canonical(t).get_id())

    def canonical(self, t: z3.ExprRef) -> z3.ExprRef:
        """``t`` with the operands of its conjunctions, disjunctions, sums and equations in
        canonical order (a walk over the C API: ``t`` is kept, so every sub-term and its id
        stays alive; terms made here are kept too)."""
        ctx = t.ctx
        c = ctx.ref()
        raw = self._canon
        ident = Z.Z3_get_ast_id
        root = t.as_ast()
        if ident(c, root) not in raw:
            self._kept.append(t)
        stack: list[tuple[z3.Ast, bool]] = [(root, False)]
        while stack:
            x, ready = stack.pop()
            xid = ident(c, x)
            if xid in raw:
                continue
            if Z.Z3_get_ast_kind(c, x) != Z.Z3_APP_AST or Z.Z3_get_app_num_args(c, x) == 0:
                raw[xid] = x
                continue
            kids = [Z.Z3_get_app_arg(c, x, i) for i in range(Z.Z3_get_app_num_args(c, x))]
            if not ready:
                stack.append((x, True))
                stack.extend((k, False) for k in kids if ident(c, k) not in raw)
                continue
            args = [raw[ident(c, k)] for k in kids]
            kind = Z.Z3_get_decl_kind(c, Z.Z3_get_app_decl(c, x))
            if kind in _AC:
                flat: list[z3.Ast] = []
                todo = args[::-1]
                while todo:  # canonical operands are flat, but a sum of bit-vectors is a chain
                    y = todo.pop()
                    if (Z.Z3_get_ast_kind(c, y) == Z.Z3_APP_AST and Z.Z3_get_decl_kind(
                            c, Z.Z3_get_app_decl(c, y)) == kind):
                        todo.extend(Z.Z3_get_app_arg(c, y, i)
                                    for i in reversed(range(Z.Z3_get_app_num_args(c, y))))
                    else:
                        flat.append(y)
                flat.sort(key=lambda y: ident(c, y))
                if kind == Z.Z3_OP_BADD:  # binary: a chain
                    out = flat[0]
                    for y in flat[1:]:
                        out = self._keep(Z.Z3_mk_bvadd(c, out, y), ctx)
                else:
                    out = self._keep(_AC[kind](c, len(flat), (z3.Ast * len(flat))(*flat)), ctx)
            elif kind == Z.Z3_OP_EQ:
                y, z = sorted(args, key=lambda y: ident(c, y))
                out = self._keep(Z.Z3_mk_eq(c, y, z), ctx)
            elif all(ident(c, y) == ident(c, k) for y, k in zip(args, kids, strict=True)):
                out = x
            else:
                out = self._keep(Z.Z3_update_term(c, x, len(args), (z3.Ast * len(args))(*args)),
                                 ctx)
            raw[xid] = out
        return _to_expr_ref(raw[ident(c, root)], ctx)

    def _keep(self, ast: z3.Ast, ctx: z3.Context) -> z3.Ast:
        self._kept.append(_to_expr_ref(ast, ctx))
        return ast

    def image(self, t: z3.ExprRef, sym: Symmetry) -> z3.ExprRef:
        """``t`` with every variable replaced by its image under ``sym``."""
        swap = self._swaps.get(sym.name)
        if swap is None:
            st = self.terms.state
            swap = self._swaps[sym.name] = Substitution(
                [(st[i], st[j]) for i, j in enumerate(sym.vars)])
        return swap(t)


_AC = {Z.Z3_OP_AND: Z.Z3_mk_and, Z.Z3_OP_OR: Z.Z3_mk_or, Z.Z3_OP_ADD: Z.Z3_mk_add,
       Z.Z3_OP_BADD: None}


def _orbits(n: int, edges: Callable[[int], Sequence[int]]) -> _UnionFind:
    uf = _UnionFind(n)
    for i in range(n):
        for j in edges(i):
            uf.union(i, j)
    return uf


# ---------------------------------------------------------------- candidates


@dataclass(frozen=True)
class Candidate:
    """A candidate invariant: its text, the model expression it is, and the layout
    indices of the variables it reads."""

    text: str
    expr: mx.Expr
    reads: frozenset[int]


def candidates(problem: Problem, samples: Sequence[State],
               syms: Sequence[Symmetry] = ()) -> list[Candidate]:
    """Candidate invariants, true in every sample: the model's state invariants
    (``Model.checks``) and the problem's ``always`` predicates, where the samples satisfy
    them; linear slack facts (``_slack_candidates``); a variable takes only the values
    observed; for two variables of the same attachment, or of a buffer and one of its
    attachments, when one has value ``a`` the other takes only the values observed with
    ``a``. A conjunction is split into its conjuncts (``_conjuncts``).

    With symmetries ``syms`` the candidates are closed under them, as if the samples
    were (the image of a reachable state under a symmetry is reachable): a variable's
    observed values are those of every variable it can be renamed to, and likewise for
    pairs of variables; a predicate comes with its images, and is kept only if all of
    them hold in every sample."""
    model = problem.model
    layout = model.layout
    xs = layout.vars
    rows = np.array(sorted({s.values for s in samples}), dtype=np.int64)
    states = [tuple(r) for r in rows.tolist()]
    var_orbit = _orbits(layout.size, lambda i: [s.vars[i] for s in syms])
    seen_at = [set(np.unique(rows[:, i]).tolist()) for i in range(layout.size)]
    union: dict[int, set[int]] = {}
    for i in range(layout.size):
        union.setdefault(var_orbit.find(i), set()).update(seen_at[i])
    seen = [union[var_orbit.find(i)] for i in range(layout.size)]

    def among(i: int, values: set[int]) -> mx.Expr:
        return mx.or_(*[xs[i].eq(a) for a in sorted(values)])

    out: list[Candidate] = []
    preds = [(f"{site.rule} {site.tag} ({', '.join(site.objects)})", pred)
             for site, pred, _ in model.checks]
    preds += [(p.name, p.predicate) for p in problem.properties
              if p.kind == "always" and p.predicate is not None]
    preds = [(f"{text} [{n}]" if len(parts) > 1 else text, part)
             for text, parts in [(text, _conjuncts(e)) for text, e in preds]
             for n, part in enumerate(parts)]
    preds += _slack_candidates(model)
    preds, orbit = _closed(model, problem.mode, preds, syms)
    fns = compile_predicates([p for _, p in preds])
    broken = {orbit[n] for n, fn in enumerate(fns) if not all(fn(v) for v in states)}
    broken.add(-1)
    for n, (text, pred) in enumerate(preds):
        if orbit[n] not in broken:
            out.append(Candidate(text, pred, _reads(pred)))
    for i, var in enumerate(xs):
        if len(seen[i]) < var.hi - var.lo + 1:
            out.append(Candidate(f"{var.name} in {sorted(seen[i])}", among(i, seen[i]),
                                 frozenset({i})))
    groups: dict[str, list[int]] = {}
    for i, var in enumerate(xs):
        if len(seen[i]) > 1:
            groups.setdefault(_group(var.name), []).append(i)
    pairs = [(i, j) for members in groups.values() for i in members for j in members
             if i != j and _related(xs[i].name, xs[j].name)]
    codes: list[set[int]] = []
    for i, j in pairs:
        base = int(xs[j].hi - xs[j].lo + 1)
        span = int(xs[i].hi - xs[i].lo + 1) * base
        counts = np.bincount((rows[:, i] - xs[i].lo) * base + (rows[:, j] - xs[j].lo),
                             minlength=span)
        codes.append(set(np.flatnonzero(counts).tolist()))
    if syms:
        where = {p: n for n, p in enumerate(pairs)}
        pair_orbit = _orbits(len(pairs), lambda n: [
            where[q] for s in syms if (q := (s.vars[pairs[n][0]], s.vars[pairs[n][1]])) in where])
        joint: dict[int, set[int]] = {}
        for n in range(len(pairs)):
            joint.setdefault(pair_orbit.find(n), set()).update(codes[n])
        codes = [joint[pair_orbit.find(n)] for n in range(len(pairs))]
    for (i, j), observed in zip(pairs, codes, strict=True):
        base = int(xs[j].hi - xs[j].lo + 1)
        with_: dict[int, set[int]] = {}
        for code in sorted(observed):
            a, b = divmod(int(code), base)
            with_.setdefault(a + xs[i].lo, set()).add(b + xs[j].lo)
        for a, values in sorted(with_.items()):
            if values != seen[j]:
                out.append(Candidate(
                    f"{xs[i].name}={a} -> {xs[j].name} in {sorted(values)}",
                    mx.or_(mx.not_(xs[i].eq(a)), among(j, values)),
                    frozenset({i, j})))
    return out


def _conjuncts(e: mx.Expr) -> list[mx.Expr]:
    """The conjuncts of ``e`` (``e`` itself unless it is a conjunction). Candidates are
    split into them: each is a candidate of its own, true wherever the whole is, and the
    conjunction of the set is unchanged, so no inductive strengthening is lost (a part of a
    broken whole may even survive); and the parts of a property over every buffer each
    read one buffer."""
    if isinstance(e, mx.Op) and e.op == "and":
        return [p for a in e.args for p in _conjuncts(a)]
    return [e]


def _closed(model: Model, mode: str, preds: list[tuple[str, mx.Expr]],
            syms: Sequence[Symmetry]) -> tuple[list[tuple[str, mx.Expr]], list[int]]:
    """``preds`` without duplicates and with their images under ``syms`` added, and each
    one's orbit (an index; -1 for an orbit left incomplete). Without symmetries, each
    predicate is its own orbit. Images are added until every one is there (as a term up
    to operand order, ``_Keys``) or there are ``_MAX_IMAGES`` times as many predicates as
    at first: the orbits not closed by then are incomplete (a predicate whose images the
    keys cannot tell apart from new ones)."""
    if not syms:
        return preds, list(range(len(preds)))
    keys = _Keys(model, mode, "int")
    out: list[tuple[str, mx.Expr]] = []
    index: dict[int, int] = {}
    links: list[tuple[int, int]] = []

    def add(text: str, e: mx.Expr) -> int:
        k = keys.key(keys.term(e))
        n = index.get(k)
        if n is None:
            n = index[k] = len(out)
            out.append((text, e))
        return n

    for text, e in preds:
        add(text, e)
    limit = _MAX_IMAGES * len(out)
    n = 0
    while n < len(out) and len(out) <= limit:  # the list grows with its members' images
        text, e = out[n]
        for s in syms:
            links.append((n, add(_rename_text(text, s), _rename(e, [model.layout.vars[j]
                                                                 for j in s.vars]))))
        n += 1
    uf = _UnionFind(len(out))
    for a, b in links:
        uf.union(a, b)
    open_ = {uf.find(m) for m in range(n, len(out))}  # members whose images were not added
    return out, [-1 if uf.find(m) in open_ else uf.find(m) for m in range(len(out))]


_MAX_IMAGES = 8


# ---------------------------------------------------------------- Houdini


def _slack_candidates(model: Model) -> list[tuple[str, mx.Expr]]:
    """Linear facts suggested by the model's own state invariants: for each comparison
    ``a <= b`` (``<``, ``==``) between integer terms in ``Model.checks``, ``b - a`` equals
    ``v`` for an integer variable ``v`` of the same buffer (the slack the inequality
    leaves is held in that variable), or equals 0."""
    out: list[tuple[str, mx.Expr]] = []
    layout = model.layout
    seen: set[int] = set()
    for _, pred, _ in model.checks:
        stack = [pred]
        while stack:
            x = stack.pop()
            if id(x) in seen or not isinstance(x, mx.Op):
                continue
            seen.add(id(x))
            stack.extend(x.args)
            if x.op not in ("le", "lt", "eq") or any(a.type != mx.INT for a in x.args):
                continue
            lo, hi = x.args
            reads = _reads(x)
            if len(reads) < 2:
                continue
            groups = {_group(layout.vars[i].name) for i in reads}
            slack = mx.sub(hi, lo)
            out.append((f"{hi} == {lo}", slack.eq(0)))
            for v in layout.vars:
                if v.type == mx.INT and _group(v.name) in groups and v.index not in reads:
                    out.append((f"{hi} - {lo} == {v.name}", slack.eq(v)))
    return out


def _reads(e: mx.Expr) -> frozenset[int]:
    return reads_of([e])


def houdini(model: Model, mode: str, cands: list[Candidate], deadline: float,
            arith: str = "int", syms: Sequence[Symmetry] = ()
            ) -> tuple[list[Candidate], bool]:
    """The largest subset of ``cands`` closed under the symmetries ``syms`` that is
    inductive (each step from a state satisfying all of them reaches one that does), and
    whether the search finished (when it did not, the empty set is returned: nothing
    unproved is ever assumed).

    The actions are asked about the candidates that read a variable they write (the
    others cannot change): a state within bounds satisfying every remaining candidate,
    where the action is enabled, and whose successor (the action's effect substituted
    into the candidate) breaks one. The actions of one operation on one object are asked
    in one question (is one of them enabled with a broken successor); a model of it drops
    what each action it enables breaks, and the question is asked again. An unsat answer
    stands until a candidate of its unsat core is dropped; questions are asked until
    every one stands. These one-step questions are arithmetic-heavy (sums of counters),
    so they are asked over the integer encoding in Z3's SMT core, where they are much
    cheaper than bit-blasted.

    With symmetries (``symmetries(model, mode)``), candidates and actions fall into
    orbits. A candidate whose image under a symmetry is not among the candidates (as a
    term up to the order of operands, ``_Keys``) is dropped with its orbit at once; after
    that the remaining set is closed under every symmetry, and stays so because a
    candidate is dropped with its orbit (if ``c`` breaks on a step of action ``k`` from
    a state ``s``, its image breaks on a step of the image of ``k`` from the image of
    ``s``, which satisfies the closed set). Only one action per orbit is asked: a step
    of the image of ``k`` is the image of a step of ``k`` (that is what ``symmetries``
    checks), so the closed set it preserves is preserved by every action of the orbit.
    Only the actions asked about are converted to integer terms."""
    with arithmetic(arith):
        tpl = model_template(model, mode)
        now = [tpl.conv.boolean(c.expr) for c in cands]
        bounds = [z3.And(x >= num(v.lo), x <= num(v.hi)) for v, x in
                  zip(model.layout.vars, tpl.state, strict=True) if v.type != mx.BOOL]
    t = tpl.state
    active = set(range(len(cands)))
    orbit_of = list(range(len(cands)))
    actions = list(range(len(model.actions)))
    if syms:
        keys = _Keys(model, mode, arith)
        first: dict[int, int] = {}
        for n, c in enumerate(now):
            first.setdefault(keys.key(c), n)
        uf = _UnionFind(len(cands))
        unmatched: set[int] = set()
        for s in syms:
            for n, c in enumerate(now):
                m = first.get(keys.key(keys.image(c, s)))
                if m is None:
                    unmatched.add(n)
                else:
                    uf.union(n, m)
        orbit_of = [uf.find(n) for n in range(len(cands))]
        open_orbits = {orbit_of[n] for n in unmatched}
        active = {n for n in active if orbit_of[n] not in open_orbits}
        act_uf = _orbits(len(actions), lambda k: [s.actions[k] for s in syms])
        actions = [k for k in actions if act_uf.find(k) == k]
    with arithmetic(arith):  # only the actions asked about
        terms = {k: action_terms(model, mode, k) for k in actions}
    orbits: dict[int, list[int]] = {}
    for n, o in enumerate(orbit_of):
        orbits.setdefault(o, []).append(n)
    fns = compile_predicates([c.expr for c in cands])
    solver = z3.Solver() if arith == "int" else new_solver()
    solver.add(*bounds)
    lits = [z3.Bool(f"cand!{n}") for n in range(len(cands))]
    for lit, c in zip(lits, now, strict=True):
        solver.add(z3.Implies(lit, c))
    readers: dict[int, list[int]] = {}
    for n, c in enumerate(cands):
        for i in c.reads:
            readers.setdefault(i, []).append(n)
    broken: dict[tuple[int, int], z3.BoolRef] = {}  # (action, candidate): its successor breaks
    lit_of = {lit.get_id(): n for n, lit in enumerate(lits)}
    # the actions of one operation on one object are asked together (one question whether
    # some of them breaks a candidate: their terms share most of their structure),
    # cheapest first (fewest variables read), so that most candidates that go are dropped
    # before the costly questions are answered
    by_op: dict[tuple[str, str], list[int]] = {}
    for k in actions:
        by_op.setdefault((model.actions[k].name, model.actions[k].obj), []).append(k)
    batches = sorted(by_op.values(), key=lambda ks: (max(len(terms[k].reads) for k in ks), ks))
    posts: dict[int, Substitution] = {}
    # the candidates a batch's last "unsat" rests on (an unsat core of the assumptions):
    # while none of them is dropped the answer stands (the goal only loses disjuncts)
    rests_on: dict[int, set[int]] = {}
    while todo := [b for b in range(len(batches)) if b not in rests_on]:
        for b in todo:
            while True:
                rel: dict[int, list[int]] = {}
                for k in batches[b]:
                    act = terms[k]
                    rk = sorted({n for i in act.changes for n in readers.get(i, ())} & active)
                    if not rk:
                        continue
                    rel[k] = rk
                    for n in rk:
                        if (k, n) not in broken:
                            if k not in posts:
                                posts[k] = Substitution([(t[i], e)
                                                         for i, e in act.changes.items()])
                            broken[k, n] = not_(posts[k](now[n]))
                if not rel:
                    rests_on[b] = set()
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    return [], False
                solver.set("timeout", max(1, int(left * 1000)))
                solver.push()
                solver.add(or_([z3.And(terms[k].guard, or_([broken[k, n] for n in rk]))
                                for k, rk in rel.items()]))
                r = check_assuming(solver, [lits[n] for n in sorted(active)])
                m = solver.model() if r == z3.sat else None
                core = ({lit_of[x.get_id()] for x in solver.unsat_core()} if r == z3.unsat
                        else set())
                solver.pop()
                if r == z3.unsat:
                    rests_on[b] = core
                    break
                if m is None:
                    return [], False
                dropped: set[int] = set()
                for k, rk in rel.items():  # the actions the model's state enables
                    if z3.is_true(m.eval(terms[k].guard, model_completion=True)):
                        dropped |= _broken_in(m, t, terms[k].changes, rk, cands, fns) or {
                            n for n in rk  # the model's own evaluation as a fallback
                            if z3.is_true(m.eval(broken[k, n], model_completion=True))}
                assert dropped, "a model of the goal falsifies some candidate"
                gone: set[int] = set()
                for n in dropped:
                    gone.update(orbits[orbit_of[n]])
                active -= gone
                for j in [j for j, on in rests_on.items() if on & gone]:
                    del rests_on[j]
    return [cands[n] for n in sorted(active)], True


def _broken_in(m: z3.ModelRef, t: Sequence[z3.ExprRef], changes: dict[int, z3.ExprRef],
               rel: Sequence[int], cands: Sequence[Candidate],
               fns: Sequence[Callable[[Sequence[int]], bool]]) -> set[int]:
    """The candidates among ``rel`` that are false in the successor of the state of a Z3
    model (the successor's values read off the model, the candidates evaluated by their
    compiled predicates)."""
    values = [0] * len(t)
    for i in set().union(*(cands[n].reads for n in rel)):
        values[i] = value_of(m.eval(changes.get(i, t[i]), model_completion=True))
    return {n for n in rel if not fns[n](values)}


# ---------------------------------------------------------------- k-induction


@dataclass
class Goal:
    """A target being proved; ``pairs`` are the rule violations still claimed never to
    fire (the ``rules`` target loses those the base case finds)."""

    target: Target
    pairs: set[tuple[str, str]]
    lit: z3.BoolRef

    def bad(self, enc: Encoding) -> z3.BoolRef:
        if self.target.kind == "rules":
            return enc.violation(sorted(self.pairs))
        return self.target.bad


def itf_state(model: Model, values: Sequence[int]) -> dict[str, object]:
    """A state as an ITF state object (fields sorted by name; integers as ``#bigint``)."""
    out: dict[str, object] = {}
    for v in sorted(model.layout.vars, key=lambda v: v.name):
        x = values[v.index]
        out[v.name] = bool(x) if v.type == mx.BOOL else {"#bigint": str(x)}
    return out


def prove(problem: Problem, max_k: int = 4, timeout_s: float = 120.0,
          strengthen: bool = True, samples: int = 20000,
          stop_after: Collection[tuple[str, str]] = (), symmetric: bool = True
          ) -> list[Verdict]:
    """A verdict for ``rules`` and each ``always`` property of ``problem``: proved for
    every depth; violated with a replayed counterexample (for ``rules``, the other
    violations may still be proved never to fire: ``details["rest_proved"]``); holds to
    depth ``max_k`` with the counterexample to induction in ``details`` (``cti``:
    ``name=value`` for the variables that differ from the initial state, ``cti_itf``: the
    whole state as ITF); or unknown (timeout, solver unknown), never reported as
    holding. With ``stop_after`` (rule, tag) pairs, the proof stops as soon as the base
    case has found them all (a mutation self-test looks for one bug): the ``rules`` verdict
    is violated and whatever else was not decided yet is unknown. With ``symmetric`` (the
    default) the auxiliary-invariant search works per orbit of the scope's symmetries
    (``symmetries``)."""
    with _no_cycle_collection():
        return _prove(problem, max_k, timeout_s, strengthen, samples, stop_after, symmetric)


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Python's cycle collector paused inside the block. A proof allocates millions of
    long-lived objects (the model's symbolic effects, Z3 terms and their wrappers), and
    each full collection walks all of them: about a tenth of a TTM proof at 2x3. What the
    block frees is freed by reference counting; the few cycles it leaves wait for the next
    collection after it."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _prove(problem: Problem, max_k: int, timeout_s: float, strengthen: bool, samples: int,
           stop_after: Collection[tuple[str, str]], symmetric: bool) -> list[Verdict]:
    start = time.monotonic()
    deadline = start + timeout_s
    names = [RULES, *(p.name for p in problem.properties if p.kind == "always")]
    reason = not_encodable_reason(problem.model)
    if reason is not None:
        return [Verdict(problem, n, Status.UNKNOWN, ENGINE, reason=reason) for n in names]
    try:
        enc = encode(problem, deadline)
    except NotEncodable as e:
        return [Verdict(problem, n, Status.UNKNOWN, ENGINE, reason=str(e)) for n in names]
    except EncodeTimeout as e:
        spent = f"time budget ({timeout_s:.3g}s) spent encoding the model: {e}"
        return [Verdict(problem, n, Status.UNKNOWN, ENGINE, reason=spent,
                        seconds=time.monotonic() - start) for n in names]
    model = enc.model
    goals = [Goal(t, set(enc.pairs) if t.kind == "rules" else set(), z3.Bool(f"assume!{t.name}"))
             for t in targets(enc) if t.kind in ("rules", "always")]
    verdicts: dict[str, Verdict] = {}
    findings: dict[tuple[str, str], Counterexample] = {}
    details: dict[str, dict[str, object]] = {g.target.name: {} for g in goals}

    def finish(g: Goal, status: Status, **kw: object) -> None:
        d = {**details[g.target.name], **kw.pop("details", {})}  # type: ignore[dict-item]
        verdicts[g.target.name] = Verdict(problem, g.target.name, status, ENGINE,
                                          seconds=time.monotonic() - start, details=d,
                                          **kw)  # type: ignore[arg-type]

    timing: dict[str, float] = {"encode": time.monotonic() - start}
    if time.monotonic() >= deadline:
        return _unknown(problem, names, "timeout (while encoding)", start, {}, {})
    aux: list[Candidate] = []
    if strengthen:
        t0 = time.monotonic()
        syms = symmetries(model, problem.mode, deadline) if symmetric else []
        t1 = time.monotonic()
        cands = candidates(problem, sample_states(model, problem.mode, samples), syms)
        t2 = time.monotonic()
        aux, complete = houdini(model, problem.mode, cands, deadline, syms=syms)
        timing |= {"symmetries": t1 - t0, "candidates": t2 - t1,
                   "houdini": time.monotonic() - t2}
        for g in goals:
            details[g.target.name]["auxiliary_invariants"] = len(aux)
            if not complete:
                details[g.target.name]["strengthening"] = "not finished within the budget"

    # the base case: one unrolling from the initial state
    base = Unrolling(enc, new_solver())
    # the step case: one unrolling from an arbitrary state within bounds and invariants
    step_solver = new_solver()
    ind = Unrolling(enc, step_solver, initial=False)
    aux_t = z3.And(*[enc.state_converter.boolean(c.expr) for c in aux])
    step_solver.add(enc.bool_at(aux_t, ind.frames[0]))

    def assume(g: Goal, j: int) -> None:
        """Goal ``g`` (while its literal is assumed) holds in frame ``j`` of the step case
        (a step goal: on the step into frame ``j``)."""
        if g.target.on_step and j == 0:
            return
        held = z3.Not(ind.bad(Target(g.target.name, g.target.kind, g.bad(enc)), at=j))
        step_solver.add(z3.Implies(g.lit, held))

    def base_bound(k: int) -> str | None:
        """Check every goal at bound ``k`` of the base case; None, or why it is unknown."""
        if k > 0:
            base.extend()
        for g in list(live):
            if g.target.on_step and k == 0:
                continue
            changed = False
            while True:
                bad = base.bad(Target(g.target.name, g.target.kind, g.bad(enc)))
                r, why, m = check(base.solver, bad, deadline)
                if r == z3.unsat:
                    base.solver.add(z3.Not(bad))
                    break
                if m is None:
                    return why or "solver unknown"
                cex, fired = witness(enc, base, m, g.target, set(g.pairs))
                if g.target.kind != "rules":
                    finish(g, Status.VIOLATED, depth=k, counterexample=cex)
                    live.remove(g)
                    break
                for pair in fired:
                    if pair in g.pairs:
                        g.pairs.discard(pair)
                        changed = True
                        findings[pair] = Counterexample(problem, Finding(RULES, *pair),
                                                        cex.actions, ENGINE)
            if changed:  # what the step case assumed of it no longer holds: assume anew
                g.lit = z3.FreshBool("assume")
                for j in range(len(ind.frames) - 1):
                    assume(g, j)
        return None

    live = list(goals)
    wanted = set(stop_after)
    if (why := base_bound(0)) is not None:
        return _unknown(problem, names, why, start, verdicts, findings)
    proved_at: int | None = None
    cti: dict[str, dict[str, object]] = {}
    for k in range(1, max_k + 1):
        if (why := base_bound(k)) is not None:
            return _unknown(problem, names, why, start, verdicts, findings, depth=k - 1)
        if wanted and wanted <= set(findings):
            return _unknown(problem, names, "stopped: the violations asked for were found",
                            start, verdicts, findings, depth=k)
        # extend the step case to k transitions: every goal holding before the last step,
        # frames 0..k-1 on a simple path. Frame k may repeat an earlier one: a rule
        # violation fires on a step, and the shortest trace to it can end in a state it
        # already visited (a call the model refuses without a change, a self-loop), so
        # only the states before the bad step are pairwise distinct on it
        ind.extend()
        step_solver.add(enc.bool_at(aux_t, ind.frames[-1]))
        last = ind.frames[-2]
        for old in ind.frames[:-2]:
            step_solver.add(_distinct(old, last))
        for g in goals:
            assume(g, k - 1)
        while live:
            failing: list[Goal] = []
            for g in live:
                bad = ind.bad(Target(g.target.name, g.target.kind, g.bad(enc)))
                r, why, m = check(step_solver, bad, deadline, [h.lit for h in live])
                if r == z3.unknown:
                    return _unknown(problem, names, why, start, verdicts, findings, depth=k)
                if m is not None:
                    failing.append(g)
                    cti[g.target.name] = _cti(enc, m, ind, g)
            if not failing:
                proved_at = k
                break
            if k < max_k:
                break  # try a longer induction for everyone
            live = [g for g in live if g not in failing]  # drop them and prove the rest
        if proved_at is not None:
            break
    timing["induction"] = time.monotonic() - start - sum(timing.values())
    for g in goals:
        details[g.target.name]["timing"] = {k: round(v, 2) for k, v in timing.items()}
    for g in goals:
        if g.target.name in verdicts:
            continue
        if g.target.kind == "rules" and findings:
            first = min(findings.values(), key=lambda c: len(c.actions))
            finish(g, Status.VIOLATED, depth=len(first.actions), counterexample=first,
                   details={"findings": {f"{r} {t}": c for (r, t), c in findings.items()},
                            "rest_proved": g in live and proved_at is not None,
                            **({"induction_depth": proved_at} if g in live else {}),
                            **(cti.get(g.target.name, {}) if g not in live else {})})
        elif g in live and proved_at is not None:
            finish(g, Status.PROVED, depth=proved_at,
                   reason=f"{proved_at}-inductive" + (f" with {len(aux)} auxiliary "
                                                      "invariants" if aux else ""),
                   details={"induction_depth": proved_at})
        else:
            finish(g, Status.HOLDS, depth=max_k,
                   reason=f"to depth {max_k}; not {max_k}-inductive (counterexample to "
                          "induction in details)", details=cti.get(g.target.name, {}))
    return [verdicts[n] for n in names]


def _unknown(problem: Problem, names: list[str], why: str, start: float,
             decided: dict[str, Verdict], findings: dict[tuple[str, str], Counterexample],
             depth: int | None = None) -> list[Verdict]:
    """The verdicts when the solver gives up: what was already decided stands (and rule
    violations found stand as violated); everything else is unknown."""
    reason = why if why.startswith("timeout") else f"solver {why}"
    out = []
    for n in names:
        if n in decided:
            out.append(decided[n])
        elif n == RULES and findings:
            first = min(findings.values(), key=lambda c: len(c.actions))
            out.append(Verdict(problem, n, Status.VIOLATED, ENGINE, depth=len(first.actions),
                               counterexample=first, reason=f"other violations: {reason}",
                               seconds=time.monotonic() - start,
                               details={"findings": {f"{r} {t}": c for (r, t), c
                                                     in findings.items()}}))
        else:
            out.append(Verdict(problem, n, Status.UNKNOWN, ENGINE, depth=depth, reason=reason,
                               seconds=time.monotonic() - start))
    return out


def _distinct(a: Frame, b: Frame) -> z3.BoolRef:
    return z3.Or(*[x != y for x, y in zip(a.state, b.state, strict=True)])


def _cti(enc: Encoding, m: z3.ModelRef, run: Unrolling, g: Goal) -> dict[str, object]:
    """A counterexample to induction: the state the step case starts from, the steps it
    takes, and (for ``rules``) what the last one fires."""
    f = run.frames[0]
    values = tuple(value_of(m.eval(x, model_completion=True)) for x in f.state)
    changed = enc.model.describe(State(values))
    out: dict[str, object] = {
        "cti": ", ".join(f"{k}={v}" for k, v in changed.items()) or "(the initial state)",
        "cti_itf": itf_state(enc.model, values),
        "cti_steps": [str(a) for a in run.actions(m)],
    }
    if g.target.kind == "rules":
        out["cti_fires"] = [f"{r} {t}" for r, t in fired_sites(
            enc, m, run.frames[-2], run.steps[-1], run.frames[-1]) if (r, t) in g.pairs]
    return out


__all__ = ["ENGINE", "Candidate", "Symmetry", "candidates", "houdini", "itf_state", "prove",
           "sample_states", "symmetries"]
