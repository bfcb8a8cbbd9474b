"""Recording experiments: checkpoint trees via a private index, commits, CAS ref updates."""
