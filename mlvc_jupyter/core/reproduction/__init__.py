"""Reproduction: materialise an experiment's checkpoint beside the working tree, report how the
environment and data drifted, re-run its entry point as a linked run and judge its metrics
(:mod:`~mlvc_jupyter.core.reproduction.pipeline` does these in order)."""
