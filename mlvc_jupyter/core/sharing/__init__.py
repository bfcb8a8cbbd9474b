"""Names others see: annotated tags and real branches for experiments (remotes come later)."""
