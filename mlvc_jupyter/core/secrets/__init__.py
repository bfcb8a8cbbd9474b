"""The secret guard: credentials in a checkpoint's changed files refuse it."""
