"""The rule catalogue and the model agree: every violation the model can report names a
catalogued rule, with a party, consequence and profile that rule lists."""

from __future__ import annotations

from functools import cache

import pytest

from model import EXPORTERS, PROFILES, RULES, Model, rule
from model.context import Ctx
from model.invariants import core_invariants
from model.mutants import MUTANTS
from model.program import Report, Site, walk


@cache
def sites(exporter: str, profile: str) -> list[Site]:
    m = Model(EXPORTERS[exporter], profile=profile, scope="1x2")
    out = [st.site for g in m.ground for st in walk(g.program) if isinstance(st, Report)]
    ctx = Ctx(m.layout, m.profile, m.exporter, m.importers)
    return out + [site for site, _, _ in core_invariants(ctx)]


def test_catalogue_is_complete_and_ordered() -> None:
    assert list(RULES) == [f"R{i}" for i in range(1, 33)]
    for r in RULES.values():
        assert r.title and r.summary and r.kernel_functions and r.parties and r.consequences
        assert set(r.profiles) <= set(PROFILES)


@pytest.mark.parametrize("profile", list(PROFILES))
@pytest.mark.parametrize("exporter", sorted(EXPORTERS))
def test_every_site_matches_its_rule(exporter: str, profile: str) -> None:
    for site in sites(exporter, profile):
        if site.rule == "SCOPE":
            continue
        r = RULES[site.rule]
        where = f"{site.rule} {site.tag} ({exporter}, {profile})"
        assert site.party in r.parties, where
        assert site.severity in r.consequences, where
        assert profile in r.profiles, where
        assert site.tag, where


def test_mutants_name_catalogued_rules() -> None:
    for m in MUTANTS.values():
        assert m.rule in RULES


def test_lookup_suggests() -> None:
    assert rule("R12").id == "R12"
    with pytest.raises(KeyError, match="R12"):
        rule("r12x")
