"""Near-duplicate search: a Hamming candidate index, then verification that explains a match.

* :mod:`ledger.fingerprint.descriptor` ``describe(thumbnail) -> Descriptor``: the 32 x 32
  content grid and six index keys stored per image; ``query_keys`` for a query.
* :mod:`ledger.similarity.index` ``HammingIndex``: multi-index hashing over 64-bit keys,
  exact range search, incremental, serialisable with its algorithm and key version.
* :mod:`ledger.similarity.verification` ``verify(stored, query) -> Verdict``: alignment over
  flips, rotations, crops and scales, correlation and block residual scores.
* :mod:`ledger.similarity.search` ``NearDuplicateIndex``: the two stages together over a
  ``DescriptorSource`` (storage interface).

See docs/similarity.md for the method, the default thresholds and measured figures.
"""

from __future__ import annotations

from ledger.fingerprint.descriptor import Descriptor, describe, query_keys
from ledger.similarity.index import HammingIndex, Hits
from ledger.similarity.search import (
    Candidate,
    DescriptorSource,
    Match,
    MemoryDescriptors,
    NearDuplicateIndex,
)
from ledger.similarity.verification import Alignment, Thresholds, Verdict, verify

__all__ = [
    "Alignment",
    "Candidate",
    "Descriptor",
    "DescriptorSource",
    "HammingIndex",
    "Hits",
    "Match",
    "MemoryDescriptors",
    "NearDuplicateIndex",
    "Thresholds",
    "Verdict",
    "describe",
    "query_keys",
    "verify",
]
