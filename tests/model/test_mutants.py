"""The mutant catalogue: every seeded bug is caught by its witness, with the right rule, and
the witness is harmless (or illegal) for the behaviour the mutant was derived from."""

from __future__ import annotations

from functools import cache

import pytest

from model import Action, Model, Party
from model.exporters import REFERENCE_EXPORTERS
from model.mutants import MUTANTS, Mutant
from model.program import Report, walk
from model.rules import PROFILE_NAMES

NAMES = sorted(MUTANTS)

# Sites of the model that no single-bug mutant reaches in contract mode, and why. The
# coverage test fails when one of them gets a mutant or leaves the model, so the list stays
# true; keep it small.
UNSEEDED: dict[tuple[str, str], str] = {
    ("R6", "release-once"):
        "the core alone changes the file refcount (fd, get, put, close, munmap, poll "
        "callbacks) and releases exactly when it reaches zero; an exporter cannot touch it",
    ("R12", "static-unpinned"):
        "the core itself pins every mapping of a static importer on a dynamic exporter "
        "(pin_on_map, or the attach-time pin up to 6.15) and records it with the mapping; "
        "an exporter pin that does not really pin is caught as move-while-pinned instead",
    ("R19", "release-with-poll"):
        "an armed poll callback holds a file reference, and the core disarms it before "
        "dropping that reference, so release never runs with one armed",
    ("R25", "vmap-cache"):
        "the core alone writes vmapping_counter and the cached vmap, both in one step; an "
        "exporter's vmap failing or leaking is reported as vmap-failed or vmap-leak",
}


def test_catalogue_is_large_and_covers_many_rules() -> None:
    assert len(MUTANTS) >= 25
    assert len({m.rule for m in MUTANTS.values()}) >= 10
    for m in MUTANTS.values():
        assert m.summary and m.witness and m.rule.startswith("R")


@pytest.mark.parametrize("name", NAMES)
def test_witness_catches_the_mutant(name: str) -> None:
    mutant = MUTANTS[name]
    v = mutant.caught()
    assert v is not None, f"{name}: its witness does not expose it"
    assert v.rule == mutant.rule and v.tag == mutant.tag
    assert v.step == len(mutant.witness) - 1, "the violation should come at the last step"


def _reference(mutant: Mutant) -> Model:
    """The same check with the mutant replaced by what it was derived from."""
    from model.behaviour import Exporter
    from model.exporters import EXPORTERS
    from model.importers import IMPORTERS

    if mutant.fixed is not None:
        if isinstance(mutant.fixed, Exporter):
            return Model(mutant.fixed, mutant.importers, mutant.profile, "1x1")
        return Model(mutant.exporter, (mutant.fixed,), mutant.profile, "1x1")

    base_exporter = next(x for x in EXPORTERS.values()
                         if mutant.exporter is x or mutant.exporter.modelled_on == x.modelled_on)
    importers = tuple(IMPORTERS.get(i.name, i.derive(i.name, i.summary, ignores=frozenset()))
                      for i in mutant.importers)
    return Model(base_exporter, importers, mutant.profile, "1x1")


@pytest.mark.parametrize("name", NAMES)
def test_reference_behaviour_does_not_break_the_rule(name: str) -> None:
    """Exporter mutants: the reference exporter runs the witness without that violation.
    Importer mutants: a correct importer cannot make the witness's last call legally."""
    mutant = MUTANTS[name]
    if mutant.driver_code and mutant.fixed is None:
        pytest.skip("no shipped driver of which this mutant is a variant")
    ref = _reference(mutant)
    state = ref.initial()
    steps = [Action.parse(t) for t in mutant.witness]
    importer_mutant = any(i.ignores for i in mutant.importers)
    for i, action in enumerate(steps):
        legal = ref.is_enabled(state, action, "contract")
        if importer_mutant and i == len(steps) - 1:
            assert not legal, f"{action} is legal for a correct importer"
            return
        out = ref.step(state, action, i)
        assert not [v for v in out.violations if v.tag == mutant.tag], str(action)
        state = out.state


@pytest.mark.no_cover  # runs the model at length: untraced (see tests/conftest.py)
def test_mutants_blame_the_right_party() -> None:
    """An exporter mutant is caught at an exporter (or core) site; an importer mutant at an
    importer obligation it does not keep."""
    for m in MUTANTS.values():
        v = m.caught()
        assert v is not None, m.name
        ignored = frozenset().union(*(i.ignores for i in m.importers))
        if m.driver_code:
            # the driver's own code is to blame: the importer's routines, or the exporter's
            assert v.party is (Party.EXPORTER if m.exporter.routines else Party.IMPORTER), m.name
        elif ignored:
            assert v.party is Party.IMPORTER and m.tag in ignored, m.name
        else:
            assert v.party in (Party.EXPORTER, Party.CORE), m.name


@cache
def model_sites() -> dict[tuple[str, str], frozenset[Party]]:
    """Every (rule, tag) the model can report for the reference exporters under every
    profile, with the parties it blames: the operations' reports and the invariants."""
    parties: dict[tuple[str, str], set[Party]] = {}
    for exporter in REFERENCE_EXPORTERS:
        for profile in PROFILE_NAMES:
            m = Model(exporter, None, profile, "1x1")
            sites = [st.site for g in m.ground for st in walk(g.program)
                     if isinstance(st, Report)]
            sites += [check[0] for check in m.checks]
            for site in sites:
                parties.setdefault((site.rule, site.tag), set()).add(site.party)
    return {k: frozenset(v) for k, v in parties.items()}


def test_every_obligation_the_model_checks_has_a_mutant() -> None:
    """Every exporter (and core) site has a mutant with its tag, and every rule with an
    importer site has an importer mutant; what is left is exactly ``UNSEEDED``."""
    sites = model_sites()

    def blaming(party: Party) -> set[tuple[str, str]]:
        return {k for k, parties in sites.items() if party in parties}

    killed = {(m.rule, m.tag) for m in MUTANTS.values()}
    importer_sites = blaming(Party.IMPORTER)
    importer_rules = {rule for rule, tag in killed if (rule, tag) in importer_sites}
    uncovered = {k for k in blaming(Party.EXPORTER) | blaming(Party.CORE) if k not in killed}
    uncovered |= {(rule, tag) for rule, tag in importer_sites if rule not in importer_rules}
    missing = uncovered - set(UNSEEDED)
    assert not missing, f"sites without a mutant: {sorted(missing)}"
    assert not set(UNSEEDED) - uncovered, (
        f"no longer unseeded (covered, or gone from the model): "
        f"{sorted(set(UNSEEDED) - uncovered)}")
    assert all(reason for reason in UNSEEDED.values())

