"""Configs: deterministic serialisation, dotted params and diffs, and saved config files."""
