"""mlvc-jupyter: git-backed version control for machine-learning experiments, from Jupyter."""

__version__ = "0.1.0"
