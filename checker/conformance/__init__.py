"""Conformance: the model's predictions compared with a real kernel's answers (vgem under
QEMU), case by case."""
