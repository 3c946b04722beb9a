"""The bounded scope of a check: how many objects exist and how far each counter may go."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

MAX_BUFFERS = 8
MAX_ATTACHMENTS = 8
MAX_OBJECTS = 24  # buffers x attachment slots
MAX_COUNTER = 64


@dataclass(frozen=True, slots=True)
class Scope:
    """Buffers, attachment slots per buffer, and the declared bound of every counter.

    A scope has at most ``MAX_BUFFERS`` buffers, ``MAX_ATTACHMENTS`` attachment slots per
    buffer and ``MAX_OBJECTS`` attachment slots in all (the model grows with their product),
    and no counter bound past ``MAX_COUNTER``; anything larger is refused with
    ``ValueError``.

    A counter that would pass its bound is reported as a ``SCOPE`` finding (never wrapped).

    >>> Scope.parse("2x3").attachments
    3
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
        """``BUFFERSxATTACHMENTS`` as in ``2x3``."""
        m = re.fullmatch(r"\s*(\d+)\s*x\s*(\d+)\s*", text)
        if not m:
            raise ValueError(
                f"scope {text!r}: expected BUFFERSxATTACHMENTS, for example 2x3")
        return cls(buffers=int(m.group(1)), attachments=int(m.group(2)))

    def with_(self, **changes: int) -> Scope:
        return replace(self, **changes)

    def __str__(self) -> str:
        return f"{self.buffers}x{self.attachments}"
