"""Reproduction: materialise an experiment's checkpoint beside the working tree, report how the
environment and data drifted, re-run its entry point as a linked run and judge its metrics
(:mod:`~mlvc_jupyter.core.reproduction.pipeline` does these in order); restore it in place with a
byte-exact undo (:mod:`~mlvc_jupyter.core.reproduction.inplace`); export it as a portable archive
(:mod:`~mlvc_jupyter.core.reproduction.bundle`)."""
