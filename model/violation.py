"""Violations as data: what broke, who broke it, and what the kernel does about it."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Severity(enum.Enum):
    """The kernel's consequence when a rule is broken (rulebook "Severity words")."""

    WARN_ERRNO = "WARN+errno"
    WARN = "WARN"
    ERRNO = "errno"
    LOCKDEP = "lockdep"
    BUG = "BUG"
    SILENT = "silent"
    LEAK = "leak"
    SCOPE = "scope"  # a declared model bound was reached: a limit of the check, not a kernel event

    def __str__(self) -> str:
        return self.value


class Party(enum.Enum):
    """Who is responsible for keeping a rule."""

    IMPORTER = "importer"
    EXPORTER = "exporter"
    CORE = "core"
    MODEL = "model"  # only for scope bounds

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule at one step.

    ``objects`` names the model objects involved (``b0``, ``b0.a1``); ``message`` states what
    happened with the values that made it happen; ``tag`` names the obligation
    (``put-without-reference``), stable across messages and profiles.
    """

    rule: str
    severity: Severity
    party: Party
    step: int
    objects: tuple[str, ...]
    message: str
    tag: str = ""  # the obligation's short name, e.g. "double-unmap"
    where: str = ""  # "file:line:col" of the routine's call that broke the rule, if any

    @property
    def reference(self) -> str:
        return f"dmabuf-rules.md {self.rule}"

    def __str__(self) -> str:
        where = ", ".join(self.objects)
        return (
            f"step {self.step}: {self.rule} [{self.severity}, {self.party}] ({where}): "
            f"{self.message}"
        )
