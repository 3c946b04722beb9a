"""The reference model of the Linux dma-buf lifecycle: rules R1..R32 as pure, bounded steps.

Public names:

* ``Model``, ``State``, ``Outcome``, ``Action``, ``ModelError``: the step function and
  enabledness (``model.machine``);
* ``Scope``, ``Profile``, ``PROFILES``, ``profile``: what a check explores;
* ``Exporter``, ``Importer``, ``EXPORTERS``, ``IMPORTERS``: behaviours
  (``model.exporters``, ``model.importers``); ``MUTANTS``: seeded bugs (``model.mutants``);
* ``Violation``, ``Severity``, ``Party``; ``RULES``, ``rule``: the catalogue;
* ``DmaBuf``, ``Attachment``: a façade with the kernel's verbs (``model.facade``).
"""

from typing import Any

from model.action import Action
from model.behaviour import Exporter, Importer
from model.machine import MODES, Model, ModelError, Outcome, State
from model.profiles import PROFILES, Profile, profile
from model.rules import RULES, Rule, rule
from model.scope import Scope
from model.violation import Party, Severity, Violation

_BEHAVIOURS = {"EXPORTERS": "model.exporters", "REFERENCE_EXPORTERS": "model.exporters",
               "IMPORTERS": "model.importers", "REFERENCE_IMPORTERS": "model.importers"}


def __getattr__(name: str) -> Any:
    """The shipped behaviours are defined in the DSL; they load on first use, so that
    importing the model never requires the DSL front end."""
    if name in _BEHAVIOURS:
        import importlib

        return getattr(importlib.import_module(_BEHAVIOURS[name]), name)
    raise AttributeError(f"module 'model' has no attribute {name!r}")


__all__ = [
    "EXPORTERS", "IMPORTERS", "MODES", "PROFILES", "REFERENCE_EXPORTERS",
    "REFERENCE_IMPORTERS", "RULES", "Action", "Exporter", "Importer", "Model", "ModelError",
    "Outcome", "Party", "Profile", "Rule", "Scope", "Severity", "State", "Violation",
    "profile", "rule",
]
