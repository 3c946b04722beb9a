"""Counterexamples as files: a DSL scenario and an ITF trace, their replay, and a pytest
plugin that replays every file kept in ``counterexamples/``."""
