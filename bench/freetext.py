"""Free-text screening (issue 17): how often real device strings are withheld, and how often
planted PHI gets through. Prints figures, never asserts.

Device strings: every distinct Manufacturer and ManufacturerModelName value (and, for
reference, SoftwareVersions, StationName and InstitutionName, which the ledger does not
keep) in pydicom's and pydicom-data's test files; Body Part Examined and Modality against
their defined terms. PHI: deid-data's fake patients' names (Family^Given as DICOM stores
them), identifiers with 4+ digits and dates/times, plus the crafted values of the tests.

    python bench/freetext.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ledger.imaging.freetext import phi_reason
from ledger.imaging.terms import defined_term
from tests.unit.imaging.test_freetext import (
    CRAFTED,
    _corpus_values,
    deid_data_phi,
)


def main() -> None:
    kept = ("Manufacturer", "ManufacturerModelName")
    for keywords in (kept, ("SoftwareVersions",), ("StationName",), ("InstitutionName",)):
        values = _corpus_values(keywords)
        withheld = sorted(v for v in values if phi_reason(v) is not None)
        files = {f for v in values for f in values[v]}
        hit = {f for v in withheld for f in values[v]}
        note = "" if keywords == kept else " (not kept by the ledger)"
        print(f"{'/'.join(keywords)}{note}: {len(withheld)} of {len(values)} distinct values "
              f"withheld ({len(withheld) / len(values):.1%}), {len(hit)} of {len(files)} files")
        for value in withheld:
            print(f"    withheld: {value!r}: {phi_reason(value)}")
    for keyword in ("BodyPartExamined", "Modality"):
        values = _corpus_values((keyword,))
        off = sorted(v for v in values if defined_term(keyword, v) is None)
        print(f"{keyword}: {len(off)} of {len(values)} distinct values not a defined term {off}")
    planted = deid_data_phi()
    missed = sorted(v for v in planted if phi_reason(v) is None)
    print(f"deid-data PHI: {len(planted) - len(missed)} of {len(planted)} values withheld"
          + (f", missed {missed}" if missed else ""))
    missed = sorted(v for v in CRAFTED if phi_reason(v) is None)
    print(f"crafted values: {len(CRAFTED) - len(missed)} of {len(CRAFTED)} withheld")


if __name__ == "__main__":
    main()
