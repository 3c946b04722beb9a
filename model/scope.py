"""The bounded scope of a check: how many objects exist and how far each counter may go."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

MAX_BUFFERS = 8
MAX_ATTACHMENTS = 8
MAX_OBJECTS = 24  # buffers x attachment slots
MAX_COUNTER = 64

# the bounds a scope can set by name (``scope 2x3 with size=4, cpu=3``): name -> field
BOUNDS = {
    "size": "size_pages", "maps": "maps", "refs": "refs", "fds": "fds", "vmas": "vmas",
    "pins": "pins", "vmaps": "vmaps", "cpu": "cpu", "fence_slots": "fence_slots",
}
BOUND_HELP = {
    "size": "every buffer's size, in pages",
    "maps": "outstanding sg_table mappings per attachment",
    "refs": "references held by kernel callers, per buffer",
    "fds": "open file descriptors per buffer",
    "vmas": "mmap()ed areas per buffer",
    "pins": "dma_buf_pin() calls outstanding per attachment",
    "vmaps": "the vmapping_counter bound",
    "cpu": "begin_cpu_access brackets open per buffer",
    "fence_slots": "dma_resv_reserve_fences slots per lock hold",
}


@dataclass(frozen=True, slots=True)
class Scope:
    """Buffers, attachment slots per buffer, and the declared bound of every counter.

    A scope has at most ``MAX_BUFFERS`` buffers, ``MAX_ATTACHMENTS`` attachment slots per
    buffer and ``MAX_OBJECTS`` attachment slots in all (the model grows with their product),
    and no counter bound past ``MAX_COUNTER``; anything larger is refused with
    ``ValueError``.

    A counter that would pass its bound is reported as a ``SCOPE`` finding (never wrapped).

    A scope is written ``BUFFERSxATTACHMENTS``, optionally followed by ``with`` and
    counter bounds by name (``BOUNDS``); a bound left out keeps its default.

    >>> Scope.parse("2x3").attachments
    3
    >>> s = Scope.parse("1x1 with cpu=3, size=4")
    >>> s.cpu, s.size_pages, str(s)
    (3, 4, '1x1 with size=4, cpu=3')
    """

    buffers: int = 2
    attachments: int = 3  # attachment slots per buffer
    maps: int = 2  # outstanding sg_table mappings per attachment
    refs: int = 3  # references held by kernel callers, per buffer
    fds: int = 2  # open file descriptors per buffer
    vmas: int = 1  # mmap()ed areas per buffer (each holds a file reference)
    pins: int = 2  # dma_buf_pin() calls outstanding per attachment
    vmaps: int = 2  # vmapping_counter bound
    cpu: int = 2  # begin_cpu_access brackets open per buffer
    fence_slots: int = 2  # dma_resv_reserve_fences slots per lock hold
    size_pages: int = 2  # every buffer's size, in pages

    def __post_init__(self) -> None:
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"scope: {name} must be a positive integer, got {value!r}")
        if self.buffers > MAX_BUFFERS or self.attachments > MAX_ATTACHMENTS or (
                self.buffers * self.attachments > MAX_OBJECTS):
            raise ValueError(
                f"scope {self.buffers}x{self.attachments} is past the limit: at most "
                f"{MAX_BUFFERS} buffers, {MAX_ATTACHMENTS} attachment slots each and "
                f"{MAX_OBJECTS} attachment slots in all (4x4 already has about 1,200 "
                "actions); an object such as b9 needs a scope that holds it")
        for name in self.__dataclass_fields__:
            if getattr(self, name) > MAX_COUNTER:
                raise ValueError(f"scope: {name} is at most {MAX_COUNTER}")

    @classmethod
    def parse(cls, text: str) -> Scope:
        """``BUFFERSxATTACHMENTS`` as in ``2x3``, then optionally ``with NAME=N, ...``."""
        m = re.fullmatch(r"\s*(\d+)\s*x\s*(\d+)\s*(?:with\s+(.*?))?\s*", text, re.S)
        if not m:
            raise ValueError(
                f"scope {text!r}: expected BUFFERSxATTACHMENTS, for example 2x3, optionally "
                "followed by bounds such as: with size=4, cpu=3")
        bounds = parse_bounds(m.group(3)) if m.group(3) is not None else {}
        return cls(buffers=int(m.group(1)), attachments=int(m.group(2)),
                   **{BOUNDS[k]: v for k, v in bounds.items()})

    def with_(self, **changes: int) -> Scope:
        return replace(self, **changes)

    def bounds(self) -> dict[str, int]:
        """The named bounds that differ from the defaults, in ``BOUNDS`` order."""
        default = Scope()
        return {k: getattr(self, f) for k, f in BOUNDS.items()
                if getattr(self, f) != getattr(default, f)}

    def __str__(self) -> str:
        head = f"{self.buffers}x{self.attachments}"
        bounds = self.bounds()
        if not bounds:
            return head
        return head + " with " + ", ".join(f"{k}={v}" for k, v in bounds.items())


def check_bound(name: str, value: int) -> None:
    """Raises ``ValueError`` saying what is wrong with bound ``name=value``."""
    if name not in BOUNDS:
        raise ValueError(f"scope: unknown bound '{name}'; bounds are " + ", ".join(BOUNDS))
    if not 1 <= value <= MAX_COUNTER:
        raise ValueError(f"scope: {name}={value} is out of range: {name} "
                         f"({BOUND_HELP[name]}) is 1 to {MAX_COUNTER}")


def parse_bounds(text: str) -> dict[str, int]:
    """``size=4, cpu=3`` -> ``{"size": 4, "cpu": 3}``; ``ValueError`` on a bad one."""
    out: dict[str, int] = {}
    for part in text.split(","):
        m = re.fullmatch(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(-?\d+)\s*", part)
        if not m:
            raise ValueError(f"scope: cannot read bound {part.strip()!r}: write NAME=N, for "
                             "example cpu=3")
        name, value = m.group(1), int(m.group(2))
        check_bound(name, value)
        if name in out:
            raise ValueError(f"scope: bound '{name}' is given twice")
        out[name] = value
    return out
