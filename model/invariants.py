"""State invariants evaluated after every step (reported on the step that breaks them).

Most obligations are checked inside the operation that could break them (a put without a
reference, a move under a pin); what remains are facts about the state as a whole: the
buffer is released exactly when its refcount is zero, the vmap cache is consistent, a
static importer on a dynamic exporter is pinned while mapped, and whatever the exporter
declares about its own fields.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from model.expr import Expr
from model.layout import LIVE, RELEASED, BufRef
from model.program import Site
from model.violation import Party, Severity

if TYPE_CHECKING:
    from model.context import Ctx

Check = tuple[Site, Expr, tuple[Expr, ...]]


@dataclass(frozen=True)
class Invariant:
    """A fact an exporter promises about its own fields, per buffer: ``holds(c, b)`` must be
    true in every state; ``values(c, b)`` fill the message's ``{0}``, ``{1}``..."""

    rule: str
    tag: str
    message: str
    holds: Callable[[Ctx, BufRef], Expr]
    values: Callable[[Ctx, BufRef], tuple[Expr, ...]] = lambda c, b: ()
    severity: Severity = Severity.SILENT
    party: Party = Party.EXPORTER


def core_invariants(c: Ctx) -> list[Check]:
    out: list[Check] = []
    dynamic = c.exporter.dynamic
    for b in c.layout.buffers:
        out.append((
            Site("R6", Severity.SILENT, Party.CORE, (b.name,),
                 f"{b.name} is live with a refcount of 0: release was missed", "release-once"),
            ~(b.life.eq(LIVE) & b.refcount.eq(0)), ()))
        out.append((
            Site("R6", Severity.SILENT, Party.CORE, (b.name,),
                 f"{b.name} was released but still has {{0}} reference(s)", "release-once"),
            ~(b.life.eq(RELEASED) & b.refcount.ne(0)), (b.refcount,)))
        out.append((
            Site("R25", Severity.BUG, Party.CORE, (b.name,),
                 f"{b.name}: vmapping_counter {{0}} and the cached vmap disagree "
                 "(one mapping is shared while the counter is positive)", "vmap-cache"),
            (b.vmap_cnt > 0).eq(b.vmap_ptr), (b.vmap_cnt,)))
        for a in b.atts:
            if not dynamic:
                continue
            unpinned = [a.live & ~a.dyn & s.live & ~s.pinned & ~(a.apin & a.cached)
                        for s in a.slots]
            for s, bad in zip(a.slots, unpinned, strict=False):
                out.append((
                    Site("R12", Severity.SILENT, Party.CORE, (a.name,),
                         f"static importer {a.name} holds {s.name} on a dynamic exporter "
                         "without a pin: the buffer could move under it", "static-unpinned"),
                    ~bad, ()))
        for inv in c.exporter_invariants:
            out.append((
                Site(inv.rule, inv.severity, inv.party, (b.name,), inv.message.replace(
                    "{buf}", b.name), inv.tag),
                inv.holds(c, b), inv.values(c, b)))
    return out


__all__ = ["Check", "Invariant", "core_invariants"]
