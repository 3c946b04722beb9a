"""The dma-buf API as operations: one module per area, each function citing its rules.

Importing this package registers every operation in ``REGISTRY`` (see ``model.ops.registry``).
"""

from model.ops import attach, cpu, faults, files, lifetime, mapping, move, vmap  # noqa: F401
from model.ops.registry import REGISTRY, OpSpec

__all__ = ["REGISTRY", "OpSpec"]
