"""The mutant catalogue: every seeded bug is caught by its witness, with the right rule, and
the witness is harmless (or illegal) for the behaviour the mutant was derived from."""

from __future__ import annotations

import pytest

from model import Action, Model, Party
from model.mutants import MUTANTS, Mutant

NAMES = sorted(MUTANTS)


def test_catalogue_is_large_and_covers_many_rules() -> None:
    assert len(MUTANTS) >= 12
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
    from model.exporters import EXPORTERS
    from model.importers import IMPORTERS

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


def test_exporter_mutants_blame_the_exporter() -> None:
    for m in MUTANTS.values():
        if not any(i.ignores for i in m.importers):
            v = m.caught()
            assert v is not None and v.party in (Party.EXPORTER, Party.CORE), m.name
