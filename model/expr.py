"""Expressions over the bounded state: the one language every rule is written in.

An expression is an immutable tree. The same tree is evaluated three ways: compiled to Python
(``model.compile``) for the concrete step, rewritten symbolically into other trees
(``model.program.symbolic``) for derived guards, and translated to Z3 terms by the solver
engines. Rules are therefore written once.

>>> x = Var("b0.refs", 0, 0, 3)
>>> e = ((x + 1) <= 3) & ~x.eq(0)
>>> str(e)
'(((b0.refs + 1) <= 3) and not (b0.refs == 0))'
>>> evaluate(e, (2,)), evaluate(e, (0,))
(1, 0)
"""

from __future__ import annotations

from dataclasses import dataclass, field

Value = int  # booleans are ints 0/1 at run time; the tree keeps the type

INT = "int"
BOOL = "bool"

# Operators and their result types.
_BOOL_OPS = frozenset({"eq", "ne", "lt", "le", "and", "or", "not"})
_INT_OPS = frozenset({"add", "sub"})
_SYMBOL = {
    "add": "+", "sub": "-", "eq": "==", "ne": "!=", "lt": "<", "le": "<=", "and": "and",
    "or": "or",
}


class Expr:
    """Base of expression nodes; operators build new nodes (never Python values)."""

    __slots__ = ()
    type: str

    # arithmetic
    def __add__(self, other: ExprLike) -> Expr:
        return add(self, lift(other))

    def __sub__(self, other: ExprLike) -> Expr:
        return sub(self, lift(other))

    def __radd__(self, other: ExprLike) -> Expr:
        return add(lift(other), self)

    def __rsub__(self, other: ExprLike) -> Expr:
        return sub(lift(other), self)

    # comparisons (``==`` stays structural equality so trees can be hashed)
    def eq(self, other: ExprLike) -> Expr:
        return compare("eq", self, lift(other))

    def ne(self, other: ExprLike) -> Expr:
        return compare("ne", self, lift(other))

    def __lt__(self, other: ExprLike) -> Expr:
        return compare("lt", self, lift(other))

    def __le__(self, other: ExprLike) -> Expr:
        return compare("le", self, lift(other))

    def __gt__(self, other: ExprLike) -> Expr:
        return compare("lt", lift(other), self)

    def __ge__(self, other: ExprLike) -> Expr:
        return compare("le", lift(other), self)

    # booleans
    def __and__(self, other: ExprLike) -> Expr:
        return and_(self, lift(other))

    def __or__(self, other: ExprLike) -> Expr:
        return or_(self, lift(other))

    def __invert__(self) -> Expr:
        return not_(self)

    def __bool__(self) -> bool:
        raise TypeError(
            "an Expr has no truth value while a rule is being built; "
            "combine conditions with &, | and ~, and branch with program.If"
        )


ExprLike = Expr | int | bool


@dataclass(frozen=True, slots=True)
class Const(Expr):
    value: int
    type: str = INT

    def __str__(self) -> str:
        if self.type == BOOL:
            return "true" if self.value else "false"
        return str(self.value)


