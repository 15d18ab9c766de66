"""Pure log primitives: no I/O, no database; only the stdlib and ``ledger.errors``.

- ``hashing``     RFC 9162 leaf and node hashes, the empty-tree root
- ``tree``        perfect-node storage layout, O(batch + log n) appends, roots
- ``proofs``      inclusion and consistency proofs: nodes to fetch, build, verify
- ``ranges``      range proofs for offline bundles
- ``chain``       the ``prev`` hash chain between leaves
- ``checkpoint``  C2SP tlog-checkpoint note text
- ``tlog_proof``  C2SP tlog-proof text format
- ``encoding``    strict base64 / decimal encodings shared by the text formats

Import from the submodules; this package re-exports nothing so that importing
one primitive does not load the others.
"""
