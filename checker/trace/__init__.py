"""Kernel traces checked against the model: ``dmabuf-check trace check`` and ``trace probes``."""
