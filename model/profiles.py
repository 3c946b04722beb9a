"""Kernel profiles: the dma-buf core's behaviour by kernel version (rulebook section 3)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class Profile:
    """What a kernel version does; every operation consults these flags.

    ``move_notify`` is CONFIG_DMABUF_MOVE_NOTIFY: off by default up to v6.x (the Kconfig
    entry defaults to n), always on from the 2026 revoke series (R31). Use
    ``profile.configured(move_notify=True)`` to check a kernel built with it.
    """

    name: str
    resv_for_every_map: bool  # 6.2+: map/unmap/vmap/vunmap assert resv for every importer (R12)
    unlocked_variants: bool  # 6.2+: the *_unlocked functions exist (R16)
    locking_convention: bool  # 6.2+: the documented convention of R30 applies
    sgt_cache: bool  # up to 6.15: cache_sgt_mapping and map-at-attach (R10, R13, R29)
    move_notify: bool  # CONFIG_DMABUF_MOVE_NOTIFY
    detach_checks_owner: bool  # dma_buf_detach WARNs when dmabuf != attach->dmabuf (R11)
    pin_busy_warns: bool  # 6.16+: -EBUSY from a map-time pin is a WARN_ON_ONCE (R12)
    revoke: bool  # 7.x: invalidate_mappings, revocable importers (R31)
    tracepoints: bool  # 7.x: include/trace/events/dma_buf.h

    def configured(self, *, move_notify: bool) -> Profile:
        """This profile with CONFIG_DMABUF_MOVE_NOTIFY set as given."""
        base = PROFILES[self.name.split(",")[0]]
        if base.revoke and not move_notify:
            raise ValueError(f"{base.name}: CONFIG_DMABUF_MOVE_NOTIFY is always on (R31)")
        if move_notify == base.move_notify:
            return base
        name = f"{base.name},move_notify={'y' if move_notify else 'n'}"
        return replace(base, name=name, move_notify=move_notify)

    def __str__(self) -> str:
        return self.name


PROFILES: dict[str, Profile] = {
    "v6.1": Profile(
        "v6.1", resv_for_every_map=False, unlocked_variants=False, locking_convention=False,
        sgt_cache=True, move_notify=False, detach_checks_owner=False, pin_busy_warns=False,
        revoke=False, tracepoints=False),
    "v6.2-6.15": Profile(
        "v6.2-6.15", resv_for_every_map=True, unlocked_variants=True, locking_convention=True,
        sgt_cache=True, move_notify=False, detach_checks_owner=True, pin_busy_warns=False,
        revoke=False, tracepoints=False),
    "v6.16+": Profile(
        "v6.16+", resv_for_every_map=True, unlocked_variants=True, locking_convention=True,
        sgt_cache=False, move_notify=False, detach_checks_owner=True, pin_busy_warns=True,
        revoke=False, tracepoints=False),
    "v7.x": Profile(
        "v7.x", resv_for_every_map=True, unlocked_variants=True, locking_convention=True,
        sgt_cache=False, move_notify=True, detach_checks_owner=True, pin_busy_warns=True,
        revoke=True, tracepoints=True),
}


def profile(name: str) -> Profile:
    """Look a profile up by name; ``NAME,move_notify=y`` sets the Kconfig option."""
    base, _, option = name.partition(",")
    if base not in PROFILES:
        close = difflib.get_close_matches(base, list(PROFILES), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise KeyError(f"unknown kernel profile {name!r}{hint}; known: {', '.join(PROFILES)}")
    if not option:
        return PROFILES[base]
    if option not in ("move_notify=y", "move_notify=n"):
        raise KeyError(f"profile {name!r}: the only option is move_notify=y or move_notify=n")
    return PROFILES[base].configured(move_notify=option.endswith("y"))
