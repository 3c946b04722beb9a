"""The Z3 engines: bounded model checking (``bmc``) and k-induction proofs (``prove``).

Both encode the model from its single definition (``encode``): each ground action's
program through ``model.program.symbolic``, its guard from ``Model.guards``, the state
invariants from ``Model.checks`` and the properties' predicates and monitors.
"""

from checker.engines.symbolic.bmc import WitnessError, bmc
from checker.engines.symbolic.induction import prove

__all__ = ["WitnessError", "bmc", "prove"]
