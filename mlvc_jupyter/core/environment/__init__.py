"""What an experiment ran on: interpreter, packages, hardware, data fingerprints, imported code."""
