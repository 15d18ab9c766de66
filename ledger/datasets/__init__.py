"""Dataset versions, lock files, and checking a local copy against a lock (docs/datasets.md)."""