@dataclass(frozen=True, slots=True)
class Var(Expr):
    """A state variable: ``index`` is its position in the state vector, ``lo..hi`` its bounds."""

    name: str
    index: int
    lo: int
    hi: int
    type: str = INT

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class Op(Expr):
    """An operator node. Trees built symbolically share subtrees (they are DAGs), so the
    hash is computed once, from the children's cached hashes."""

    op: str
    args: tuple[Expr, ...]
    _hash: int = field(default=0, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_hash", hash((self.op, self.args)))

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        # differing hashes settle most comparisons at once; callers avoid comparing two
        # large equal DAGs that are distinct objects (that walk would be exponential)
        if self is other:
            return True
        if not isinstance(other, Op) or self._hash != other._hash:
            return False
        return self.op == other.op and self.args == other.args

    @property
    def type(self) -> str:  # type: ignore[override]
        if self.op in _BOOL_OPS:
            return BOOL
        if self.op == "ite":
            return self.args[1].type
        return INT

    def __str__(self) -> str:
        if self.op == "not":
            return f"not {self.args[0]}"
        if self.op == "ite":
            c, a, b = self.args
            return f"({a} if {c} else {b})"
        sym = f" {_SYMBOL[self.op]} "
        return "(" + sym.join(str(a) for a in self.args) + ")"


TRUE = Const(1, BOOL)
FALSE = Const(0, BOOL)


def lift(x: ExprLike) -> Expr:
    if isinstance(x, Expr):
        return x
    if isinstance(x, bool):
        return TRUE if x else FALSE
    if isinstance(x, int):
        return Const(x)
    raise TypeError(f"cannot use {type(x).__name__} {x!r} in a rule expression")


def const(x: ExprLike) -> int | None:
    """The value of a constant tree, or None."""
    return x.value if isinstance(x, Const) else None


def add(a: Expr, b: Expr) -> Expr:
    ca, cb = const(a), const(b)
    if ca is not None and cb is not None:
        return Const(ca + cb)
    if cb == 0:
        return a
    if ca == 0:
        return b
    return Op("add", (a, b))


def sub(a: Expr, b: Expr) -> Expr:
    ca, cb = const(a), const(b)
    if ca is not None and cb is not None:
        return Const(ca - cb)
    if cb == 0:
        return a
    return Op("sub", (a, b))


_CMP = {
    "eq": lambda x, y: x == y, "ne": lambda x, y: x != y,
    "lt": lambda x, y: x < y, "le": lambda x, y: x <= y,
}


def compare(op: str, a: Expr, b: Expr) -> Expr:
    ca, cb = const(a), const(b)
    if ca is not None and cb is not None:
        return TRUE if _CMP[op](ca, cb) else FALSE
    if a is b:
        return TRUE if op in ("eq", "le") else FALSE
    # a boolean compared with a constant is the boolean itself or its negation
    if op in ("eq", "ne") and a.type == BOOL and cb in (0, 1):
        positive = (cb == 1) == (op == "eq")
        return a if positive else not_(a)
    return Op(op, (a, b))


def _flatten(op: str, xs: tuple[Expr, ...], absorbing: int) -> Expr | list[Expr]:
    """Operands of an n-ary ``and``/``or`` with constants folded and nested nodes of the
    same operator spliced in; duplicates are dropped by identity (cheap, and enough for
    the trees programs build)."""
    out: list[Expr] = []
    seen: set[int] = set()
    for x in xs:
        c = const(x)
        if c is not None:
            if bool(c) == bool(absorbing):
                return TRUE if absorbing else FALSE
            continue
        parts = x.args if isinstance(x, Op) and x.op == op else (x,)
        for p in parts:
            if id(p) not in seen:
                seen.add(id(p))
                out.append(p)
    return out


def and_(*xs: Expr) -> Expr:
    out = _flatten("and", xs, 0)
    if isinstance(out, Expr):
        return out
    if not out:
        return TRUE
    return out[0] if len(out) == 1 else Op("and", tuple(out))


def or_(*xs: Expr) -> Expr:
    out = _flatten("or", xs, 1)
    if isinstance(out, Expr):
        return out
    if not out:
        return FALSE
    return out[0] if len(out) == 1 else Op("or", tuple(out))


def not_(a: Expr) -> Expr:
    c = const(a)
    if c is not None:
        return FALSE if c else TRUE
    if isinstance(a, Op) and a.op == "not":
        return a.args[0]
    return Op("not", (a,))


def ite(c: ExprLike, a: ExprLike, b: ExprLike) -> Expr:
    ce, ae, be = lift(c), lift(a), lift(b)
    cc = const(ce)
    if cc is not None:
        return ae if cc else be
    if ae is be or (not isinstance(ae, Op) and ae == be):
        return ae
    if ae.type == BOOL and be.type == BOOL:
        if ae == TRUE and be == FALSE:
            return ce
        if ae == FALSE and be == TRUE:
            return not_(ce)
    return Op("ite", (ce, ae, be))


def any_(xs: list[Expr] | tuple[Expr, ...]) -> Expr:
    return or_(*xs)


def all_(xs: list[Expr] | tuple[Expr, ...]) -> Expr:
    return and_(*xs)


def total(xs: list[Expr] | tuple[Expr, ...]) -> Expr:
    out: Expr = Const(0)
    for x in xs:
        out = add(out, ite(x, 1, 0) if x.type == BOOL else x)
    return out


def substitute(e: Expr, env: list[Expr]) -> Expr:
    """Replace every state variable by ``env[var.index]``, simplifying as it goes."""
    if isinstance(e, Var):
        return env[e.index]
    if isinstance(e, Const):
        return e
    assert isinstance(e, Op)
    args = tuple(substitute(a, env) for a in e.args)
    if all(n is o for n, o in zip(args, e.args, strict=False)):
        return e
    return rebuild(e.op, args)


def rebuild(op: str, args: tuple[Expr, ...]) -> Expr:
    if op == "add":
        return add(*args)
    if op == "sub":
        return sub(*args)
    if op in _CMP:
        return compare(op, *args)
    if op == "and":
        return and_(*args)
    if op == "or":
        return or_(*args)
    if op == "not":
        return not_(args[0])
    if op == "ite":
        return ite(*args)
    raise ValueError(f"unknown operator {op!r}")


def evaluate(e: Expr, values: tuple[int, ...]) -> int:
    """Evaluate a tree on a state vector (the slow, obviously correct path); shared
    subtrees are evaluated once."""
    memo: dict[int, int] = {}

    def ev(x: Expr) -> int:
        if isinstance(x, Const):
            return x.value
        if isinstance(x, Var):
            return values[x.index]
        assert isinstance(x, Op)
        key = id(x)
        if key in memo:
            return memo[key]
        op, args = x.op, x.args
        if op == "and":
            r = int(all(ev(a) for a in args))
        elif op == "or":
            r = int(any(ev(a) for a in args))
        elif op == "not":
            r = int(not ev(args[0]))
        elif op == "ite":
            r = ev(args[1] if ev(args[0]) else args[2])
        else:
            p, q = ev(args[0]), ev(args[1])
            r = p + q if op == "add" else p - q if op == "sub" else int(_CMP[op](p, q))
        memo[key] = r
        return r

    return ev(e)


def to_python(e: Expr, state: str = "v", names: dict[int, str] | None = None) -> str:
    """Python source for a tree, reading variables from the sequence named ``state``.
    ``names`` maps shared subtrees (by ``id``) to temporaries already computed."""
    if names and id(e) in names:
        return names[id(e)]
    if isinstance(e, Const):
        return str(e.value)
    if isinstance(e, Var):
        return f"{state}[{e.index}]"
    assert isinstance(e, Op)
    a = [to_python(x, state, names) for x in e.args]
    if e.op == "not":
        return f"(not {a[0]})"
    if e.op == "ite":
        return f"({a[1]} if {a[0]} else {a[2]})"
    if e.op in ("and", "or"):
        return "(" + f" {e.op} ".join(a) + ")"
    return f"({a[0]} {_SYMBOL[e.op]} {a[1]})"


def unfolded_size(e: Expr, cap: int = 10_000) -> int:
    """How many nodes ``e`` has as a tree (shared subtrees counted each time), up to ``cap``."""
    memo: dict[int, int] = {}

    def size(x: Expr) -> int:
        if not isinstance(x, Op):
            return 1
        k = id(x)
        if k not in memo:
            memo[k] = min(cap, 1 + sum(size(a) for a in x.args))
        return memo[k]

    return size(e)


def shared_python(exprs: list[Expr], state: str = "v", prefix: str = "t"
                  ) -> tuple[list[str], list[str]]:
    """Python source for several trees that share subtrees: assignments of temporaries
    (each shared operator node once, children first), and one expression per tree. Keeps
    the source linear in the size of the DAG instead of the size of the unfolded trees."""
    uses: dict[int, int] = {}
    nodes: dict[int, Expr] = {}
    order: list[Expr] = []

    def count(x: Expr) -> None:
        if not isinstance(x, Op):
            return
        k = id(x)
        uses[k] = uses.get(k, 0) + 1
        if k in nodes:
            return
        nodes[k] = x
        for child in x.args:
            count(child)
        order.append(x)  # post-order: children before parents

    for x in exprs:
        count(x)
    names: dict[int, str] = {}
    lines: list[str] = []
    for x in order:
        if uses[id(x)] > 1:
            source = to_python(x, state, names)
            names[id(x)] = f"{prefix}{len(names)}"
            lines.append(f"{names[id(x)]} = {source}")
    return lines, [to_python(x, state, names) for x in exprs]


def variables(e: Expr) -> set[Var]:
    if isinstance(e, Var):
        return {e}
    if isinstance(e, Op):
        out: set[Var] = set()
        for a in e.args:
            out |= variables(a)
        return out
    return set()


def error_part(e: Expr) -> Expr:
    """A call's result reduced to its error: ``e`` where it is negative, 0 where it is not.
    Pushed through ``ite`` down to the constants (a result is an ``ite`` tree over them
    nearly always), so a value such as llseek's size never has to fit the narrow integers a
    solver encodes the result in; anything else becomes ``e if e < 0 else 0``."""
    memo: dict[int, Expr] = {}

    def part(x: Expr) -> Expr:
        out = memo.get(id(x))
        if out is not None:
            return out
        if isinstance(x, Const):
            out = Const(min(x.value, 0))
        elif isinstance(x, Op) and x.op == "ite":
            c, a, b = x.args
            out = ite(c, part(a), part(b))
        else:
            out = ite(compare("lt", x, Const(0)), x, 0)
        memo[id(x)] = out
        return out

    return part(e)
