"""Retention and housekeeping: remove experiments (with undo), gc by policy, automatic gc."""
