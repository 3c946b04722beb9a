"""The engines: random exploration (``explore``) and the Z3 engines (``symbolic``)."""
