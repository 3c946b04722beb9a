"""Action text: parse, print, defaults and errors."""

from __future__ import annotations

import pytest

from model.action import Action, ActionSyntaxError


@pytest.mark.parametrize("text", [
    "export(b0)",
    "map(b0.a1, dir=TO_DEVICE)",
    "unmap(b1.a0, dir=FROM_DEVICE, slot=foreign)",
    "sync(b0, flags=5)",
    "dma_buf_mmap(b0, pages=1, pgoff=wrap)",
])
def test_round_trip(text: str) -> None:
    assert str(Action.parse(text)) == text


def test_defaults_are_left_out_and_params_sorted() -> None:
    a = Action.make("map", "b0.a0", fault="none", dir="NONE")
    assert str(a) == "map(b0.a0, dir=NONE)"
    assert a == Action.parse("map( b0.a0 , dir = NONE, fault=none )")
    assert a.param("fault") == "none"
    assert Action.parse("vunmap(b0)").param("map") == "cached"
    assert Action.parse("sync(b0, flags=7)").param("flags") == 7
    assert (a.buffer, a.attachment) == (0, 0)
    assert Action.parse("put(b3)").attachment is None


@pytest.mark.parametrize("text, message", [
    ("map b0", r"write it as NAME\(bN\)"),
    ("map(x0)", r"write it as NAME\(bN\)"),
    ("map(b0.a0, dir)", "write it as key=value"),
])
def test_errors_say_how_to_write_it(text: str, message: str) -> None:
    with pytest.raises(ActionSyntaxError, match=message):
        Action.parse(text)


def test_unknown_parameter() -> None:
    with pytest.raises(KeyError, match="no parameter 'slot'"):
        Action.parse("put(b0)").param("slot")
