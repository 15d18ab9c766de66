"""Lineage: the preprocessing vocabulary, the derivation graph, the checks a declared
derivation must pass, inferred DICOM edges and the W3C PROV export."""
