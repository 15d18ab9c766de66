"""Image decoding, canonical pixel digests, canonical rendering, DICOM header inspection.

Import from the modules (this package re-exports nothing, so that a module and
the function named after it, e.g. ``analyse.analyse``, never shadow each other):

* :mod:`ledger.imaging.analyse` ``analyse(path, *, secret, limits, ...)``: the one
  call a registration worker makes, returning a picklable ``Analysis``.
* :mod:`ledger.imaging.decode` ``decode(path, *, limits)``: read once, sniff, decode.
* :mod:`ledger.imaging.digest` ``pixel_digests``: the canonical pixel digest.
* :mod:`ledger.imaging.render` ``render`` / ``thumbnail``: canonical 8-bit rendering.
* :mod:`ledger.imaging.deid`, :mod:`ledger.imaging.pseudonym`,
  :mod:`ledger.imaging.metadata`: de-identification status, keyed pseudonyms and
  the metadata allowlist; :mod:`ledger.imaging.freetext` and :mod:`ledger.imaging.terms`:
  which allowlisted values may be written (free text screened for PHI, defined terms).
* :mod:`ledger.imaging.preamble`, :mod:`ledger.imaging.limits`,
  :mod:`ledger.imaging.readfile`: polyglot, decompression-bomb and file checks;
  :mod:`ledger.imaging.zeropreamble`: the zeroed copies of ``register --zero-preamble``.
"""
