"""Perceptual fingerprints of the canonical rendering, tagged with algorithm and version."""

from __future__ import annotations

from ledger.fingerprint.hashes import Fingerprints, Hash, fingerprints, hamming

__all__ = ["Fingerprints", "Hash", "fingerprints", "hamming"]
