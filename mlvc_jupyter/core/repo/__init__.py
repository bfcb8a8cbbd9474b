"""The user's repository and the one place git runs: runner, status, settings, ref names."""
