"""Reproduction: materialise an experiment's checkpoint outside the user's working tree, restore
it in place (with a byte-exact undo), and export it as a portable archive."""
