"""Data an experiment reads: fingerprints of files and folders, and the content cache."""
