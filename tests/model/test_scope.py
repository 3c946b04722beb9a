"""Scopes: written BUFFERSxATTACHMENTS with optional named counter bounds; the text form
reads back to the same scope, and a bad bound is refused with what is wrong."""

from __future__ import annotations

import pytest

from model.scope import BOUNDS, MAX_COUNTER, Scope, parse_bounds


def test_bounds_set_the_named_fields() -> None:
    s = Scope.parse("2x3 with size=4, cpu=3, fence_slots=1")
    assert (s.buffers, s.attachments, s.size_pages, s.cpu, s.fence_slots) == (2, 3, 4, 3, 1)
    assert s.maps == Scope().maps  # a bound left out keeps its default


def test_every_bound_names_a_field() -> None:
    fields = set(Scope.__dataclass_fields__)
    assert set(BOUNDS.values()) == fields - {"buffers", "attachments"}


@pytest.mark.parametrize("text", ["2x3", "1x1 with cpu=3", "1x2 with size=4, vmas=2",
                                  "2x2 with " + ", ".join(f"{k}=5" for k in BOUNDS)])
def test_text_round_trips(text: str) -> None:
    s = Scope.parse(text)
    assert Scope.parse(str(s)) == s


def test_a_default_bound_is_not_written() -> None:
    assert str(Scope.parse("1x1 with cpu=2, size=3")) == "1x1 with size=3"


@pytest.mark.parametrize(("text", "message"), [
    ("1x1 with cpux=3", "unknown bound 'cpux'; bounds are size, maps"),
    ("1x1 with cpu=0", "cpu=0 is out of range"),
    (f"1x1 with cpu={MAX_COUNTER + 1}", f"is 1 to {MAX_COUNTER}"),
    ("1x1 with cpu=2, cpu=3", "bound 'cpu' is given twice"),
    ("1x1 with cpu", "cannot read bound 'cpu': write NAME=N"),
    ("1x1 cpu=3", "expected BUFFERSxATTACHMENTS"),
])
def test_bad_bounds_are_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        Scope.parse(text)


def test_parse_bounds_keeps_the_written_names() -> None:
    assert parse_bounds("size=4, cpu=3") == {"size": 4, "cpu": 3}
