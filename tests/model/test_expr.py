"""Expressions: constant folding, simplification, evaluation and Python source agree."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from model.expr import (
    FALSE,
    TRUE,
    Const,
    Expr,
    Var,
    and_,
    evaluate,
    ite,
    lift,
    not_,
    or_,
    substitute,
    to_python,
    variables,
)

X = Var("x", 0, 0, 5)
Y = Var("y", 1, 0, 5)
P = Var("p", 2, 0, 1, "bool")


def exprs() -> st.SearchStrategy[Expr]:
    ints = st.one_of(st.integers(-3, 6).map(Const), st.sampled_from([X, Y]))

    def extend(children: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
        return st.one_of(
            st.tuples(children, children).map(lambda t: t[0] + t[1]),
            st.tuples(children, children).map(lambda t: t[0] - t[1]),
        )

    terms = st.recursive(ints, extend, max_leaves=6)
    atoms = st.one_of(
        st.just(P), st.sampled_from([TRUE, FALSE]),
        st.tuples(terms, terms).map(lambda t: t[0] < t[1]),
        st.tuples(terms, terms).map(lambda t: t[0].eq(t[1])),
        st.tuples(terms, terms).map(lambda t: t[0] >= t[1]),
    )

    def combine(children: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
        return st.one_of(
            st.tuples(children, children).map(lambda t: t[0] & t[1]),
            st.tuples(children, children).map(lambda t: t[0] | t[1]),
            children.map(lambda c: ~c),
            st.tuples(children, terms, terms).map(lambda t: ite(t[0], t[1], t[2]).eq(0)),
        )

    return st.recursive(atoms, combine, max_leaves=8)


@given(exprs(), st.integers(0, 5), st.integers(0, 5), st.integers(0, 1))
def test_python_source_evaluates_like_the_tree(e: Expr, x: int, y: int, p: int) -> None:
    values = (x, y, p)
    assert int(eval(to_python(e), {"v": values})) == evaluate(e, values)


@given(exprs(), st.integers(0, 5), st.integers(0, 5), st.integers(0, 1))
def test_substituting_constants_folds_to_the_value(e: Expr, x: int, y: int, p: int) -> None:
    folded = substitute(e, [Const(x), Const(y), Const(p, "bool")])
    assert isinstance(folded, Const)
    assert folded.value == evaluate(e, (x, y, p))


def test_simplifications() -> None:
    assert and_(TRUE, P) is P
    assert and_(FALSE, P) == FALSE
    assert or_(TRUE, P) == TRUE
    assert not_(not_(P)) is P
    assert ite(TRUE, X, Y) is X
    assert ite(P, X, X) is X
    assert P.eq(1) is P and P.eq(0) == not_(P)
    assert (X + 0) is X and (X - 0) is X and (Const(2) + 3) == Const(5)
    assert variables((X + Y) < 3) == {X, Y}


def test_expressions_have_no_truth_value() -> None:
    with pytest.raises(TypeError, match="no truth value"):
        bool(X < 3)


def test_lift_rejects_other_types() -> None:
    with pytest.raises(TypeError, match="cannot use str"):
        lift("x")  # type: ignore[arg-type]
