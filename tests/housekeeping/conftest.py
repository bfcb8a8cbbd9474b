"""The magics' shell fixtures, shared with tests/integration/test_magics.py."""

from tests.integration.test_magics import ipython, shell

__all__ = ["ipython", "shell"]
