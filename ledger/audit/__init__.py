"""Replaying the log: key validity, per-leaf checks, the full audit."""
