"""Reproduction: materialise an experiment's checkpoint outside the user's working tree."""
