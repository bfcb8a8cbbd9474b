"""Notebooks in git: the in-process output stripper and the optional git clean filter."""
